import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { createBlobStore } from '../../activities/blob-store';
import { readLedger } from '../../activities';
import { catalogStatusQuery } from '../../workflows/messages';
import { startDevServer } from '../../scripts/dev-server';
import { parseReport, productFeed, startCatalog } from '../support/catalog';
import { closeTestConnection, testDataDir, uniqueTaskQueue } from '../support/temporal';
import { exited, killWhileHeld, spawnCrashWorker as spawnWorker } from '../support/crash-worker';

afterAll(closeTestConnection);

describe('catalogs survive crashes', () => {
  it('a 200-row catalog completes through repeated SIGKILLs of its worker, every row once, one generator call per stored candidate', async () => {
    const dataDir = testDataDir('catalog-kill');
    // Its own server: the run's shared one has served every other test by now, and this one
    // times the whole catalog against the test's limit.
    const server = await startDevServer({ dbFile: path.join(dataDir, 'temporal.sqlite'), uiPort: false });
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    const taskQueue = uniqueTaskQueue('catalog-kill');
    const gate = path.join(dataDir, 'gate');
    mkdirSync(gate, { recursive: true });
    const catalogId = `kill-${taskQueue.slice(-8)}`;
    const env = { TEMPORAL_ADDRESS: server.address, DARKROOM_TASK_QUEUE: taskQueue, DARKROOM_DATA_DIR: dataDir, DARKROOM_TEST_GATE_DIR: gate };
    let worker = spawnWorker(env);
    try {
      const handle = await startCatalog(client, { dataDir, taskQueue, catalogId, feed: productFeed(200), window: 6, rowsPerRun: 80 });
      const kills: number[] = [];
      for (let k = 0; k < 3; k++) {
        // A random moment: after some more rows finish.
        const target = 20 + k * 50 + Math.floor(Math.random() * 30);
        let last: unknown;
        for (let i = 0; ; i++) {
          const s = await handle.query(catalogStatusQuery).catch((err: unknown) => {
            last = err;
            return undefined;
          });
          if (s && s.counts.done >= target) break;
          if (s) last = s.counts;
          // A catalog that stops moving fails here, saying where it stood, not at the test's limit.
          if (i >= 1500) throw new Error(`kill ${k + 1}: ${target} rows never finished within 150 s; last status: ${last instanceof Error ? last.message : JSON.stringify(last)}`);
          await new Promise((r) => setTimeout(r, 100));
        }
        await killWhileHeld(worker, gate, async () => {
          kills.push((await handle.query(catalogStatusQuery)).counts.done);
        });
        worker = spawnWorker(env);
      }
      // Bounded below the test's limit, so a catalog that stops moving says where it stands.
      const result = await Promise.race([
        handle.result(),
        new Promise<never>((_, reject) => setTimeout(() => {
          void handle.query(catalogStatusQuery).then(
            (s) => reject(new Error(`the catalog did not finish within 8 minutes: ${JSON.stringify(s.counts)} after kills at ${kills.join(', ')} rows done`)),
            (err: unknown) => reject(new Error(`the catalog did not finish within 8 minutes and its status query failed: ${String(err)}`)),
          );
        }, 480_000).unref()),
      ]);
      expect(kills.every((d) => d > 0 && d < 200)).toBe(true);
      expect(result.outcome).toBe('completed');
      expect(result.counts).toMatchObject({ done: 200, failed: 0, pending: 0, running: 0 });
      const blobs = createBlobStore({ DARKROOM_DATA_DIR: dataDir });
      const report = parseReport((await blobs.get(result.reportKey)).toString('utf8'));
      expect(report).toHaveLength(200);
      expect(new Set(report.map((r) => r.sku)).size).toBe(200);
      expect(report.every((r) => r.state === 'done' && r.asset_keys!.split(' ').length === 2)).toBe(true);
      // One generator call delivered per stored candidate, across four worker processes.
      const calls = readFileSync(path.join(gate, 'calls.log'), 'utf8').trim().split('\n');
      let stored = 0;
      for (const r of report) {
        const ledger = await readLedger(blobs, r.workflow_id!);
        expect(ledger).toHaveLength(1);
        stored += (await blobs.list(`${r.workflow_id}/candidates/`)).length;
      }
      expect(stored).toBe(200);
      expect(calls).toHaveLength(200);
    } finally {
      worker.kill('SIGKILL');
      await exited(worker);
      await connection.close().catch(() => undefined);
      await server.stop();
    }
  }, 600_000);

  it('resumes and completes after the Temporal server is stopped mid-catalog and started again on the same SQLite file', async () => {
    const dataDir = testDataDir('catalog-server');
    const dbFile = path.join(dataDir, 'temporal.sqlite');
    let server = await startDevServer({ dbFile, uiPort: false });
    const port = Number(server.address.split(':')[1]);
    const gate = path.join(dataDir, 'gate');
    mkdirSync(gate, { recursive: true });
    const taskQueue = uniqueTaskQueue('catalog-server');
    const catalogId = `server-${taskQueue.slice(-8)}`;
    const worker = spawnWorker({ TEMPORAL_ADDRESS: server.address, DARKROOM_TASK_QUEUE: taskQueue, DARKROOM_DATA_DIR: dataDir, DARKROOM_TEST_GATE_DIR: gate });
    let connection = await Connection.connect({ address: server.address });
    try {
      let client = new Client({ connection });
      const handle = await startCatalog(client, { dataDir, taskQueue, catalogId, feed: productFeed(30), window: 4, rowsPerRun: 12 });
      for (let i = 0; i < 1200; i++) {
        const s = await handle.query(catalogStatusQuery).catch(() => undefined);
        if (s && s.counts.done >= 8) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      await connection.close();
      await server.stop();
      await new Promise((r) => setTimeout(r, 1000));
      server = await startDevServer({ dbFile, port, uiPort: false });
      connection = await Connection.connect({ address: server.address });
      client = new Client({ connection });
      const result = await client.workflow.getHandle(`catalog-${catalogId}`).result();
      expect(result.counts).toMatchObject({ done: 30, failed: 0, pending: 0, running: 0 });
      const blobs = createBlobStore({ DARKROOM_DATA_DIR: dataDir });
      const report = parseReport((await blobs.get(result.reportKey)).toString('utf8'));
      expect(report.filter((r) => r.state === 'done')).toHaveLength(30);
      for (const r of report) expect(await readLedger(blobs, r.workflow_id!)).toHaveLength(1);
      expect(existsSync(dbFile)).toBe(true);
    } finally {
      worker.kill('SIGKILL');
      await exited(worker);
      await connection.close().catch(() => undefined);
      await server.stop();
    }
  }, 600_000);
});
