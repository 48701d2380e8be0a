import OpenAI from 'openai';
import { AuthenticationError, ContentPolicyError, ProviderUnavailableError, RateLimitError } from '../errors';
import { ResponseCap } from '../response-cap';
import { keyRedactor, scrubbedCall, vendorText, type Redact } from '../scrub';
import { DEFAULT_TIMEOUT_MS, maxResponseBytes, parseRetryAfter, type ProviderClientOptions } from '../shared';
import { malformedResponse, settledFailure, statusFailure } from '../vendor-failure';

/**
 * What every OpenAI adapter needs to reach the API. Its `timeoutMs` covers the wait for the
 * response headers.
 */
export interface OpenAIClientOptions extends ProviderClientOptions {
  /** The OpenAI API key. Handed to the SDK only; never logged, never put in an error message. */
  apiKey: string;
  /** An OpenAI-compatible base URL (tests point it at a local server). @default the SDK's, https://api.openai.com/v1 */
  baseURL?: string;
}

/**
 * One SDK client per adapter. SDK retries are off: Temporal owns retries, and a retry inside
 * the SDK would spend the activity's start-to-close time and hide the vendor's `retry-after`.
 */
export function createOpenAIClient(options: OpenAIClientOptions): OpenAI {
  if (!options.apiKey) throw new Error('OpenAI adapter: apiKey is required (set OPENAI_API_KEY)');
  return new OpenAI({
    apiKey: options.apiKey,
    baseURL: options.baseURL,
    maxRetries: 0,
    timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  });
}

/** The context of one SDK request, for error messages and cancellation. */
export interface OpenAIRequest {
  /** The adapter's name, for the error's `provider`. */
  provider: string;
  /** The call in messages: `images.generate`, `chat.completions (judge)`. */
  what: string;
  signal?: AbortSignal;
}

/**
 * What every OpenAI adapter keeps from its options: one SDK client, the key's redactor and the
 * response cap. Every public adapter method runs inside {@link call}, the one door its results
 * and errors leave by, and every SDK request goes through {@link request}.
 */
export class OpenAIConnection {
  readonly #client: OpenAI;
  readonly #redact: Redact;
  readonly #maxBytes: number;

  constructor(options: OpenAIClientOptions) {
    this.#client = createOpenAIClient(options);
    this.#redact = redactor(options.apiKey);
    this.#maxBytes = maxResponseBytes(options);
  }

  /** Runs one adapter call: whatever it throws or returns leaves scrubbed of the key ({@link scrubbedCall}). */
  call<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    return scrubbedCall(this.#redact, signal, fn);
  }

  /**
   * One SDK request, with every response body it reads capped (a per-request client whose
   * `fetch` counts the bytes) and whatever it throws mapped onto Darkroom's error classes.
   */
  async request<T>(ctx: OpenAIRequest, send: (client: OpenAI) => Promise<T>): Promise<T> {
    const cap = new ResponseCap(this.#maxBytes, 'OpenAI', ctx.provider, ctx.what);
    try {
      return await send(this.#client.withOptions({ fetch: cap.fetch() }));
    } catch (err) {
      throw mapOpenAIError(err, { ...ctx, redact: this.#redact, cap });
    }
  }
}

/**
 * How long the vendor asked us to wait, in ms: `retry-after-ms` (OpenAI's own), else
 * `retry-after` as seconds or as an HTTP date. Undefined when absent or unreadable.
 */
export function retryAfterMs(headers: Pick<Headers, 'get'> | undefined, now: number = Date.now()): number | undefined {
  const ms = headers?.get('retry-after-ms');
  if (ms != null && ms.trim() !== '') {
    const v = Number(ms);
    if (Number.isFinite(v) && v >= 0) return Math.round(v);
  }
  return parseRetryAfter(headers, now);
}

/** OpenAI key shapes (`sk-…`, `sk-proj-…`), masked or not; the vendor echoes them in 401 messages. */
const KEY_PATTERN = /\bsk-[A-Za-z0-9_*.-]{3,}/g;

/** Removes the key (and anything shaped like one) from a text. */
export function redactor(apiKey: string): Redact {
  return keyRedactor(apiKey, KEY_PATTERN, 'sk-[redacted]');
}

const CONTENT_POLICY_CODES = new Set(['moderation_blocked', 'content_policy_violation', 'content_filter']);

/** The vendor's own message, without the SDK's `400 ` status prefix. */
function vendorMessage(err: InstanceType<typeof OpenAI.APIError>): string {
  const body = err.error as { message?: unknown } | undefined;
  return typeof body?.message === 'string' && body.message ? body.message : err.message;
}

/**
 * Maps whatever the SDK threw onto Darkroom's error classes, which the activity turns into
 * retryable or non-retryable Temporal failures. A cancelled call rethrows the signal's reason
 * (Temporal's CancelledFailure inside an activity), not a provider error; a response over the
 * cap is the cap's error, whatever the SDK made of it. The SDK error is kept as `cause`:
 * {@link OpenAIConnection.call} replaces it with a scrubbed copy on the way out.
 */
export function mapOpenAIError(err: unknown, ctx: OpenAIRequest & { redact: Redact; cap?: ResponseCap }): unknown {
  const { provider, signal, what, redact } = ctx;
  const settled = settledFailure(err, signal, ctx.cap);
  if (settled) return settled.error;
  if (err instanceof OpenAI.APIUserAbortError) return err;
  const opts = { cause: err };
  // Connection errors first: APIConnectionTimeoutError is an APIConnectionError is an APIError.
  if (err instanceof OpenAI.APIConnectionTimeoutError) {
    return new ProviderUnavailableError(`OpenAI ${what} timed out waiting for a response`, provider, opts);
  }
  if (err instanceof OpenAI.APIConnectionError) {
    return new ProviderUnavailableError(`OpenAI ${what}: could not connect (${vendorText(err.message, redact)})`, provider, opts);
  }
  if (err instanceof OpenAI.APIError) {
    const message = vendorText(vendorMessage(err), redact);
    const status = err.status ?? 0;
    const code = typeof err.code === 'string' && err.code ? `, ${vendorText(err.code, redact, 60)}` : '';
    const where = `OpenAI ${what} (HTTP ${status}${code})`;
    if (err instanceof OpenAI.RateLimitError || status === 429) {
      return new RateLimitError(`${where}: ${message}`, provider, retryAfterMs(err.headers), opts);
    }
    if (err instanceof OpenAI.AuthenticationError || err instanceof OpenAI.PermissionDeniedError || status === 401 || status === 403) {
      return new AuthenticationError(`${where}: ${message} — check OPENAI_API_KEY and the project's access to the model`, provider, opts);
    }
    if (status === 400 && (CONTENT_POLICY_CODES.has(err.code ?? '') || /safety system|content policy/i.test(message))) {
      return new ContentPolicyError(`${where}: ${message}`, provider, opts);
    }
    return statusFailure(status, `${where}: ${message}`, provider, opts);
  }
  // A 200 whose body is not JSON: the SDK's JSON.parse throws.
  if (err instanceof SyntaxError) {
    return new ProviderUnavailableError(`OpenAI ${what}: malformed response (${vendorText(err.message, redact)})`, provider, opts);
  }
  return new ProviderUnavailableError(`OpenAI ${what}: ${vendorText(err instanceof Error ? err.message : String(err), redact)}`, provider, opts);
}

/** A vendor response that failed its schema check: retried, because the next one is usually fine. */
export function malformed(what: string, provider: string, detail: string, cause?: unknown): ProviderUnavailableError {
  return malformedResponse('OpenAI', what, provider, detail, cause);
}
