/**
 * Fair sharing between catalogs: a big catalog started first must not make a small one started
 * after it wait for all of its rows. One worker with a single activity slot keeps the activity
 * queue backlogged, so the order the server dispatches in decides who goes first.
 *
 * The same two catalogs run twice: on the run's dev server (fairness on, the default dev setup)
 * and on a second dev server started here with fairness off (first in, first out).
 */
import path from 'node:path';
import { NativeConnection } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { ImageGenerator } from '../../activities/providers';
import { LocalImageGenerator } from '../../activities/providers/local';
import { startBrief } from '../../client/briefs';
import { validateBrief } from '../../domain/brief';
import { SINGLE_BRIEFS_FAIRNESS_KEY } from '../../domain/fairness';
import { startDevServer, type DevServer } from '../../scripts/dev-server';
import { catalogStatusQuery } from '../../workflows/messages';
import { testBrief } from '../support/briefs';
import { productFeed, startCatalog } from '../support/catalog';
import { testAddress, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testConfig, testWorkflowBundle } from '../support/worker';
import { createDarkroomWorker } from '../../workers/worker';

const BIG = 24;
const SMALL = 4;

/** A provider that takes a while, as a real one does. */
function slowGenerator(ms: number): ImageGenerator {
  const inner = new LocalImageGenerator();
  return {
    name: inner.name,
    async generate(input) {
      await new Promise((r) => setTimeout(r, ms));
      return inner.generate(input);
    },
  };
}

interface RaceResult {
  /** Big-catalog rows that had finished when the small catalog's last row finished. */
  bigDoneWhenSmallDone: number;
  bigDone: number;
  smallDone: number;
  /** The fairness key each catalog's rows carried, as Temporal reports it. */
  keys: { big: Set<string>; small: Set<string> };
}

/** Starts the big catalog, then (once all its rows are queued) the small one, and runs both to the end. */
async function race(address: string, name: string): Promise<RaceResult> {
  const connection = await Connection.connect({ address });
  const native = await NativeConnection.connect({ address });
  try {
    const client = new Client({ connection });
    const taskQueue = uniqueTaskQueue(name);
    const dataDir = testDataDir(name);
    const big = `big-${taskQueue.slice(-8)}`;
    const small = `small-${taskQueue.slice(-8)}`;
    const { worker } = await createDarkroomWorker({
      config: testConfig(taskQueue, dataDir, { TEMPORAL_ADDRESS: address, DARKROOM_MAX_CONCURRENT_ACTIVITIES: '1' }),
      connection: native,
      workflowBundle: await testWorkflowBundle(),
      providers: { imageGenerators: { local: slowGenerator(20) } },
      worker: { shutdownGraceTime: '1s' },
    });
    await worker.runUntil(async () => {
      const bigHandle = await startCatalog(client, { dataDir, taskQueue, catalogId: big, feed: productFeed(BIG), window: BIG });
      for (;;) {
        const s = await bigHandle.query(catalogStatusQuery).catch(() => undefined);
        if (s && s.counts.running + s.counts.done >= BIG) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const smallHandle = await startCatalog(client, { dataDir, taskQueue, catalogId: small, feed: productFeed(SMALL), window: SMALL });
      const [b, s] = await Promise.all([bigHandle.result(), smallHandle.result()]);
      expect(b.counts.done).toBe(BIG);
      expect(s.counts.done).toBe(SMALL);
    });

    const rows = async (catalogId: string) => {
      const out: Array<{ closed: number; key: string }> = [];
      for await (const w of client.workflow.list({ query: `DarkroomCatalogId = '${catalogId}' AND WorkflowType = 'briefWorkflow'` })) {
        const d = await client.workflow.getHandle(w.workflowId).describe();
        out.push({ closed: w.closeTime!.getTime(), key: d.raw.workflowExecutionInfo?.priority?.fairnessKey ?? '' });
      }
      return out;
    };
    const [bigRows, smallRows] = await Promise.all([rows(big), rows(small)]);
    const smallFinished = Math.max(...smallRows.map((r) => r.closed));
    return {
      bigDoneWhenSmallDone: bigRows.filter((r) => r.closed < smallFinished).length,
      bigDone: bigRows.length,
      smallDone: smallRows.length,
      keys: { big: new Set(bigRows.map((r) => r.key)), small: new Set(smallRows.map((r) => r.key)) },
    };
  } finally {
    await native.close();
    await connection.close();
  }
}

let fifo: DevServer | undefined;

beforeAll(async () => {
  await testWorkflowBundle();
  fifo = await startDevServer({ dbFile: path.join(testDataDir('fifo-server'), 'temporal.sqlite'), uiPort: false, cli: inject('temporalCli'), fairness: false });
});
afterAll(async () => {
  await fifo?.stop();
});

describe('catalogs share the workers fairly', () => {
  it('lets a small catalog finish while most of a big one started before it is still waiting', async () => {
    // The same two catalogs on a server without fairness (first in, first out), side by side:
    // only the order of dispatch matters, not how fast either runs.
    const [fair, unfair] = await Promise.all([race(testAddress(), 'fair'), race(fifo!.address, 'fifo')]);
    console.log(`[fairness] small catalog (${SMALL} rows) done after ${fair.bigDoneWhenSmallDone} of ${BIG} big rows with fairness, ${unfair.bigDoneWhenSmallDone} of ${BIG} without`);
    for (const r of [fair, unfair]) {
      expect(r.bigDone).toBe(BIG);
      expect(r.smallDone).toBe(SMALL);
      expect([...r.keys.big]).toEqual([expect.stringMatching(/^big-/)]);
      expect([...r.keys.small]).toEqual([expect.stringMatching(/^small-/)]);
    }
    expect(fair.bigDoneWhenSmallDone).toBeLessThanOrEqual(BIG / 2);
    // Without fairness the small one waits behind the big one.
    expect(unfair.bigDoneWhenSmallDone).toBeGreaterThan(BIG / 2);
  });

  it('gives single briefs started from the CLI one shared key', async () => {
    const client = new Client({ connection: await Connection.connect({ address: testAddress() }) });
    try {
      // No worker: only what the start asked for is looked at.
      const { handle } = await startBrief(client, validateBrief(testBrief()), uniqueTaskQueue('fair-brief'), { workflowId: uniqueWorkflowId('fair-brief') });
      const d = await handle.describe();
      expect(d.raw.workflowExecutionInfo?.priority?.fairnessKey).toBe(SINGLE_BRIEFS_FAIRNESS_KEY);
      await handle.terminate('test over');
    } finally {
      await client.connection.close();
    }
  });
});
