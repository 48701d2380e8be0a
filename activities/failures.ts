/**
 * How activity errors become Temporal failures: what no retry can change is non-retryable, a
 * provider's error keeps its retry semantics (and the vendor's retry-after), and long calls heartbeat.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { Failure } from '../domain/failures';
import { clip } from '../domain/text';
import { BlobTooLargeError, InvalidBlobKeyError, UnsafeBlobError } from './blob-store';
import { ProviderError } from './providers';

/**
 * Errors no retry can change are never retried: a blob key that cannot be stored (a workflow id
 * with a space, a `..`) fails the same way on every attempt, and so does a blob the store refuses
 * to read (a symlink or FIFO planted in the data folder) or one larger than a read may take.
 */
export function inputFailure(err: unknown): unknown {
  if (err instanceof InvalidBlobKeyError) {
    return ApplicationFailure.create({ message: clip(err.message, 400), type: Failure.InvalidWorkflowId, nonRetryable: true });
  }
  if (err instanceof UnsafeBlobError || err instanceof BlobTooLargeError) {
    return ApplicationFailure.create({ message: clip(err.message, 400), type: Failure.UnsafeBlob, nonRetryable: true });
  }
  return err;
}

/** `activities` with every function's errors passed through {@link inputFailure}: no activity can forget to. */
export function refusingInputErrors<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    out[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw inputFailure(err);
      }
    };
  }
  return out as T;
}

/**
 * Longest wait a vendor's retry-after may set before the next attempt: the activity retry
 * policies' `maximumInterval`. Taken at its word, `Retry-After: 999999999` (or a date in
 * 9999) would park the activity, and the brief, for years.
 */
export const MAX_RETRY_AFTER_MS = 60_000;

/** Maps a provider failure onto Temporal's retry semantics; anything unknown is retryable. */
export function toFailure(err: unknown): unknown {
  if (err instanceof ProviderError) {
    const retryAfterMs = 'retryAfterMs' in err && typeof err.retryAfterMs === 'number' && err.retryAfterMs >= 0 ? err.retryAfterMs : undefined;
    return ApplicationFailure.create({
      message: `${err.provider}: ${err.message}`,
      type: err.type,
      nonRetryable: !err.retryable,
      nextRetryDelay: retryAfterMs === undefined ? undefined : Math.min(retryAfterMs, MAX_RETRY_AFTER_MS),
      cause: err,
    });
  }
  return err;
}

/**
 * `acts` with each activity named in `names` heartbeating every second while it runs, so a
 * workflow can give them a short heartbeat timeout: a worker that dies holding one is noticed
 * in seconds, not after the activity's whole start-to-close timeout.
 */
export function heartbeating<T extends Record<string, (input: never) => Promise<unknown>>>(acts: T, names: ReadonlyArray<keyof T>): T {
  const out: Record<string, unknown> = { ...acts };
  for (const name of names) {
    const fn = acts[name]!;
    out[name as string] = (input: never) => withHeartbeat(() => fn(input));
  }
  return out as T;
}

function inActivity(): boolean {
  try {
    Context.current();
    return true;
  } catch {
    return false;
  }
}

/** Keeps the heartbeat going while a long call is in flight, so a dead worker is noticed quickly. */
export async function withHeartbeat<T>(fn: () => Promise<T>): Promise<T> {
  // Outside a worker (tools and tests call activities as functions) there is nothing to heartbeat to.
  if (!inActivity()) return fn();
  const ctx = Context.current();
  // A local activity has no heartbeat: the worker that runs it keeps its workflow task alive.
  if (ctx.info.isLocal) return fn();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), 1000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}
