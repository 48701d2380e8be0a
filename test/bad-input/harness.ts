/**
 * What the bad-input suite needs around the real doors: a worker in its own process (its logs
 * and peak RSS readable), the CLI in-process and as a process, raw HTTP, workflow histories
 * boiled down to the facts the suite asserts, directory snapshots, and the verdict ledger the
 * closing table is printed from.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { main } from '../../client/cli';
import { CONTROL_CHARS } from '../../domain/text';
import { activityAttempts } from '../support/history';

/** tsx's loader by absolute URL: the children run in a scratch directory, where `--import tsx` would not resolve. */
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

// ── keys ─────────────────────────────────────────────────────────────────────────────────────

/** The fake vendor keys the worker holds. None may appear in a history, a log or any output. */
export const KEYS = {
  openai: 'sk-test-SECRET-openai-4f1d9b7c2e81',
  gemini: 'sk-test-SECRET-gemini-8a3e6d0b5f92',
  replicate: 'sk-test-SECRET-replicate-2c7f9e1a4d63',
} as const;

/** Which keys (or their distinctive tails, should a scrubber cut the front off) `text` holds. */
export function keyLeaks(text: string): string[] {
  const found: string[] = [];
  for (const [name, key] of Object.entries(KEYS)) {
    if (text.includes(key) || text.includes(key.slice(-16))) found.push(name);
  }
  return found;
}

/** Raw C0/C1 controls, DEL and bidi overrides (tab and newline allowed): what may not reach a terminal. */
export function rawControls(text: string): string | undefined {
  const m = CONTROL_CHARS.exec(text);
  return m ? `\\u${m[0].charCodeAt(0).toString(16).padStart(4, '0')} at ${m.index}` : undefined;
}

/** A raw stack trace or a raw RangeError in CLI output. */
export function rawStack(text: string): boolean {
  return /RangeError|TypeError|\n\s+at [\w.<>]+ \(|\n\s+at (file|node):/.test(text);
}

// ── waiting ──────────────────────────────────────────────────────────────────────────────────

export type Settled<T> = { ok: true; value: T; ms: number } | { ok: false; error: unknown; ms: number } | { timedOut: true; ms: number };

/** `p` settled, or a timeout after `ms`; never throws. */
export async function settle<T>(p: Promise<T>, ms: number): Promise<Settled<T>> {
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Settled<T>>((resolve) => {
    timer = setTimeout(() => resolve({ timedOut: true, ms: Date.now() - t0 }), ms);
  });
  try {
    return await Promise.race([
      p.then((value) => ({ ok: true as const, value, ms: Date.now() - t0 }), (error: unknown) => ({ ok: false as const, error, ms: Date.now() - t0 })),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `fn` over `items`, `n` at a time, keeping order. */
export async function pool<T, R>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  }));
  return out;
}

// ── failures ─────────────────────────────────────────────────────────────────────────────────

export interface FailureLink {
  name: string;
  type?: string;
  message: string;
}

/** An error and its causes, outermost first (WorkflowFailedError → ActivityFailure → ApplicationFailure …). */
export function failureChain(err: unknown): FailureLink[] {
  const out: FailureLink[] = [];
  let e = err as { name?: string; type?: string | null; message?: string; cause?: unknown } | undefined;
  for (let i = 0; e && i < 20; i++) {
    out.push({ name: String(e.name ?? 'Error'), type: e.type ?? undefined, message: String(e.message ?? '') });
    e = e.cause as typeof e;
  }
  return out;
}

// ── histories ────────────────────────────────────────────────────────────────────────────────

/** JSON of a history with every payload's bytes shown as text, so a key in a payload is findable. */
export function decodedJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
    if (v && typeof v === 'object' && (v as { type?: unknown }).type === 'Buffer' && Array.isArray((v as { data?: unknown }).data)) {
      return Buffer.from((v as { data: number[] }).data).toString('utf8');
    }
    return v;
  });
}

export interface HistoryFacts {
  /** Every attempt the history records, of activities and local activities. */
  attempts: Array<{ activity: string; attempt: number; lastFailure?: string }>;
  /** Attempts of activities still pending (running workflows). */
  pendingAttempts: Array<{ activity: string; attempt: number; lastFailure?: string }>;
  workflowTaskFailures: string[];
  updatesAccepted: string[];
  status: string;
  text: string;
  events: number;
  /** From the first workflow task's start to the close event (closed workflows): how long the run itself took. */
  taskToCloseMs?: number;
}

/** What a workflow's history says about retries, task failures and accepted updates. */
export async function historyFacts(client: Client, workflowId: string, runId?: string): Promise<HistoryFacts> {
  const handle = client.workflow.getHandle(workflowId, runId);
  const [history, description] = await Promise.all([handle.fetchHistory(), handle.describe()]);
  const facts: HistoryFacts = { attempts: [], pendingAttempts: [], workflowTaskFailures: [], updatesAccepted: [], status: description.status.name, text: '', events: 0 };
  const ms = (t: { seconds?: { toString(): string } | null; nanos?: number | null } | null | undefined) =>
    t ? Number(String(t.seconds ?? 0)) * 1000 + Math.round((t.nanos ?? 0) / 1e6) : undefined;
  let firstTaskAt: number | undefined;
  let closedAt: number | undefined;
  for (const e of history.events ?? []) {
    facts.events++;
    if (e.workflowTaskStartedEventAttributes && firstTaskAt === undefined) firstTaskAt = ms(e.eventTime);
    if (e.workflowExecutionFailedEventAttributes || e.workflowExecutionCompletedEventAttributes) closedAt = ms(e.eventTime);
    const wf = e.workflowTaskFailedEventAttributes;
    if (wf) facts.workflowTaskFailures.push(`${String(wf.cause)}: ${(wf.failure?.message ?? '').slice(0, 300)}`);
    const ua = e.workflowExecutionUpdateAcceptedEventAttributes;
    if (ua) facts.updatesAccepted.push(ua.acceptedRequest?.meta?.updateId ?? '?');
  }
  facts.attempts = activityAttempts(history.events ?? []);
  for (const p of description.raw.pendingActivities ?? []) facts.pendingAttempts.push({ activity: p.activityType?.name ?? '?', attempt: p.attempt ?? 1, lastFailure: p.lastFailure?.message ?? undefined });
  facts.text = decodedJson(history);
  if (firstTaskAt !== undefined && closedAt !== undefined) facts.taskToCloseMs = closedAt - firstTaskAt;
  return facts;
}

/** Problems an input error's history may not show: retries, workflow task failures. */
export function retryProblems(f: HistoryFacts): string[] {
  const out: string[] = [];
  const retried = [...f.attempts, ...f.pendingAttempts].filter((a) => a.attempt > 1);
  if (retried.length) {
    out.push(`retried: ${retried.map((a) => `${a.activity} attempt ${a.attempt}${a.lastFailure ? ` (after: ${a.lastFailure.slice(0, 160)})` : ''}`).join(', ')}`);
  }
  if (f.workflowTaskFailures.length) out.push(`${f.workflowTaskFailures.length} workflow task failure(s): ${f.workflowTaskFailures[0]}`);
  return out;
}

/** Terminates a workflow the suite started and left running (a failed case); never throws. */
export async function terminateQuietly(handle: WorkflowHandle, why: string): Promise<void> {
  await handle.terminate(`bad-input suite: ${why}`).catch(() => undefined);
}

// ── the CLI ──────────────────────────────────────────────────────────────────────────────────

export interface CliRun {
  code: number | null;
  out: string;
  err: string;
  ms: number;
  timedOut: boolean;
  /** What main() threw (in-process); the process printed it to stderr itself. */
  thrown?: string;
}

/** `darkroom <argv>` in this process, as test/client tests run it. */
export async function runCli(argv: string[], env: Record<string, string>, timeoutMs = 15_000): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const r = await settle(main(argv, env, { out: (s) => out.push(s), err: (s) => err.push(s) }), timeoutMs);
  const base = { out: out.join('\n'), err: err.join('\n'), ms: r.ms };
  if ('timedOut' in r) return { ...base, code: null, timedOut: true };
  if (!r.ok) {
    // main.ts prints what main() throws with console.error: a raw stack is what a user would see.
    const e = r.error as Error;
    return { ...base, err: `${base.err}\n${e?.stack ?? String(e)}`, code: 1, timedOut: false, thrown: e?.name };
  }
  return { ...base, code: r.value, timedOut: false };
}

/** `darkroom <argv>` as its own process (bin/darkroom.js's entry, client/main.ts), killed after `timeoutMs`. */
export function runCliProcess(argv: string[], env: Record<string, string>, cwd: string, timeoutMs = 15_000): Promise<CliRun> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', TSX, path.resolve('client/main.ts'), ...argv], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    // Keep at most 4 MB of each: a CLI that echoes a 50 MB value back is caught by its size anyway.
    child.stdout.on('data', (c: Buffer) => {
      outBytes += c.length;
      if (outBytes <= 4 << 20) out.push(c);
    });
    child.stderr.on('data', (c: Buffer) => {
      errBytes += c.length;
      if (errBytes <= 4 << 20) err.push(c);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const text = (bufs: Buffer[], n: number) => Buffer.concat(bufs).toString('utf8') + (n > 4 << 20 ? `\n… (${n} bytes in all)` : '');
      resolve({ code: timedOut ? null : code, out: text(out, outBytes), err: text(err, errBytes), ms: Date.now() - t0, timedOut });
    });
  });
}

// ── the worker ───────────────────────────────────────────────────────────────────────────────

export interface WorkerProcess {
  pid: number;
  /** Resolves when the worker polls; rejects if it exits first. */
  ready: Promise<void>;
  alive(): boolean;
  /** Everything it printed, stdout and stderr. */
  logs(): string;
  /** Peak resident set (VmHWM) in KiB, from /proc. */
  peakRssKb(): number | undefined;
  stop(): Promise<number | null>;
}

/** The production worker (`npm run worker`: workers/main.ts) as a child process. */
export function spawnWorker(env: Record<string, string>, cwd: string): WorkerProcess {
  const child = spawn(process.execPath, ['--import', TSX, path.resolve('workers/main.ts')], {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const chunks: string[] = [];
  let size = 0;
  const keep = (c: Buffer) => {
    // Bounded, so a worker that logs a 3 MB vendor body many times does not fill this process.
    size += c.length;
    if (size < 64 << 20) chunks.push(c.toString('utf8'));
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  let exited = false;
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => {
    exited = true;
    resolve(code);
  }));
  const ready = new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (chunks.join('').includes('darkroom worker: polling')) {
        clearInterval(check);
        resolve();
      }
    }, 100);
    void exit.then((code) => {
      clearInterval(check);
      reject(new Error(`the worker exited (${code}) before polling:\n${chunks.join('').slice(-4000)}`));
    });
  });
  ready.catch(() => undefined);
  return {
    pid: child.pid!,
    ready,
    alive: () => !exited,
    logs: () => chunks.join(''),
    peakRssKb() {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        return m ? Number(m[1]) : undefined;
      } catch {
        return undefined;
      }
    },
    async stop() {
      if (exited) return child.exitCode;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exit;
      clearTimeout(t);
      return code;
    },
  };
}

// ── files ────────────────────────────────────────────────────────────────────────────────────

/** Every path under `root` (but not under `exclude`d folders) with its type and size: what a stray write would change. */
export function snapshotTree(root: string, exclude: readonly string[] = []): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return; // removed while walking (another test file's scratch folder)
    }
    for (const name of names) {
      const p = path.join(dir, name);
      if (exclude.includes(p)) continue;
      const st = lstatSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      const kind = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'link' : st.isFIFO() ? 'fifo' : 'other';
      out.set(path.relative(root, p), `${kind}:${st.isFile() ? st.size : ''}:${st.isFile() ? st.mtimeMs : ''}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out;
}

/** What changed between two snapshots, as readable lines. */
export function snapshotDiff(before: Map<string, string>, after: Map<string, string>): string[] {
  const out: string[] = [];
  for (const [p, v] of after) {
    if (!before.has(p)) out.push(`created ${p}`);
    else if (before.get(p) !== v) out.push(`changed ${p}`);
  }
  for (const p of before.keys()) if (!after.has(p)) out.push(`removed ${p}`);
  return out;
}

// ── raw HTTP ─────────────────────────────────────────────────────────────────────────────────

export interface RawResponse {
  status?: number;
  headers: Array<[string, string]>;
  body: Buffer;
  timedOut: boolean;
  error?: string;
}

/**
 * Sends `request` byte for byte (CR, LF, bad encodings and all, which node's client would
 * refuse to send) and reads one response; the connection is closed by either side after it.
 */
export function rawHttp(port: number, request: Buffer, timeoutMs = 10_000): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (extra: { timedOut?: boolean; error?: string } = {}) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ ...parseResponse(Buffer.concat(chunks)), timedOut: extra.timedOut ?? false, error: extra.error });
    };
    const timer = setTimeout(() => finish({ timedOut: true }), timeoutMs);
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      const parsed = parseResponse(Buffer.concat(chunks));
      if (parsed.complete) finish();
    });
    socket.on('end', () => finish());
    // A server that answers early (413) and closes may reset the rest of a large upload: the answer already read counts.
    socket.on('error', (e) => finish({ error: e.message }));
    socket.write(request);
  });
}

function parseResponse(buf: Buffer): { status?: number; headers: Array<[string, string]>; body: Buffer; complete: boolean } {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return { headers: [], body: Buffer.alloc(0), complete: false };
  const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '')?.[1]) || undefined;
  const headers = lines.slice(1).map((l): [string, string] => {
    const i = l.indexOf(':');
    return [l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim()];
  });
  const body = buf.subarray(end + 4);
  const length = headers.find(([k]) => k === 'content-length')?.[1];
  const chunked = headers.some(([k, v]) => k === 'transfer-encoding' && /chunked/i.test(v));
  let complete = false;
  let out = body;
  if (length !== undefined) complete = body.length >= Number(length);
  else if (chunked) {
    complete = body.includes('\r\n0\r\n\r\n') || body.subarray(0, 5).toString() === '0\r\n\r\n';
    if (complete) out = dechunk(body);
  }
  return { status, headers, body: out, complete };
}

function dechunk(body: Buffer): Buffer {
  const parts: Buffer[] = [];
  let i = 0;
  while (i < body.length) {
    const eol = body.indexOf('\r\n', i);
    if (eol < 0) break;
    const size = parseInt(body.subarray(i, eol).toString(), 16);
    if (!size) break;
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    i = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

// ── verdicts ─────────────────────────────────────────────────────────────────────────────────

/**
 * One verdict per case: the problems found (none = handled). The suite's `it` for a case
 * asserts its verdict is empty, and the closing table counts them per class.
 */
export class Ledger {
  private readonly rows = new Map<string, Map<string, string[]>>();
  private readonly slowest = new Map<string, number>();

  /** Notes how long one case of `cls` took (the table shows the slowest). */
  time(cls: string, ms: number): void {
    this.slowest.set(cls, Math.max(ms, this.slowest.get(cls) ?? 0));
  }

  record(cls: string, id: string, problems: string[]): string[] {
    if (!this.rows.has(cls)) this.rows.set(cls, new Map());
    this.rows.get(cls)!.set(id, problems);
    return problems;
  }

  get(cls: string, id: string): string[] | undefined {
    return this.rows.get(cls)?.get(id);
  }

  /** The markdown table: class → tried → handled, and the cases not handled with their first problem. */
  table(): string {
    const lines = ['| class | tried | handled | slowest case |', '|---|---:|---:|---:|'];
    let tried = 0;
    let handled = 0;
    const failing: string[] = [];
    for (const [cls, cases] of this.rows) {
      const ok = [...cases.values()].filter((p) => p.length === 0).length;
      tried += cases.size;
      handled += ok;
      const slow = this.slowest.get(cls);
      lines.push(`| ${cls} | ${cases.size} | ${ok} | ${slow === undefined ? '' : `${(slow / 1000).toFixed(1)} s`} |`);
      for (const [id, p] of cases) if (p.length) failing.push(`- ${cls} / ${id}: ${p[0]!.replace(/\s+/g, ' ').slice(0, 240)}`);
    }
    lines.push(`| **total** | **${tried}** | **${handled}** | |`);
    return `${lines.join('\n')}\n${failing.length ? `\nNot handled yet:\n${failing.join('\n')}\n` : ''}`;
  }
}
