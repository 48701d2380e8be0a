import { clip } from '../../domain/text';
import { ProviderError } from './errors';

/*
 * Keeping a vendor's key out of everything that leaves an adapter: the spellings of a secret,
 * vendor text fit to repeat, scrubbed copies of vendor errors and data, and the one door
 * ({@link scrubbedCall}) every adapter call's results and errors leave by.
 */

/** Removes a vendor's secrets from a text; each vendor makes one from its key ({@link scrubSecret} and its key shapes). */
export type Redact = (text: string) => string;

/** How much of a vendor's own words (an error message, a refusal, a field) one of our messages repeats. */
export const VENDOR_TEXT_LIMIT = 400;

const MARK = '[redacted]';

/**
 * The parts of `bytes`' base64 encoding that do not depend on what comes before it, at each of
 * the three alignments it can take inside a longer base64 text (a Basic credential
 * `user:<key>`, a token wrapping the key). The edges, which mix with the neighbours, are left out.
 */
function base64Cores(bytes: Buffer): string[] {
  const out: string[] = [];
  for (const pad of [0, 1, 2]) {
    const buf = Buffer.concat([Buffer.alloc(pad), bytes]);
    const first = Math.ceil(pad / 3) * 4;
    const last = Math.floor(buf.length / 3) * 4;
    for (const encoding of ['base64', 'base64url'] as const) {
      const core = buf.toString(encoding).slice(first, last);
      if (core.length >= 8) out.push(core);
    }
  }
  return out;
}

const formsOf = new Map<string, readonly string[]>();

/**
 * The spellings of a secret that a vendor, a gateway or a URL might repeat: as is, URL-encoded
 * (either hex case), JSON-escaped, and base64 or base64url (whole, and the part that stays the
 * same at any offset inside a longer base64 text). Longest first, so a longer spelling is
 * replaced before a shorter one inside it.
 */
export function secretForms(secret: string): readonly string[] {
  const known = formsOf.get(secret);
  if (known) return known;
  const bytes = Buffer.from(secret, 'utf8');
  const url = encodeURIComponent(secret);
  const forms = new Set([
    secret,
    url,
    url.replace(/%[0-9A-F]{2}/g, (h) => h.toLowerCase()),
    JSON.stringify(secret).slice(1, -1),
    bytes.toString('base64'),
    bytes.toString('base64url'),
    ...base64Cores(bytes),
  ]);
  const sorted = [...forms].filter((f) => f.length >= 4).sort((a, b) => b.length - a.length);
  // A worker holds a handful of keys; the bound only guards against a caller that makes keys up.
  if (formsOf.size > 64) formsOf.clear();
  formsOf.set(secret, sorted);
  return sorted;
}

/**
 * `text` with every spelling of `secret` ({@link secretForms}) replaced by `[redacted]`. A
 * secret shorter than 4 characters is left alone: it would match all over ordinary text.
 */
export function scrubSecret(text: string, secret: string): string {
  if (secret.length < 4) return text;
  let out = text;
  for (const form of secretForms(secret)) if (out.includes(form)) out = out.split(form).join(MARK);
  return out;
}

/**
 * A vendor's {@link Redact}: every spelling of its key ({@link scrubSecret}), then anything shaped
 * like one of its keys (`shape`, a global pattern) replaced by `mask`, so someone else's key a
 * gateway repeats goes too.
 */
export function keyRedactor(secret: string, shape: RegExp, mask: string): Redact {
  return (text) => scrubSecret(text, secret).replace(shape, mask);
}

/**
 * V8's JSON.parse errors quote the text around the fault (`Unexpected token 'x', ..."ey": sk-pr"...
 * is not valid JSON`): a key cut in two by that excerpt escapes every redaction, so the excerpt goes.
 */
const JSON_EXCERPT = /, (?:\.\.\.)?".*?"(?:\.\.\.)? is not valid JSON/gs;

/** Longest secret the cut-off guard in {@link vendorText} allows for. */
const KEY_GUARD = 1024;

/**
 * Vendor text made fit to repeat: JSON parser excerpts dropped, secrets redacted, and clipped
 * to `max` characters with its full length said. A huge text is cut before it is scrubbed, and
 * then a guard's length more, so a key cut in two at the cut cannot survive as its first half.
 */
export function vendorText(text: string, redact: Redact, max: number = VENDOR_TEXT_LIMIT): string {
  const cut = text.length > max + KEY_GUARD;
  let clean = redact((cut ? text.slice(0, max + KEY_GUARD) : text).replace(JSON_EXCERPT, ' is not valid JSON'));
  if (!cut) return clip(clean, max);
  clean = clean.slice(0, Math.max(0, clean.length - KEY_GUARD));
  return `${clean.slice(0, max)}… (${text.length} chars)`;
}

/** How far a scrubbed copy of vendor data goes: enough to debug with, never the whole of a hostile answer. */
const COPY = { depth: 6, fields: 40, items: 20, nodes: 400, causes: 6, text: 1000, stack: 4000 };

/** Field and header names whose values are credentials whoever they belong to. */
const CREDENTIAL_NAME = /^(?:authorization|proxy-authorization|cookie|set-cookie|x-goog-api-key|x-api-key|api-key|apikey|api_key|access_token|refresh_token|client_secret|password)$/i;

/**
 * A vendor's (or its SDK's) error as it may leave an adapter: a copy whose name, message, stack,
 * every own field (a body, a code, headers) and cause chain are scrubbed and bounded. The original
 * is not kept: an SDK error can hold the key in places no rewrite reaches (a Headers object's
 * internals, getters, a non-Error cause that Temporal would serialise whole).
 */
export class VendorError extends Error {
  override name = 'VendorError';
}

function read(o: object, key: string): unknown {
  try {
    return (o as Record<string, unknown>)[key];
  } catch {
    return '[unreadable]';
  }
}

function define(o: object, key: string, value: unknown, enumerable = true): void {
  Object.defineProperty(o, key, { value, writable: true, configurable: true, enumerable });
}

function isErrorLike(v: unknown): boolean {
  if (v instanceof Error) return true;
  if (typeof v !== 'object' || v === null) return false;
  return Object.prototype.toString.call(v) === '[object Error]' || (typeof read(v, 'message') === 'string' && typeof read(v, 'stack') === 'string');
}

function isMapLike(v: object): v is { entries(): Iterable<[unknown, unknown]> } {
  return typeof read(v, 'entries') === 'function' && typeof read(v, 'get') === 'function' && typeof read(v, 'has') === 'function';
}

/** One scrubbing pass over an object graph: shares a node budget, and copies each object once (cycles included). */
class Scrubber {
  #nodes = 0;
  readonly #copies = new Map<object, unknown>();
  constructor(readonly redact: Redact) {}

  text(s: string, max: number = COPY.text): string {
    return vendorText(s, this.redact, max);
  }

  error(e: unknown, causes: number): Error {
    if (typeof e === 'object' && e !== null) {
      const done = this.#copies.get(e);
      if (done instanceof Error) return done;
    }
    if (typeof e !== 'object' || e === null || !isErrorLike(e)) return new VendorError(typeof e === 'string' ? this.text(e) : this.preview(e));
    const name = this.text(String(read(e, 'name') ?? 'Error'), 100);
    const copy = new VendorError(this.text(String(read(e, 'message') ?? '')));
    this.#copies.set(e, copy);
    copy.name = name;
    const stack = read(e, 'stack');
    copy.stack = typeof stack === 'string' ? this.text(stack, COPY.stack) : `${name}: ${copy.message}`;
    for (const key of Object.getOwnPropertyNames(e).slice(0, COPY.fields)) {
      if (key === 'name' || key === 'message' || key === 'stack' || key === 'cause') continue;
      define(copy, this.text(key, 100), CREDENTIAL_NAME.test(key) ? MARK : this.value(read(e, key), 1, causes));
    }
    const cause = read(e, 'cause');
    if (cause !== undefined) {
      define(copy, 'cause', causes < COPY.causes ? this.error(cause, causes + 1) : new VendorError('(the rest of the cause chain is left out)'), false);
    }
    return copy;
  }

  value(v: unknown, depth: number, causes: number): unknown {
    if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean') return v;
    if (typeof v === 'string') return this.text(v);
    if (typeof v === 'bigint') return String(v);
    if (typeof v !== 'object') return undefined; // functions and symbols say nothing about the failure
    if (++this.#nodes > COPY.nodes) return '[left out]';
    if (isErrorLike(v)) return this.error(v, causes + 1);
    if (this.#copies.has(v)) return '[circular]';
    if (depth > COPY.depth) return '[nested too deep]';
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return `[${v.byteLength} bytes]`;
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
    this.#copies.set(v, true);
    if (Array.isArray(v)) {
      const out = v.slice(0, COPY.items).map((x) => this.value(x, depth + 1, causes));
      if (v.length > COPY.items) out.push(`… (${v.length} items)`);
      return out;
    }
    const out: Record<string, unknown> = {};
    let fields = 0;
    const put = (key: string, x: unknown) => define(out, this.text(key, 100), CREDENTIAL_NAME.test(key) ? MARK : this.value(x, depth + 1, causes));
    if (isMapLike(v)) {
      // Headers and Maps keep their entries in internal slots, which a field walk would miss.
      for (const [key, x] of v.entries()) {
        if (++fields > COPY.fields) break;
        put(String(key), x);
      }
      return out;
    }
    const keys = Object.keys(v);
    for (const key of keys.slice(0, COPY.fields)) put(key, read(v, key));
    if (keys.length > COPY.fields) define(out, '…', `${keys.length} fields`);
    return out;
  }

  preview(v: unknown, max: number = COPY.text): string {
    const copy = this.value(v, 0, 0);
    let s: string | undefined;
    try {
      s = JSON.stringify(copy);
    } catch {
      s = undefined;
    }
    return clip(s ?? String(copy), max);
  }
}

/**
 * The error as it may leave an adapter: a {@link VendorError} copy of `err` (an SDK error, a
 * string, any thrown value), with every text in it redacted and clipped, every field and cause
 * copied the same way, at most {@link COPY} deep and wide.
 */
export function scrubError(err: unknown, redact: Redact): Error {
  return new Scrubber(redact).error(err, 0);
}

/** A short JSON preview of vendor data (an output, a prediction's error), scrubbed and clipped: never throws, however deep or large. */
export function vendorPreview(value: unknown, redact: Redact, max: number = VENDOR_TEXT_LIMIT): string {
  return new Scrubber(redact).preview(value, max);
}

/** Longest message a ProviderError leaves an adapter with: ours are short, plus one clipped vendor text. */
const OWN_MESSAGE_LIMIT = 1000;

/**
 * The last step before an error leaves an adapter. The caller's abort reason (Temporal's
 * CancelledFailure) passes untouched. A ProviderError (ours) keeps its class, which says what
 * Temporal should do, with its message and stack scrubbed and its cause replaced by a scrubbed
 * copy. Anything else becomes a scrubbed copy.
 */
export function scrubThrown(err: unknown, redact: Redact, signal?: AbortSignal): unknown {
  if (signal?.aborted && err === signal.reason) return err;
  if (!(err instanceof ProviderError)) return scrubError(err, redact);
  err.message = vendorText(err.message, redact, OWN_MESSAGE_LIMIT);
  if (typeof err.stack === 'string') err.stack = vendorText(err.stack, redact, COPY.stack);
  if (err.cause !== undefined) define(err, 'cause', scrubError(err.cause, redact), false);
  return err;
}

/** Texts in a result (alt text, reasons, a revised prompt) with secrets redacted; bytes and class instances pass as they are. */
function scrubResult<T>(value: T, redact: Redact, depth = 0): T {
  if (typeof value === 'string') return redact(value) as T;
  if (depth > 8 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((x: unknown) => scrubResult(x, redact, depth + 1)) as T;
  const proto = Object.getPrototypeOf(value) as unknown;
  if (proto !== Object.prototype && proto !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(value)) out[k] = scrubResult(x, redact, depth + 1);
  return out as T;
}

/**
 * One adapter call, with the one door every result and error leaves it by: whatever it throws
 * goes through {@link scrubThrown}, and the texts it returns through `redact`. Every public
 * adapter method runs inside one, so a path that forgets to scrub cannot leak the key.
 */
export async function scrubbedCall<T>(redact: Redact, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await call();
  } catch (err) {
    throw scrubThrown(err, redact, signal);
  }
  return scrubResult(result, redact);
}
