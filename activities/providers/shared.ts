/**
 * What the vendor clients (OpenAI, Gemini, Replicate) have in common: the call timeout, and
 * keeping the key out of error messages. Each vendor's options add its own key (or token) and
 * base URL, spelled the way its SDK spells them.
 */
export interface ProviderClientOptions {
  /**
   * How long one call may take before it counts as a timeout (a retryable
   * ProviderUnavailableError); each vendor's options say what one call covers. Matches
   * `DARKROOM_PROVIDER_TIMEOUT`.
   * @default 120000
   */
  timeoutMs?: number;
}

/** {@link ProviderClientOptions.timeoutMs} when none is given. */
export const DEFAULT_TIMEOUT_MS = 120_000;

/**
 * `text` with every occurrence of `secret` replaced by `[redacted]`. A secret shorter than
 * 4 characters is left alone: it would match all over ordinary text.
 */
export function scrubSecret(text: string, secret: string): string {
  return secret.length >= 4 ? text.split(secret).join('[redacted]') : text;
}

/**
 * An error kept as `cause`, its message and stack run through `redact` first: Temporal
 * serialises the cause chain into the workflow history. Anything but an Error is returned as it is.
 */
export function scrubError(err: unknown, redact: (text: string) => string): unknown {
  if (!(err instanceof Error)) return err;
  try {
    // Only rewritten when needed: a DOMException's message is read-only.
    const message = redact(err.message);
    if (message !== err.message) err.message = message;
    if (err.stack && redact(err.stack) !== err.stack) err.stack = redact(err.stack);
  } catch {
    return new Error(redact(err.message));
  }
  return err;
}

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
