/**
 * Hostile input through the workflow doors (raw starts, signals), on the real dev server: each
 * gets a bounded, non-retryable answer, and nothing it sends can wedge a brief or a catalog.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { createBlobStore } from '../../activities/blob-store';
import { approveSignal, cancelCatalogSignal, catalogRowSignal, catalogStatusQuery, retryFailedSignal, reviewUpdate, statusQuery } from '../../workflows/messages';
import type { CatalogStatus } from '../../domain/types';
import { IGNORED_SIGNALS_KEPT } from '../../domain/review';
import { closeTestConnection, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testWorkflowBundle, withWorker } from '../support/worker';
import { activityAttempts } from '../support/history';
import { awaitingRound, testBrief, waitFor, waitForStatus } from '../support/briefs';
import { productFeed, startCatalog, testTemplate } from '../support/catalog';
import { startFakeOpenAI } from '../providers/fake-openai';

let client: Client;
beforeAll(async () => {
  client = await testConnection();
  await testWorkflowBundle();
});
afterAll(closeTestConnection);

/** The failure a workflow ended with: its ApplicationFailure, which must be non-retryable. */
async function failureOf(handle: WorkflowHandle): Promise<ApplicationFailure> {
  const err = await handle.result().then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return cause as ApplicationFailure;
}

/** No workflow task failed (a task failure retries forever) and no activity or local activity ran more than once. */
async function expectCleanHistory(handle: WorkflowHandle): Promise<void> {
  const events = (await handle.fetchHistory()).events ?? [];
  expect(events.filter((e) => e.workflowTaskFailedEventAttributes)).toHaveLength(0);
  expect(activityAttempts(events).filter((a) => a.attempt > 1)).toEqual([]);
}

describe('hostile input on the workflow doors', () => {
  it('catalogWorkflow started with a non-object, or with bad fields, fails at once naming them', async () => {
    const taskQueue = uniqueTaskQueue('hostile-cat-input');
    await withWorker({ taskQueue, dataDir: testDataDir('hostile-cat-input') }, async () => {
      const cases: Array<[unknown, string]> = [
        [null, '(input)'],
        [42, '(input)'],
        [[], '(input)'],
        [{ catalogId: '../x', feedKey: 'catalogs/x/feed.csv', template: testTemplate }, 'catalogId'],
        [{ catalogId: 'x', feedKey: '../../etc/passwd', template: testTemplate }, 'feedKey'],
        [{ catalogId: 'x', feedKey: 'catalogs/x/feed.csv', template: 'nope', window: 'eight' }, 'window'],
        // A hand-made carry that is only nearly right used to fail the workflow task forever.
        [{ catalogId: 'x', feedKey: 'catalogs/x/feed.csv', template: testTemplate, carry: { plan: {}, cursor: 0 } }, 'carry.plan.planKey'],
      ];
      for (const [input, field] of cases) {
        const handle = await client.workflow.start('catalogWorkflow', { taskQueue, workflowId: uniqueWorkflowId('hostile-cat'), args: [input] });
        const failure = await failureOf(handle);
        expect(failure.type).toBe('InvalidCatalog');
        expect(failure.nonRetryable).toBe(true);
        expect(failure.message).toContain(field);
        await expectCleanHistory(handle);
      }
    });
  });

  it('a catalog whose feed is missing, or nested 5,000 deep, is refused after one attempt', async () => {
    const taskQueue = uniqueTaskQueue('hostile-cat-feed');
    const dataDir = testDataDir('hostile-cat-feed');
    await withWorker({ taskQueue, dataDir }, async () => {
      const missing = await client.workflow.start('catalogWorkflow', { taskQueue, workflowId: uniqueWorkflowId('hostile-missing'), args: [{ catalogId: 'missing', feedKey: 'catalogs/missing/feed.csv', template: testTemplate }] });
      const f1 = await failureOf(missing);
      expect(f1.type).toBe('InvalidCatalog');
      expect(f1.message).toContain('no feed is stored there');
      await expectCleanHistory(missing);

      const deep = `${'['.repeat(5000)}1${']'.repeat(5000)}`;
      const jsonl = `${JSON.stringify({ sku: 'A1', name: 'tote', color: 'oat', hex: '#D8C8A8' })}\n{"sku":"A2","name":${deep},"color":"oat","hex":"#D8C8A8"}\n`;
      await createBlobStore({ DARKROOM_DATA_DIR: dataDir }).put('catalogs/deep/feed.jsonl', new TextEncoder().encode(jsonl), { mime: 'application/x-ndjson' });
      const nested = await client.workflow.start('catalogWorkflow', { taskQueue, workflowId: uniqueWorkflowId('hostile-deep'), args: [{ catalogId: 'deep', feedKey: 'catalogs/deep/feed.jsonl', template: testTemplate, window: 2 }] });
      // Either the bad row is reported and the good one runs, or the feed is refused: never a retry loop.
      const outcome = await nested.result().then((r) => r, (e: unknown) => e);
      if (outcome instanceof WorkflowFailedError) expect((outcome.cause as ApplicationFailure).type).toBe('InvalidCatalog');
      else expect(outcome).toMatchObject({ counts: { done: 1 } });
      await expectCleanHistory(nested);
    });
  });

  it('a feed that is a symlink (or a FIFO) planted in the data folder is refused after one attempt, not retried', async () => {
    const taskQueue = uniqueTaskQueue('hostile-cat-link');
    const dataDir = testDataDir('hostile-cat-link');
    const root = createBlobStore({ DARKROOM_DATA_DIR: dataDir }).location;
    await fs.mkdir(path.join(root, 'catalogs/linked'), { recursive: true });
    await fs.symlink('/etc/passwd', path.join(root, 'catalogs/linked/feed.csv'));
    await fs.mkdir(path.join(root, 'catalogs/piped'), { recursive: true });
    execFileSync('mkfifo', [path.join(root, 'catalogs/piped/feed.csv')]);
    await withWorker({ taskQueue, dataDir }, async () => {
      for (const id of ['linked', 'piped']) {
        const handle = await client.workflow.start('catalogWorkflow', { taskQueue, workflowId: uniqueWorkflowId(`hostile-${id}`), args: [{ catalogId: id, feedKey: `catalogs/${id}/feed.csv`, template: testTemplate }] });
        const failure = await failureOf(handle);
        expect(failure.type).toBe('InvalidCatalog');
        expect(failure.message, failure.message).toMatch(/feedKey .*(symbolic link|not a regular file)/);
        await expectCleanHistory(handle);
      }
    });
  });

  it.each([['../x'], ['.hidden'], ['a b'], ['tab\there'], ['brief-ünï'], ['catalogs/victim'], ['x'.repeat(300)]])(
    'a brief started with workflow id %j fails once, as InvalidWorkflowId',
    async (workflowId) => {
      const taskQueue = uniqueTaskQueue('hostile-id');
      const dataDir = testDataDir('hostile-id');
      const blobs = createBlobStore({ DARKROOM_DATA_DIR: dataDir });
      const victim = await blobs.put('catalogs/victim/manifest.json', new TextEncoder().encode('{"catalog":"victim"}'), { mime: 'application/json' });
      await withWorker({ taskQueue, dataDir }, async () => {
        const handle = await client.workflow.start('briefWorkflow', { taskQueue, workflowId, args: [testBrief({ candidates: 1 })] });
        const failure = await failureOf(handle);
        expect(failure.type).toBe('InvalidWorkflowId');
        expect(failure.message.length).toBeLessThan(1000);
        await expectCleanHistory(handle);
      });
      // The catalog's files are untouched, and the brief wrote nothing anywhere.
      expect((await blobs.head('catalogs/victim/manifest.json'))!.sha256).toBe(victim.sha256);
      expect(await blobs.list('')).toEqual(['catalogs/victim/manifest.json']);
    },
  );

  it('a 400 KB bad string in a brief fails it at once, naming the field, in a bounded message; 1.9 MB is refused at the door', async () => {
    const taskQueue = uniqueTaskQueue('hostile-big');
    // Over the server's payload limit (scripts/dev-server.ts PAYLOAD_LIMITS): refused before it reaches history.
    const door = await client.workflow.start('briefWorkflow', { taskQueue, workflowId: uniqueWorkflowId('hostile-huge'), args: [testBrief({ channels: ['x'.repeat(1_900_000)] })] }).then(() => undefined, (e: Error) => e);
    expect(String((door?.cause as Error | undefined)?.message ?? door)).toMatch(/size exceeds limit/);
    await withWorker({ taskQueue, dataDir: testDataDir('hostile-big') }, async () => {
      const handle = await client.workflow.start('briefWorkflow', { taskQueue, workflowId: uniqueWorkflowId('hostile-big'), args: [testBrief({ channels: ['x'.repeat(400_000)] })] });
      const failure = await failureOf(handle);
      expect(failure.type).toBe('InvalidBrief');
      expect(failure.message).toContain('channels[0]');
      expect(JSON.stringify([failure.message, failure.details]).length).toBeLessThan(8000);
      await expectCleanHistory(handle);
    });
  });

  it('row events and a cancel sent by hand are checked: none wedges a catalog, counts a bad cost or starts a running row twice', async () => {
    const taskQueue = uniqueTaskQueue('hostile-cat-signals');
    const dataDir = testDataDir('hostile-cat-signals');
    await withWorker({ taskQueue, dataDir }, async () => {
      const catalogId = `hsig-${Date.now().toString(36)}`;
      const handle = await startCatalog(client, { dataDir, taskQueue, catalogId, feed: productFeed(3), window: 3, template: { ...testTemplate, approval: 'human' } });
      const rows = [1, 2, 3].map((i) => `catalog-${catalogId}/SKU-000${i}`);
      const status = (pred: (s: CatalogStatus) => boolean, what: string) => waitFor(what, async () => {
        const s = await handle.query(catalogStatusQuery).catch(() => undefined);
        return s && pred(s) ? s : undefined;
      });
      await status((s) => s.counts.awaitingReview === 3, 'three rows in review');
      // Each of these failed the catalog's workflow task forever before it was checked.
      await handle.signal(catalogRowSignal, null as never);
      await handle.signal(catalogRowSignal, { workflowId: rows[0]!, state: 'done', costUsd: 'abc' as never });
      // A forged "failed" for a row still under review, then retryFailed: its brief is running,
      // so starting it again fails, and the catalog keeps it in flight instead of failing.
      await handle.signal(catalogRowSignal, { workflowId: rows[0]!, state: 'failed', costUsd: 0 });
      await handle.signal(retryFailedSignal);
      const s = await status((st) => st.counts.failed === 0 && st.counts.running + st.counts.awaitingReview === 3 && (st.ignoredSignals?.length ?? 0) === 2, 'the retried row back in flight');
      expect(s.ignoredSignals!.map((i) => i.reason)).toEqual([expect.stringContaining('must be an object'), expect.stringContaining('costUsd')]);
      for (const id of rows) {
        const brief = client.workflow.getHandle(id);
        const review = (await brief.query(statusQuery)).review!;
        await brief.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: [review.candidates[0]!.id] }] });
      }
      const result = await handle.result();
      expect(result.outcome).toBe('completed');
      expect(result.counts).toMatchObject({ done: 3, failed: 0, running: 0, awaitingReview: 0 });
      expect(Number.isFinite(result.costUsd)).toBe(true);
      await expectCleanHistory(handle);

      // A cancel reason near the payload limit is cut to one line: the catalog ends cancelled,
      // not terminated by the server for an oversized notice.
      const big = await startCatalog(client, { dataDir, taskQueue, catalogId: `${catalogId}-c`, feed: productFeed(2), window: 2, template: { ...testTemplate, approval: 'human' } });
      await waitFor('the second catalog in review', async () => ((await big.query(catalogStatusQuery).catch(() => undefined))?.counts.awaitingReview === 2 ? true : undefined));
      await big.signal(cancelCatalogSignal, { reason: `stop\u001b[2J${'r'.repeat(524_000)}` });
      const cancelled = await big.result();
      expect(cancelled.outcome).toBe('cancelled');
      await expectCleanHistory(big);
    });
  });

  it('a start or a signal whose payload Darkroom cannot read is refused by name, not a workflow task failing forever', async () => {
    // What `temporal workflow start/signal --input-meta encoding=made/up` sends: the SDK's own
    // converter threw on it before any Darkroom code ran, on every retry of the workflow task.
    const bytes = (text: string) => new TextEncoder().encode(text);
    const payload = (encoding: string, data: string) => ({ metadata: { encoding: bytes(encoding) }, data: bytes(data) });
    const namespace = client.options.namespace;
    const taskQueue = uniqueTaskQueue('hostile-encoding');
    const rawStart = async (type: string, p: ReturnType<typeof payload>) => {
      const workflowId = uniqueWorkflowId(`hostile-enc-${type}`);
      await client.workflowService.startWorkflowExecution({
        namespace, workflowId, workflowType: { name: type }, taskQueue: { name: taskQueue }, input: { payloads: [p] }, identity: 'hostile-test', requestId: randomUUID(),
      });
      return client.workflow.getHandle(workflowId);
    };
    const rawSignal = (workflowId: string, signalName: string, p: ReturnType<typeof payload>) => client.workflowService.signalWorkflowExecution({
      namespace, workflowExecution: { workflowId }, signalName, input: { payloads: [p] }, identity: 'hostile-test', requestId: randomUUID(),
    });
    await withWorker({ taskQueue, dataDir: testDataDir('hostile-encoding') }, async () => {
      for (const [type, p, failureType, why] of [
        ['briefWorkflow', payload('made/up', '"x"'), 'InvalidBrief', 'encoding "made/up" is not one Darkroom reads'],
        ['briefWorkflow', payload('json/plain', '{"subject": '), 'InvalidBrief', 'not valid JSON'],
        ['briefWorkflow', payload('binary/plain', 'abc'), 'InvalidBrief', 'binary data'],
        ['catalogWorkflow', payload('made/up', '{}'), 'InvalidCatalog', 'encoding "made/up"'],
      ] as const) {
        const handle = await rawStart(type, p);
        const failure = await failureOf(handle);
        expect(failure.type).toBe(failureType);
        expect(failure.nonRetryable).toBe(true);
        expect(failure.message).toContain('could not be read');
        expect(failure.message).toContain(why);
        await expectCleanHistory(handle);
      }
      const handle = await client.workflow.start('briefWorkflow', { taskQueue, workflowId: uniqueWorkflowId('hostile-enc-review'), args: [testBrief({ candidates: 2, approval: 'human' })] });
      const s = await waitForStatus(handle, awaitingRound(1), 'review');
      const pick = s.review!.candidates[0]!.id;
      await rawSignal(handle.workflowId, 'approve', payload('made/up', JSON.stringify({ candidateIds: [pick] })));
      await rawSignal(handle.workflowId, 'reject', payload('json/plain', '{"reason": "no'));
      const ignored = await waitForStatus(handle, (st) => (st.review?.ignoredSignals.length ?? 0) === 2, 'both signals recorded as ignored');
      expect(ignored.review!.ignoredSignals.map((i) => i.reason)).toEqual([
        expect.stringMatching(/^the decision could not be read: its encoding "made\/up"/),
        expect.stringMatching(/^the decision could not be read: it is marked json\/plain but is not valid JSON/),
      ]);
      await handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: [pick] }] });
      expect((await handle.result()).outcome).toBe('published');
      await expectCleanHistory(handle);
    });
  });

  it('three approve signals carrying ~1.9 MB of unknown ids cannot wedge a brief under review', async () => {
    const taskQueue = uniqueTaskQueue('hostile-signals');
    await withWorker({ taskQueue, dataDir: testDataDir('hostile-signals') }, async () => {
      const handle = await client.workflow.start('briefWorkflow', { taskQueue, workflowId: uniqueWorkflowId('hostile-signals'), args: [testBrief({ candidates: 2, approval: 'human' })] });
      await waitForStatus(handle, awaitingRound(1), 'review');
      const ids = Array.from({ length: 95_000 }, (_, i) => `r9-c${String(i).padStart(5, '0')}x`); // ~1.9 MB of JSON
      for (let i = 0; i < 3; i++) await handle.signal(approveSignal, { candidateIds: ids, reviewer: 'mallory' }).catch(() => undefined);
      // A flood of small bad signals too: only the first few are kept, the rest counted.
      for (let i = 0; i < IGNORED_SIGNALS_KEPT + 10; i++) await handle.signal(approveSignal, { candidateIds: [`nope-${i}`] });
      const s = await waitForStatus(handle, (st) => (st.review?.ignoredSignalsDropped ?? 0) > 0, 'the flood to be counted');
      expect(JSON.stringify(s).length).toBeLessThan(64 * 1024);
      expect(s.review!.ignoredSignals.length).toBeLessThanOrEqual(IGNORED_SIGNALS_KEPT);
      for (const ignored of s.review!.ignoredSignals) expect(JSON.stringify(ignored).length).toBeLessThan(1200);
      // An oversized update is refused by its validator, and the brief still takes a real decision.
      const refused = await handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: ids.slice(0, 2000) }] }).then(() => undefined, (e: Error) => e);
      expect((refused?.cause as Error | undefined)?.message).toMatch(/at most|KiB/);
      const pick = s.review!.candidates[0]!.id;
      await handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: [pick], reviewer: 'ana' }] });
      const manifest = await handle.result();
      expect(manifest.outcome).toBe('published');
      expect(manifest.review!.ignoredSignalsDropped).toBeGreaterThan(0);
      const events = (await handle.fetchHistory()).events ?? [];
      expect(events.filter((e) => e.workflowTaskFailedEventAttributes)).toHaveLength(0);
    });
  });

  it('ProvidersDown says why each model in the chain failed', async () => {
    const key = 'sk-test-darkroom-0123456789abcdef';
    const openai = await startFakeOpenAI({ apiKey: key, imageFaults: () => 'serverError' });
    const taskQueue = uniqueTaskQueue('hostile-down');
    try {
      const env = { OPENAI_API_KEY: key, OPENAI_BASE_URL: openai.baseURL, DARKROOM_PROVIDER_ATTEMPTS: '2', DARKROOM_RETRY_INITIAL: '100ms', DARKROOM_OPENAI_RPM: '6000' };
      await withWorker({ taskQueue, dataDir: testDataDir('hostile-down'), env }, async () => {
        const handle = await client.workflow.start('briefWorkflow', { taskQueue, workflowId: uniqueWorkflowId('hostile-down'), args: [testBrief({ textInImage: 'SALE', candidates: 1, budgetUsd: 2 })] });
        const failure = await failureOf(handle);
        expect(failure.type).toBe('ProvidersDown');
        for (const model of ['gpt-image-1.5', 'gpt-image-2', 'gpt-image-1-mini']) expect(failure.message).toMatch(new RegExp(`${model.replace(/\./g, '\\.')} \\(ProviderUnavailable: .*HTTP 500`));
        expect(failure.message).not.toContain(key);
      });
    } finally {
      await openai.close();
    }
  });
});
