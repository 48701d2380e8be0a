/**
 * The deployment, without Docker: Temporal Server built from source (scripts/temporal-server.ts)
 * on the distribution's PostgreSQL, two Darkroom worker processes sharing an S3 bucket
 * (versitygw), and one of them SIGKILLed in the middle of a catalog. Every row must finish once:
 * one report line, one ledger entry, one stored candidate and one generator call per row, and
 * its assets published once in the bucket.
 *
 * Nothing is skipped when a part is missing: CI installs PostgreSQL and builds the server
 * (.ci/run); elsewhere the error says which command provides it.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLedger } from '../../activities';
import { catalogStatusQuery } from '../../workflows/messages';
import type { catalogWorkflow } from '../../workflows/catalog';
import { startPostgres, type Postgres } from '../../scripts/postgres';
import { startTemporalOnPostgres, type TemporalOnPostgres } from '../../scripts/temporal-on-postgres';
import { ensureTemporalServer, TEMPORAL_SERVER_VERSION } from '../../scripts/temporal-server';
import { parseReport, productFeed, testTemplate } from '../support/catalog';
import { startVersitygw, type Versitygw } from '../support/versitygw';
import { exited, killWhileHeld, spawnCrashWorker as spawnWorker } from '../support/crash-worker';
import { activityAttempts } from '../support/history';

const BUCKET = 'darkroom-deploy';
const ROWS = 16;

const log = (msg: string) => console.log(`[deployment] ${msg}`);

let dir = '';
let pg: Postgres | undefined;
let server: TemporalOnPostgres | undefined;
let s3: Versitygw | undefined;
let connection: Connection | undefined;

beforeAll(async () => {
  // Fail fast, before starting anything, when a part is missing.
  const binaries = await ensureTemporalServer({ build: false });
  dir = await mkdtemp(path.join(os.tmpdir(), 'darkroom-deploy-'));
  s3 = await startVersitygw({ bucket: BUCKET });
  pg = await startPostgres({ log });
  server = await startTemporalOnPostgres({ binaries, postgres: pg, dir: path.join(dir, 'temporal'), log });
  log(`temporal-server ${TEMPORAL_SERVER_VERSION} on PostgreSQL ${pg.version}: schema ${server.timings.schemaMs}ms, start and registration ${server.timings.startMs}ms`);
  connection = await Connection.connect({ address: server.address });
});

afterAll(async () => {
  await connection?.close().catch(() => {});
  await server?.stop();
  await pg?.stop();
  await s3?.stop();
  if (dir && !process.env.DARKROOM_KEEP_TEST_DIR) await rm(dir, { recursive: true, force: true });
  else if (dir) log(`kept ${dir}`);
});


describe('deployment: Temporal on PostgreSQL, two workers, one S3 bucket', () => {
  it(`a ${ROWS}-row catalog finishes every row exactly once after one of its two workers is SIGKILLed`, async () => {
    const started = Date.now();
    const client = new Client({ connection: connection!, namespace: 'default' });
    const taskQueue = `deploy-${Date.now().toString(36)}`;
    const catalogId = `deploy-${taskQueue.slice(-6)}`;
    const gate = path.join(dir, 'gate');
    mkdirSync(gate, { recursive: true });
    const s3Env = { ...s3!.config('darkroom/'), AWS_ACCESS_KEY_ID: s3!.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: s3!.credentials.secretAccessKey };
    // Each worker gets its own data dir: with S3, nothing the rows need may live on a worker's disk.
    const workerEnv = (name: string) => {
      const dataDir = path.join(dir, `worker-${name}`);
      mkdirSync(dataDir, { recursive: true });
      return { ...s3Env, TEMPORAL_ADDRESS: server!.address, DARKROOM_TASK_QUEUE: taskQueue, DARKROOM_DATA_DIR: dataDir, DARKROOM_TEST_GATE_DIR: gate };
    };
    const blobs = s3!.store({ prefix: 'darkroom/' });
    const workerA = spawnWorker(workerEnv('a'));
    const workerB = spawnWorker(workerEnv('b'));
    try {
      const feedKey = `catalogs/${catalogId}/feed.csv`;
      await blobs.put(feedKey, new TextEncoder().encode(productFeed(ROWS)), { mime: 'text/csv' });
      const handle = await client.workflow.start<typeof catalogWorkflow>('catalogWorkflow', {
        taskQueue,
        workflowId: `catalog-${catalogId}`,
        args: [{ catalogId, feedKey, template: testTemplate, window: 6, rowsPerRun: 10 }],
      });

      for (let i = 0; i < 2400; i++) {
        const s = await handle.query(catalogStatusQuery).catch(() => undefined);
        if (s && s.counts.done >= 4) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      // Hold every generator answer so the kill lands while calls are in flight, never between
      // an image being delivered and stored (that call would be paid again, by design).
      let doneAtKill = 0;
      await killWhileHeld(workerA, gate, async () => {
        doneAtKill = (await handle.query(catalogStatusQuery)).counts.done;
      });

      const result = await handle.result();
      const wallMs = Date.now() - started;
      expect(doneAtKill).toBeGreaterThan(0);
      expect(doneAtKill).toBeLessThan(ROWS);
      expect(result.outcome).toBe('completed');
      expect(result.counts).toMatchObject({ done: ROWS, failed: 0, pending: 0, running: 0 });

      const report = parseReport((await blobs.get(result.reportKey)).toString('utf8'));
      expect(report).toHaveLength(ROWS);
      expect(new Set(report.map((r) => r.sku)).size).toBe(ROWS);
      expect(report.every((r) => r.state === 'done')).toBe(true);

      const calls = readFileSync(path.join(gate, 'calls.log'), 'utf8').trim().split('\n');
      // The SDK's default worker identity.
      const identity = (p: ChildProcess) => `${p.pid}@${os.hostname()}`;
      const byWorker = new Map<string, number>();
      let stored = 0;
      let rerun = 0;
      let touchedByA = 0;
      for (const r of report) {
        const workflowId = r.workflow_id!;
        // Published once: the bucket holds exactly the assets the report names for this SKU.
        const assetKeys = r.asset_keys!.split(' ');
        expect(assetKeys).toHaveLength(2);
        const published = await listKeys(`darkroom/${workflowId}/email-header/`);
        expect(published.sort()).toEqual(assetKeys.map((k) => `darkroom/${k}`).sort());
        expect(await readLedger(blobs, workflowId)).toHaveLength(1);
        stored += (await blobs.list(`${workflowId}/candidates/`)).length;

        const who = await rowHistory(client, workflowId);
        byWorker.set(who.finishedBy, (byWorker.get(who.finishedBy) ?? 0) + 1);
        if (who.retried) rerun++;
        if (who.workers.has(identity(workerA))) touchedByA++;
      }
      expect(stored).toBe(ROWS);
      expect(calls).toHaveLength(ROWS);

      const doneByA = byWorker.get(identity(workerA)) ?? 0;
      const doneByB = byWorker.get(identity(workerB)) ?? 0;
      // Both workers served the catalog, every row was finished by one of them, and the survivor
      // took over the rest.
      expect(touchedByA).toBeGreaterThan(0);
      expect(doneByA + doneByB).toBe(ROWS);
      expect(doneByB).toBeGreaterThan(0);
      log(
        `${ROWS} rows in ${(wallMs / 1000).toFixed(1)}s; killed worker A after ${doneAtKill} rows done; ` +
          `rows finished by A ${doneByA}, by B ${doneByB}; rows A ran tasks of ${touchedByA}; rows with an activity re-run after the kill ${rerun}`,
      );
    } finally {
      workerA.kill('SIGKILL');
      workerB.kill('SIGKILL');
      await Promise.all([exited(workerA), exited(workerB)]);
    }
  }, 600_000);
});

async function listKeys(prefix: string): Promise<string[]> {
  const out = await s3!.admin.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key!);
}

/**
 * Which worker finished a row (the identity on its last completed workflow task), which workers
 * ran any of its tasks, and whether any of its activities needed a second attempt (the killed
 * worker's attempt timed out).
 */
async function rowHistory(client: Client, workflowId: string): Promise<{ finishedBy: string; workers: Set<string>; retried: boolean }> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  let finishedBy = '';
  const workers = new Set<string>();
  for (const e of history.events ?? []) {
    const wft = e.workflowTaskCompletedEventAttributes?.identity;
    if (wft) {
      finishedBy = wft;
      workers.add(wft);
    }
    const activity = e.activityTaskStartedEventAttributes;
    if (activity?.identity) workers.add(activity.identity);
  }
  const retried = activityAttempts(history.events ?? []).some((a) => a.attempt > 1);
  return { finishedBy, workers, retried };
}
