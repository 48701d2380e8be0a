import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBlobStore } from '../../activities/blob-store';
import { readLedger } from '../../activities';
import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ContentPolicyError, type ImageGenerator } from '../../activities/providers';
import { LocalImageGenerator } from '../../activities/providers/local';
import { catalogStatusQuery, pauseSignal, resumeSignal, retryFailedSignal } from '../../workflows/messages';
import { parseReport, productFeed, startCatalog, testTemplate } from '../support/catalog';
import { startFakeOpenAI } from '../providers/fake-openai';
import { closeTestConnection, testConnection, testDataDir, uniqueTaskQueue } from '../support/temporal';
import { testWorkflowBundle, withWorker } from '../support/worker';

beforeAll(async () => {
  await testWorkflowBundle();
});
afterAll(closeTestConnection);

describe('catalogWorkflow on a real dev server', () => {
  it('runs every valid row once, reports bad and duplicate rows, and continues as new with small histories', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('catalog-small');
    const dataDir = testDataDir('catalog-small');
    const catalogId = `small-${taskQueue.slice(-8)}`;
    // 24 good rows, then a bad colour, a row without a SKU and a duplicate SKU.
    const feed = `${productFeed(24)}SKU-0025,"linen tote",rust,not-a-colour\r\n,"no sku tote",oat,#D8C8A8\r\nSKU-0003,"again",rust,#B7472A\r\n`;
    const result = await withWorker({ taskQueue, dataDir }, async () => {
      const handle = await startCatalog(client, { dataDir, taskQueue, catalogId, feed, window: 4, rowsPerRun: 8 });
      // Pause while it runs: running rows finish, nothing new starts.
      for (let i = 0; i < 400; i++) {
        const s = await handle.query(catalogStatusQuery).catch(() => undefined);
        if (s && s.counts.done >= 2) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await handle.signal(pauseSignal);
      await new Promise((r) => setTimeout(r, 1500));
      const paused = await handle.query(catalogStatusQuery);
      expect(paused.state).toBe('paused');
      await new Promise((r) => setTimeout(r, 2000));
      const still = await handle.query(catalogStatusQuery);
      expect(still.counts.running).toBe(0);
      expect(still.counts.done + still.counts.pending).toBe(24);
      await handle.signal(resumeSignal);
      return handle.result();
    });
    expect(result.outcome).toBe('completed');
    expect(result.counts).toMatchObject({ done: 24, failed: 0, pending: 0, running: 0 });
    const blobs = createBlobStore({ DARKROOM_DATA_DIR: dataDir });
    const report = parseReport((await blobs.get(result.reportKey)).toString('utf8'));
    expect(report.filter((r) => r.state === 'done').map((r) => r.sku)).toEqual(Array.from({ length: 24 }, (_, i) => `SKU-${String(i + 1).padStart(4, '0')}`));
    for (const r of report.filter((x) => x.state === 'done')) {
      expect(r.asset_keys!.split(' ')).toHaveLength(2);
      expect(r.workflow_id).toBe(`catalog-${catalogId}/${r.sku}`);
    }
    expect(report.find((r) => r.line === '26')).toMatchObject({ sku: 'SKU-0025', state: 'invalid', reason: expect.stringMatching(/brandColors\[0\]/) });
    expect(report.find((r) => r.line === '27')).toMatchObject({ state: 'invalid', reason: expect.stringMatching(/sku/) });
    expect(report.find((r) => r.line === '28')).toMatchObject({ sku: 'SKU-0003', state: 'duplicate' });
    // Each row was generated exactly once.
    for (const r of report.filter((x) => x.state === 'done')) expect(await readLedger(blobs, r.workflow_id!)).toHaveLength(1);
    // It continued as new (8 rows a run), and no run's history came near the limit.
    const runs = [];
    for await (const w of client.workflow.list({ query: `WorkflowId = 'catalog-${catalogId}'` })) runs.push(w);
    expect(runs.length).toBeGreaterThanOrEqual(3);
    for (const w of runs) expect(w.historyLength).toBeLessThan(10_240);
    const children = [];
    for await (const w of client.workflow.list({ query: `DarkroomCatalogId = '${catalogId}' AND WorkflowType = 'briefWorkflow'` })) children.push(w);
    expect(children).toHaveLength(24);
  });

  it('retries only the failed rows on retryFailed, and tells a webhook when it is done', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('catalog-retry');
    const dataDir = testDataDir('catalog-retry');
    const catalogId = `retry-${taskQueue.slice(-8)}`;
    // Rows 3 and 5 are refused the first time they are generated, and succeed after.
    const refusedOnce = new Set<string>();
    const calls: string[] = [];
    const inner = new LocalImageGenerator();
    const flaky: ImageGenerator = {
      name: 'local',
      async generate(input) {
        calls.push(input.prompt);
        const m = /style (3|5)\b/.exec(input.prompt);
        if (m && !refusedOnce.has(m[1]!)) {
          refusedOnce.add(m[1]!);
          throw new ContentPolicyError('the prompt was refused by the safety system', 'test');
        }
        return inner.generate(input);
      },
    };
    const secret = 'catalog-secret-0123456789';
    const hooks: Array<{ body: string; signature?: string }> = [];
    const hookServer = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        hooks.push({ body, signature: req.headers['x-darkroom-signature'] as string | undefined });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
    const env = { DARKROOM_NOTIFY_WEBHOOK: `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`, DARKROOM_NOTIFY_SECRET: secret };
    try {
      const result = await withWorker({ taskQueue, dataDir, env, providers: { imageGenerators: { local: flaky } } }, async () => {
        const handle = await startCatalog(client, { dataDir, taskQueue, catalogId, feed: productFeed(8), window: 2 });
        for (let i = 0; i < 600; i++) {
          const s = await handle.query(catalogStatusQuery).catch(() => undefined);
          if (s && s.counts.failed >= 2) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        await handle.signal(pauseSignal);
        await handle.signal(retryFailedSignal);
        const s = await handle.query(catalogStatusQuery);
        expect(s.counts.failed).toBe(0);
        await handle.signal(resumeSignal);
        return handle.result();
      });
      expect(result.counts).toMatchObject({ done: 8, failed: 0 });
      // Every row's image was made once; rows 3 and 5 were asked twice (refused, then made).
      expect(calls).toHaveLength(10);
      const report = parseReport((await createBlobStore({ DARKROOM_DATA_DIR: dataDir }).get(result.reportKey)).toString('utf8'));
      expect(report.map((r) => r.state)).toEqual(Array(8).fill('done'));
      const done = hooks.map((h) => JSON.parse(h.body)).find((b) => b.darkroom.event === 'catalog.completed');
      expect(done.text).toMatch(/8 done, 0 failed/);
      for (const h of hooks) expect(h.signature).toBe(`sha256=${createHmac('sha256', secret).update(h.body).digest('hex')}`);
    } finally {
      hookServer.close();
    }
  });

  it('stops starting rows at the catalog budget and says so in its summary', async () => {
    const key = 'sk-test-catalog-0123456789abcdef';
    const fake = await startFakeOpenAI({ apiKey: key });
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('catalog-budget');
    const dataDir = testDataDir('catalog-budget');
    const catalogId = `budget-${taskQueue.slice(-8)}`;
    try {
      const env = { OPENAI_API_KEY: key, OPENAI_BASE_URL: fake.baseURL, DARKROOM_OPENAI_RPM: '6000' };
      const result = await withWorker({ taskQueue, dataDir, env }, async () => {
        const handle = await startCatalog(client, { dataDir, taskQueue, catalogId, feed: productFeed(10), window: 1, budgetUsd: 0.05, template: { ...testTemplate, model: 'gpt-image-1-mini' } });
        return handle.result();
      });
      expect(result.outcome).toBe('cancelled');
      expect(result.costUsd).toBeGreaterThan(0);
      expect(result.costUsd).toBeLessThanOrEqual(0.05);
      expect(result.counts.done).toBeGreaterThanOrEqual(1);
      expect(result.counts.done).toBeLessThan(10);
      const report = parseReport((await createBlobStore({ DARKROOM_DATA_DIR: dataDir }).get(result.reportKey)).toString('utf8'));
      expect(report.filter((r) => r.state === 'done')).toHaveLength(result.counts.done);
      expect(report.filter((r) => r.state === 'cancelled')).toHaveLength(10 - result.counts.done);
      // Only the rows that ran were paid for.
      expect(fake.requests().filter((r) => r.path === '/v1/images/generations')).toHaveLength(result.counts.done);
      // Each row carries its brief's summary and details to the Temporal UI.
      const row = report.find((r) => r.state === 'done')!;
      const desc = await client.workflow.getHandle(row.workflow_id!).describe();
      expect(await desc.staticSummary()).toMatch(/^Brief: SKU-\d{4} · .*cotton tote bag.* → email-header$/);
      expect(await desc.staticDetails()).toContain(`**SKU:** ${row.sku}`);
    } finally {
      await fake.close();
    }
  });

  it('learns about rows that ended without a word (terminated after it continued as new)', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('catalog-reconcile');
    const dataDir = testDataDir('catalog-reconcile');
    const catalogId = `reconcile-${taskQueue.slice(-8)}`;
    const events: string[] = [];
    const hookServer = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        events.push(JSON.parse(body).darkroom.event);
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
    const env = { DARKROOM_NOTIFY_WEBHOOK: `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook` };
    const result = await withWorker({ taskQueue, dataDir, env }, async () => {
      const handle = await startCatalog(client, {
        dataDir, taskQueue, catalogId, feed: productFeed(6), window: 6, rowsPerRun: 5, reconcileEveryMs: 1500,
        template: { ...testTemplate, approval: 'human' },
      });
      for (let i = 0; i < 600; i++) {
        const s = await handle.query(catalogStatusQuery).catch(() => undefined);
        if (s && s.counts.awaitingReview === 6 && s.runs >= 1) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      // Terminated rows cannot signal; five of them were started by the previous run.
      for (let i = 1; i <= 6; i++) await client.workflow.getHandle(`catalog-${catalogId}/SKU-000${i}`).terminate('pulled from the range');
      return handle.result();
    });
    expect(result.counts).toMatchObject({ failed: 6, awaitingReview: 0, running: 0 });
    const report = parseReport((await createBlobStore({ DARKROOM_DATA_DIR: dataDir }).get(result.reportKey)).toString('utf8'));
    expect(report.map((r) => r.state)).toEqual(Array(6).fill('failed'));
    expect(report.filter((r) => /terminated/i.test(r.reason!))).toHaveLength(6);
    // The catalog told the webhook once when rows began waiting for review, and again when done.
    hookServer.close();
    expect(events.filter((e) => e === 'catalog.awaiting-review')).toHaveLength(1);
    expect(events).toContain('catalog.completed');
    // Each row told it too, as it entered review.
    expect(events.filter((e) => e === 'review.awaiting')).toHaveLength(6);
  });
});
