/**
 * `npm run record:replay`: records real histories of briefWorkflow for test/replay.
 *
 * Starts a throwaway dev server and worker, runs a few briefs that together take every
 * path the workflow has (published, score gate, invalid input), and writes each history as
 * JSON. Commit the files: the replay test proves new workflow code still replays them.
 * Record again only when a change is deliberately incompatible (and then use patched()).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { parseConfig } from '../domain/config';
import { validateBrief } from '../domain/brief';
import { createDarkroomWorker } from '../workers/worker';
import { createBlobStore } from '../activities/blob-store';
import { productFeed, testTemplate } from '../test/support/catalog';
import type { BriefStatus } from '../domain/types';
import { approveSignal, requestChangesSignal, reviewUpdate, statusQuery } from '../workflows/messages';
import { startDevServer } from './dev-server';
import { ensureTemporalCli } from './temporal-cli';

const OUT = path.resolve('test/replay/histories');
const all = process.argv.includes('--all');

const published = validateBrief({
  id: 'replay-published',
  subject: 'a brass desk lamp on a walnut desk',
  channels: ['email-header', 'web-hero'],
  brandColors: ['#1F3A5F', '#D4A017'],
  mustAvoid: ['text'],
  styleHints: ['warm editorial'],
  composition: 'subject on the left third',
  lighting: 'warm lamp glow at dusk',
  camera: 'full-frame mirrorless',
  lens: '35mm',
  candidates: 3,
  topK: 1,
});

type Handle = Awaited<ReturnType<Client['workflow']['start']>>;

async function awaitingRound(handle: Handle, round: number): Promise<BriefStatus> {
  for (;;) {
    const s = await handle.query(statusQuery).catch(() => undefined);
    if (s?.review?.awaiting && s.review.round === round) return s;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Human review: a bad signal, changes requested, then approval of a round-2 candidate. */
async function reviewWithRevision(handle: Handle): Promise<void> {
  await awaitingRound(handle, 1);
  await handle.signal(approveSignal, { candidateIds: ['r7-c01'], reviewer: 'recorder' });
  await handle.signal(requestChangesSignal, { feedback: 'Warmer light, lamp switched on.', keep: ['r1-c01'], reviewer: 'recorder' });
  await awaitingRound(handle, 2);
  await handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: ['r2-c02'], reviewer: 'recorder' }] });
}

const cases: Array<{ name: string; input: unknown; type?: string; drive?: (h: Handle) => Promise<void> }> = [
  { name: 'brief-published', input: published },
  { name: 'brief-score-gate', input: validateBrief({ subject: 'a teapot on a shelf', channels: ['og-image'], minPromptScore: 7 }) },
  { name: 'brief-invalid-input', input: { subject: '', channels: ['tiktok'] } },
  // A small catalog that continues as new once: its first run's history is the one kept.
  { name: 'catalog-continue-as-new', type: 'catalogWorkflow', input: { catalogId: 'replay', feedKey: 'catalogs/replay/feed.csv', template: testTemplate, window: 3, rowsPerRun: 5 } },
  { name: 'brief-human-review', input: validateBrief({ ...published, id: 'replay-review', channels: ['email-header'], approval: 'human', candidates: 2 }), drive: reviewWithRevision },
];

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'darkroom-record-'));
  const cli = await ensureTemporalCli({ log: console.log });
  const server = await startDevServer({ cli, dbFile: path.join(dir, 'temporal.sqlite'), uiPort: false, log: console.log });
  try {
    const taskQueue = 'darkroom-record';
    const config = parseConfig({ TEMPORAL_ADDRESS: server.address, DARKROOM_TASK_QUEUE: taskQueue, DARKROOM_DATA_DIR: dir });
    const native = await NativeConnection.connect({ address: server.address });
    const { worker } = await createDarkroomWorker({ config, connection: native });
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    await worker.runUntil(async () => {
      for (const c of cases) {
        const file = path.join(OUT, `${c.name}.json`);
        // Existing histories are the evidence that new code replays old runs: never overwrite them by default.
        if (!all && existsSync(file)) {
          console.log(`${c.name}: kept (exists; pass --all to record it again)`);
          continue;
        }
        if (c.type === 'catalogWorkflow') {
          await createBlobStore(config).put('catalogs/replay/feed.csv', new TextEncoder().encode(productFeed(7)), { mime: 'text/csv' });
        }
        const handle = await client.workflow.start(c.type ?? 'briefWorkflow', { taskQueue, workflowId: `replay-${c.name}`, args: [c.input] });
        await c.drive?.(handle);
        const outcome = await handle.result().then(() => 'completed', (e: Error) => `failed (${(e.cause as Error | undefined)?.message ?? e.message})`);
        // The temporal CLI writes the standard JSON form that replay (historyFromJSON) reads.
        // For a catalog, the first run (the one that continued as new) is the interesting one.
        const runId = c.type === 'catalogWorkflow' ? ['--run-id', handle.firstExecutionRunId] : [];
        const { stdout } = await promisify(execFile)(cli, ['workflow', 'show', '--address', server.address, '--workflow-id', handle.workflowId, ...runId, '--output', 'json'], { maxBuffer: 64 << 20 });
        const events = (JSON.parse(stdout) as { events: unknown[] }).events.length;
        await writeFile(file, stdout);
        console.log(`${c.name}: ${outcome}; ${events} events, ${stdout.length} bytes → ${path.relative(process.cwd(), file)}`);
      }
    });
    await connection.close();
    await native.close();
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
