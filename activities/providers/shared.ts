/**
 * What the vendor clients (OpenAI, Gemini, Replicate) have in common: the call timeout, the
 * response size cap (counted by ./response-cap), and keeping the key out of everything that
 * leaves an adapter (./scrub). Each vendor's options add its own key (or token) and base URL,
 * spelled the way its SDK spells them.
 */
export interface ProviderClientOptions {
  /**
   * How long one call may take before it counts as a timeout (a retryable
   * ProviderUnavailableError); each vendor's options say what one call covers. Matches
   * `DARKROOM_PROVIDER_TIMEOUT`.
   * @default 120000
   */
  timeoutMs?: number;
  /**
   * Largest response body read from the vendor, in bytes, API answers and output downloads
   * alike, counted as the bytes arrive (a missing or false Content-Length changes nothing).
   * A larger one is refused with a ResponseTooLargeError and its connection dropped, so a
   * vendor or a gateway cannot fill the worker's memory. Matches `DARKROOM_MAX_DOWNLOAD_BYTES`.
   * @default 104857600 (100 MiB: a Real-ESRGAN 4x PNG of a large master fits)
   */
  maxResponseBytes?: number;
}

/** {@link ProviderClientOptions.timeoutMs} when none is given. */
export const DEFAULT_TIMEOUT_MS = 120_000;

/** {@link ProviderClientOptions.maxResponseBytes} when none is given. */
export const DEFAULT_MAX_RESPONSE_BYTES = 100 * 1024 * 1024;

/**
 * The `retry-after` header in ms: a number of seconds, or an HTTP date (a date in the past
 * is 0). Undefined when the header is absent or unreadable.
 */
export function parseRetryAfter(headers: Pick<Headers, 'get'> | undefined, now: number = Date.now()): number | undefined {
  const after = headers?.get('retry-after')?.trim();
  if (!after) return undefined;
  if (/^\d+(?:\.\d+)?$/.test(after)) return Math.round(Number(after) * 1000);
  const at = Date.parse(after);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * {@link ProviderClientOptions.maxResponseBytes}, checked: a whole number of bytes of at least 1.
 * @throws Error naming the option and `DARKROOM_MAX_DOWNLOAD_BYTES`
 */
export function maxResponseBytes(options: ProviderClientOptions): number {
  const v = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new Error(`maxResponseBytes must be a whole number of bytes, at least 1 (DARKROOM_MAX_DOWNLOAD_BYTES), not ${String(v)}`);
  }
  return v;
}
