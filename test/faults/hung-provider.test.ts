/**
 * Vendors that hang: one accepts image calls and never answers, one answers 200 and then trickles
 * a body that never ends, one sends a huge body. The real OpenAI adapter against the wire-format
 * fake, real workers on the dev server, every timeout short through config. The provider timeout
 * (DARKROOM_PROVIDER_TIMEOUT) ends a call that has no answer, the activity's start-to-close
 * (DARKROOM_ACTIVITY_TIMEOUT) one whose body never ends, the response cap one whose body is too
 * big; the brief completes on a retry or on the next model, paying once per stored candidate.
 * (The adapters' own handling of huge bodies is test/providers/response-cap.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateBrief } from '../../domain/brief';
import { readLedger } from '../../activities';
import { createBlobStore } from '../../activities/blob-store';
import { startBrief } from '../../client/briefs';
import { statusQuery } from '../../workflows/messages';
import type { Fault } from '../providers/contract/faults';
import type { RawResponse } from '../providers/fake-http';
import { startFakeOpenAI, type FakeOpenAI } from '../providers/fake-openai';
import { startFakeGemini } from '../providers/fake-gemini';
import { testBrief } from '../support/briefs';
import { recordProof } from '../support/faults';
import { closeTestConnection, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testWorkflowBundle, withWorker } from '../support/worker';

const KEY = 'sk-test-hung-0123456789abcdef';
const GEMINI_KEY = 'gemini-test-hung-0123456789';
const MiB = 1024 * 1024;

beforeAll(async () => {
  await testWorkflowBundle();
});
afterAll(closeTestConnection);

/** Runs one poster brief (routed to gpt-image-1.5) on a worker with `env`; its manifest, route and ledger size. */
async function runBrief(name: string, fake: FakeOpenAI, env: Record<string, string>, candidates = 2) {
  const client = await testConnection();
  const taskQueue = uniqueTaskQueue(name);
  const dataDir = testDataDir(name);
  const base = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.baseURL, DARKROOM_OPENAI_RPM: '6000', DARKROOM_RETRY_INITIAL: '100ms', DARKROOM_HEARTBEAT_TIMEOUT: '2s' };
  return withWorker({ taskQueue, dataDir, env: { ...base, ...env } }, async () => {
    const brief = validateBrief(testBrief({ id: name, textInImage: 'SPRING SALE', candidates, budgetUsd: 2 }));
    const { handle } = await startBrief(client, brief, taskQueue, { workflowId: uniqueWorkflowId(name) });
    const m = await handle.result();
    const route = (await handle.query(statusQuery)).route!;
    const blobs = createBlobStore({ DARKROOM_DATA_DIR: dataDir });
    return { m, route, ledger: (await readLedger(blobs, m.workflowId)).length, stored: (await blobs.list(`${m.workflowId}/candidates/`)).length };
  });
}

const imageCalls = (fake: FakeOpenAI) => fake.requests().filter((r) => r.path === '/v1/images/generations').length;

describe('a vendor that hangs', () => {
  it('accepts and never answers: the provider timeout ends the attempt, the retry completes the brief', async ({ task }) => {
    // The first two image calls are never answered; every later one is.
    const fake = await startFakeOpenAI({ apiKey: KEY, imageFaults: (i): Fault | undefined => (i < 2 ? 'timeout' : undefined) });
    try {
      const r = await runBrief('hung-silent', fake, { DARKROOM_PROVIDER_TIMEOUT: '2s', DARKROOM_PROVIDER_ATTEMPTS: '4' });
      expect(r.m.candidates).toHaveLength(2);
      expect(r.m.candidates.every((c) => c.model === 'gpt-image-1.5')).toBe(true);
      expect(r.route.down).toEqual([]);
      expect(imageCalls(fake)).toBe(4);
      expect(fake.delivered()).toBe(2);
      expect(r.stored).toBe(2);
      expect(r.ledger).toBe(2);
      recordProof(task, `2 of ${imageCalls(fake)} image calls never answered, each ended by the 2 s provider timeout and retried on the same model; brief completed; vendor delivered ${fake.delivered()} = ${r.stored} candidates stored = ${r.ledger} ledger entries`);
    } finally {
      await fake.close();
    }
  });

  it('answers 200 and trickles a body that never ends: the activity timeout ends the attempt, the retry completes the brief', async ({ task }) => {
    // 64 KiB every 200 ms of a 1 GiB body: under the response cap for minutes, finished never.
    const trickle: RawResponse = { status: 200, body: { total: 1024 * MiB, prefix: '{"created": 1, "data": [{"b64_json": "', chunkDelayMs: 200 } };
    const fake = await startFakeOpenAI({ apiKey: KEY, imageFaults: (i) => (i < 2 ? trickle : undefined) });
    try {
      // Headers arrive at once, so only the start-to-close timeout can end the read.
      const r = await runBrief('hung-trickle', fake, { DARKROOM_PROVIDER_TIMEOUT: '2s', DARKROOM_ACTIVITY_TIMEOUT: '4s', DARKROOM_PROVIDER_ATTEMPTS: '4' });
      expect(r.m.candidates).toHaveLength(2);
      expect(r.route.down).toEqual([]);
      const streams = fake.streams();
      expect(streams).toHaveLength(2);
      await Promise.all(streams.map((s) => s.done));
      // The worker dropped each connection long before the end of the body.
      expect(streams.every((s) => s.closed && !s.finished && s.written < 64 * MiB)).toBe(true);
      expect(fake.delivered()).toBe(2);
      expect(r.stored).toBe(2);
      expect(r.ledger).toBe(2);
      recordProof(task, `2 image calls answered 200 with a never-ending body (dropped by the worker after ${streams.map((s) => Math.round(s.written / 1024)).join(' and ')} KiB) under a 4 s activity timeout; retried, brief completed; vendor delivered ${fake.delivered()} = ${r.stored} candidates stored = ${r.ledger} ledger entries`);
    } finally {
      await fake.close();
    }
  });

  it('answers every image call slowly with a body over the response cap: the cap ends each attempt, the brief falls back to Gemini', async ({ task }) => {
    // 64 KiB every 10 ms of a 64 MiB body, against an 8 MiB cap.
    const huge: RawResponse = { status: 200, body: { total: 64 * MiB, prefix: '{"created": 1, "data": [{"b64_json": "', chunkDelayMs: 10 } };
    const fake = await startFakeOpenAI({ apiKey: KEY, imageFaults: () => huge });
    const gemini = await startFakeGemini({ apiKey: GEMINI_KEY });
    try {
      const r = await runBrief('hung-huge', fake, {
        DARKROOM_MAX_DOWNLOAD_BYTES: String(8 * MiB), DARKROOM_PROVIDER_TIMEOUT: '5s', DARKROOM_PROVIDER_ATTEMPTS: '2',
        GEMINI_API_KEY: GEMINI_KEY, GEMINI_BASE_URL: gemini.baseUrl,
      });
      expect(r.m.candidates).toHaveLength(2);
      expect(r.m.candidates.every((c) => c.model === 'gemini-2.5-flash-image')).toBe(true);
      expect(r.route.down).toEqual(['gpt-image-1.5', 'gpt-image-2', 'gpt-image-1-mini']);
      const streams = fake.streams();
      await Promise.all(streams.map((s) => s.done));
      expect(streams.length).toBeGreaterThanOrEqual(3);
      expect(streams.every((s) => s.closed && !s.finished && s.written < 16 * MiB)).toBe(true);
      expect(fake.delivered()).toBe(0);
      const geminiImages = gemini.requests().filter((q) => q.path.includes('gemini-2.5-flash-image')).length;
      expect(geminiImages).toBe(2);
      expect(r.stored).toBe(2);
      expect(r.ledger).toBe(2);
      recordProof(task, `${streams.length} OpenAI image calls answered with a 64 MiB body, each dropped by the 8 MiB cap (at most ${Math.round(Math.max(...streams.map((s) => s.written)) / MiB)} MiB sent), not retried; 3 OpenAI models marked down, ${geminiImages} Gemini calls = ${r.stored} candidates stored = ${r.ledger} ledger entries`);
    } finally {
      await fake.close();
      await gemini.close();
    }
  });
});
