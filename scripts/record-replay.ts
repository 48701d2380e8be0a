/**
 * `npm run record:replay`: records real histories of briefWorkflow and catalogWorkflow for test/replay.
 *
 * Starts a throwaway dev server and worker, runs briefs and catalogs that together take every
 * path the workflows have (published, score gate, invalid input, human review, two revision
 * rounds, review deadlines, a model that falls back to another, a vendor failing half its calls,
 * a budget raised by a person; a catalog that continues as new, is paused and resumed, or is
 * cancelled), and writes each history as JSON. Cases on vendor
 * models get a worker of their own, talking to the local fake vendor servers the tests use.
 * Commit the files: the replay test proves new workflow code still replays them.
 * Only missing files of the current era (`ERA`) are recorded (`--all` records every one of them
 * again); files of earlier eras are never touched. Record a new era only when a change is
 * deliberately incompatible (and then use patched()).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection, type QueryDefinition, type WorkflowHandle } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection } from '@temporalio/worker';
import { parseConfig } from '../domain/config';
import { validateBrief, type BriefInput } from '../domain/brief';
import { catalogChildId } from '../domain/feed';
import type { CatalogInput } from '../domain/catalog-input';
import { createDarkroomWorker, WORKFLOWS_PATH } from '../workers/worker';
import { createBlobStore } from '../activities/blob-store';
import { productFeed, testTemplate } from '../test/support/catalog';
import { testBrief, waitFor } from '../test/support/briefs';
import { startFakeOpenAI } from '../test/providers/fake-openai';
import { startFakeGemini } from '../test/providers/fake-gemini';
import type { Fault } from '../test/providers/contract/faults';
import { halfFailing } from '../test/support/faults';
import {
  approveSignal, cancelCatalogSignal, catalogStatusQuery, pauseSignal, raiseBudgetUpdate, requestChangesSignal, resumeSignal, retryFailedSignal,
  reviewUpdate, statusQuery,
} from '../workflows/messages';
import { startDevServer } from './dev-server';
import { ensureTemporalCli } from './temporal-cli';
import { checkArgs } from './cli-args';

checkArgs(import.meta.filename, { switches: ['--all'] });

const OUT = path.resolve('test/replay/histories');
/**
 * The workflow shape this code records, in each file's name (`<case>.<era>.json`). Histories of an
 * earlier shape keep their names and still replay; after a deliberately incompatible change
 * (behind a patch), name a new era here so its recordings land beside the old ones.
 */
const ERA = 'local-steps';
const historyFile = (c: Case) => path.join(OUT, `${c.name}.${ERA}.json`);
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

type Handle = WorkflowHandle;

/** Polls a query until `pred` holds. */
const when = <T>(handle: Handle, query: QueryDefinition<T>, what: string, pred: (s: T) => boolean) =>
  waitFor(what, async () => {
    const s = await handle.query(query);
    return pred(s) ? s : undefined;
  }, 120_000);
const awaitingRound = (handle: Handle, round: number) => when(handle, statusQuery, `review round ${round}`, (s) => s.review?.awaiting === true && s.review.round === round);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Once the brief waits for review in round 1, approves its first candidate. */
async function approveFirst(handle: Handle): Promise<void> {
  const s = await awaitingRound(handle, 1);
  await handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: [s.review!.candidates[0]!.id], reviewer: 'recorder' }] });
}

/** Human review: a bad signal, changes requested, then approval of a round-2 candidate. */
async function reviewWithRevision(handle: Handle): Promise<void> {
  await awaitingRound(handle, 1);
  await handle.signal(approveSignal, { candidateIds: ['r7-c01'], reviewer: 'recorder' });
  await handle.signal(requestChangesSignal, { feedback: 'Warmer light, lamp switched on.', keep: ['r1-c01'], reviewer: 'recorder' });
  await awaitingRound(handle, 2);
  await handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: ['r2-c02'], reviewer: 'recorder' }] });
}

/** Two revision rounds, one asked for by signal and one by update, then approval in the last round allowed. */
async function twoRevisions(handle: Handle): Promise<void> {
  await awaitingRound(handle, 1);
  await handle.signal(requestChangesSignal, { feedback: 'Lower camera angle.', reviewer: 'recorder' });
  await awaitingRound(handle, 2);
  await handle.executeUpdate(reviewUpdate, { args: [{ action: 'requestChanges', feedback: 'Warmer light.', keep: ['r2-c01'], reviewer: 'recorder' }] });
  await awaitingRound(handle, 3);
  await handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: ['r3-c02'], reviewer: 'recorder' }] });
}

/** A branded brief under review: feedback that uses a banned word (taken out of the next prompt), then approval. */
async function brandRevision(handle: Handle): Promise<void> {
  await awaitingRound(handle, 1);
  await handle.signal(requestChangesSignal, { feedback: 'Warmer light, and make it glossy.', keep: ['r1-c01'], reviewer: 'recorder' });
  await awaitingRound(handle, 2);
  await handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: ['r2-c01'], reviewer: 'recorder' }] });
}

/** Human review under a deadline that reminds: two reminders go out, then a person approves. */
async function approveAfterReminders(handle: Handle): Promise<void> {
  await when(handle, statusQuery, 'two reminders', (x) => (x.review?.remindersSent ?? 0) >= 2);
  await approveFirst(handle);
}

/** Over budget: a raise too small to cover the forecast is refused, a sufficient one is taken, then approval. */
async function raiseThenApprove(handle: Handle): Promise<void> {
  await when(handle, statusQuery, 'the budget wait', (x) => x.stage === 'budget');
  await handle.executeUpdate(raiseBudgetUpdate, { args: [{ budgetUsd: 0.06 }] }).catch(() => undefined);
  await handle.executeUpdate(raiseBudgetUpdate, { args: [{ budgetUsd: 1, reviewer: 'recorder' }] });
  await approveFirst(handle);
}

/**
 * Rows wait for review, so the first run continues as new with five rows in flight. In the second
 * (the one kept): paused long enough for the quiet timer to ask Temporal about those rows, resumed;
 * one row from the first run is terminated (only reconciliation can learn of it), the rest approved.
 */
async function reviewAcrossRuns(handle: Handle, client: Client): Promise<void> {
  await when(handle, catalogStatusQuery, 'the second run', (s) => s.runs >= 1);
  await handle.signal(pauseSignal);
  await sleep(2500);
  await handle.signal(resumeSignal);
  const rows = Array.from({ length: 7 }, (_, i) => client.workflow.getHandle(catalogChildId('replay-last', `SKU-${String(i + 1).padStart(4, '0')}`)));
  await rows[0]!.terminate('recorder: a row that ends without a word');
  for (const row of rows.slice(1)) await approveFirst(row);
}

/** Once a row is done: retryFailed (nothing failed yet), then cancel while rows run. */
async function cancelWhileRunning(handle: Handle): Promise<void> {
  await when(handle, catalogStatusQuery, 'a finished row', (s) => s.counts.done >= 1 && s.counts.running > 0);
  await handle.signal(retryFailedSignal);
  await handle.signal(cancelCatalogSignal, { reason: 'recorder' });
}

const KEY = 'sk-record-darkroom-0123456789abcdef';
const GEMINI_KEY = 'gemini-record-key-0123456789';
interface Vendors { env: Record<string, string>; close(): Promise<void> }

/** OpenAI's SDK against the local fake, answering (or failing every image call). */
async function openai(opts: { down?: boolean } = {}): Promise<Vendors> {
  const fake = await startFakeOpenAI({ apiKey: KEY, ...(opts.down ? { imageFaults: () => 'serverError' as const } : {}) });
  return { env: { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.baseURL, DARKROOM_PROVIDER_ATTEMPTS: '2', DARKROOM_RETRY_INITIAL: '100ms', DARKROOM_OPENAI_RPM: '6000' }, close: () => fake.close() };
}

/**
 * OpenAI failing half its image calls on a seeded schedule (429, 500, never answered): the
 * generate activities retry on the same model, some after the vendor's retry-after.
 */
async function openaiFlaky(): Promise<Vendors> {
  const fake = await startFakeOpenAI({ apiKey: KEY, imageFaults: halfFailing<Fault>('replay-flaky', [['rateLimit', 2], ['serverError', 2], ['timeout', 1]]) });
  return {
    env: { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.baseURL, DARKROOM_PROVIDER_ATTEMPTS: '8', DARKROOM_PROVIDER_TIMEOUT: '3s', DARKROOM_RETRY_INITIAL: '100ms', DARKROOM_OPENAI_RPM: '6000' },
    close: () => fake.close(),
  };
}

/** OpenAI down for images, Gemini up: the route falls back along its chain. */
async function openaiDownGeminiUp(): Promise<Vendors> {
  const down = await openai({ down: true });
  const gemini = await startFakeGemini({ apiKey: GEMINI_KEY });
  return {
    env: { ...down.env, GEMINI_API_KEY: GEMINI_KEY, GEMINI_BASE_URL: gemini.baseUrl },
    close: async () => {
      await down.close();
      await gemini.close();
    },
  };
}

/**
 * Local events and delivery receivers: events are taken, the delivery receiver is down (503), so
 * the history holds a review_needed and a completed event, a delivery given up on and its record.
 */
async function webhookReceivers(): Promise<Vendors> {
  const servers = await Promise.all([200, 503].map(async (status) => {
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(status).end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
  }));
  return {
    env: {
      DARKROOM_EVENTS_WEBHOOK: servers[0]!.url, DARKROOM_DELIVERY_WEBHOOK: servers[1]!.url, DARKROOM_WEBHOOK_SECRET: 'record-webhook-secret-0123456789',
      DARKROOM_RETRY_MAX_ATTEMPTS: '2', DARKROOM_RETRY_INITIAL: '100ms',
    },
    close: async () => {
      for (const { server } of servers) await new Promise((r) => server.close(r));
    },
  };
}

const poster = (over: Partial<BriefInput>) => validateBrief(testBrief({ textInImage: 'SPRING SALE', candidates: 3, budgetUsd: 2, ...over }));

interface Case {
  name: string;
  input: unknown;
  type?: 'briefWorkflow' | 'catalogWorkflow';
  drive?: (h: Handle, client: Client) => Promise<void>;
  /** Vendor servers for a worker of the case's own; without, the offline providers. */
  vendors?: () => Promise<Vendors>;
  /** Catalogs: the feed stored before it starts, and which run's history is kept. @default 'first' */
  feed?: { key: string; rows: number };
  keep?: 'first' | 'last';
  /** Files stored in the blob store before it starts, by key (reference images). */
  files?: Record<string, string>;
}

/** A catalog of `rows` product rows on the test template. */
function catalog(name: string, catalogId: string, rows: number, over: Partial<CatalogInput>, more: Partial<Case> = {}): Case {
  const feedKey = `catalogs/${catalogId}/feed.csv`;
  return { name, type: 'catalogWorkflow', input: { catalogId, feedKey, template: testTemplate, ...over }, feed: { key: feedKey, rows }, ...more };
}

const cases: Case[] = [
  { name: 'brief-published', input: published },
  { name: 'brief-score-gate', input: validateBrief({ subject: 'a teapot on a shelf', channels: ['og-image'], minPromptScore: 7 }) },
  { name: 'brief-invalid-input', input: { subject: '', channels: ['tiktok'] } },
  // A small catalog that continues as new once: its first run's history is the one kept.
  catalog('catalog-continue-as-new', 'replay', 7, { window: 3, rowsPerRun: 5 }),
  { name: 'brief-human-review', input: validateBrief({ ...published, id: 'replay-review', channels: ['email-header'], approval: 'human', candidates: 2 }), drive: reviewWithRevision },
  // Nobody decides within the deadline: the judge's top pick ships.
  { name: 'brief-deadline-approve-top', input: validateBrief(testBrief({ id: 'replay-deadline', approval: 'human', candidates: 2, review: { deadline: '2s', onDeadline: 'approveTop' } })) },
  { name: 'brief-deadline-remind', input: validateBrief(testBrief({ id: 'replay-remind', approval: 'human', candidates: 2, review: { deadline: '1s', onDeadline: 'remind' } })), drive: approveAfterReminders },
  // The routed model's vendor fails every image call: the brief falls back to the next model in the chain.
  { name: 'brief-fallback', input: poster({ id: 'replay-fallback' }), vendors: openaiDownGeminiUp },
  // The routed model's vendor fails half its calls: retries on the same model, no fallback.
  { name: 'brief-provider-retries', input: poster({ id: 'replay-retries', candidates: 4 }), vendors: openaiFlaky },
  // Changes asked for twice (signal, then update): three rounds, the last allowed by maxRounds.
  { name: 'brief-revision-rounds', input: validateBrief(testBrief({ id: 'replay-rounds', approval: 'human', candidates: 2 })), drive: twoRevisions },
  { name: 'brief-raise-budget', input: poster({ id: 'replay-raise', candidates: 4, budgetUsd: 0.05, approval: 'human' }), vendors: openai, drive: raiseThenApprove },
  // A continued run: carried input and rows, reconciliation timers and describeRows, pause and resume, the report.
  catalog('catalog-last-run', 'replay-last', 7, { template: { ...testTemplate, approval: 'human' }, window: 3, rowsPerRun: 5, reconcileEveryMs: 1000 }, { keep: 'last', drive: reviewAcrossRuns }),
  catalog('catalog-cancelled', 'replay-cancel', 6, { window: 2 }, { drive: cancelWhileRunning }),
  // Rows started with the catalog's fairness key and weight (the catalog-fairness patch).
  catalog('catalog-fair', 'replay-fair', 4, { window: 2, fairnessWeight: 2 }),
  // Events and delivery webhooks configured: review_needed, a delivery given up on, completed.
  // A brand kit read from ./brands (the brand-kit patch): kit prompt, logo on every asset, a revision with a banned word.
  {
    name: 'brief-brand',
    input: validateBrief(testBrief({ id: 'replay-brand', brand: 'fernwood', channels: ['email-header', 'story-9x16'], approval: 'human', candidates: 2 })),
    drive: brandRevision,
  },
  { name: 'brief-webhooks', input: validateBrief(testBrief({ id: 'replay-webhooks', sku: 'REPLAY-1', approval: 'human', candidates: 2 })), vendors: webhookReceivers, drive: approveFirst },
  // A product packshot: references resolved, passed to the generator and the judge (the brief-references patch).
  {
    name: 'brief-references',
    input: validateBrief(testBrief({ id: 'replay-references', candidates: 2, references: { product: 'blob:references/serum-bottle.png' } })),
    files: { 'references/serum-bottle.png': 'examples/catalog/packshots/serum-bottle.png' },
  },
  // The moderation gate refuses the prompt (prompt-moderation patch), before any generation.
  { name: 'brief-prompt-refused', input: validateBrief(testBrief({ id: 'replay-refused', subject: 'a glass bottle of olive oil in a pool of gore' })) },
  // approval when-unsure with the offline judge (no verdict): moderated, then a person decides (review-when-unsure patch).
  { name: 'brief-when-unsure', input: validateBrief(testBrief({ id: 'replay-unsure', approval: 'when-unsure', candidates: 2 })), drive: approveFirst },
];

/** Runs one case to its end on `taskQueue` and writes its history. */
async function record(c: Case, client: Client, taskQueue: string, show: (workflowId: string, runId?: string) => Promise<string>): Promise<void> {
  const handle = await client.workflow.start(c.type ?? 'briefWorkflow', { taskQueue, workflowId: `replay-${c.name}`, args: [c.input] });
  await c.drive?.(handle, client);
  const outcome = await handle.result().then(() => 'completed', (e: Error) => `failed (${e.cause instanceof Error ? e.cause.message : e.message})`);
  // For a catalog, one run's history: the first (which continued as new) unless the case says the last.
  const runId = c.type !== 'catalogWorkflow' ? undefined : c.keep === 'last' ? (await handle.describe()).runId : handle.firstExecutionRunId;
  const json = await show(handle.workflowId, runId);
  const file = historyFile(c);
  await writeFile(file, json);
  const events = (JSON.parse(json) as { events: unknown[] }).events.length;
  console.log(`${c.name}: ${outcome}; ${events} events, ${json.length} bytes → ${path.relative(process.cwd(), file)}`);
}

async function main(): Promise<void> {
  // Existing histories are the evidence that new code replays old runs: never overwrite them by default.
  const todo = cases.filter((c) => {
    const keep = !all && existsSync(historyFile(c));
    if (keep) console.log(`${c.name}: kept (exists; pass --all to record it again)`);
    return !keep;
  });
  if (todo.length === 0) return;
  const dir = await mkdtemp(path.join(os.tmpdir(), 'darkroom-record-'));
  const cli = await ensureTemporalCli({ log: console.log });
  const server = await startDevServer({ cli, dbFile: path.join(dir, 'temporal.sqlite'), uiPort: false, log: console.log });
  // The temporal CLI writes the standard JSON form that replay (historyFromJSON) reads.
  const show = async (workflowId: string, runId?: string) => (await promisify(execFile)(cli, [
    'workflow', 'show', '--address', server.address, '--workflow-id', workflowId, ...(runId ? ['--run-id', runId] : []), '--output', 'json',
  ], { maxBuffer: 64 << 20 })).stdout;
  try {
    const base = { TEMPORAL_ADDRESS: server.address, DARKROOM_DATA_DIR: dir };
    const blobs = createBlobStore(parseConfig(base));
    const workflowBundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH });
    const native = await NativeConnection.connect({ address: server.address });
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    for (const c of todo) {
      if (c.feed) await blobs.put(c.feed.key, new TextEncoder().encode(productFeed(c.feed.rows)), { mime: 'text/csv' });
      for (const [key, file] of Object.entries(c.files ?? {})) await blobs.put(key, await readFile(file), { mime: 'image/png' });
      const vendors = await c.vendors?.();
      try {
        // Vendor cases get their own worker (and task queues), so their providers are theirs alone.
        const taskQueue = vendors ? `darkroom-record-${c.name}` : 'darkroom-record';
        const config = parseConfig({ ...base, DARKROOM_TASK_QUEUE: taskQueue, ...vendors?.env });
        const { worker } = await createDarkroomWorker({ config, connection: native, workflowBundle });
        await worker.runUntil(() => record(c, client, taskQueue, show));
      } finally {
        await vendors?.close();
      }
    }
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
