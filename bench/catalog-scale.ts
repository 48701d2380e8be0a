/**
 * `npm run bench:catalog -- [rows]` (default 1000): a catalog of `rows` products on the local
 * provider, end to end on a throwaway dev server, with the production worker in its own
 * process. Prints wall time, rows per minute, the worker's peak memory (VmHWM) and the
 * largest run's history length and size.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startDevServer } from './dev-server';
import { productFeed, startCatalog } from '../test/support/catalog';

const rows = Number(process.argv[2] ?? 1000);

async function peakRssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'darkroom-bench-'));
  const server = await startDevServer({ dbFile: path.join(dir, 'temporal.sqlite'), uiPort: false });
  const taskQueue = 'bench-catalog';
  const worker = spawn(process.execPath, ['--import', 'tsx', path.resolve('workers/main.ts')], {
    env: { ...process.env, TEMPORAL_ADDRESS: server.address, DARKROOM_TASK_QUEUE: taskQueue, DARKROOM_DATA_DIR: dir },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  let peak = 0;
  const sampler = setInterval(() => void peakRssKiB(worker.pid!).then((k) => (peak = Math.max(peak, k))), 1000);
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  try {
    const catalogId = `bench-${rows}`;
    const started = Date.now();
    const handle = await startCatalog(client, { dataDir: dir, taskQueue, catalogId, feed: productFeed(rows), window: 8 });
    const result = await handle.result();
    const wallS = (Date.now() - started) / 1000;
    peak = Math.max(peak, await peakRssKiB(worker.pid!));
    let maxLen = 0;
    let maxSize = 0;
    let runs = 0;
    for await (const w of client.workflow.list({ query: `WorkflowId = 'catalog-${catalogId}'` })) {
      runs++;
      maxLen = Math.max(maxLen, w.historyLength);
      maxSize = Math.max(maxSize, Number(w.historySize ?? 0));
    }
    console.log(JSON.stringify({ rows, done: result.counts.done, failed: result.counts.failed, wallSeconds: Math.round(wallS), rowsPerMinute: Math.round((rows / wallS) * 60 * 10) / 10, workerPeakRssMiB: Math.round(peak / 1024), catalogRuns: runs, largestRunHistoryEvents: maxLen, largestRunHistoryBytes: maxSize }, null, 2));
  } finally {
    clearInterval(sampler);
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    await connection.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
