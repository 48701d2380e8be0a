/**
 * `npm run bench:catalog -- [rows] [--workers N] [--window W] [--provider local|simulated]
 * [--env KEY=VALUE]… [--node-arg flag]… [--label text]` (default 1000 rows, 1 worker, window 8, local provider): a
 * catalog of `rows` products end to end on a throwaway dev server, with `N` production worker
 * processes (`workers/main.ts`, or `bench/sim-worker.ts` for the simulated vendor) given the extra
 * environment `--env` and Node flags `--node-arg` (e.g. `--cpu-prof`). Measures wall time, rows per minute, each worker's peak memory (VmHWM),
 * CPU seconds of the workers, the Temporal server and this client (/proc/<pid>/stat), the largest
 * catalog run's history, and the load average. Each run is kept in bench/results/catalog-scale.jsonl
 * (by label, the latest wins) and the section lists them all.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startDevServer } from '../scripts/dev-server';
import { productFeed, startCatalog } from '../test/support/catalog';
import { checkArgs } from '../scripts/cli-args';
import { peakRssMiB, RESULTS_DIR, table, writeSection } from './support';

checkArgs(import.meta.filename, { positional: 1, values: ['--workers', '--window', '--provider', '--env', '--node-arg', '--label'] });

const argv = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const rows = Number(argv[0] && !argv[0].startsWith('--') ? argv[0] : 1000);
const workers = Number(flag('workers') ?? 1);
const window = Number(flag('window') ?? 8);
const provider = flag('provider') ?? 'local';
const nodeArgs = argv.filter((_, i) => argv[i - 1] === '--node-arg');
const extraEnv = Object.fromEntries(argv.flatMap((a, i) => (argv[i - 1] === '--env' ? [a.split(/=(.*)/s).slice(0, 2)] : [])));
const label = flag('label') ?? `${workers} worker${workers > 1 ? 's' : ''}, window ${window}, ${provider}${Object.keys(extraEnv).length ? `, ${Object.entries(extraEnv).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}`;
if (!Number.isInteger(rows) || rows < 1) throw new Error(`rows: expected a whole number of rows, got ${argv[0]}`);
if (!Number.isInteger(workers) || workers < 1 || workers > 16) throw new Error(`--workers: expected 1–16, got ${flag('workers')}`);
if (!['local', 'simulated'].includes(provider)) throw new Error(`--provider: expected local or simulated, got ${provider}`);

/** USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux. */
const TICK = 100;

/** CPU seconds (user + system) a live process has used, 0 once it has gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / TICK;
  } catch {
    return 0;
  }
}

/** Resident memory of a live process in MiB, 0 once it has gone. */
function rssMiB(pid: number): number {
  try {
    return Math.round(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024);
  } catch {
    return 0;
  }
}

interface RunRecord {
  label: string; rows: number; workers: number; window: number; provider: string; env: Record<string, string>;
  done: number; failed: number; wallSeconds: number; rowsPerMinute: number; workerPeakRssMiB: number[];
  /** Peak when the worker first polled (start-up: loading, bundling), and resident at the end. */
  workerStartupPeakMiB: number[]; workerEndRssMiB: number[];
  workerCpuSeconds: number; serverCpuSeconds: number; clientCpuSeconds: number; catalogRuns: number;
  largestRunHistoryEvents: number; largestRunHistoryBytes: number; loadStart: string; loadEnd: string; at: string;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'darkroom-bench-'));
  const server = await startDevServer({ dbFile: path.join(dir, 'temporal.sqlite'), uiPort: false });
  const taskQueue = 'bench-catalog';
  const entry = path.resolve(import.meta.dirname, provider === 'local' ? '../workers/main.ts' : 'sim-worker.ts');
  const procs: ChildProcess[] = Array.from({ length: workers }, () => spawn(process.execPath, [...nodeArgs, '--import', 'tsx', entry], {
    env: { ...process.env, ...extraEnv, TEMPORAL_ADDRESS: server.address, DARKROOM_TASK_QUEUE: taskQueue, DARKROOM_DATA_DIR: dir },
    stdio: ['ignore', 'pipe', 'inherit'],
  }));
  // The clock starts once every worker polls: bundling the workflows at start is not catalog time.
  await Promise.all(procs.map((p) => new Promise<void>((resolve, reject) => {
    let out = '';
    p.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (/worker: polling/.test(out)) resolve();
    });
    p.once('exit', (code) => reject(new Error(`a worker exited (${code}) before polling`)));
  })));
  const startupPeaks = procs.map((p) => peakRssMiB(p.pid!));
  const peaks = procs.map(() => 0);
  const cpu = procs.map(() => 0);
  let serverCpu = 0;
  const sample = () => procs.forEach((p, i) => {
    peaks[i] = Math.max(peaks[i]!, peakRssMiB(p.pid!));
    cpu[i] = Math.max(cpu[i]!, cpuSeconds(p.pid!));
    serverCpu = Math.max(serverCpu, cpuSeconds(server.pid));
  });
  const sampler = setInterval(sample, 1000);
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection });
  try {
    const catalogId = `bench-${rows}`;
    const loadStart = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
    const cpuAtStart = { workers: procs.map((p) => cpuSeconds(p.pid!)), server: cpuSeconds(server.pid), client: process.cpuUsage() };
    const started = Date.now();
    const handle = await startCatalog(client, { dataDir: dir, taskQueue, catalogId, feed: productFeed(rows), window });
    const result = await handle.result();
    const wallS = (Date.now() - started) / 1000;
    sample();
    const loadEnd = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
    const clientCpu = process.cpuUsage(cpuAtStart.client);
    let maxLen = 0;
    let maxSize = 0;
    let runs = 0;
    for await (const w of client.workflow.list({ query: `WorkflowId = 'catalog-${catalogId}'` })) {
      runs++;
      maxLen = Math.max(maxLen, w.historyLength);
      maxSize = Math.max(maxSize, Number(w.historySize ?? 0));
    }
    const record: RunRecord = {
      label, rows, workers, window, provider, env: extraEnv, done: result.counts.done, failed: result.counts.failed,
      wallSeconds: Math.round(wallS), rowsPerMinute: Math.round((rows / wallS) * 60 * 10) / 10, workerPeakRssMiB: peaks,
      workerStartupPeakMiB: startupPeaks, workerEndRssMiB: procs.map((p) => rssMiB(p.pid!)),
      // Startup (bundling the workflows) is left out: CPU counted from the catalog's start.
      workerCpuSeconds: Math.round(cpu.reduce((s, c, i) => s + c - cpuAtStart.workers[i]!, 0)),
      serverCpuSeconds: Math.round(serverCpu - cpuAtStart.server),
      clientCpuSeconds: Math.round((clientCpu.user + clientCpu.system) / 1e6),
      catalogRuns: runs, largestRunHistoryEvents: maxLen, largestRunHistoryBytes: maxSize, loadStart, loadEnd, at: new Date().toISOString(),
    };
    console.log(JSON.stringify(record, null, 2));
    report(record);
  } finally {
    clearInterval(sampler);
    for (const p of procs) p.kill('SIGTERM');
    await Promise.all(procs.map((p) => (p.exitCode === null ? new Promise((r) => p.once('exit', r)) : undefined)));
    await connection.close();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Keeps this run with the earlier ones (by label) and writes the section from all of them. */
function report(record: RunRecord): void {
  const file = path.join(RESULTS_DIR, 'catalog-scale.jsonl');
  const kept = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as RunRecord) : [];
  const all = [...kept.filter((r) => r.label !== record.label), record];
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(file, `${all.map((r) => JSON.stringify(r)).join('\n')}\n`);
  const body = table(
    ['run', 'rows', 'wall s', 'rows/min', 'worker peak MiB (at start-up; at the end)', 'worker CPU s', 'server CPU s', 'client CPU s', 'CPU s / row', 'largest run history', 'load avg start → end'],
    all.map((r) => [
      r.label, `${r.done}/${r.rows}${r.failed ? ` (${r.failed} failed)` : ''}`, r.wallSeconds, r.rowsPerMinute,
      `${r.workerPeakRssMiB.join(' + ')}${r.workerStartupPeakMiB ? ` (${r.workerStartupPeakMiB.join(' + ')}; ${r.workerEndRssMiB.join(' + ')})` : ''}`,
      r.workerCpuSeconds, r.serverCpuSeconds, r.clientCpuSeconds, ((r.workerCpuSeconds + r.serverCpuSeconds) / r.rows).toFixed(2),
      `${r.largestRunHistoryEvents} events, ${(r.largestRunHistoryBytes / 1024).toFixed(0)} KiB (${r.catalogRuns} runs)`, `${r.loadStart} → ${r.loadEnd}`,
    ]),
  );
  writeSection('catalog-scale', 'Catalog at scale', `npx tsx bench/catalog-scale.ts ${argv.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a)).join(' ')}`, body);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
