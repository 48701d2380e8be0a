/**
 * `npm run bench:publish -- [runs]` (default 5): what publishing one brief costs on the
 * filesystem store and on S3 (versitygw on loopback). Each store gets a warm-up brief and then
 * `runs` briefs, end to end on the offline provider through a real worker on a throwaway dev
 * server; prints the median of each measure:
 * - `publishMs`: first formatCandidate scheduled → publishManifest completed (history times):
 *   every asset encoded and stored, the manifest (with its URLs) written;
 * - `formatMs`: the format stage's own span from the manifest (encode + store the assets);
 * - `manifestMs`: publishManifest scheduled → completed (presign, write the manifest);
 * - `storeMs`: time inside the store's `put` for the assets and the manifest, summed (what the
 *   store itself costs, without the encoding);
 * - `briefMs`: the whole brief, start to close.
 * Needs the temporal CLI and versitygw that `.ci/run` sets up (TEMPORAL_CLI, VERSITYGW).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createBlobStore, type BlobStore } from '../activities/blob-store';
import { startBrief } from '../client/briefs';
import { validateBrief } from '../domain/brief';
import { parseConfig } from '../domain/config';
import { createDarkroomWorker, WORKFLOWS_PATH } from '../workers/worker';
import { testBrief } from '../test/support/briefs';
import { startVersitygw } from '../test/support/versitygw';
import { startDevServer } from '../scripts/dev-server';
import { ensureVersitygw } from '../scripts/versitygw';
import { checkArgs } from '../scripts/cli-args';
import { median as exactMedian, table, writeSection } from './support';

checkArgs(import.meta.filename, { positional: 1 });

Runtime.install({ logger: new DefaultLogger('WARN') });

const runs = Number(process.argv[2] ?? 5);
if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error('runs must be a whole number from 1 to 50');

interface Sample {
  publishMs: number;
  formatMs: number;
  manifestMs: number;
  storeMs: number;
  briefMs: number;
}

/** The store, with the time its puts of published files (assets, manifest) take summed per brief. */
function timingPuts(inner: BlobStore): { store: BlobStore; putMs: Map<string, number> } {
  const putMs = new Map<string, number>();
  const published = /^[^/]+\/(manifest\.json|[^/]+\/[^/]+\.(jpg|png|webp|avif))$/;
  const store: BlobStore = {
    location: inner.location,
    async put(key, data, meta) {
      const t0 = performance.now();
      try {
        return await inner.put(key, data, meta);
      } finally {
        const brief = key.slice(0, key.indexOf('/'));
        if (published.test(key) && !key.includes('/candidates/')) putMs.set(brief, (putMs.get(brief) ?? 0) + performance.now() - t0);
      }
    },
    get: (key, options) => inner.get(key, options),
    openRead: (key) => inner.openRead(key),
    head: (key) => inner.head(key),
    list: (prefix) => inner.list(prefix),
    delete: (key) => inner.delete(key),
    ...(inner.presignGet ? { presignGet: inner.presignGet.bind(inner) } : {}),
  };
  return { store, putMs };
}

const median = (xs: number[]) => Math.round(exactMedian(xs));

/** Times from the brief's history (server clock) and manifest. */
async function measure(client: Client, workflowId: string, formatMs: number, storeMs: number): Promise<Sample> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const scheduled = new Map<number, { name: string; at: number }>();
  let firstFormat = Infinity;
  let manifestScheduled = 0;
  let manifestDone = 0;
  for (const e of events) {
    const at = tsToMs(e.eventTime);
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const name = s.activityType?.name ?? '';
      scheduled.set(Number(e.eventId), { name, at });
      if (name === 'formatCandidate') firstFormat = Math.min(firstFormat, at);
      if (name === 'publishManifest') manifestScheduled = at;
    }
    const c = e.activityTaskCompletedEventAttributes;
    if (c && scheduled.get(Number(c.scheduledEventId))?.name === 'publishManifest') manifestDone = at;
  }
  const briefMs = tsToMs(events.at(-1)?.eventTime) - tsToMs(events[0]?.eventTime);
  if (!manifestDone || firstFormat === Infinity) throw new Error(`${workflowId}: no formatCandidate or publishManifest in its history`);
  return { publishMs: manifestDone - firstFormat, formatMs, manifestMs: manifestDone - manifestScheduled, storeMs, briefMs };
}

type Store = 'fs' | 's3';

/** One worker per store, each on its own task queue, sharing the dev server and the bundle. */
async function storeWorker(store: Store, inner: BlobStore, env: Record<string, string>, common: { address: string; connection: NativeConnection; bundle: WorkflowBundleWithSourceMap; dataDir: string }) {
  const taskQueue = `bench-publish-${store}`;
  const config = parseConfig({ TEMPORAL_ADDRESS: common.address, DARKROOM_TASK_QUEUE: taskQueue, DARKROOM_DATA_DIR: common.dataDir, ...env });
  const { store: blobs, putMs } = timingPuts(inner);
  const { worker } = await createDarkroomWorker({ config, connection: common.connection, workflowBundle: common.bundle, blobs });
  return { store, taskQueue, putMs, worker };
}

/** One brief on one store, end to end, and its sample. */
async function runOne(client: Client, w: Awaited<ReturnType<typeof storeWorker>>, i: number): Promise<Sample> {
  // Three channels, two formats each: six assets to encode and store.
  const brief = validateBrief(testBrief({ channels: ['email-header', 'og-image', 'instagram-square'], candidates: 2, topK: 1, seed: 1000 + i }));
  const workflowId = `bench-publish-${w.store}-${i}`;
  const { handle } = await startBrief(client, brief, w.taskQueue, { workflowId });
  const manifest = await handle.result();
  const formatMs = manifest.timings.find((t) => t.stage === 'format')?.ms ?? NaN;
  return measure(client, workflowId, formatMs, Math.round(w.putMs.get(workflowId) ?? NaN));
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'darkroom-bench-publish-'));
  const server = await startDevServer({ dbFile: path.join(dir, 'temporal.sqlite'), uiPort: false });
  const gw = await startVersitygw({ binary: await ensureVersitygw(), bucket: 'darkroom-bench' });
  const connection = await Connection.connect({ address: server.address });
  try {
    const client = new Client({ connection });
    const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: { trace() {}, debug() {}, info() {}, warn() {}, error: console.error, log() {} } });
    const native = await NativeConnection.connect({ address: server.address });
    const common = { address: server.address, connection: native, bundle, dataDir: dir };
    const results: Record<Store, Sample[]> = { fs: [], s3: [] };
    try {
      const fsWorker = await storeWorker('fs', createBlobStore({ DARKROOM_DATA_DIR: dir }), {}, common);
      const s3Worker = await storeWorker('s3', gw.store({ prefix: 'bench' }), gw.config('bench'), common);
      // Alternate the stores brief by brief, so a busy machine slows both alike.
      await fsWorker.worker.runUntil(() => s3Worker.worker.runUntil(async () => {
        for (let i = 0; i <= runs; i++) {
          for (const w of i % 2 ? [fsWorker, s3Worker] : [s3Worker, fsWorker]) {
            const sample = await runOne(client, w, i);
            // The first brief on each warms its worker (sharp, the SDK, connections): not counted.
            if (i > 0) results[w.store].push(sample);
            process.stderr.write(`${w.store} ${i === 0 ? 'warm-up' : `run ${i}`}: ${JSON.stringify(sample)}\n`);
          }
        }
      }));
    } finally {
      await native.close();
    }
    const summary = Object.fromEntries(Object.entries(results).map(([store, samples]) => [store, {
      runs: samples.length,
      publishMs: median(samples.map((s) => s.publishMs)),
      formatMs: median(samples.map((s) => s.formatMs)),
      manifestMs: median(samples.map((s) => s.manifestMs)),
      storeMs: median(samples.map((s) => s.storeMs)),
      briefMs: median(samples.map((s) => s.briefMs)),
    }]));
    console.log(JSON.stringify({ assetsPerBrief: 6, s3: `versitygw on ${gw.endpoint}`, medians: summary }, null, 2));
    const stores = ['fs', 's3'] as const;
    writeSection('publish', 'Publishing one brief: local folder vs S3', `npm run bench:publish -- ${runs}`, [
      `One brief, three channels, two formats each (6 assets), median of ${runs} per store after one warm-up each; S3 is versitygw on loopback. Milliseconds.`,
      '',
      table(['store', 'publish stage', 'format activity', 'store writes', 'manifest activity', 'whole brief'],
        stores.map((st) => { const m = summary[st]!; return [st, m.publishMs, m.formatMs, m.storeMs, m.manifestMs, m.briefMs]; })),
    ].join('\n'));
  } finally {
    await connection.close();
    await gw.stop();
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
