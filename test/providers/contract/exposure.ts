/**
 * Everything an error thrown by an adapter could show to someone: what a worker log prints
 * (util.inspect, hidden fields and getters included), every own field of every error in its
 * cause chain, and the failure Temporal records in the workflow history for it.
 */
import util from 'node:util';
import { ApplicationFailure, DefaultFailureConverter, defaultPayloadConverter } from '@temporalio/common';
import { expect } from 'vitest';

function json(value: unknown): string {
  const seen = new WeakSet<object>();
  try {
    return JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === 'bigint') return String(v);
      if (v && typeof v === 'object') {
        if (seen.has(v)) return '[circular]';
        seen.add(v);
        // Own fields of errors, hidden ones (message, stack, cause) included.
        if (v instanceof Error) return Object.fromEntries(Object.getOwnPropertyNames(v).map((k) => [k, (v as unknown as Record<string, unknown>)[k]]));
      }
      return v;
    });
  } catch (err) {
    return `[not serialisable: ${(err as Error).message}]`;
  }
}

/** The error as every outlet would show it, in one string. */
export function exposed(err: unknown): string {
  const out: string[] = [
    util.inspect(err, { depth: Infinity, showHidden: true, getters: true, maxArrayLength: Infinity, maxStringLength: Infinity, breakLength: Infinity }),
    json(err),
  ];
  const seen = new Set<unknown>();
  for (let e: unknown = err, i = 0; e !== undefined && e !== null && i < 100 && !seen.has(e); i++) {
    seen.add(e);
    const r = e as { name?: unknown; message?: unknown; stack?: unknown; cause?: unknown };
    out.push(String(r.name), String(r.message), String(r.stack), json(e));
    e = typeof e === 'object' ? r.cause : undefined;
  }
  // As the activity hands it to Temporal: an ApplicationFailure with the adapter's error as cause.
  if (err instanceof Error) {
    const wrapped = ApplicationFailure.create({ message: err.message, type: 'Test', cause: err });
    out.push(json(new DefaultFailureConverter().errorToFailure(wrapped, defaultPayloadConverter)));
  }
  return out.join('\n');
}

/**
 * The traces of a key to look for: the key, URL-encoded, in base64 (at each of the three
 * alignments it can take inside a longer base64 text, like a Basic credential), and every
 * 10-character piece of it (a key cut short, as in a parser's excerpt, or partly masked still
 * gives much of it away).
 */
export function keyTraces(key: string): string[] {
  const traces = [key, encodeURIComponent(key), Buffer.from(key).toString('base64'), Buffer.from(key).toString('base64url')];
  for (let i = 0; i + 10 <= key.length; i++) traces.push(key.slice(i, i + 10));
  for (const pad of [0, 1, 2]) {
    const b64 = Buffer.concat([Buffer.alloc(pad, 'u'), Buffer.from(key)]).toString('base64');
    traces.push(b64.slice(8, -8));
  }
  return traces;
}

/** Fails, naming the trace and where it was, when `text` holds any trace of `key`. */
export function expectNoKey(text: string, key: string, what = 'the error'): void {
  for (const trace of keyTraces(key)) {
    const at = text.indexOf(trace);
    expect(at, `${what} holds "${trace}" of the key: …${text.slice(Math.max(0, at - 120), at + trace.length + 40)}…`).toBe(-1);
  }
}
