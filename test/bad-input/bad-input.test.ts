/**
 * The bad-input corpus (test/bad-input/*.json, README.md) through the real doors: the
 * `darkroom` CLI (in-process and as a process), raw workflow starts (the SDK client and the
 * `temporal` binary), signals and updates, the reviewer tool's HTTP API, and vendors that
 * misbehave on the wire. One worker process serves every case; each case is its own test,
 * asserting the verdict recorded for it, and the closing table counts them per class.
 *
 * Doors that do not need the worker run while it starts; once it polls, the input-error doors
 * and the message doors run side by side, and the vendor and feed runs (which hold activity
 * slots for up to a minute) follow them. Every wait is bounded by a hang guard, and a case that
 * leaves a workflow running terminates it, so a defect costs a failed test, not a hung suite.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { createBlobStore, FsBlobStore } from '../../activities/blob-store';
import { startReviewServer, type ReviewServer } from '../../client/review/server';
import { Failure } from '../../domain/failures';
import { clip, escapeRegExp } from '../../domain/text';
import type { BriefStatus, Manifest } from '../../domain/types';
import { statusQuery } from '../../workflows/messages';
import { startFakeOpenAI, type FakeOpenAI } from '../providers/fake-openai';
import { closeTestConnection, testAddress, testConnection, testDataDir, uniqueTaskQueue } from '../support/temporal';
import {
  CORPUS_DIR, expand, fillPlaceholders, garbageBytes, loadCorpus, overlay, toJsonText, type BriefCase, type BriefFileCase, type CatalogInputCase, type FeedCase, type MessageCase,
  type ReviewerRequestCase, type VendorCase, type WorkflowIdCase,
} from './corpus';
import {
  failureChain, historyFacts, KEYS, keyLeaks, Ledger, pool, rawControls, rawHttp, rawStack, retryProblems, runCli, runCliProcess, settle,
  snapshotDiff, snapshotTree, spawnWorker, terminateQuietly, type CliRun, type WorkerProcess,
} from './harness';
import { startHostileVendors, vendorTag, type HostileVendors } from './hostile-vendors';

const run = promisify(execFile);

// ── the corpus ───────────────────────────────────────────────────────────────────────────────

const briefs = loadCorpus<{ base: Record<string, unknown>; cases: BriefCase[] }>('briefs.json');
const briefFiles = loadCorpus<{ cases: BriefFileCase[] }>('brief-files.json').cases;
const workflowIds = loadCorpus<{ cases: WorkflowIdCase[] }>('workflow-ids.json').cases;
const catalogInputs = loadCorpus<{ cases: CatalogInputCase[] }>('catalog-inputs.json').cases;
const feeds = loadCorpus<{ template: Record<string, unknown>; cases: FeedCase[] }>('feeds.json');
const signals = loadCorpus<{ cases: MessageCase[] }>('signals.json').cases;
const updates = loadCorpus<{ cases: MessageCase[] }>('updates.json').cases;
const reviewerRequests = loadCorpus<{ cases: ReviewerRequestCase[] }>('reviewer-requests.json').cases;
const vendors = loadCorpus<{ cases: VendorCase[] }>('vendor-responses.json').cases;

const BASE = briefs.base;
const briefInput = (c: BriefCase): unknown => ('input' in c ? expand(c.input) : overlay(BASE, expand(c.set), c.omit));
const doorsOf = (c: BriefCase) => c.doors ?? ['cli', 'raw'];

// ── bounds the suite asserts (README.md) ─────────────────────────────────────────────────────

const CLI_STDERR_MAX = 8 * 1024;
const FAILURE_MESSAGE_MAX = 4 * 1024;
const STATUS_JSON_MAX = 256 * 1024;
const IGNORED_SIGNALS_KEPT_MAX = 100;
const IGNORED_SIGNAL_ENTRY_MAX = 2 * 1024;
/** The reviewer's pages (its login page is 11 KB) stay this small whatever the request; url-100kb proves nothing is echoed whole. */
const HTTP_BODY_MAX = 64 * 1024;
const FEED_OUTPUT_MAX = 32 * 1024;
const WORKER_PEAK_RSS_MAX_KB = 1024 * 1024;
/**
 * Guards against a hang, not timing assertions. What shows an input error is refused at once
 * is its history: one attempt of each activity, no retry, no workflow task failure; the time
 * each took (first workflow task to close, from its history) is printed per class with the
 * table. A vendor case may take longer: a 429 waits up to a minute (the cap on a vendor's
 * retry-after) before its second attempt.
 */
const INPUT_ERROR_WITHIN_MS = 120_000;
const VENDOR_WITHIN_MS = 150_000;
/** Longest any one call, CLI run or HTTP request may take before the suite calls it a hang (on a loaded 2-core box). */
const GUARD_MS = 60_000;
/** Hook timeout for a door's whole run: only a door full of hangs comes near it. */
const DOOR_MS = 420_000;

const TOKEN = 'bad-input-review-token-0123456789';

// ── shared state ─────────────────────────────────────────────────────────────────────────────

const ledger = new Ledger();
const C = {
  cliBriefs: 'briefs via darkroom CLI',
  briefFiles: 'brief files via darkroom process',
  raw: 'briefs via raw workflow start',
  temporalCli: 'briefs via temporal CLI binary',
  ids: 'workflow ids',
  catalog: 'catalog inputs (raw catalogWorkflow)',
  feeds: 'feeds via darkroom catalog start',
  feedRuns: 'feeds run to the end',
  signals: 'signals',
  updates: 'updates (review, raiseBudget)',
  reviewer: 'reviewer HTTP API',
  vendors: 'vendor responses',
  whole: 'whole-run invariants',
} as const;

let client: Client;
/**
 * A client without the SDK's gRPC retries, for payloads over gRPC's 4 MB message limit: the
 * default client retries the server's RESOURCE_EXHAUSTED for a long while, which would look
 * like a hang when the server has in fact refused at once.
 */
let noRetry: { client: Client; connection: Connection } | undefined;
const taskQueue = uniqueTaskQueue('bad-input');
let parent = '';
let dataDir = '';
let inputs = '';
let cwd = '';
let cliEnv: Record<string, string> = {};
let worker: WorkerProcess | undefined;
let upstream: FakeOpenAI | undefined;
let hostile: HostileVendors | undefined;
let snapshotBefore = new Map<string, string>();
let dataTopBefore = new Map<string, string>();
/** Everything any CLI run printed, for the key check at the end. */
const outputs: string[] = [];
/** Every workflow a case started, to prove none is left running. */
const started: Array<{ workflowId: string; runId?: string }> = [];
const seedCatalog = `seed-${randomUUID().slice(0, 8)}`;
const seedFeedKey = `catalogs/${seedCatalog}/feed.csv`;
const seedManifestKey = `catalogs/${seedCatalog}/manifest.json`;
let seedManifestSha = '';
const suffix = randomUUID().slice(0, 6);

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const blobs = () => createBlobStore({ DARKROOM_DATA_DIR: dataDir });

/** How long each door's run took, from its first call to its end (printed with the table). */
const doorSeconds = new Map<string, number>();

/** Runs `fn` once, in the background from the first call on; a rejection is kept for whoever awaits it. */
function once<T>(name: string, fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    if (!p) {
      const t0 = Date.now();
      p = fn().finally(() => doorSeconds.set(name, Math.round((Date.now() - t0) / 100) / 10));
      p.catch(() => undefined);
    }
    return p;
  };
}

/** Records a workflow as started by the suite, and returns its handle. */
function track<T extends WorkflowHandle>(h: T, runId?: string): T {
  started.push({ workflowId: h.workflowId, runId });
  return h;
}

/** A valid brief for the vendor and shared cases: small, offline unless `over` says otherwise. */
const validBrief = (over: Record<string, unknown> = {}) => overlay(BASE, over);

// ── setup ────────────────────────────────────────────────────────────────────────────────────

/** Writes every file a case reads (before the snapshot, so only writes by the doors show up in it). */
async function writeInputs(): Promise<void> {
  await mkdir(path.join(inputs, 'briefs'), { recursive: true });
  await mkdir(path.join(inputs, 'files'), { recursive: true });
  await mkdir(path.join(inputs, 'feeds'), { recursive: true });
  for (const c of briefs.cases) {
    if (doorsOf(c).includes('cli')) await writeFile(path.join(inputs, 'briefs', `${c.id}.json`), toJsonText(briefInput(c)));
  }
  for (const c of briefFiles) {
    const p = briefFilePath(c);
    const f = c.file as Record<string, unknown>;
    if ('special' in f) {
      if (f.special === 'fifo') execFileSync('mkfifo', [p]);
      if (f.special === 'directory') mkdirSync(p);
      continue;
    }
    let data: Buffer;
    if ('utf16le' in f) data = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(String(f.utf16le), 'utf16le')]);
    else if ('garbage' in f) data = garbageBytes(Number(f.garbage));
    else if ('padBytes' in f) data = Buffer.from(`${' '.repeat(Number(f.padBytes))}${toJsonText(expand(f.json))}`);
    else if ('bom' in f) data = Buffer.from(`\ufeff${toJsonText(expand(f.json))}`);
    else if ('json' in f) data = Buffer.from(toJsonText(expand(f.json)));
    else data = Buffer.from(String(expand(f.text)), 'utf8');
    await writeFile(p, data);
  }
  await writeFile(path.join(inputs, 'feeds', 'template.json'), JSON.stringify(feeds.template));
  for (const c of feeds.cases) {
    const p = feedPath(c);
    if (c.file) await writeFile(p, readFileSync(path.join(CORPUS_DIR, 'feeds', c.file)));
    else if (c.generate && 'special' in c.generate) {
      if (c.generate.special === 'fifo') execFileSync('mkfifo', [p]);
    } else if (c.generate && 'garbage' in c.generate) await writeFile(p, garbageBytes(c.generate.garbage, 0x1234567));
    else if (c.generate && 'text' in c.generate) await writeFile(p, String(expand(c.generate.text)));
  }
}

function briefFilePath(c: BriefFileCase): string {
  const f = c.file as Record<string, unknown>;
  if (f.special === 'dev-zero') return '/dev/zero';
  if (f.special === 'missing') return path.join(inputs, 'files', `${c.id}-does-not-exist.json`);
  return path.join(inputs, 'files', `${c.id}.json`);
}

function feedPath(c: FeedCase): string {
  if (c.generate && 'special' in c.generate && c.generate.special === 'dev-zero') return '/dev/zero';
  return path.join(inputs, 'feeds', c.name);
}

beforeAll(async () => {
  client = await testConnection();
  const noRetryConnection = await Connection.connect({ address: testAddress(), interceptors: [] });
  noRetry = { connection: noRetryConnection, client: new Client({ connection: noRetryConnection, namespace: 'default' }) };
  parent = testDataDir('bad-input');
  dataDir = path.join(parent, 'data');
  inputs = path.join(parent, 'inputs');
  cwd = path.join(parent, 'cwd');
  for (const d of [dataDir, inputs, cwd]) mkdirSync(d, { recursive: true });
  cliEnv = { TEMPORAL_ADDRESS: testAddress(), DARKROOM_TASK_QUEUE: taskQueue, DARKROOM_DATA_DIR: dataDir, USER: 'bad-input' };
  await writeInputs();

  // A catalog whose files must survive every brief that tries to write into its namespace.
  const store = blobs();
  await store.put(seedFeedKey, Buffer.from('sku,name\r\nSEED-1,seed tote\r\n'), { mime: 'text/csv' });
  const manifest = Buffer.from(JSON.stringify({ schema: 'darkroom.catalog/v1', catalogId: seedCatalog, note: 'seeded by the bad-input suite' }));
  await store.put(seedManifestKey, manifest, { mime: 'application/json' });
  seedManifestSha = sha256(manifest);

  snapshotBefore = snapshotTree(parent, [dataDir]);
  dataTopBefore = snapshotTree(dataDir, [path.join(dataDir, 'blobs')]);

  upstream = await startFakeOpenAI({ apiKey: KEYS.openai });
  hostile = await startHostileVendors(vendors, upstream);
  worker = spawnWorker({
    TEMPORAL_ADDRESS: testAddress(),
    DARKROOM_TASK_QUEUE: taskQueue,
    DARKROOM_DATA_DIR: dataDir,
    DARKROOM_HEARTBEAT_TIMEOUT: '10s',
    DARKROOM_RETRY_INITIAL: '200ms',
    DARKROOM_RETRY_MAX_ATTEMPTS: '3',
    DARKROOM_PROVIDER_ATTEMPTS: '2',
    DARKROOM_PROVIDER_TIMEOUT: '15s',
    DARKROOM_ACTIVITY_TIMEOUT: '45s',
    DARKROOM_MAX_CONCURRENT_ACTIVITIES: '8',
    OPENAI_API_KEY: KEYS.openai,
    OPENAI_BASE_URL: `${hostile.url}/v1`,
    GEMINI_API_KEY: KEYS.gemini,
    GEMINI_BASE_URL: hostile.url,
    REPLICATE_API_TOKEN: KEYS.replicate,
    REPLICATE_BASE_URL: `${hostile.url}/v1`,
    REPLICATE_OUTPUT_HOSTS: `http://${hostile.host}`,
    DARKROOM_OPENAI_RPM: '6000',
    DARKROOM_GEMINI_RPM: '6000',
    DARKROOM_REPLICATE_RPM: '6000',
  }, cwd);

  // Doors that need no worker start now; the rest as soon as it polls.
  void cliBriefRuns();
  void briefFileRuns();
  void feedDryRuns();
  // The input-error doors first, alone with the message doors (which need no activity slots):
  // their promise is an answer within seconds, so the vendor and feed runs, which keep the
  // worker's activity slots busy for up to a minute, start once they are done.
  void worker.ready.then(async () => {
    void sharedBriefs();
    void signalRuns();
    void updateRuns();
    void reviewerRuns();
    await Promise.allSettled([rawRuns(), temporalCliRuns(), idRuns(), catalogRuns()]);
    void vendorRuns();
    void feedRealRuns();
  }, () => undefined);
}, 120_000);

afterAll(async () => {
  const table = ledger.table();
  // "slowest case": a CLI run's wall time (a spawned process includes node's start-up), or a
  // workflow's time from its first workflow task to its close, read from its history.
  const times = [...doorSeconds].map(([door, sec]) => `${door} ${sec} s`).join(', ');
  console.log(`\nbad-input corpus: class → tried → handled\n\n${table}\nDoor run times (overlapping): ${times}\n`);
  await mkdir('test-output', { recursive: true });
  await writeFile('test-output/bad-input-table.md', `# Bad-input corpus\n\n${table}\nDoor run times (overlapping): ${times}\n`);
  // Nothing the suite started may outlive it, whatever failed.
  await Promise.all(started.map(({ workflowId }) => client?.workflow.getHandle(workflowId).describe().then(
    (d) => (d.status.name === 'RUNNING' ? terminateQuietly(client.workflow.getHandle(workflowId), 'suite ended') : undefined),
    () => undefined,
  )));
  await worker?.stop();
  await hostile?.close();
  await upstream?.close();
  await noRetry?.connection.close();
  await closeTestConnection();
}, 120_000);

async function workerReady(): Promise<void> {
  await worker!.ready;
}

// ── the corpus itself ────────────────────────────────────────────────────────────────────────

/** Every corpus file with its cases, and the outcome each of its cases must state. */
const CORPUS: Array<{ file: string; cases: ReadonlyArray<{ id: string }>; outcome: (c: never) => boolean }> = [
  { file: 'briefs.json', cases: briefs.cases, outcome: (c: BriefCase) => typeof c.field === 'string' && c.field.length > 0 && doorsOf(c).length > 0 },
  { file: 'brief-files.json', cases: briefFiles, outcome: (c: BriefFileCase) => typeof c.mention === 'string' && c.mention.length > 0 },
  { file: 'workflow-ids.json', cases: workflowIds, outcome: (c: WorkflowIdCase) => c.outcome === 'InvalidWorkflowId' },
  {
    file: 'catalog-inputs.json',
    cases: catalogInputs,
    outcome: (c: CatalogInputCase) => c.outcome === 'refused-at-door' || (c.outcome === 'InvalidCatalog' && typeof c.mention === 'string'),
  },
  {
    file: 'feeds.json',
    cases: feeds.cases,
    outcome: (c: FeedCase) => (c.outcome === 'unusable' && typeof c.mention === 'string') || c.outcome === 'either' || (c.outcome === 'rows' && c.lines !== undefined),
  },
  { file: 'signals.json', cases: signals, outcome: (c: MessageCase) => c.outcome === 'ignored' || c.outcome === 'refused-at-door' },
  {
    file: 'updates.json',
    cases: updates,
    outcome: (c: MessageCase) => (c.outcome === 'refused' && typeof c.mention === 'string') || c.outcome === 'dropped-by-server' || c.outcome === 'refused-at-door',
  },
  { file: 'reviewer-requests.json', cases: reviewerRequests, outcome: (c: ReviewerRequestCase) => Number.isInteger(c.status) && c.status >= 400 && c.status <= 499 },
  { file: 'vendor-responses.json', cases: vendors, outcome: (c: VendorCase) => Array.isArray(c.types) && c.types.length > 0 },
];

describe('the corpus', () => {
  it('holds at least 150 hostile inputs', () => {
    const total = CORPUS.reduce((n, f) => n + f.cases.length, 0);
    console.log(`bad-input corpus: ${total} cases (${CORPUS.map((f) => `${f.file} ${f.cases.length}`).join(', ')})`);
    expect(total).toBeGreaterThanOrEqual(150);
  });

  it.each(CORPUS.map((f) => [f.file, f] as const))('%s: every case has a unique id and states its outcome', (_file, f) => {
    const ids = f.cases.map((c) => c.id);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    expect(f.cases.filter((c) => !f.outcome(c as never)).map((c) => c.id)).toEqual([]);
  });
});

// ── verdict helpers ──────────────────────────────────────────────────────────────────────────

/** How the CLI refuses a file for its size alone (it need not read a huge brief to name its field). */
const SIZE_REFUSAL = /too (large|big)|at most [\d.]+ ?[KMG]i?B|larger than/i;

function cliProblems(r: CliRun, expect: { code?: number | number[]; mention?: RegExp; field?: string; maxErr?: number; sizeRefusalOk?: boolean }): string[] {
  const p: string[] = [];
  outputs.push(r.out, r.err);
  if (r.timedOut) p.push(`did not finish within ${Math.round(r.ms / 1000)} s (hangs)`);
  const codes = expect.code === undefined ? [] : Array.isArray(expect.code) ? expect.code : [expect.code];
  if (!r.timedOut && codes.length && !codes.includes(r.code ?? -1)) p.push(`exit code ${r.code}, not ${codes.join(' or ')}: ${clip(r.err.trim(), 300)}`);
  if (expect.field && !r.err.includes(expect.field) && !(expect.sizeRefusalOk && SIZE_REFUSAL.test(r.err))) p.push(`stderr does not name "${expect.field}": ${clip(r.err.trim(), 300)}`);
  if (expect.mention && !expect.mention.test(r.err)) p.push(`stderr does not match ${expect.mention}: ${clip(r.err.trim(), 300)}`);
  const max = expect.maxErr ?? CLI_STDERR_MAX;
  if (r.err.length > max) p.push(`stderr is ${r.err.length} characters (at most ${max})`);
  if (r.out.length > max) p.push(`stdout is ${r.out.length} characters (at most ${max})`);
  const ctl = rawControls(r.out + r.err);
  if (ctl) p.push(`raw control character in the output: ${ctl}`);
  if (rawStack(r.out + r.err) || r.thrown) p.push(`raw stack or uncaught ${r.thrown ?? 'error'} in the output`);
  return p;
}

/** A workflow the CLI started when it should have refused: recorded, and ended. */
async function startedByCli(r: CliRun): Promise<string[]> {
  const id = /(?:started|already running|attached to running)[: ]+(\S+)/.exec(`${r.out}\n${r.err}`)?.[1];
  if (!id) return [];
  await terminateQuietly(client.workflow.getHandle(id), 'a bad brief was accepted');
  return [`started workflow ${id} instead of refusing the brief`];
}

/** Checks a workflow that must fail at once with `type`, naming `mention`, without retries. */
async function refusedAtOnce(cls: string, handle: WorkflowHandle, types: readonly string[], mention: RegExp, within = INPUT_ERROR_WITHIN_MS): Promise<string[]> {
  const p: string[] = [];
  const r = await settle(handle.result(), within);
  if ('timedOut' in r) {
    const pending = await handle.describe().then((d) => (d.raw.pendingActivities ?? []).map((a) => `${a.activityType?.name} attempt ${a.attempt} ${a.state}`).join(', '), () => '?');
    p.push(`still running after ${within / 1000} s (pending activities: ${pending || 'none'})`);
  } else if (r.ok) {
    p.push('completed instead of failing');
  } else {
    const chain = failureChain(r.error);
    const typed = chain.find((l) => l.type);
    if (!typed || !types.includes(typed.type!)) {
      p.push(`failed with ${chain.map((l) => `${l.name}${l.type ? `(${l.type})` : ''}: ${clip(l.message, 160)}`).join(' ← ')}, not ${types.join('/')}`);
    } else {
      if (!mention.test(typed.message)) p.push(`the ${typed.type} message does not match ${mention}: ${clip(typed.message, 300)}`);
      if (typed.message.length > FAILURE_MESSAGE_MAX) p.push(`the failure message is ${typed.message.length} characters (at most ${FAILURE_MESSAGE_MAX})`);
    }
  }
  const facts = await historyFacts(client, handle.workflowId).catch((e: Error) => e);
  if (facts instanceof Error) return [...p, `cannot read its history: ${facts.message}`];
  p.push(...retryProblems(facts));
  const leaks = keyLeaks(facts.text);
  if (leaks.length) p.push(`history holds the ${leaks.join(', ')} key`);
  if (facts.taskToCloseMs !== undefined) ledger.time(cls, facts.taskToCloseMs);
  if ('timedOut' in r) await terminateQuietly(handle, 'still running');
  return p;
}

// ── door: briefs through the darkroom CLI ────────────────────────────────────────────────────

const cliBriefRuns = once('cliBriefRuns', async () => {
  const cases = briefs.cases.filter((c) => doorsOf(c).includes('cli'));
  const one = async (c: BriefCase) => {
    const file = path.join(inputs, 'briefs', `${c.id}.json`);
    const argv = [c.command ?? 'start', file];
    const r = c.spawn ? await runCliProcess(argv, cliEnv, cwd, GUARD_MS) : await runCli(argv, cliEnv, GUARD_MS);
    const sizeRefusalOk = statSync(file).size > 1_000_000;
    ledger.time(C.cliBriefs, r.ms);
    ledger.record(C.cliBriefs, c.id, [...cliProblems(r, { code: 2, field: c.field, sizeRefusalOk }), ...(await startedByCli(r))]);
  };
  await Promise.all([pool(cases.filter((c) => !c.spawn), 4, one), pool(cases.filter((c) => c.spawn), 2, one)]);
});

describe('briefs through the darkroom CLI: exit 2 naming the field, bounded, terminal-safe', () => {
  beforeAll(() => cliBriefRuns(), DOOR_MS);
  const cases = briefs.cases.filter((c) => doorsOf(c).includes('cli'));
  it.each(cases.map((c) => [c.id, c] as const))('%s', (id) => {
    expect(ledger.get(C.cliBriefs, id)).toEqual([]);
  });
});

// ── door: files that are not briefs ──────────────────────────────────────────────────────────

const briefFileRuns = once('briefFileRuns', async () => {
  await pool(briefFiles, 2, async (c) => {
    const r = await runCliProcess(['start', briefFilePath(c)], cliEnv, cwd, GUARD_MS);
    ledger.time(C.briefFiles, r.ms);
    ledger.record(C.briefFiles, c.id, [...cliProblems(r, { code: 2, mention: new RegExp(c.mention, 'i') }), ...(await startedByCli(r))]);
  });
});

describe('files that are not briefs, through a darkroom process: exit 2 within seconds', () => {
  beforeAll(() => briefFileRuns(), DOOR_MS);
  it.each(briefFiles.map((c) => [c.id, c] as const))('%s', (id) => {
    expect(ledger.get(C.briefFiles, id)).toEqual([]);
  });
});

// ── door: raw workflow starts ────────────────────────────────────────────────────────────────

const rawRuns = once('rawRuns', async () => {
  await workerReady();
  const cases = briefs.cases.filter((c) => doorsOf(c).includes('raw'));
  await pool(cases, 10, async (c) => {
    const workflowId = `bad-raw-${c.id}-${suffix}`;
    const start = await settle(client.workflow.start('briefWorkflow', { args: [briefInput(c)], taskQueue, workflowId }), GUARD_MS);
    if (!('ok' in start) || !start.ok) {
      const refused = 'error' in start && refusedAtTheDoor(start.error, briefInput(c));
      ledger.record(C.raw, c.id, refused ? [] : [`the start failed: ${'error' in start ? clip((start.error as Error).message, 300) : 'timed out'}`]);
      return;
    }
    track(start.value);
    ledger.record(C.raw, c.id, await refusedAtOnce(C.raw, start.value, [Failure.InvalidBrief], new RegExp(escapeRegExp(c.field))));
  });
});

/** The dev server's limit on one payload (scripts/dev-server.ts, `limit.blobSize.error`). */
const SERVER_PAYLOAD_LIMIT = 512 * 1024;

/** How deep `v` nests (arrays and objects), counted without recursion. */
function depthOf(v: unknown): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[v, 0]];
  while (stack.length) {
    const [x, d] = stack.pop()!;
    if (x === null || typeof x !== 'object') continue;
    max = Math.max(max, d + 1);
    for (const y of Object.values(x)) if (y !== null && typeof y === 'object') stack.push([y, d + 1]);
  }
  return max;
}

/**
 * How a start, signal or update was refused before anything ran, if it was, and only if the
 * payload explains it (a small payload refused at the door is a problem, not a refusal):
 * - `too-large`: the server would not take it (over SERVER_PAYLOAD_LIMIT, or gRPC's 4 MB);
 * - `dropped`: an update over SERVER_PAYLOAD_LIMIT, which the frontend does not check: the
 *   worker's answer carries the request back, is too large in turn, and the server drops the
 *   update with FAILED_PRECONDITION, leaving nothing in history (checked separately);
 * - `unencodable`: the SDK client cannot encode it (nested thousands deep); the `temporal`
 *   binary door sends those as bytes.
 */
function doorRefusal(err: unknown, payload: unknown): 'too-large' | 'dropped' | 'unencodable' | undefined {
  const messages = failureChain(err).map((l) => l.message).join('\n');
  const oversize = () => toJsonText(payload).length > SERVER_PAYLOAD_LIMIT * 0.9;
  if (/Blob data size exceeds limit|message larger than max|RESOURCE_EXHAUSTED/i.test(messages)) return oversize() ? 'too-large' : undefined;
  if (/unexpected workflow task failure/i.test(messages)) return oversize() ? 'dropped' : undefined;
  if (/Unable to convert .* to payload|maximum call stack/i.test(messages)) return depthOf(payload) >= 1000 ? 'unencodable' : undefined;
  return undefined;
}

const refusedAtTheDoor = (err: unknown, payload: unknown): boolean => {
  const how = doorRefusal(err, payload);
  return how === 'too-large' || how === 'unencodable';
};

describe('briefs through raw workflow starts: InvalidBrief naming the field, one attempt, no task failure', () => {
  beforeAll(() => rawRuns(), DOOR_MS);
  const cases = briefs.cases.filter((c) => doorsOf(c).includes('raw'));
  it.each(cases.map((c) => [c.id, c] as const))('%s', (id) => {
    expect(ledger.get(C.raw, id)).toEqual([]);
  });
});

// ── door: the temporal CLI binary ────────────────────────────────────────────────────────────

const temporalCliRuns = once('temporalCliRuns', async () => {
  await workerReady();
  const cases = briefs.cases.filter((c) => doorsOf(c).includes('temporal-cli'));
  await pool(cases, 4, async (c) => {
    const workflowId = `bad-tcli-${c.id}-${suffix}`;
    try {
      await run(inject('temporalCli'), [
        'workflow', 'start', '--address', testAddress(), '--namespace', 'default', '--task-queue', taskQueue, '--type', 'briefWorkflow',
        '--workflow-id', workflowId, '--input', toJsonText(briefInput(c)),
      ], { timeout: GUARD_MS, maxBuffer: 8 << 20 });
    } catch (err) {
      ledger.record(C.temporalCli, c.id, [`temporal workflow start failed: ${clip((err as Error).message, 300)}`]);
      return;
    }
    const handle = track(client.workflow.getHandle(workflowId));
    ledger.record(C.temporalCli, c.id, await refusedAtOnce(C.temporalCli, handle, [Failure.InvalidBrief], new RegExp(escapeRegExp(c.field))));
  });
});

describe('briefs through `temporal workflow start`: InvalidBrief naming the field', () => {
  beforeAll(() => temporalCliRuns(), DOOR_MS);
  const cases = briefs.cases.filter((c) => doorsOf(c).includes('temporal-cli'));
  it.each(cases.map((c) => [c.id, c] as const))('%s', (id) => {
    expect(ledger.get(C.temporalCli, id)).toEqual([]);
  });
});

// ── door: workflow ids ───────────────────────────────────────────────────────────────────────

const idOf = (c: WorkflowIdCase) => String(expand(c.workflowId)).replace('{catalog}', seedCatalog);

const idRuns = once('idRuns', async () => {
  await workerReady();
  const catalogDir = () => snapshotTree(path.join(dataDir, 'blobs', 'catalogs', seedCatalog));
  const before = catalogDir();
  await pool(workflowIds, 8, async (c) => {
    const workflowId = idOf(c);
    const start = await settle(client.workflow.start('briefWorkflow', { args: [validBrief({ subject: `a glass bottle of olive oil, id case ${c.id}` })], taskQueue, workflowId }), GUARD_MS);
    if (!('ok' in start) || !start.ok) {
      // The server takes every id in the corpus: the worker is the one to refuse them.
      ledger.record(C.ids, c.id, [`the start failed: ${'error' in start ? clip((start.error as Error).message, 300) : 'timed out'}`]);
      return;
    }
    track(start.value);
    ledger.record(C.ids, c.id, await refusedAtOnce(C.ids, start.value, [c.outcome], /workflow id/i));
  });
  // The catalog whose namespace two of the ids aimed at: untouched.
  const sha = sha256(await blobs().get(seedManifestKey));
  const changed = snapshotDiff(before, catalogDir());
  for (const id of ['catalog-namespace', 'catalog-namespace-deeper']) {
    const p = ledger.get(C.ids, id) ?? [];
    if (sha !== seedManifestSha) p.push(`the catalog's manifest.json changed (sha256 ${sha.slice(0, 12)}…)`);
    if (changed.length) p.push(`the catalog's folder changed: ${changed.slice(0, 3).join(', ')}`);
    ledger.record(C.ids, id, p);
  }
});

describe('workflow ids that cannot name a brief folder: InvalidWorkflowId at once, nothing written', () => {
  beforeAll(() => idRuns(), DOOR_MS);
  it.each(workflowIds.map((c) => [c.id, c] as const))('%s', (id) => {
    expect(ledger.get(C.ids, id)).toEqual([]);
  });
});

// ── door: raw catalog inputs ─────────────────────────────────────────────────────────────────

function fillCatalogInput(v: unknown, catalogId: string): unknown {
  return fillPlaceholders(v, { '{feedKey}': seedFeedKey, '{template}': feeds.template, '{catalogId}': catalogId });
}

const catalogRuns = once('catalogRuns', async () => {
  await workerReady();
  await pool(catalogInputs, catalogInputs.length, async (c) => {
    const catalogId = `badin-${c.id}-${suffix}`;
    const input = fillCatalogInput(expand(c.input), catalogId);
    const workflowId = `catalog-${catalogId}`;
    let handle: WorkflowHandle;
    if (c.viaTemporalCli) {
      const r = await temporalCli(['workflow', 'start', '--task-queue', taskQueue, '--type', 'catalogWorkflow', '--workflow-id', workflowId, '--input', toJsonText(input)]);
      if (r.code !== 0) return void ledger.record(C.catalog, c.id, [`temporal workflow start failed: ${clip(r.out, 300)}`]);
      handle = client.workflow.getHandle(workflowId);
    } else {
      const start = await settle(client.workflow.start('catalogWorkflow', { args: [input], taskQueue, workflowId }), GUARD_MS);
      if (!('ok' in start) || !start.ok) {
        const refused = c.outcome === 'refused-at-door' && 'error' in start && refusedAtTheDoor(start.error, input);
        return void ledger.record(C.catalog, c.id, refused ? [] : [`the start failed: ${'error' in start ? clip((start.error as Error).message, 300) : 'timed out'}`]);
      }
      handle = start.value;
    }
    track(handle);
    if (c.outcome === 'refused-at-door') {
      await terminateQuietly(handle, 'expected to be refused at the door');
      return void ledger.record(C.catalog, c.id, ['started, though it was expected to be refused at the door']);
    }
    ledger.record(C.catalog, c.id, await refusedAtOnce(C.catalog, handle, [c.outcome], new RegExp(c.mention, 'i')));
  });
});

describe('raw catalogWorkflow inputs: InvalidCatalog naming the field, never a task failure', () => {
  beforeAll(() => catalogRuns(), DOOR_MS);
  it.each(catalogInputs.map((c) => [c.id, c] as const))('%s', (id) => {
    expect(ledger.get(C.catalog, id)).toEqual([]);
  });
});

// ── door: feeds through darkroom catalog start ───────────────────────────────────────────────

/** The lines a `catalog start` preview lists as errors (not warnings), and its duplicate lines. */
function reportedLines(out: string): { errors: Set<number>; warnings: Set<number>; duplicates: Set<number> } {
  const errors = new Set<number>();
  const warnings = new Set<number>();
  const duplicates = new Set<number>();
  for (const line of out.split('\n')) {
    const m = /^\s+line (\d+)\s/.exec(line);
    if (m) (line.includes('(warning: the row still runs)') ? warnings : errors).add(Number(m[1]));
    const d = /^\s+.+ lines ([\d, ]+)$/.exec(line);
    if (d) for (const n of d[1]!.split(',').slice(1)) duplicates.add(Number(n.trim()));
  }
  return { errors, warnings, duplicates };
}

const feedDryRuns = once('feedDryRuns', async () => {
  const template = path.join(inputs, 'feeds', 'template.json');
  const one = async (c: FeedCase) => {
    const argv = ['catalog', 'start', feedPath(c), '--template', template, '--id', `dry-${c.id}`, '--dry-run'];
    const r = c.spawn ? await runCliProcess(argv, cliEnv, cwd, GUARD_MS) : await runCli(argv, cliEnv, GUARD_MS);
    const codes = c.outcome === 'unusable' ? 2 : c.outcome === 'rows' ? 0 : [0, 2];
    const p = cliProblems(r, { code: codes, mention: c.mention ? new RegExp(c.mention, 'i') : undefined, maxErr: FEED_OUTPUT_MAX });
    if (r.code === 0 && c.lines) {
      const seen = reportedLines(r.out);
      for (const [line, want] of Object.entries(c.lines)) {
        const n = Number(line);
        if (want === 'error' && !seen.errors.has(n)) p.push(`line ${n} is not reported as an error`);
        if (want === 'runs' && (seen.errors.has(n) || seen.duplicates.has(n))) p.push(`line ${n} does not run`);
      }
    }
    if (({} as Record<string, unknown>).polluted !== undefined) p.push('Object.prototype was polluted');
    ledger.record(C.feeds, c.id, p);
  };
  await Promise.all([pool(feeds.cases.filter((c) => !c.spawn), 3, one), pool(feeds.cases.filter((c) => c.spawn), 1, one)]);
});

describe('feeds through darkroom catalog start --dry-run: per-line errors, never a stack', () => {
  beforeAll(() => feedDryRuns(), DOOR_MS);
  it.each(feeds.cases.map((c) => [c.id, c] as const))('%s', (id) => {
    expect(ledger.get(C.feeds, id)).toEqual([]);
  });
});

/** CSV cells a spreadsheet would run as formulas (OWASP: `=`, `+`, `-`, `@`, tab, CR first). */
function formulaCells(csv: string): string[] {
  const cells: string[] = [];
  for (const line of csv.split(/\r?\n/).slice(1)) {
    let cur = '';
    let q = false;
    const row: string[] = [];
    for (let i = 0; i < line.length; i++) {
      const ch = line[i]!;
      if (q) {
        if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') q = false; else cur += ch;
      } else if (ch === '"') q = true;
      else if (ch === ',') { row.push(cur); cur = ''; } else cur += ch;
    }
    row.push(cur);
    cells.push(...row.filter((cell) => /^[=+\-@\t\r]/.test(cell) && !/^-?\d+(\.\d+)?$/.test(cell)));
  }
  return cells;
}

const feedRealRuns = once('feedRealRuns', async () => {
  await workerReady();
  const template = path.join(inputs, 'feeds', 'template.json');
  await pool(feeds.cases.filter((c) => c.run), 3, async (c) => {
    const catalogId = `run-${c.id}-${suffix}`.slice(0, 60);
    const p: string[] = [];
    if (c.run === 'cli') {
      const r = await runCli(['catalog', 'start', feedPath(c), '--template', template, '--id', catalogId, '--window', '4'], cliEnv, GUARD_MS);
      p.push(...cliProblems(r, { code: 0, maxErr: FEED_OUTPUT_MAX }));
      if (r.code !== 0) return ledger.record(C.feedRuns, c.id, p);
    } else {
      const feedKey = `catalogs/${catalogId}/feed.${c.name.endsWith('.jsonl') ? 'jsonl' : 'csv'}`;
      await blobs().put(feedKey, readFileSync(feedPath(c)), { mime: 'text/plain' });
      await client.workflow.start('catalogWorkflow', { args: [{ catalogId, feedKey, template: feeds.template, window: 4 }], taskQueue, workflowId: `catalog-${catalogId}` });
    }
    const handle = track(client.workflow.getHandle(`catalog-${catalogId}`));
    const r = await settle(handle.result(), 2 * GUARD_MS);
    if ('timedOut' in r) {
      p.push(`the catalog is still running after ${(2 * GUARD_MS) / 1000} s`);
      await terminateQuietly(handle, 'still running');
    } else if (!r.ok) {
      const typed = failureChain(r.error).find((l) => l.type);
      if (typed?.type !== Failure.InvalidCatalog) p.push(`the catalog failed with ${typed?.type ?? 'no type'}: ${clip(typed?.message ?? String(r.error), 300)}`);
    } else {
      const result = r.value as { reportKey: string };
      const report = (await blobs().get(result.reportKey)).toString('utf8');
      const bad = formulaCells(report);
      if (bad.length) p.push(`report.csv has cells a spreadsheet runs as formulas: ${bad.slice(0, 3).map((b) => JSON.stringify(b)).join(', ')}`);
      const rows = report.split(/\r?\n/).slice(1).filter(Boolean).length;
      if (c.lines && Object.values(c.lines).includes('runs') && rows === 0) p.push('the report lists no rows');
    }
    const facts = await historyFacts(client, handle.workflowId);
    p.push(...retryProblems(facts).map((x) => `catalog: ${x}`));
    // Its rows: every child closed, none retried or failing workflow tasks.
    const children = [...facts.text.matchAll(/"workflowId":"(catalog-[^"]+\/[^"]+)"/g)].map((m) => m[1]!);
    for (const id of [...new Set(children)]) {
      const f = await historyFacts(client, id).catch(() => undefined);
      if (!f) continue;
      if (f.status === 'RUNNING') p.push(`row ${id} is still running`);
      p.push(...retryProblems(f).map((x) => `row ${id}: ${x}`));
    }
    ledger.record(C.feedRuns, c.id, p);
  });
});

describe('feeds started for real: rows run or fail alone, the report is safe to open', () => {
  beforeAll(() => feedRealRuns(), DOOR_MS);
  const cases = feeds.cases.filter((c) => c.run);
  it.each(cases.map((c) => [c.id, c] as const))('%s', (id) => {
    expect(ledger.get(C.feedRuns, id)).toEqual([]);
  });
});

// ── the shared briefs that messages and the reviewer aim at ──────────────────────────────────

interface Shared {
  /** Awaiting review: the signal cases. */
  signals: WorkflowHandle;
  /** Awaiting review: the update and reviewer cases. */
  review: WorkflowHandle;
  /** Awaiting a budget raise: the raiseBudget cases. */
  budget: WorkflowHandle;
  valid: { signals: string; review: string };
}

const sharedBriefs = once('sharedBriefs', async (): Promise<Shared> => {
  await workerReady();
  // Short deadlines that fail: a brief wedged by a defect still ends on its own.
  const human = (subject: string) => validBrief({ subject, approval: 'human', candidates: 2, topK: 1, review: { deadline: '5m', onDeadline: 'fail' } });
  const start = async (name: string, input: unknown) =>
    track(await client.workflow.start('briefWorkflow', { args: [input], taskQueue, workflowId: `bad-shared-${name}-${suffix}` }));
  const [signals, review, budget] = await Promise.all([
    start('signals', human('a glass bottle of olive oil for the signal cases')),
    start('review', human('a glass bottle of olive oil for the update and reviewer cases')),
    start('budget', validBrief({ subject: 'a ceramic teapot for the budget cases', model: 'gpt-image-1-mini', approval: 'human', budgetUsd: 0.001, review: { deadline: '5m', onDeadline: 'fail' } })),
  ]);
  const awaiting = async (h: WorkflowHandle, pred: (s: BriefStatus) => boolean, what: string): Promise<BriefStatus> => {
    for (const until = Date.now() + 3 * GUARD_MS; Date.now() < until;) {
      const s = await h.query(statusQuery).catch(() => undefined);
      if (s && pred(s)) return s;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`${h.workflowId} never reached ${what} in ${(3 * GUARD_MS) / 1000} s`);
  };
  const [s, r] = await Promise.all([
    awaiting(signals, (x) => x.review?.awaiting === true, 'review'),
    awaiting(review, (x) => x.review?.awaiting === true, 'review'),
    awaiting(budget, (x) => x.stage === 'budget', 'the budget wait'),
  ]);
  return { signals, review, budget, valid: { signals: s.review!.reviewable[0]!, review: r.review!.reviewable[0]! } };
});

/** `payload` with `{valid}` replaced by a candidate id the brief can take. */
function fillValid(v: unknown, valid: string): unknown {
  return fillPlaceholders(v, { '{valid}': valid });
}

/** Numbers under keys like `droppedSignals` anywhere in `review`: how the brief counts what it did not keep. */
function droppedCount(v: unknown, depth = 0): number {
  if (!v || typeof v !== 'object' || depth > 3) return 0;
  let n = 0;
  for (const [k, x] of Object.entries(v)) {
    if (typeof x === 'number' && /drop|omit|discard|overflow/i.test(k)) n = Math.max(n, x);
    else n = Math.max(n, droppedCount(x, depth + 1));
  }
  return n;
}

/** What a healthy brief under message attack still does: answer, stay small, keep waiting, never fail a task. */
async function healthProblems(h: WorkflowHandle, sent: number): Promise<string[]> {
  const p: string[] = [];
  const d = await h.describe().catch((e: Error) => e);
  if (d instanceof Error || d.status.name !== 'RUNNING') p.push(`the brief is ${d instanceof Error ? `unreachable: ${d.message}` : d.status.name}`);
  let status: BriefStatus | undefined;
  // Signals are applied by the next workflow task: give the status a moment to account for them.
  for (const until = Date.now() + GUARD_MS; Date.now() < until;) {
    const q = await settle(h.query(statusQuery), GUARD_MS);
    if (!('ok' in q) || !q.ok) {
      p.push(`status does not answer: ${'error' in q ? clip((q.error as Error).message, 200) : 'timed out'}`);
      break;
    }
    status = q.value;
    const kept = status.review?.ignoredSignals.length ?? 0;
    if (kept + droppedCount(status.review) >= sent) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  if (status) {
    const size = toJsonText(status).length;
    if (size > STATUS_JSON_MAX) p.push(`status is ${size} bytes of JSON (at most ${STATUS_JSON_MAX})`);
    const review = status.review;
    if (!review?.awaiting) p.push(`the brief stopped waiting for review (stage ${status.stage})`);
    if (review?.decisions.length) p.push(`a decision was taken: ${JSON.stringify(review.decisions[0]).slice(0, 200)}`);
    const kept = review?.ignoredSignals ?? [];
    if (kept.length > IGNORED_SIGNALS_KEPT_MAX) p.push(`ignoredSignals keeps ${kept.length} entries (at most ${IGNORED_SIGNALS_KEPT_MAX})`);
    const big = kept.map((e) => toJsonText(e).length).filter((n) => n > IGNORED_SIGNAL_ENTRY_MAX);
    if (big.length) p.push(`${big.length} ignoredSignals entries over ${IGNORED_SIGNAL_ENTRY_MAX} bytes (largest ${Math.max(...big)})`);
    const dropped = droppedCount(review);
    if (kept.length + dropped < sent) p.push(`status accounts for ${kept.length} kept + ${dropped} dropped of ${sent} bad signals`);
  }
  const facts = await historyFacts(client, h.workflowId).catch((e: Error) => e);
  if (facts instanceof Error) p.push(`cannot read its history: ${facts.message}`);
  else if (facts.workflowTaskFailures.length) p.push(`${facts.workflowTaskFailures.length} workflow task failure(s): ${facts.workflowTaskFailures[0]}`);
  return p;
}

async function temporalCli(args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(inject('temporalCli'), [...args, '--address', testAddress(), '--namespace', 'default'], { timeout: GUARD_MS, maxBuffer: 8 << 20 });
    return { code: 0, out: `${r.stdout}${r.stderr}` };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}${e.message}` };
  }
}

// ── door: signals ────────────────────────────────────────────────────────────────────────────

const signalRuns = once('signalRuns', async () => {
  const { signals: h, valid } = await sharedBriefs();
  let sent = 0;
  for (const c of signals) {
    const payload = fillValid(expand(c.payload), valid.signals);
    const p: string[] = [];
    const atDoor = c.outcome === 'refused-at-door';
    for (let i = 0; i < (c.times ?? 1); i++) {
      if (c.viaTemporalCli) {
        const r = await temporalCli(['workflow', 'signal', '--workflow-id', h.workflowId, '--name', c.name, '--input', toJsonText(payload)]);
        if (r.code === 0) sent++;
        else p.push(`temporal workflow signal failed: ${clip(r.out, 200)}`);
        continue;
      }
      const via = atDoor ? noRetry!.client.workflow.getHandle(h.workflowId) : h;
      const r = await settle(via.signal(c.name, payload), GUARD_MS);
      if ('timedOut' in r) p.push('the signal call hung');
      else if (r.ok) {
        sent++;
        if (atDoor) p.push('delivered, though it is over the server’s payload limit');
      } else if (!atDoor) p.push(`refused at the door (${clip((r.error as Error).message, 200)}), not delivered and ignored`);
      else if (!refusedAtTheDoor(r.error, payload)) p.push(`refused at the door, but not for its size or depth: ${clip(failureChain(r.error).map((l) => l.message).join(' ← '), 200)}`);
    }
    p.push(...(await healthProblems(h, sent)));
    ledger.record(C.signals, c.id, p);
  }

  // The terminal door: what `darkroom review show` prints of a brief full of hostile signals.
  const show = await runCliProcess(['review', 'show', h.workflowId], cliEnv, cwd, GUARD_MS);
  ledger.record(C.signals, 'review-show-after-the-barrage', cliProblems(show, { code: 0, maxErr: 64 * 1024 }));

  // And it still takes a valid decision.
  const approve = await settle(h.signal('approve', { candidateIds: [valid.signals], reviewer: 'bad-input' }), GUARD_MS);
  const done = 'ok' in approve && approve.ok ? await settle(h.result(), 2 * GUARD_MS) : approve;
  const p: string[] = [];
  if ('timedOut' in done) p.push(`no outcome within ${(2 * GUARD_MS) / 1000} s of a valid approve`);
  else if (!done.ok) p.push(`a valid approve did not complete it: ${clip((done.error as Error).message, 300)}`);
  else if ((done.value as Manifest).outcome !== 'published') p.push(`outcome ${(done.value as Manifest).outcome}`);
  ledger.record(C.signals, 'valid-approve-completes-it', p);
});

describe('signals to a brief waiting for review: ignored within bounds, the brief stays healthy', () => {
  beforeAll(() => signalRuns(), DOOR_MS);
  it.each([...signals.map((c) => c.id), 'review-show-after-the-barrage', 'valid-approve-completes-it'])('%s', (id) => {
    expect(ledger.get(C.signals, id)).toEqual([]);
  });
});

// ── door: updates ────────────────────────────────────────────────────────────────────────────

const updateRuns = once('updateRuns', async () => {
  const shared = await sharedBriefs();
  const ids = new Map<string, string>();
  const targetOf = (c: MessageCase) => (c.target === 'budget' ? shared.budget : shared.review);
  // In corpus order: the last raiseBudget cases, if wrongly accepted, end the budget wait for the rest.
  for (const c of updates) {
    const h = targetOf(c);
    const payload = fillValid(expand(c.payload), shared.valid.review);
    const mention = new RegExp(c.mention ?? '.', 'i');
    const p: string[] = [];
    if (c.viaTemporalCli) {
      const r = await temporalCli(['workflow', 'update', 'execute', '--workflow-id', h.workflowId, '--name', c.name, '--input', toJsonText(payload)]);
      outputs.push(r.out);
      if (r.code === 0) p.push(`accepted: ${clip(r.out, 200)}`);
      else if (!mention.test(r.out)) p.push(`the refusal does not match ${mention}: ${clip(r.out, 300)}`);
      ledger.record(C.updates, c.id, p);
      continue;
    }
    const updateId = `bad-${c.id}-${suffix}`;
    ids.set(updateId, c.id);
    const via = c.outcome === 'refused-at-door' ? noRetry!.client.workflow.getHandle(h.workflowId) : h;
    const r = await settle(via.executeUpdate(c.name, { args: [payload], updateId }), GUARD_MS);
    const said = 'error' in r ? failureChain(r.error).map((l) => l.message) : [];
    if ('timedOut' in r) p.push(`no answer within ${GUARD_MS / 1000} s`);
    else if (r.ok) p.push(`accepted: ${clip(JSON.stringify(r.value), 200)}`);
    else if (c.outcome === 'refused-at-door') {
      if (!refusedAtTheDoor(r.error, payload)) p.push(`not refused at the door: ${clip(said.join(' ← '), 300)}`);
    } else if (c.outcome === 'dropped-by-server') {
      if (doorRefusal(r.error, payload) !== 'dropped') p.push(`not dropped by the server for its size: ${clip(said.join(' ← '), 300)}`);
    } else if (doorRefusal(r.error, payload)) p.push(`refused at the door, not by the validator: ${clip(said.join(' ← '), 300)}`);
    else {
      if (!said.some((m) => mention.test(m))) p.push(`the refusal does not match ${mention}: ${clip(said.join(' ← '), 300)}`);
      const reason = said.at(-1) ?? '';
      if (reason.length > FAILURE_MESSAGE_MAX) p.push(`the refusal is ${reason.length} characters (at most ${FAILURE_MESSAGE_MAX})`);
    }
    ledger.record(C.updates, c.id, p);
  }
  // No bad update may have been accepted into either brief's history.
  for (const h of [shared.review, shared.budget]) {
    const facts = await historyFacts(client, h.workflowId);
    for (const updateId of facts.updatesAccepted) {
      const id = ids.get(updateId);
      if (id) ledger.record(C.updates, id, [...(ledger.get(C.updates, id) ?? []), 'WorkflowExecutionUpdateAccepted is in its history']);
    }
    if (facts.workflowTaskFailures.length) {
      for (const c of updates.filter((u) => targetOf(u) === h)) ledger.record(C.updates, c.id, [...(ledger.get(C.updates, c.id) ?? []), `workflow task failure: ${facts.workflowTaskFailures[0]}`]);
    }
  }
  // The terminal door: a refusal that echoes a hostile candidate id, printed by `darkroom approve`.
  const cli = await runCliProcess(['approve', shared.review.workflowId, 'r9\u001b]0;pwned\u0007-c99', '--reviewer', '\u202emallory'], cliEnv, cwd, GUARD_MS);
  ledger.record(C.updates, 'darkroom-approve-hostile-id', cliProblems(cli, { code: 1 }));
});

describe('updates with bad payloads: refused by the validator, never accepted into history', () => {
  beforeAll(() => updateRuns(), DOOR_MS);
  it.each([...updates.map((c) => c.id), 'darkroom-approve-hostile-id'])('%s', (id) => {
    expect(ledger.get(C.updates, id)).toEqual([]);
  });
});

// ── door: the reviewer HTTP API ──────────────────────────────────────────────────────────────

function reviewerRequest(c: ReviewerRequestCase, ctx: { port: number; brief: string; key: string }): Buffer {
  const fill = (s: string) => s.split('{briefRaw}').join(ctx.brief).split('{brief}').join(encodeURIComponent(ctx.brief)).split('{key}').join(ctx.key);
  const target = fill(String(expand(c.path)));
  const body = c.bodyText !== undefined ? Buffer.from(fill(String(expand(c.bodyText)))) : c.body !== undefined ? Buffer.from(toJsonText(expand(c.body))) : undefined;
  const head = [`${c.method} ${target} HTTP/1.1`, `Host: 127.0.0.1:${ctx.port}`, 'Connection: close'];
  for (const a of c.auth ?? []) {
    if (a === 'token') head.push(`Authorization: Bearer ${TOKEN}`);
    if (a === 'csrf') head.push('X-Darkroom: 1');
    if (a === 'json') head.push('Content-Type: application/json');
    if (a === 'cookie-raw-token') head.push(`Cookie: darkroom_review=${TOKEN}`);
  }
  head.push(...(c.headers ?? []));
  const hasLength = head.some((h) => /^(content-length|transfer-encoding):/i.test(h));
  if (body && !hasLength) head.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), body ?? Buffer.alloc(0)]);
}

const reviewerRuns = once('reviewerRuns', async () => {
  const shared = await sharedBriefs();
  // After the updates, which aim at the same brief: requests are not to race them.
  await updateRuns().catch(() => undefined);
  const h = shared.review;
  const status = await h.query(statusQuery);
  const server: ReviewServer = await startReviewServer({ client, blobs: new FsBlobStore(path.join(dataDir, 'blobs')), token: TOKEN, port: 0, taskQueue });
  try {
    const port = Number(new URL(server.url).port);
    const ctx = { port, brief: h.workflowId, key: status.review!.candidates[0]!.key };
    await pool(reviewerRequests, 6, async (c) => {
      const r = await rawHttp(port, reviewerRequest(c, ctx), GUARD_MS);
      const p: string[] = [];
      if (r.timedOut) p.push(`no answer within ${GUARD_MS / 1000} s`);
      else if (r.status === undefined) p.push(`no HTTP answer (${r.error ?? 'connection closed'})`);
      else if (r.status < 400 || r.status > 499) p.push(`HTTP ${r.status}, not a 4xx: ${clip(r.body.toString('utf8'), 200)}`);
      else if (r.status !== c.status) p.push(`HTTP ${r.status}, not ${c.status}`);
      if (r.body.length > HTTP_BODY_MAX) p.push(`the body is ${r.body.length} bytes (at most ${HTTP_BODY_MAX})`);
      const ctl = rawControls(r.body.toString('utf8'));
      if (ctl) p.push(`raw control character in the body: ${ctl}`);
      if (c.noHeader && r.headers.some(([k, v]) => k === c.noHeader && (k !== 'set-cookie' || /evil/.test(v)))) p.push(`the response carries an injected ${c.noHeader} header`);
      if (keyLeaks(r.body.toString('utf8')).length) p.push('a vendor key is in the body');
      ledger.record(C.reviewer, c.id, p);
    });
  } finally {
    await server.close();
  }
  // None of it moved the brief.
  const after = await h.query(statusQuery).catch(() => undefined);
  const facts = await historyFacts(client, h.workflowId);
  const moved = !after?.review?.awaiting ? `the brief stopped waiting (stage ${after?.stage})` : after.review.decisions.length ? 'a decision was taken' : facts.updatesAccepted.length ? 'an update was accepted' : undefined;
  ledger.record(C.reviewer, 'the-brief-did-not-move', moved ? [moved] : []);
});

describe('the reviewer HTTP API: a 4xx for every bad request, never a 500 or a hang, the brief unmoved', () => {
  beforeAll(() => reviewerRuns(), DOOR_MS);
  it.each([...reviewerRequests.map((c) => c.id), 'the-brief-did-not-move'])('%s', (id) => {
    expect(ledger.get(C.reviewer, id)).toEqual([]);
  });
});

// ── door: vendors that misbehave ─────────────────────────────────────────────────────────────

const PROVIDER_TYPES = new Set<string>([
  Failure.ContentPolicy, Failure.Authentication, Failure.InvalidRequest, Failure.RateLimited, Failure.ProviderUnavailable, Failure.ProvidersDown,
  Failure.AllCandidatesRejected,
  // A vendor answer over the adapters' read cap (activities/providers/errors.ts, ResponseTooLargeError).
  'ResponseTooLarge',
]);

const vendorRuns = once('vendorRuns', async () => {
  await workerReady();
  await pool(vendors, 12, async (c) => {
    const workflowId = `bad-vendor-${c.id}-${suffix}`;
    const brief = validBrief({ subject: `a ceramic teapot on a linen cloth ${vendorTag(c.id)}`, model: c.model });
    const handle = track(await client.workflow.start('briefWorkflow', { args: [brief], taskQueue, workflowId }));
    const p: string[] = [];
    const r = await settle(handle.result(), VENDOR_WITHIN_MS);
    if ('timedOut' in r) {
      p.push(`still running after ${VENDOR_WITHIN_MS / 1000} s`);
      await terminateQuietly(handle, 'still running');
    } else if (r.ok) {
      if (!c.mayComplete) p.push('completed although its vendor never delivered');
    } else {
      const chain = failureChain(r.error);
      const types = chain.map((l) => l.type).filter((t): t is string => Boolean(t));
      if (!types.some((t) => c.types.includes(t))) {
        p.push(`failed with ${chain.map((l) => `${l.type ?? l.name}: ${clip(l.message, 120)}`).join(' ← ')}, no ${c.types.join('/')}`);
      } else if (!types.every((t) => PROVIDER_TYPES.has(t))) p.push(`unexpected failure types ${types.join(', ')}`);
      const long = chain.filter((l) => l.message.length > FAILURE_MESSAGE_MAX);
      if (long.length) p.push(`a failure message is ${Math.max(...long.map((l) => l.message.length))} characters (at most ${FAILURE_MESSAGE_MAX})`);
      const leaks = keyLeaks(chain.map((l) => l.message).join('\n'));
      if (leaks.length) p.push(`the failure names the ${leaks.join(', ')} key`);
    }
    if (hostile!.hits(c.id) === 0) p.push('the hostile vendor was never called (the brief did not reach it)');
    const facts = await historyFacts(client, workflowId);
    if (facts.workflowTaskFailures.length) p.push(`workflow task failure: ${facts.workflowTaskFailures[0]}`);
    if (c.oneAttempt) p.push(...retryProblems(facts).filter((x) => x.startsWith('retried')));
    const leaks = keyLeaks(facts.text);
    if (leaks.length) p.push(`its history holds the ${leaks.join(', ')} key`);
    ledger.record(C.vendors, c.id, p);
  });
});

describe('vendors that misbehave: a bounded provider failure or a fallback, never a key in history', () => {
  beforeAll(() => vendorRuns(), DOOR_MS);
  it.each(vendors.map((c) => [c.id, c] as const))('%s', (id) => {
    expect(ledger.get(C.vendors, id)).toEqual([]);
  });
});

// ── after the whole corpus ───────────────────────────────────────────────────────────────────

describe('after the whole corpus', () => {
  beforeAll(async () => {
    // Every door has finished (whatever it found) before the invariants are read.
    await Promise.allSettled([
      cliBriefRuns(), briefFileRuns(), rawRuns(), temporalCliRuns(), idRuns(), catalogRuns(), feedDryRuns(), feedRealRuns(), signalRuns(), updateRuns(),
      reviewerRuns(), vendorRuns(),
    ]);
  }, 2 * DOOR_MS);

  it('the briefs the updates and reviewer requests aimed at still complete on valid decisions', async () => {
    const p: string[] = [];
    const shared = await sharedBriefs();
    const review = await settle(shared.review.executeUpdate('review', { args: [{ action: 'approve', candidateIds: [shared.valid.review], reviewer: 'bad-input' }] }), GUARD_MS);
    if (!('ok' in review) || !review.ok) p.push(`review brief: a valid approve was not taken: ${'error' in review ? clip((review.error as Error).message, 200) : 'timed out'}`);
    const raise = await settle(shared.budget.executeUpdate('raiseBudget', { args: [{ budgetUsd: 5, reviewer: 'bad-input' }] }), GUARD_MS);
    if (!('ok' in raise) || !raise.ok) p.push(`budget brief: a valid raise was not taken: ${'error' in raise ? clip((raise.error as Error).message, 200) : 'timed out'}`);
    else {
      let s: BriefStatus | undefined;
      for (const until = Date.now() + 2 * GUARD_MS; Date.now() < until && !s?.review?.awaiting;) {
        s = await shared.budget.query(statusQuery).catch(() => undefined);
        if (!s?.review?.awaiting) await new Promise((r) => setTimeout(r, 200));
      }
      if (!s?.review?.awaiting) p.push(`budget brief: never reached review after the raise (stage ${s?.stage})`);
      else await shared.budget.executeUpdate('review', { args: [{ action: 'approve', candidateIds: [s.review.reviewable[0]!], reviewer: 'bad-input' }] });
    }
    for (const h of [shared.review, shared.budget]) {
      const r = await settle(h.result(), 2 * GUARD_MS);
      if (!('ok' in r) || !r.ok) p.push(`${h.workflowId} did not complete: ${'error' in r ? clip((r.error as Error).message, 200) : 'timed out'}`);
    }
    ledger.record(C.whole, 'shared-briefs-complete', p);
    expect(p).toEqual([]);
  }, 4 * GUARD_MS + 60_000);

  it('the worker survived every case and still serves a brief', async () => {
    const p: string[] = [];
    if (!worker!.alive()) p.push(`the worker process died:\n${worker!.logs().slice(-2000)}`);
    else {
      const h = track(await client.workflow.start('briefWorkflow', { args: [validBrief({ subject: 'a glass bottle of olive oil after the corpus' })], taskQueue, workflowId: `bad-final-${suffix}` }));
      const r = await settle(h.result(), 2 * GUARD_MS);
      if (!('ok' in r) || !r.ok || (r.value as Manifest).outcome !== 'published') p.push(`a valid brief did not publish: ${'error' in r ? (r.error as Error).message : 'timed out'}`);
    }
    ledger.record(C.whole, 'worker-alive-and-serving', p);
    expect(p).toEqual([]);
  }, 3 * GUARD_MS);

  it(`the worker's peak RSS stayed under ${WORKER_PEAK_RSS_MAX_KB / 1024} MiB`, () => {
    const kb = worker!.peakRssKb();
    const p = kb === undefined ? ['cannot read the worker’s VmHWM'] : kb > WORKER_PEAK_RSS_MAX_KB ? [`peak RSS ${Math.round(kb / 1024)} MiB`] : [];
    ledger.record(C.whole, 'worker-rss-bounded', p);
    expect(p).toEqual([]);
  });

  it('no vendor key in the worker’s logs or in anything a CLI printed', () => {
    const p: string[] = [];
    const logs = keyLeaks(worker!.logs());
    if (logs.length) p.push(`the worker's logs hold the ${logs.join(', ')} key: ${clip(worker!.logs().split('\n').find((l) => keyLeaks(l).length) ?? '', 300)}`);
    const cli = keyLeaks(outputs.join('\n'));
    if (cli.length) p.push(`CLI output holds the ${cli.join(', ')} key`);
    ledger.record(C.whole, 'no-key-in-logs', p);
    expect(p).toEqual([]);
  });

  it('nothing was written outside the data dir, nor outside its blob store', () => {
    const p = [
      ...snapshotDiff(snapshotBefore, snapshotTree(parent, [dataDir])).map((d) => `beside the data dir: ${d}`),
      ...snapshotDiff(dataTopBefore, snapshotTree(dataDir, [path.join(dataDir, 'blobs')])).map((d) => `in the data dir, outside blobs/: ${d}`),
    ];
    // The traversal cases aim at a file named bad-input-escape a few levels above the blob store:
    // anywhere in this run's folder (but inside blobs/, where an escaped key may hold the words) or in the temp dir.
    const runDir = path.dirname(inject('testDataDir'));
    const escaped = [
      ...[...snapshotTree(runDir, [path.join(dataDir, 'blobs')]).keys()].map((k) => path.join(runDir, k)),
      ...readdirSync(os.tmpdir()).map((k) => path.join(os.tmpdir(), k)),
    ].filter((k) => path.basename(k).includes('bad-input-escape'));
    if (escaped.length) p.push(`a traversal wrote ${escaped[0]}`);
    ledger.record(C.whole, 'no-file-outside-data-dir', p);
    expect(p).toEqual([]);
  });

  it('no workflow the corpus started is left running', async () => {
    const running: string[] = [];
    await pool(started, 16, async ({ workflowId }) => {
      const d = await client.workflow.getHandle(workflowId).describe().catch(() => undefined);
      if (d?.status.name === 'RUNNING') running.push(workflowId);
    });
    // Catalog rows are children the suite never named: ask visibility (it trails by a moment).
    let open: string[] = [];
    for (let i = 0; i < 30; i++) {
      open = [];
      for await (const w of client.workflow.list({ query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'` })) open.push(w.workflowId);
      if (open.length === 0) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const p = [...new Set([...running, ...open])].map((id) => `still running: ${clip(id, 120)}`);
    ledger.record(C.whole, 'nothing-left-running', p);
    expect(p).toEqual([]);
  }, 2 * GUARD_MS);
});
