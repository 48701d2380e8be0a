/**
 * What a person sees of a brief in the Temporal Web UI: the one-line summary and the details the
 * CLI set when it started the brief, and the live details the workflow keeps current. The run's
 * dev server is headless, so this file starts its own with the UI, and drives it with the Chromium
 * at /usr/bin/chromium (.ci/run installs it). The screenshot is kept in test-output/screenshots/.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateBrief } from '../../domain/brief';
import { parseConfig } from '../../domain/config';
import { briefSummary } from '../../domain/webhooks';
import { startBrief } from '../../client/briefs';
import { connectClient } from '../../client/connect';
import { approveSignal } from '../../workflows/messages';
import { createDarkroomWorker } from '../../workers/worker';
import { awaitingRound, testBrief, waitForStatus } from '../support/briefs';
import { testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { startUiServer, type UiServer } from '../support/ui-server';
import { testConfig, testWorkflowBundle } from '../support/worker';

const SCREENSHOT = path.resolve('test-output/screenshots/ui-summary.png');

let ui: UiServer | undefined;
beforeAll(async () => {
  ui = await startUiServer('ui-summary');
});
afterAll(async () => {
  await ui?.stop();
});

describe('a brief in the Temporal Web UI', () => {
  it('shows its summary on its page, with its details and its live stage', async () => {
    const brief = validateBrief(testBrief({ subject: 'a ceramic teapot on a linen cloth', sku: 'TEA-42', channels: ['instagram-square', 'web-hero'], approval: 'human', candidates: 2 }));
    const taskQueue = uniqueTaskQueue('ui-summary');
    const env = { TEMPORAL_ADDRESS: ui!.address };
    const client = await connectClient(parseConfig(env), 60_000);
    const workflowId = uniqueWorkflowId('brief-ui-summary');
    const page = await ui!.browser.newPage({ viewport: { width: 1400, height: 1100 } });
    try {
      const { worker, connection } = await createDarkroomWorker({ config: testConfig(taskQueue, testDataDir('ui-summary'), env), workflowBundle: await testWorkflowBundle(), worker: { shutdownGraceTime: '1s' } });
      try {
        await worker.runUntil(async () => {
          const { handle } = await startBrief(client, brief, taskQueue, { workflowId });
          // Waiting for a person: the live details name the stage.
          const status = await waitForStatus(handle, awaitingRound(1), 'review');

          await mkdir(path.dirname(SCREENSHOT), { recursive: true });
          await page.goto(`${ui!.uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`);
          // On a failure, the page as it was is the quickest way to see why.
          // The UI renders each markdown block in its own frame, so look in every frame.
          const shown = async (text: string | RegExp) => {
            for (let waited = 0; waited < 60_000; waited += 250) {
              for (const frame of page.frames()) if ((await frame.getByText(text).count().catch(() => 0)) > 0) return;
              await page.waitForTimeout(250);
            }
            await page.screenshot({ path: SCREENSHOT, fullPage: true });
            throw new Error(`the Temporal UI did not show ${String(text)} (screenshot: ${SCREENSHOT})`);
          };
          // The workflow page's User Metadata tab: the summary and details the CLI set at start,
          // and the current details the workflow set while waiting.
          await page.getByText('User Metadata', { exact: true }).first().click();
          await shown(briefSummary(brief));
          await shown('web-hero');
          await shown(/review \(round 1\)/);
          // Plain amounts: a dollar sign pair would be typeset as maths by the UI's markdown.
          await shown(/0\.00 USD of 5\.00 USD budget/);
          await shown('2 of 2 generated, 0 rejected, 2 judged, 1 selected');
          await page.screenshot({ path: SCREENSHOT, fullPage: true });

          await handle.signal(approveSignal, { candidateIds: [status.review!.candidates[0]!.id], reviewer: 'ui-test' });
          expect((await handle.result()).outcome).toBe('published');
        });
      } finally {
        await connection.close();
      }
    } finally {
      await page.close();
      await client.connection.close();
    }
  });
});
