import { InvalidRequestError, ProviderError, ProviderUnavailableError } from './errors';
import type { ResponseCap } from './response-cap';

/*
 * The parts of mapping a vendor's failure onto Darkroom's error classes that are the same for
 * every vendor (OpenAI, Gemini, Replicate); each client adds what its vendor says its own way
 * (rate limits, keys, content policy).
 */

/**
 * What a failure is before the vendor's error is looked at, or undefined when the vendor's error
 * decides: ours (a ProviderError) stays as it is; a cancelled call rethrows the caller's abort
 * reason (Temporal's CancelledFailure inside an activity), not a provider error; a response over
 * the cap is the cap's error, whatever the SDK made of it.
 */
export function settledFailure(err: unknown, signal: AbortSignal | undefined, cap: ResponseCap | undefined): { error: unknown } | undefined {
  if (err instanceof ProviderError) return { error: err };
  if (signal?.aborted) return { error: signal.reason ?? err };
  if (cap?.tripped) return { error: cap.tripped };
  return undefined;
}

/** Error statuses that say the request itself is wrong (size, model, parameters). */
const INVALID_REQUEST_STATUSES: ReadonlySet<number> = new Set([400, 404, 409, 413, 422]);

/**
 * An error status no vendor rule of its own matched: a wrong request (400, 404, 409, 413, 422)
 * is not retried; 5xx, 408 and anything unexpected are, since the next attempt may well succeed.
 */
export function statusFailure(status: number, message: string, provider: string, options?: { cause?: unknown }): ProviderError {
  if (INVALID_REQUEST_STATUSES.has(status)) return new InvalidRequestError(message, provider, options);
  return new ProviderUnavailableError(message, provider, options);
}

/** A vendor response that failed its schema check: retried, because the next one is usually fine. */
export function malformedResponse(vendor: string, what: string, provider: string, detail: string, cause?: unknown): ProviderUnavailableError {
  return new ProviderUnavailableError(`${vendor} ${what}: malformed response (${detail})`, provider, { cause });
}
