/**
 * The bad-input corpus: JSON files beside this one, one per door, each case with the outcome
 * it must get. Values too large to commit (a 1.9 MB subject, 100,000 channels, JSON nested
 * 5,000 deep) are written as small generators that {@link expand} builds at run time:
 *
 *   {"$repeat": "ab", "times": 3}                → "ababab"
 *   {"$concat": ["x", {"$repeat": ...}]}          → the strings joined
 *   {"$array": <value>, "times": 3}               → [value, value, value]
 *   {"$arrayOf": "id-{i}", "times": 3}            → ["id-0", "id-1", "id-2"]
 *   {"$nest": 3, "leaf": 1}                       → [[[1]]]
 *   {"$nestObject": 2, "key": "a", "leaf": 1}     → {"a": {"a": 1}}
 *   {"$key": "__proto__", "value": <value>}       → an object whose own key is "__proto__"
 *
 * Files are read with JSON.parse (not a module import), so keys such as `__proto__` stay
 * ordinary own properties, as they would arrive from a user's file or a client's payload.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const CORPUS_DIR = path.dirname(fileURLToPath(import.meta.url));

/** A corpus file, parsed. */
export function loadCorpus<T>(name: string): T {
  return JSON.parse(readFileSync(path.join(CORPUS_DIR, name), 'utf8')) as T;
}

/** Builds the value a corpus entry describes (see the module comment). */
export function expand(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(expand);
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  if ('$repeat' in o) return String(o.$repeat).repeat(Number(o.times));
  if ('$concat' in o) return (o.$concat as unknown[]).map((p) => String(expand(p))).join('');
  if ('$array' in o) {
    const item = o.$array;
    return Array.from({ length: Number(o.times) }, () => expand(item));
  }
  if ('$arrayOf' in o) {
    const pattern = String(o.$arrayOf);
    return Array.from({ length: Number(o.times) }, (_, i) => pattern.replace('{i}', String(i).padStart(6, '0')));
  }
  if ('$nest' in o) {
    let out: unknown = expand(o.leaf ?? null);
    for (let i = 0; i < Number(o.$nest); i++) out = [out];
    return out;
  }
  if ('$nestObject' in o) {
    let out: unknown = expand(o.leaf ?? null);
    const key = String(o.key ?? 'a');
    for (let i = 0; i < Number(o.$nestObject); i++) out = { [key]: out };
    return out;
  }
  if ('$key' in o) {
    const out: Record<string, unknown> = {};
    Object.defineProperty(out, String(o.$key), { value: expand(o.value), enumerable: true, writable: true, configurable: true });
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) {
    // defineProperty, not assignment: a "__proto__" key must stay a key.
    Object.defineProperty(out, k, { value: expand(x), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** `base` with `set` laid over it (own keys, `__proto__` included) and `omit` taken out. */
export function overlay(base: Record<string, unknown>, set: unknown, omit: readonly string[] = []): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const put = (k: string, x: unknown) => Object.defineProperty(out, k, { value: x, enumerable: true, writable: true, configurable: true });
  for (const [k, x] of Object.entries(base)) put(k, x);
  if (set && typeof set === 'object') for (const [k, x] of Object.entries(set)) put(k, x);
  for (const k of omit) delete out[k];
  return out;
}

/** A deterministic byte string for "binary garbage" cases (xorshift, so every run sends the same bytes). */
export function garbageBytes(n: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

// ── corpus entry shapes ──────────────────────────────────────────────────────────────────────

/** briefs.json: bad briefs, for the CLI and for raw workflow starts. */
export interface BriefCase {
  id: string;
  /** Laid over the corpus's valid base brief. */
  set?: unknown;
  omit?: string[];
  /** The whole input instead (non-objects, empty objects). */
  input?: unknown;
  /** Text the error must contain: the field it names. */
  field: string;
  /** Doors that take this case. @default ["cli", "raw"] */
  doors?: Array<'cli' | 'raw' | 'temporal-cli'>;
  /** Through a spawned `darkroom` process rather than the in-process CLI (huge output, terminal control). */
  spawn?: boolean;
  /** `run` rather than `start`. */
  command?: 'run' | 'start';
  note?: string;
}

/** brief-files.json: files that are not briefs at all, through a spawned `darkroom start`. */
export interface BriefFileCase {
  id: string;
  file:
    | { json: unknown }
    | { text: unknown }
    | { bom: 'utf8'; json: unknown }
    | { utf16le: string }
    | { garbage: number }
    | { special: 'fifo' | 'dev-zero' | 'directory' | 'missing' }
    | { padBytes: number; json: unknown };
  /** Pattern (case-insensitive) stderr must match. */
  mention: string;
  note?: string;
}

export interface WorkflowIdCase {
  id: string;
  /** Every id here must fail the brief at once with this failure type, naming the workflow id. */
  outcome: 'InvalidWorkflowId';
  /** `{catalog}` is replaced by a catalog id whose manifest exists before the case runs. */
  workflowId: string | { $repeat: string; times: number };
  note?: string;
}

export interface CatalogInputCase {
  id: string;
  /** `InvalidCatalog`: the workflow fails with it at once; `refused-at-door`: the SDK client cannot even send the input. */
  outcome: 'InvalidCatalog' | 'refused-at-door';
  /** `"{feedKey}"`, `"{template}"` and `"{catalogId}"` are replaced by a stored feed, a valid template and a fresh id. */
  input: unknown;
  /** Pattern the failure message must match: the field it names. */
  mention: string;
  /** Started with the `temporal` binary, which sends what the SDK client cannot encode. */
  viaTemporalCli?: boolean;
}

export interface FeedCase {
  id: string;
  /** A file in feeds/, or one built from `generate`. */
  file?: string;
  generate?: { text: unknown } | { garbage: number } | { special: 'fifo' | 'dev-zero' };
  /** The name the feed is given (its extension decides CSV or JSON lines). */
  name: string;
  /** `unusable`: exit 2 naming the problem; `rows`: exit 0 with the per-line outcomes in `lines`; `either`: 0 or 2. */
  outcome: 'unusable' | 'rows' | 'either';
  mention?: string;
  /** Line → `error` (reported with its line number), `runs` (no error on it). */
  lines?: Record<string, 'error' | 'runs'>;
  /** Also start it for real through `darkroom catalog start`, and check the rows and the report. */
  run?: 'cli' | 'raw';
  spawn?: boolean;
}

export interface MessageCase {
  id: string;
  /**
   * What must happen. Signals: `ignored` (delivered, recorded in status as ignored, the brief
   * unmoved) or `refused-at-door` (over the server's payload limit: the server refuses it).
   * Updates: `refused` (the validator says why, matching `mention`; nothing in history),
   * `dropped-by-server` (over the server's 512 KiB payload limit, which the frontend does not
   * check for updates: the worker's answer carries the request back, the server drops the update
   * with FAILED_PRECONDITION, and nothing is left in history) or `refused-at-door` (over gRPC's
   * 4 MB message limit: RESOURCE_EXHAUSTED).
   */
  outcome: 'ignored' | 'refused' | 'dropped-by-server' | 'refused-at-door';
  /** Signal or update name. */
  name: string;
  /** The payload (expanded); `{valid}` stands for a candidate id the brief can take. */
  payload: unknown;
  /** How many times to send it. @default 1 */
  times?: number;
  /** Through the `temporal` CLI binary rather than the SDK client. */
  viaTemporalCli?: boolean;
  /** Pattern (case-insensitive) a `refused` update's reason must match. */
  mention?: string;
  /** Which brief: `review` (awaiting review) or `budget` (awaiting a budget raise). @default review */
  target?: 'review' | 'budget';
  note?: string;
}

export interface ReviewerRequestCase {
  id: string;
  method: string;
  /** Raw request target; `{brief}` is the awaiting brief's workflow id (URL-encoded), `{key}` one of its candidate blob keys. */
  path: string | { $concat: unknown[] };
  /** `token`: the right bearer; `csrf`: X-Darkroom: 1; `json`: Content-Type JSON. */
  auth?: Array<'token' | 'csrf' | 'json' | 'cookie-raw-token'>;
  /** Raw header lines, sent as written (CR and LF included). */
  headers?: string[];
  body?: unknown;
  bodyText?: unknown;
  /** The status it must get (a 4xx: never a 500, never a hang). */
  status: number;
  /** A header the response must not carry (header injection). */
  noHeader?: string;
}

export interface VendorCase {
  id: string;
  vendor: 'openai' | 'gemini' | 'replicate';
  /** The brief's model. */
  model: string;
  /** Which call is hostile: image generation or the judge's chat completion. @default image */
  endpoint?: 'image' | 'chat';
  response?: { status: number; headers?: Record<string, string>; body?: unknown; bodyText?: unknown };
  /** Replicate: a succeeded prediction whose output is this (`endless` = a download that never ends). */
  replicateOutput?: string;
  /** Failure types (anywhere in the cause chain) that count as handled. */
  types: string[];
  /** The brief may also complete (the judge or alt text fell back). */
  mayComplete?: boolean;
  /** A non-retryable failure: no activity may run twice. */
  oneAttempt?: boolean;
}

/**
 * JSON text of `value`, built without recursion: V8's JSON.stringify gives up (RangeError)
 * somewhere past 4,000 levels, and the corpus nests deeper than that on purpose.
 */
export function toJsonText(value: unknown): string {
  const out: string[] = [];
  const stack: Array<{ v: unknown } | { raw: string }> = [{ v: value }];
  while (stack.length) {
    const w = stack.pop()!;
    if ('raw' in w) {
      out.push(w.raw);
      continue;
    }
    const v = w.v;
    if (Array.isArray(v)) {
      out.push('[');
      stack.push({ raw: ']' });
      for (let i = v.length - 1; i >= 0; i--) {
        stack.push({ v: v[i] });
        if (i > 0) stack.push({ raw: ',' });
      }
    } else if (v !== null && typeof v === 'object') {
      out.push('{');
      stack.push({ raw: '}' });
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i--) {
        stack.push({ v: entries[i]![1] });
        stack.push({ raw: `${JSON.stringify(entries[i]![0])}:` });
        if (i > 0) stack.push({ raw: ',' });
      }
    } else {
      out.push(JSON.stringify(v) ?? 'null');
    }
  }
  return out.join('');
}

/**
 * `v` with every string equal to a key of `fills` replaced by its value. Placeholders sit near
 * the top of a case; below 64 levels (the 5,000-deep cases) the value is kept as it is, so this
 * never recurses as deep as the hostile value.
 */
export function fillPlaceholders(v: unknown, fills: Record<string, unknown>, depth = 0): unknown {
  if (typeof v === 'string') return Object.hasOwn(fills, v) ? fills[v] : v;
  if (v === null || typeof v !== 'object' || depth >= 64) return v;
  if (Array.isArray(v)) return v.map((x) => fillPlaceholders(x, fills, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    Object.defineProperty(out, k, { value: fillPlaceholders(x, fills, depth + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}
