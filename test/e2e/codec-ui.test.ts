/**
 * The Temporal Web UI shows an encrypted brief decrypted through `darkroom codec-server`, and
 * only through it. The run's dev server is headless, so this file starts its own with the UI,
 * its codec endpoint set the way the README says (the token as the path segment).
 * Chromium must be at /usr/bin/chromium (.ci/run installs it).
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateBrief } from '../../domain/brief';
import { parseConfig } from '../../domain/config';
import { startBrief } from '../../client/briefs';
import { startCodecServer, type CodecServer } from '../../client/codec-server';
import { connectClient } from '../../client/connect';
import { EncryptionCodec, parseCodecKeys } from '../../temporal/codec';
import { createDarkroomWorker } from '../../workers/worker';
import { testBrief } from '../support/briefs';
import { testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { startUiServer, type UiServer } from '../support/ui-server';
import { testConfig, testWorkflowBundle } from '../support/worker';

const SCREENSHOT = path.resolve('test-output/screenshots/codec-ui.png');
const keys = `k1:${randomBytes(32).toString('base64')}`;
const token = randomBytes(24).toString('base64url');

let codecServer: CodecServer | undefined;
let ui: UiServer | undefined;

beforeAll(async () => {
  ui = await startUiServer('codec-ui', {
    // The UI's codec endpoint as the README sets it: the token as the path segment.
    extraArgs: async (uiUrl) => {
      codecServer = await startCodecServer({ codec: new EncryptionCodec(parseCodecKeys(keys)), token, namespace: 'default', corsOrigins: [uiUrl], port: 0 });
      return ['--ui-codec-endpoint', `${codecServer.url}/${token}`];
    },
  });
});

afterAll(async () => {
  await ui?.stop();
  await codecServer?.close();
});

describe('the Temporal Web UI with darkroom codec-server as its codec endpoint', () => {
  it('shows the brief decrypted while the codec server runs, and ciphertext without it', async () => {
    const subject = `a linen apron hung on a brass hook ${randomBytes(4).toString('hex')}`;
    const taskQueue = uniqueTaskQueue('codec-ui');
    const env = { TEMPORAL_ADDRESS: ui!.address, DARKROOM_CODEC_KEYS: keys };
    const client = await connectClient(parseConfig(env), 60_000);
    const workflowId = uniqueWorkflowId('brief-codec-ui');
    try {
      const { worker, connection } = await createDarkroomWorker({ config: testConfig(taskQueue, testDataDir('codec-ui'), env), workflowBundle: await testWorkflowBundle(), worker: { shutdownGraceTime: '1s' } });
      try {
        await worker.runUntil(async () => {
          const { handle } = await startBrief(client, validateBrief(testBrief({ subject, candidates: 2 })), taskQueue, { workflowId });
          expect((await handle.result()).outcome).toBe('published');
        });
      } finally {
        await connection.close();
      }
    } finally {
      await client.connection.close();
    }

    const page = await ui!.browser.newPage({ viewport: { width: 1400, height: 1000 } });
    try {
      await page.goto(`${ui!.uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`);
      await page.getByText(subject).first().waitFor({ timeout: 60_000 });
      await mkdir(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT });

      await codecServer!.close();
      codecServer = undefined;
      await page.reload();
      // Without it the page shows the payloads as stored: the key id, the ciphertext, and a warning.
      await page.getByText('encryption-key-id').first().waitFor({ timeout: 60_000 });
      expect(await page.getByText('Codec Server could not connect').count()).toBeGreaterThan(0);
      expect(await page.getByText(subject).count()).toBe(0);
    } finally {
      await page.close();
    }
  });
});
