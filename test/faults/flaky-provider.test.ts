/**
 * A vendor that fails half its image calls (429 with retry-after, 500, accepted-and-never-answered),
 * on a seeded schedule: the real OpenAI adapter against the wire-format fake, real workers on the
 * dev server. Every brief completes, and the vendor answered (billed) exactly one image per stored
 * candidate and ledger entry.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateBrief } from '../../domain/brief';
import { readLedger } from '../../activities';
import { createBlobStore } from '../../activities/blob-store';
import { startBrief } from '../../client/briefs';
import type { Fault } from '../providers/contract/faults';
import { startFakeOpenAI } from '../providers/fake-openai';
import { testBrief } from '../support/briefs';
import { halfFailing, recordProof } from '../support/faults';
import { closeTestConnection, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testWorkflowBundle, withWorker } from '../support/worker';

const KEY = 'sk-test-flaky-0123456789abcdef';
const BRIEFS = 4;
const CANDIDATES = 3;

beforeAll(async () => {
  await testWorkflowBundle();
});
afterAll(closeTestConnection);

describe('a vendor that fails 50% of its image calls', () => {
  it('every brief completes, and no candidate is paid for twice (vendor deliveries = candidates stored = ledger entries)', async ({ task }) => {
    const mix = halfFailing<Fault>('flaky-openai-4', [['rateLimit', 2], ['serverError', 2], ['timeout', 1]]);
    const fake = await startFakeOpenAI({ apiKey: KEY, imageFaults: mix });
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('faults-flaky');
    const dataDir = testDataDir('faults-flaky');
    const env = {
      OPENAI_API_KEY: KEY,
      OPENAI_BASE_URL: fake.baseURL,
      DARKROOM_OPENAI_RPM: '6000',
      // A call that is never answered counts as a timeout (retried). Not shorter: an answer the
      // fake is still rendering on a loaded machine would come after the worker gave up, and a
      // vendor bills that one too (the call's window is the vendor's; see paid-once.test.ts).
      DARKROOM_PROVIDER_TIMEOUT: '4s',
      DARKROOM_RETRY_INITIAL: '100ms',
      // Enough attempts that a run of failures on this schedule retries rather than falls back.
      DARKROOM_PROVIDER_ATTEMPTS: '8',
      DARKROOM_RETRY_MAX_ATTEMPTS: '8',
    };
    try {
      const manifests = await withWorker({ taskQueue, dataDir, env }, () =>
        Promise.all(Array.from({ length: BRIEFS }, async (_, i) => {
          const brief = validateBrief(testBrief({ id: `flaky-${i}`, textInImage: 'SPRING SALE', candidates: CANDIDATES, budgetUsd: 2 }));
          const { handle } = await startBrief(client, brief, taskQueue, { workflowId: uniqueWorkflowId(`flaky-${i}`) });
          return handle.result();
        })),
      );
      const blobs = createBlobStore({ DARKROOM_DATA_DIR: dataDir });
      let stored = 0;
      let ledgerEntries = 0;
      for (const m of manifests) {
        expect(m.candidates).toHaveLength(CANDIDATES);
        expect(m.assets.length).toBeGreaterThan(0);
        stored += (await blobs.list(`${m.workflowId}/candidates/`)).length;
        const ledger = await readLedger(blobs, m.workflowId);
        expect(new Set(ledger.map((e) => e.candidateId)).size).toBe(ledger.length);
        ledgerEntries += ledger.length;
      }
      const calls = fake.requests().filter((r) => r.path === '/v1/images/generations').length;
      const faults = Array.from({ length: calls }, (_, i) => mix(i));
      const count = (f: Fault) => faults.filter((x) => x === f).length;
      // Half the calls failed, and retries made up for them.
      expect(count('rateLimit') + count('serverError') + count('timeout')).toBeGreaterThanOrEqual(Math.floor(calls / 2));
      for (const f of ['rateLimit', 'serverError', 'timeout'] as const) expect(count(f), f).toBeGreaterThan(0);
      expect(calls).toBeGreaterThanOrEqual(2 * BRIEFS * CANDIDATES - 1);
      expect(stored).toBe(BRIEFS * CANDIDATES);
      expect(ledgerEntries).toBe(stored);
      expect(fake.delivered()).toBe(stored);
      recordProof(task, `${BRIEFS}/${BRIEFS} briefs completed; ${calls} image calls, of which ${count('rateLimit')} × 429, ${count('serverError')} × 500, ${count('timeout')} never answered; vendor delivered ${fake.delivered()} images = ${stored} candidates stored = ${ledgerEntries} ledger entries`);
    } finally {
      await fake.close();
    }
  });
});
