/**
 * A brand kit's style references reach the generator: stored with the kit, then handed to the
 * generate activity after the brief's own style references (the activity keeps the model's
 * first maxReferenceImages). Read from the workflow's history, which is what the worker ran.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedReferences } from '../../domain/references';
import type { Manifest } from '../../domain/types';
import { testBrief } from '../support/briefs';
import { closeTestConnection, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testWorkflowBundle, withWorker } from '../support/worker';

const REPO_BRANDS = path.resolve(__dirname, '../../brands');

beforeAll(async () => {
  await testWorkflowBundle();
});
afterAll(closeTestConnection);

describe('brand style references', () => {
  it('the kit\'s style references are passed to the generator as style references', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('brand-style');
    const dataDir = testDataDir('brand-style');
    const brands = path.join(dataDir, 'brands');
    cpSync(REPO_BRANDS, brands, { recursive: true });
    const look = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#1F4D3A' } }).png().toBuffer();
    writeFileSync(path.join(brands, 'fernwood/look.png'), look);
    const kit = JSON.parse(readFileSync(path.join(brands, 'fernwood.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(path.join(brands, 'fernwood.json'), JSON.stringify({ ...kit, styleReferences: ['fernwood/look.png'] }));

    const workflowId = uniqueWorkflowId('brief-brand-style');
    const { manifest, inputs } = await withWorker({ taskQueue, dataDir, env: { DARKROOM_BRANDS_DIR: brands } }, async () => {
      const handle = await client.workflow.start('briefWorkflow', { taskQueue, workflowId, args: [testBrief({ brand: 'fernwood', channels: ['email-header'], candidates: 2, topK: 1 })] });
      const manifest = (await handle.result()) as Manifest;
      const history = await handle.fetchHistory();
      const inputs = (history.events ?? [])
        .map((e) => e.activityTaskScheduledEventAttributes)
        .filter((a) => a?.activityType?.name === 'generateCandidate')
        .map((a) => JSON.parse(Buffer.from(a!.input!.payloads![0]!.data!).toString('utf8')) as { references?: ResolvedReferences });
      return { manifest, inputs };
    });
    expect(manifest.assets.length).toBeGreaterThan(0);
    expect(inputs).toHaveLength(2);
    for (const input of inputs) {
      expect(input.references?.product).toBeUndefined();
      expect(input.references?.style).toHaveLength(1);
      expect(input.references!.style[0]!.bytes).toBe(look.length);
    }
  });
});
