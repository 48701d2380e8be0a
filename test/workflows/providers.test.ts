import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { validateBrief, type BriefInput } from '../../domain/brief';
import { imagePrice } from '../../domain/models';
import { readLedger } from '../../activities';
import { createBlobStore } from '../../activities/blob-store';
import { startBrief } from '../../client/briefs';
import { raiseBudgetUpdate, reviewUpdate, statusQuery } from '../../workflows/messages';
import { startFakeOpenAI, type FakeOpenAI } from '../providers/fake-openai';
import { startFakeGemini } from '../providers/fake-gemini';
import { expectNoKey } from '../providers/contract/exposure';
import { awaitingRound, testBrief, waitForStatus } from '../support/briefs';
import { closeTestConnection, testAddress, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testWorkflowBundle, withWorker } from '../support/worker';

const KEY = 'sk-test-darkroom-0123456789abcdef';
const poster = (over: Partial<BriefInput> = {}) => testBrief({ textInImage: 'SPRING SALE', candidates: 3, budgetUsd: 2, ...over });
const openaiEnv = (fake: FakeOpenAI) => ({
  OPENAI_API_KEY: KEY,
  OPENAI_BASE_URL: fake.baseURL,
  DARKROOM_PROVIDER_ATTEMPTS: '4',
  DARKROOM_RETRY_INITIAL: '100ms',
  DARKROOM_OPENAI_RPM: '6000',
});
/** Every request but the prompt's moderation check, which is free and runs before the cost gate. */
const paidCalls = (fake: FakeOpenAI) => fake.requests().filter((r) => r.path !== '/v1/moderations');
const imageCalls = (fake: FakeOpenAI) => fake.requests().filter((r) => r.path === '/v1/images/generations');

beforeAll(async () => {
  await testWorkflowBundle();
});
afterAll(closeTestConnection);

describe('briefs on vendor providers (OpenAI SDK against a local wire-format server)', () => {
  it('routes text in the image to gpt-image, pays each candidate once, and counts judge spend', async () => {
    const fake = await startFakeOpenAI({ apiKey: KEY });
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('prov-route');
    const dataDir = testDataDir('prov-route');
    try {
      const m = await withWorker({ taskQueue, dataDir, env: openaiEnv(fake) }, async () => {
        const { handle } = await startBrief(client, validateBrief(poster()), taskQueue, { workflowId: uniqueWorkflowId('prov-route') });
        const done = await handle.result();
        const s = await handle.query(statusQuery);
        expect(s.route).toMatchObject({ model: 'gpt-image-1.5', down: [] });
        expect(s.route!.reason).toMatch(/SPRING SALE/);
        return done;
      });
      const calls = imageCalls(fake);
      expect(calls).toHaveLength(3);
      for (const c of calls) {
        expect(c.body).toMatchObject({ model: 'gpt-image-1.5', size: '1536x1024', n: 1 });
        expect(c.headers.authorization).toBe(`Bearer ${KEY}`);
      }
      expect(m.candidates.every((c) => c.model === 'gpt-image-1.5')).toBe(true);
      const perImage = imagePrice('gpt-image-1.5', '1536x1024');
      expect(m.candidates.map((c) => c.costUsd)).toEqual([perImage, perImage, perImage]);
      // Judge and alt text were paid too: actual spend exceeds generation alone, and stays within budget.
      expect(m.cost.actualUsd).toBeGreaterThan(3 * perImage);
      expect(m.cost.actualUsd).toBeLessThanOrEqual(m.cost.budgetUsd);
      expect(m.cost.forecastUsd).toBeGreaterThanOrEqual(3 * perImage);
      const ledger = await readLedger(createBlobStore({ DARKROOM_DATA_DIR: dataDir }), m.workflowId);
      expect(ledger.map((e) => e.candidateId).sort()).toEqual(['r1-c01', 'r1-c02', 'r1-c03']);
      expect(JSON.stringify(m)).not.toContain(KEY);
    } finally {
      await fake.close();
    }
  });

  it('keeps to the provider rate limit, whatever the batch concurrency', async () => {
    const fake = await startFakeOpenAI({ apiKey: KEY });
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('prov-rate');
    try {
      // 60 calls a minute = one a second, enforced by the server on the provider's task queue.
      const env = { ...openaiEnv(fake), DARKROOM_OPENAI_RPM: '60', DARKROOM_GENERATE_CONCURRENCY: '5' };
      await withWorker({ taskQueue, dataDir: testDataDir('prov-rate'), env }, async () => {
        const { handle } = await startBrief(client, validateBrief(poster({ candidates: 5 })), taskQueue, { workflowId: uniqueWorkflowId('prov-rate') });
        await handle.result();
      });
      const at = fake.requests().filter((r) => r.path === '/v1/images/generations').map((r) => r.at!);
      expect(at).toHaveLength(5);
      // The server's limiter lets a burst of two go at once (its bucket holds two), then one a
      // second: the gaps after the second call are about a second each (slack for timer
      // granularity), and no more than 60 calls a minute ever go out.
      const gaps = at.slice(1).map((t, i) => t - at[i]!);
      expect(gaps.slice(1).every((g) => g >= 800), `gaps between calls: ${gaps.join(', ')} ms`).toBe(true);
      expect(at.at(-1)! - at[0]!).toBeGreaterThanOrEqual(2500);
    } finally {
      await fake.close();
    }
  });

  it('refuses a batch whose forecast exceeds the budget before any call is made', async () => {
    const fake = await startFakeOpenAI({ apiKey: KEY });
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('prov-budget');
    try {
      await withWorker({ taskQueue, dataDir: testDataDir('prov-budget'), env: openaiEnv(fake) }, async () => {
        const { handle } = await startBrief(client, validateBrief(poster({ candidates: 20, budgetUsd: 0.1 })), taskQueue, { workflowId: uniqueWorkflowId('prov-budget') });
        const err = await handle.result().then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(WorkflowFailedError);
        const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
        expect(cause.type).toBe('OverBudget');
        expect(cause.message).toMatch(/forecast cost \$1\.\d\d for 20 candidates on gpt-image-1\.5 exceeds the budget of \$0\.10/);
      });
      expect(paidCalls(fake)).toHaveLength(0);
    } finally {
      await fake.close();
    }
  });

  it('with human approval, waits for a budget raise instead of failing, then spends within it', async () => {
    const fake = await startFakeOpenAI({ apiKey: KEY });
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('prov-raise');
    try {
      await withWorker({ taskQueue, dataDir: testDataDir('prov-raise'), env: openaiEnv(fake) }, async () => {
        const { handle } = await startBrief(client, validateBrief(poster({ candidates: 4, budgetUsd: 0.05, approval: 'human' })), taskQueue, { workflowId: uniqueWorkflowId('prov-raise') });
        const s = await waitForStatus(handle, (x) => x.stage === 'budget', 'the budget wait');
        expect(s.awaitingBudget!.budgetUsd).toBe(0.05);
        expect(paidCalls(fake)).toHaveLength(0);
        const low = await handle.executeUpdate(raiseBudgetUpdate, { args: [{ budgetUsd: 0.06 }] }).then(() => undefined, (e: Error) => e);
        expect((low as Error & { cause?: Error }).cause?.message).toMatch(/must be a number covering the forecast of \$0\.2\d/);
        await handle.executeUpdate(raiseBudgetUpdate, { args: [{ budgetUsd: 1, reviewer: 'fin' }] });
        const r = await waitForStatus(handle, awaitingRound(1), 'review');
        expect(r.cost.budgetUsd).toBe(1);
        await handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: [r.review!.candidates[0]!.id], reviewer: 'fin' }] });
        const m = await handle.result();
        expect(m.cost.actualUsd).toBeGreaterThan(0.05);
        expect(m.cost.actualUsd).toBeLessThanOrEqual(1);
        expect(m.cost.budgetUsd).toBe(1);
      });
    } finally {
      await fake.close();
    }
  });

  it('completes a batch on a provider that fails every other call, paying only for what it delivered', async () => {
    const fake = await startFakeOpenAI({ apiKey: KEY, imageFaults: (i) => (i % 2 === 0 ? 'serverError' : undefined) });
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('prov-flaky');
    const dataDir = testDataDir('prov-flaky');
    try {
      const m = await withWorker({ taskQueue, dataDir, env: openaiEnv(fake) }, async () => {
        const { handle } = await startBrief(client, validateBrief(poster({ candidates: 6 })), taskQueue, { workflowId: uniqueWorkflowId('prov-flaky') });
        return handle.result();
      });
      expect(m.candidates).toHaveLength(6);
      expect(imageCalls(fake).length).toBeGreaterThanOrEqual(12);
      expect(fake.delivered()).toBe(6);
      const ledger = await readLedger(createBlobStore({ DARKROOM_DATA_DIR: dataDir }), m.workflowId);
      expect(ledger).toHaveLength(6);
    } finally {
      await fake.close();
    }
  });

  it('falls back to the next provider in the chain when one is down', async () => {
    const openai = await startFakeOpenAI({ apiKey: KEY, imageFaults: () => 'serverError' });
    const gemini = await startFakeGemini({ apiKey: 'gemini-test-key-0123456789' });
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('prov-fallback');
    const dataDir = testDataDir('prov-fallback');
    try {
      const env = { ...openaiEnv(openai), DARKROOM_PROVIDER_ATTEMPTS: '2', GEMINI_API_KEY: 'gemini-test-key-0123456789', GEMINI_BASE_URL: gemini.baseUrl };
      const { m, s } = await withWorker({ taskQueue, dataDir, env }, async () => {
        const { handle } = await startBrief(client, validateBrief(poster({ candidates: 3 })), taskQueue, { workflowId: uniqueWorkflowId('prov-fallback') });
        return { m: await handle.result(), s: await handle.query(statusQuery) };
      });
      expect(s.route!.chain).toEqual(['gpt-image-1.5', 'gpt-image-2', 'gpt-image-1-mini', 'gemini-2.5-flash-image']);
      expect(s.route!.down).toEqual(['gpt-image-1.5', 'gpt-image-2', 'gpt-image-1-mini']);
      expect(m.candidates.map((c) => c.model)).toEqual(['gemini-2.5-flash-image', 'gemini-2.5-flash-image', 'gemini-2.5-flash-image']);
      expect(openai.delivered()).toBe(0);
      expect(gemini.requests().filter((r) => r.path.includes('gemini-2.5-flash-image'))).toHaveLength(3);
      const ledger = await readLedger(createBlobStore({ DARKROOM_DATA_DIR: dataDir }), m.workflowId);
      expect(ledger.map((e) => e.model)).toEqual(['gemini-2.5-flash-image', 'gemini-2.5-flash-image', 'gemini-2.5-flash-image']);
    } finally {
      await openai.close();
      await gemini.close();
    }
  });

  it('pays for no candidate twice when the worker crashes in the middle of a paid batch (counted at the server)', async () => {
    const fake = await startFakeOpenAI({ apiKey: KEY });
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('prov-crash');
    const dataDir = testDataDir('prov-crash');
    const workflowId = uniqueWorkflowId('prov-crash');
    const env = {
      ...process.env,
      ...openaiEnv(fake),
      TEMPORAL_ADDRESS: testAddress(),
      DARKROOM_TASK_QUEUE: taskQueue,
      DARKROOM_DATA_DIR: dataDir,
      DARKROOM_HEARTBEAT_TIMEOUT: '2s',
      DARKROOM_GENERATE_CONCURRENCY: '2',
    };
    const spawnWorker = (): ChildProcess => spawn(process.execPath, ['--import', 'tsx', path.resolve('workers/main.ts')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let worker = spawnWorker();
    try {
      const { handle } = await startBrief(client, validateBrief(poster({ candidates: 8 })), taskQueue, { workflowId });
      await waitForStatus(handle, (s) => s.candidates.generated >= 3, 'three paid candidates');
      // Hold the vendor's answers, so the crash lands while calls are in flight at the vendor.
      fake.hold();
      for (let i = 0; i < 300 && fake.held() < 1; i++) await new Promise((r) => setTimeout(r, 50));
      expect(fake.held()).toBeGreaterThanOrEqual(1);
      worker.kill('SIGKILL');
      await new Promise((r) => worker.once('exit', r));
      await new Promise((r) => setTimeout(r, 300));
      fake.release(); // answers to a dead worker: written to closed sockets, never delivered
      const generatedAtCrash = (await handle.query(statusQuery).catch(() => undefined))?.candidates.generated;
      worker = spawnWorker();
      const m = await handle.result();
      expect(m.candidates).toHaveLength(8);
      const ledger = await readLedger(createBlobStore({ DARKROOM_DATA_DIR: dataDir }), workflowId);
      // Calls made (delivered by the vendor) = candidates stored = ledger entries: nothing paid twice.
      expect(fake.delivered()).toBe(8);
      expect(ledger.map((e) => e.candidateId).sort()).toEqual(m.candidates.map((c) => c.id).sort());
      console.log(`paid-batch crash: ${imageCalls(fake).length} image requests reached the vendor, ${fake.delivered()} answered and paid, ${m.candidates.length} candidates stored, ${ledger.length} ledger entries`);
      expect(generatedAtCrash ?? 3).toBeLessThan(8);
    } finally {
      worker.kill('SIGTERM');
      await fake.close();
    }
  });
});

/** A history as text, payloads (JSON in bytes) decoded, so a key inside an activity's input or result shows. */
function historyText(history: unknown): string {
  return JSON.stringify(history, (_k, v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : v));
}

describe('a vendor that echoes the key in everything it answers', () => {
  it('the brief fails or falls back, and no trace of the key is in its history or the worker log', async () => {
    // Characters that URL-encoding and base64 change, so every spelling the gateway uses differs.
    const key = 'sk-proj-Leak+Test/Key=0123456789abcdefXYZ';
    const fake = await startFakeOpenAI({ apiKey: key, leak: 500 });
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('prov-leak');
    const env = {
      ...process.env,
      OPENAI_API_KEY: key,
      OPENAI_BASE_URL: fake.baseURL,
      DARKROOM_PROVIDER_ATTEMPTS: '2',
      DARKROOM_RETRY_INITIAL: '100ms',
      DARKROOM_RETRY_MAX_ATTEMPTS: '3',
      DARKROOM_OPENAI_RPM: '6000',
      TEMPORAL_ADDRESS: testAddress(),
      DARKROOM_TASK_QUEUE: taskQueue,
      DARKROOM_DATA_DIR: testDataDir('prov-leak'),
    };
    // Its own process, so the worker's log (the Runtime logger, at its default level) is captured whole.
    const worker = spawn(process.execPath, ['--import', 'tsx', path.resolve('workers/main.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    worker.stdout!.on('data', (d: Buffer) => (log += d.toString('utf8')));
    worker.stderr!.on('data', (d: Buffer) => (log += d.toString('utf8')));
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    try {
      const { handle } = await startBrief(client, validateBrief(poster({ candidates: 2 })), taskQueue, { workflowId: uniqueWorkflowId('prov-leak') });
      await handle.result().catch(() => undefined);
      expect(fake.requests().length).toBeGreaterThanOrEqual(2);
      const history = historyText(await handle.fetchHistory());
      // The vendor's failures are in the history and the log (so the checks below can fail)...
      expect(history).toContain('HTTP 500');
      expect(log).toContain('HTTP 500');
      // ...without the key, in any spelling.
      expectNoKey(history, key, 'the workflow history');
      expectNoKey(log, key, 'the worker log');
    } finally {
      worker.kill('SIGTERM');
      await exited;
      await fake.close();
    }
  });
});
