/**
 * One catalog through everything at once: its worker SIGKILLed again and again, and the Temporal
 * dev server stopped and started again on the same SQLite file (once with the worker killed while
 * the server is down). Nothing is lost and nothing is done twice: every row is in the report once
 * and done, with one ledger entry, one stored candidate, its assets whole, and one generator call.
 * Minutes long, so it runs in `npm run chaos`, not `npm test`.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { readLedger } from '../../activities';
import { createBlobStore } from '../../activities/blob-store';
import { catalogStatusQuery } from '../../workflows/messages';
import { startDevServer, type DevServer } from '../../scripts/dev-server';
import { parseReport, productFeed, startCatalog } from '../support/catalog';
import { exited, killWhileHeld, spawnCrashWorker } from '../support/crash-worker';
import { recordProof } from '../support/faults';
import { testDataDir, uniqueTaskQueue } from '../support/temporal';

const ROWS = 120;
type Disruption = 'kill' | 'restart server' | 'restart server, killing the worker while it is down';
/** What happens, in order, each once the catalog has finished the given number of rows. */
const PLAN: Array<[number, Disruption]> = [[15, 'kill'], [35, 'restart server'], [55, 'kill'], [75, 'restart server, killing the worker while it is down'], [95, 'kill']];

/** For a stalled catalog's error: its run, pending activities and children, and its last history events. */
async function whereItStands(client: Client, workflowId: string): Promise<string> {
  try {
    const handle = client.workflow.getHandle(workflowId);
    const d = await handle.describe();
    const activities = (d.raw.pendingActivities ?? []).map((a) => `${a.activityType?.name} attempt ${a.attempt} state ${a.state} ${a.lastFailure?.message ?? ''}`);
    const events = ((await handle.fetchHistory()).events ?? []).map((e) => String(e.eventType));
    return `run ${d.runId} ${d.status.name}, pending activities [${activities.join('; ')}], pending children ${d.raw.pendingChildren?.length ?? 0}, last events ${events.slice(-8).join(' ')}`;
  } catch (err) {
    return `describe failed: ${String(err)}`;
  }
}

describe('a catalog through worker SIGKILLs and dev-server restarts', () => {
  it(`${ROWS} rows: every row once in the report, one ledger entry, one candidate, whole assets and one generator call each`, async ({ task }) => {
    const dataDir = testDataDir('chaos-catalog');
    const dbFile = path.join(dataDir, 'temporal.sqlite');
    let server: DevServer = await startDevServer({ dbFile, uiPort: false });
    const port = Number(server.address.split(':')[1]);
    const gate = path.join(dataDir, 'gate');
    mkdirSync(gate, { recursive: true });
    const taskQueue = uniqueTaskQueue('chaos-catalog');
    const catalogId = `chaos-${taskQueue.slice(-8)}`;
    const env = { TEMPORAL_ADDRESS: server.address, DARKROOM_TASK_QUEUE: taskQueue, DARKROOM_DATA_DIR: dataDir, DARKROOM_TEST_GATE_DIR: gate };
    let worker = spawnCrashWorker(env);
    let connection = await Connection.connect({ address: server.address });
    let client = new Client({ connection });
    const reconnect = async () => {
      await connection.close().catch(() => undefined);
      connection = await Connection.connect({ address: server.address });
      client = new Client({ connection });
    };
    const restartServer = async (whileDown?: () => Promise<void>) => {
      await connection.close().catch(() => undefined);
      await server.stop();
      await whileDown?.();
      await new Promise((r) => setTimeout(r, 1000));
      server = await startDevServer({ dbFile, port, uiPort: false });
      await reconnect();
    };
    const status = () => client.workflow.getHandle(`catalog-${catalogId}`).query(catalogStatusQuery);
    try {
      await startCatalog(client, { dataDir, taskQueue, catalogId, feed: productFeed(ROWS), window: 6, rowsPerRun: 40 });
      const done: number[] = [];
      let continued = 0;
      for (const [target, what] of PLAN) {
        let last: unknown;
        for (let i = 0; ; i++) {
          const s = await status().catch((err: unknown) => {
            last = err;
            return undefined;
          });
          if (s) continued = Math.max(continued, s.runs);
          if (s && s.counts.done >= target) break;
          if (s) last = s.counts;
          if (i >= 1800) throw new Error(`before "${what}": ${target} rows never finished within 180 s; last status: ${last instanceof Error ? last.message : JSON.stringify(last)}; ${await whereItStands(client, `catalog-${catalogId}`)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        if (what === 'kill') {
          await killWhileHeld(worker, gate, async () => {
            done.push((await status()).counts.done);
          });
          worker = spawnCrashWorker(env);
        } else if (what === 'restart server') {
          done.push((await status()).counts.done);
          await restartServer();
        } else {
          done.push((await status()).counts.done);
          await restartServer(async () => {
            await killWhileHeld(worker, gate);
            worker = spawnCrashWorker(env);
          });
        }
      }
      const result = await client.workflow.getHandle(`catalog-${catalogId}`).result();
      expect(done.every((d) => d > 0 && d < ROWS)).toBe(true);
      expect(result.outcome).toBe('completed');
      expect(result.counts).toMatchObject({ done: ROWS, failed: 0, pending: 0, running: 0 });
      // The disruptions spanned continues-as-new (40 rows a run).
      expect(continued).toBeGreaterThanOrEqual(2);

      const blobs = createBlobStore({ DARKROOM_DATA_DIR: dataDir });
      const report = parseReport((await blobs.get(result.reportKey)).toString('utf8'));
      expect(report).toHaveLength(ROWS);
      expect(new Set(report.map((r) => r.sku)).size).toBe(ROWS);
      expect(report.every((r) => r.state === 'done')).toBe(true);
      let ledger = 0;
      let candidates = 0;
      let assets = 0;
      for (const r of report) {
        const entries = await readLedger(blobs, r.workflow_id!);
        expect(entries, r.sku).toHaveLength(1);
        ledger += entries.length;
        const stored = await blobs.list(`${r.workflow_id}/candidates/`);
        expect(stored, r.sku).toHaveLength(1);
        candidates += stored.length;
        const keys = r.asset_keys!.split(' ');
        expect(keys, r.sku).toHaveLength(2);
        for (const key of keys) {
          const ref = (await blobs.head(key))!;
          expect(createHash('sha256').update(await blobs.get(key)).digest('hex'), key).toBe(ref.sha256);
          assets++;
        }
      }
      const calls = readFileSync(path.join(gate, 'calls.log'), 'utf8').trim().split('\n');
      expect(ledger).toBe(ROWS);
      expect(candidates).toBe(ROWS);
      expect(calls).toHaveLength(ROWS);
      const disruptions = PLAN.map(([, what], i) => `${what} at ${done[i]}`).join('; ');
      recordProof(task, `${disruptions} rows done; catalog completed after ${continued}+ continues-as-new: ${report.length} report lines (${ROWS} distinct SKUs, all done), ${ledger} ledger entries, ${candidates} candidates and ${assets} assets stored (sha256 verified), ${calls.length} generator calls`);
    } finally {
      worker.kill('SIGKILL');
      await exited(worker);
      await connection.close().catch(() => undefined);
      await server.stop();
    }
  }, 900_000);
});
