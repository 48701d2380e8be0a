import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NativeConnection } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { validateBrief } from '../../domain/brief';
import { ContentPolicyError, type ImageGenerator } from '../../activities/providers';
import { LocalImageGenerator } from '../../activities/providers/local';
import { startBrief } from '../../client/briefs';
import { reviewUpdate } from '../../workflows/messages';
import { createDarkroomWorker } from '../../workers/worker';
import { sample } from '../support/prometheus';
import { awaitingRound, testBrief, waitFor, waitForStatus } from '../support/briefs';
import { closeTestConnection, testAddress, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testConfig, testWorkflowBundle } from '../support/worker';

let client: Client;
beforeAll(async () => {
  client = await testConnection();
  await testWorkflowBundle();
});
afterAll(closeTestConnection);

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

describe('a worker with DARKROOM_METRICS_ADDRESS serves what it did at /metrics', () => {
  it('counts images by model, refusals, spend, stage durations and the review wait of a brief it ran', async () => {
    const taskQueue = uniqueTaskQueue('metrics');
    const inner = new LocalImageGenerator();
    let calls = 0;
    // The offline generator at a price, refusing its first call on safety grounds.
    const priced: ImageGenerator = {
      name: 'local',
      async generate(input) {
        if (calls++ === 0) throw new ContentPolicyError('refused by the safety system', 'local');
        return { ...(await inner.generate(input)), costUsd: 0.01 };
      },
    };
    const connection = await NativeConnection.connect({ address: testAddress() });
    try {
      const { worker } = await createDarkroomWorker({
        config: testConfig(taskQueue, testDataDir('metrics'), { DARKROOM_METRICS_ADDRESS: '0', DARKROOM_GENERATE_CONCURRENCY: '1' }),
        connection,
        workflowBundle: await testWorkflowBundle(),
        providers: { imageGenerators: { local: priced } },
        worker: { shutdownGraceTime: '1s' },
      });
      const url = worker.metricsServer!.url;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const manifest = await worker.runUntil(async () => {
        const { handle } = await startBrief(client, validateBrief(testBrief({ candidates: 4, topK: 1, approval: 'human' })), taskQueue, { workflowId: uniqueWorkflowId('metrics') });
        const s = await waitForStatus(handle, awaitingRound(1), 'review');
        await handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: [s.review!.reviewable[0]!], reviewer: 'ana' }] });
        return handle.result();
      });
      // Served while the worker ran; closed with it.
      await expect(fetch(url)).rejects.toThrow();
      const text = await worker.metrics.registry.metrics();

      const local = { model: 'local', provider: 'local' };
      expect(manifest.candidates).toHaveLength(3);
      expect(sample(text, 'darkroom_images_generated_total', local)).toBe(3);
      expect(sample(text, 'darkroom_images_refused_total', local)).toBe(1);
      expect(sample(text, 'darkroom_spend_usd_total', { provider: 'local', capability: 'image' })).toBeCloseTo(0.03, 9);
      const spent = text.split('\n').filter((l) => l.startsWith('darkroom_spend_usd_total{')).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
      expect(spent).toBeCloseTo(manifest.cost.actualUsd, 9);

      const ran = ['prompt', 'generate', 'judge', 'notify', 'review', 'format', 'alt-text', 'publish', ...(manifest.timings.some((t) => t.stage === 'upscale') ? ['upscale'] : [])];
      for (const stage of ran) {
        expect(sample(text, 'darkroom_stage_duration_seconds_count', { stage, outcome: 'ok' }), stage).toBeGreaterThanOrEqual(1);
      }
      expect(sample(text, 'darkroom_stage_duration_seconds_count', { stage: 'generate', outcome: 'ok' })).toBe(3);
      expect(sample(text, 'darkroom_stage_duration_seconds_count', { stage: 'generate', outcome: 'error' })).toBe(1);
      expect(sample(text, 'darkroom_stage_duration_seconds_count', { stage: 'upscale' })).toBe(ran.includes('upscale') ? 1 : undefined);
      // One decision, waited for from the end of judging to its record.
      expect(sample(text, 'darkroom_review_wait_seconds_count')).toBe(1);
      const decidedAfter = (Date.parse(manifest.review!.decisions[0]!.at) - Date.parse(manifest.timings.find((t) => t.stage === 'judge')!.finishedAt)) / 1000;
      expect(sample(text, 'darkroom_review_wait_seconds_sum')).toBeCloseTo(decidedAfter, 3);
      expect(sample(text, 'darkroom_blob_store_errors_total')).toBeUndefined();
    } finally {
      await connection.close();
    }
  });

  it('refuses a metrics address that is taken, naming the variable', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const { port } = taken.address() as { port: number };
    try {
      await expect(createDarkroomWorker({ config: testConfig(uniqueTaskQueue('metrics-taken'), testDataDir('metrics-taken'), { DARKROOM_METRICS_ADDRESS: String(port) }) }))
        .rejects.toThrow(`DARKROOM_METRICS_ADDRESS 127.0.0.1:${port}: cannot serve metrics there`);
    } finally {
      await new Promise((r) => taken.close(r));
    }
  });
});

describe('npm run worker with TEMPORAL_METRICS_ADDRESS and DARKROOM_METRICS_ADDRESS', () => {
  it('serves the SDK\'s temporal_ metrics and Darkroom\'s own on their two ports', async () => {
    const [sdkPort, ownPort] = [await freePort(), await freePort()];
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: testAddress(),
      DARKROOM_TASK_QUEUE: uniqueTaskQueue('metrics-proc'),
      DARKROOM_DATA_DIR: testDataDir('metrics-proc'),
      TEMPORAL_METRICS_ADDRESS: String(sdkPort),
      DARKROOM_METRICS_ADDRESS: `127.0.0.1:${ownPort}`,
    };
    // Runtime.install happens once per process: the real entry point, in its own.
    const worker = spawn(process.execPath, ['--import', 'tsx', path.resolve('workers/main.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    worker.stdout.on('data', (c) => (out += c));
    worker.stderr.on('data', (c) => (out += c));
    const exited = new Promise((r) => worker.once('exit', r));
    try {
      // The worker's own series (labelled with its task queue) appear when the SDK creates the
      // worker, which is before the entry point prints its addresses: wait for both.
      const sdk = await waitFor('the worker\'s temporal_ metrics on the SDK port and its polling line', async () => {
        if (!out.includes('darkroom worker: polling')) return undefined;
        const text = await (await fetch(`http://127.0.0.1:${sdkPort}/metrics`)).text();
        return text.includes(`task_queue="${env.DARKROOM_TASK_QUEUE}"`) ? text : undefined;
      }, 90_000).catch((err: Error) => {
        throw new Error(`${err.message}; worker output:\n${out}`);
      });
      expect(sdk).toMatch(/^temporal_\w+\{[^}]*task_queue="metrics-proc-/m);
      expect(sdk).not.toMatch(/^darkroom_/m);
      const own = await scrape(`http://127.0.0.1:${ownPort}/metrics`);
      expect(own).toContain('# TYPE darkroom_stage_duration_seconds histogram');
      expect(own).not.toMatch(/^temporal_/m);
      expect(out).toContain(`metrics at http://127.0.0.1:${ownPort}/metrics`);
    } finally {
      worker.kill('SIGTERM');
      await exited;
    }
    expect(out).toContain('darkroom worker: stopped');
  });
});
