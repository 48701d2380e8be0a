import { ApiError, GoogleGenAI, type GenerateContentParameters } from '@google/genai';
import { z } from 'zod';
import { AuthenticationError, ContentPolicyError, ProviderUnavailableError, RateLimitError } from '../errors';
import { ResponseCap } from '../response-cap';
import { keyRedactor, scrubbedCall, vendorText, type Redact } from '../scrub';
import { DEFAULT_TIMEOUT_MS, maxResponseBytes, parseRetryAfter, type ProviderClientOptions } from '../shared';
import { malformedResponse, settledFailure, statusFailure } from '../vendor-failure';
import { GenerateContentResponseSchema, policyBlock, type GeminiResponse } from './content';

/**
 * What every Gemini adapter needs to reach the Gemini API (Google AI Studio keys). Its
 * `timeoutMs` covers the whole call, response body included.
 */
export interface GeminiClientOptions extends ProviderClientOptions {
  /** The Gemini API key. Handed to the SDK only; never logged, never put in an error message. */
  apiKey: string;
  /** Base URL of the Gemini API (tests point it at a local server). @default the SDK's, https://generativelanguage.googleapis.com */
  baseUrl?: string;
}

/**
 * One SDK client per adapter. SDK retries are off: Temporal owns retries. In @google/genai
 * 2.32 the SDK retries (5 attempts on 408/429/5xx) only when `httpOptions.retryOptions` is
 * set; `attempts: 1` says "the first call only" explicitly, so a future default cannot turn
 * them back on. `vertexai: false` keeps `GOOGLE_GENAI_USE_VERTEXAI` in the environment from
 * silently sending the key somewhere else.
 */
export function createGeminiClient(options: GeminiClientOptions): GoogleGenAI {
  if (!options.apiKey) throw new Error('Gemini adapter: apiKey is required (set GEMINI_API_KEY)');
  return new GoogleGenAI({
    apiKey: options.apiKey,
    vertexai: false,
    httpOptions: {
      ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      retryOptions: { attempts: 1 },
    },
  });
}

/** Google API key shape (`AIza` and 35 more); a proxy or a log line might echo one. */
const KEY_PATTERN = /\bAIza[0-9A-Za-z_-]{35}\b/g;

/** Removes the key (and anything shaped like one) from a text. Google's error bodies do not echo keys, but a proxy might. */
export function redactor(apiKey: string): Redact {
  return keyRedactor(apiKey, KEY_PATTERN, 'AIza[redacted]');
}

/** How long Google asked us to wait: `retry-after` (seconds or HTTP date), else `RetryInfo.retryDelay` ("7s", "0.5s"). */
export function retryAfterMs(headers: Pick<Headers, 'get'> | undefined, details: readonly unknown[] | undefined, now: number = Date.now()): number | undefined {
  const fromHeader = parseRetryAfter(headers, now);
  if (fromHeader !== undefined) return fromHeader;
  for (const d of details ?? []) {
    const info = d as { '@type'?: unknown; retryDelay?: unknown };
    if (typeof info['@type'] === 'string' && info['@type'].endsWith('google.rpc.RetryInfo') && typeof info.retryDelay === 'string') {
      const m = /^(\d+(?:\.\d+)?)s$/.exec(info.retryDelay.trim());
      if (m) return Math.round(Number(m[1]) * 1000);
    }
  }
  return undefined;
}

/** The `{ error: { code, message, status, details } }` body Google APIs send with an error status. */
const GoogleErrorBody = z.object({
  error: z.looseObject({
    code: z.number().optional(),
    message: z.string().optional(),
    status: z.string().optional(),
    details: z.array(z.unknown()).optional(),
  }),
});

function parseErrorBody(message: string): z.infer<typeof GoogleErrorBody>['error'] | undefined {
  try {
    const r = GoogleErrorBody.safeParse(JSON.parse(message));
    return r.success ? r.data.error : undefined;
  } catch {
    return undefined;
  }
}

function hasErrorInfoReason(details: readonly unknown[] | undefined, reason: string): boolean {
  return (details ?? []).some((d) => (d as { reason?: unknown }).reason === reason);
}

export interface CallContext {
  provider: string;
  /** Removes the key from vendor text ({@link redactor}). */
  redact: Redact;
  /** For messages: "image generation", "judging", "alt text". */
  what: string;
  timeoutMs: number;
  signal?: AbortSignal;
  /** The request's response cap: when it tripped, that is the error. */
  cap?: ResponseCap;
  /** Who is called, in messages: the Gemini API or Vertex AI. @default 'Gemini' */
  vendor?: string;
  /** What to check when Google refuses the credentials. @default "GEMINI_API_KEY and the project's access to the model" */
  credentialsHint?: string;
}

/**
 * Maps whatever the SDK threw onto Darkroom's error classes. A cancelled call rethrows the
 * signal's reason (Temporal's CancelledFailure inside an activity), not a provider error; a
 * response over the cap is the cap's error, whatever the SDK made of it. The SDK error is kept
 * as `cause`: {@link GeminiConnection.call} replaces it with a scrubbed copy on the way out.
 */
export function mapGeminiError(err: unknown, ctx: CallContext, headers?: Pick<Headers, 'get'>): unknown {
  const { provider, redact, signal, what } = ctx;
  const vendor = ctx.vendor ?? 'Gemini';
  const settled = settledFailure(err, signal, ctx.cap);
  if (settled) return settled.error;
  const opts = { cause: err };
  if (err instanceof ApiError) {
    const body = parseErrorBody(err.message);
    const status = err.status;
    const message = vendorText(body?.message ?? err.message, redact);
    const where = `${vendor} ${what} (HTTP ${status}${body?.status ? `, ${vendorText(body.status, redact, 60)}` : ''})`;
    if (status === 429 || body?.status === 'RESOURCE_EXHAUSTED') {
      return new RateLimitError(`${where}: ${message}`, provider, retryAfterMs(headers, body?.details), opts);
    }
    if (status === 401 || status === 403 || hasErrorInfoReason(body?.details, 'API_KEY_INVALID') || /API key (?:not valid|expired|invalid)/i.test(message)) {
      return new AuthenticationError(`${where}: ${message} — check ${ctx.credentialsHint ?? "GEMINI_API_KEY and the project's access to the model"}`, provider, opts);
    }
    return statusFailure(status, `${where}: ${message}`, provider, opts);
  }
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) {
    return new ProviderUnavailableError(`${vendor} ${what}: no complete answer within ${ctx.timeoutMs} ms`, provider, opts);
  }
  if (err instanceof SyntaxError) {
    return new ProviderUnavailableError(`${vendor} ${what}: malformed response (${vendorText(err.message, redact)})`, provider, opts);
  }
  if (err instanceof TypeError) {
    // undici's "fetch failed": connection refused, reset, DNS.
    const detail = (err.cause as Error | undefined)?.message ?? err.message;
    return new ProviderUnavailableError(`${vendor} ${what}: could not reach the API (${vendorText(String(detail), redact)})`, provider, opts);
  }
  return new ProviderUnavailableError(`${vendor} ${what}: ${vendorText(err instanceof Error ? err.message : String(err), redact)}`, provider, opts);
}

/** A vendor response that failed its schema check: retried, because the next one is usually fine. */
export function malformed(what: string, provider: string, detail: string, cause?: unknown): ProviderUnavailableError {
  return malformedResponse('Gemini', what, provider, detail, cause);
}

/**
 * Runs one SDK call, exactly one HTTP request (SDK retries are off), through the call's own
 * fetch: it caps the response body ({@link ResponseCap}) and catches the response headers, so
 * that a 429's `retry-after` reaches the RateLimitError — the SDK's ApiError keeps only the
 * status and body. Whatever the call throws is mapped by {@link mapGeminiError}.
 */
export async function cappedCall<T>(ctx: CallContext & { cap: ResponseCap }, run: (fetch: typeof globalThis.fetch) => Promise<T>): Promise<T> {
  ctx.signal?.throwIfAborted();
  let headers: Headers | undefined;
  const capped = ctx.cap.fetch();
  const recordingFetch: typeof fetch = async (input, init) => {
    const res = await capped(input, init);
    headers = res.headers;
    return res;
  };
  try {
    return await run(recordingFetch);
  } catch (err) {
    throw mapGeminiError(err, ctx, headers);
  }
}

/**
 * One `generateContent` call ({@link cappedCall}), with no automatic continuation (which would
 * send a second, billed request).
 */
export async function generateContent(ai: GoogleGenAI, params: GenerateContentParameters, ctx: CallContext & { cap: ResponseCap }): Promise<GeminiResponse> {
  const raw: unknown = await cappedCall(ctx, (fetch) =>
    ai.models.generateContent({
      ...params,
      config: {
        ...params.config,
        abortSignal: ctx.signal,
        automaticContinuation: false,
        httpOptions: { ...params.config?.httpOptions, fetch },
      },
    }),
  );
  const parsed = GenerateContentResponseSchema.safeParse(raw);
  if (!parsed.success) throw malformed(ctx.what, ctx.provider, z.prettifyError(parsed.error).replace(/\s+/g, ' '), parsed.error);
  const blocked = policyBlock(parsed.data);
  if (blocked) throw new ContentPolicyError(`Gemini ${ctx.what}: ${vendorText(blocked, ctx.redact)}`, ctx.provider);
  return parsed.data;
}

/**
 * What a Google adapter (Gemini API or Vertex AI) keeps from its options: one SDK client, the
 * redactor of its secrets, the timeout and the response cap. Every public adapter method runs
 * inside {@link call}, the one door its results and errors leave by.
 */
export abstract class GoogleConnection {
  protected readonly timeoutMs: number;
  protected readonly maxBytes: number;

  protected constructor(protected readonly ai: GoogleGenAI, protected readonly redact: Redact, options: ProviderClientOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxBytes = maxResponseBytes(options);
  }

  /** Runs one adapter call: whatever it throws or returns leaves scrubbed of secrets ({@link scrubbedCall}). */
  call<T>(signal: AbortSignal | undefined, fn: () => Promise<T>): Promise<T> {
    return scrubbedCall(this.redact, signal, fn);
  }

  /** Vendor text (what the model said, a field) fit for a message: secrets redacted, clipped to `max` after that ({@link vendorText}). */
  text(text: string, max?: number): string {
    return vendorText(text, this.redact, max);
  }
}

/** A Gemini API adapter's connection ({@link createGeminiClient}, the key's redactor). */
export class GeminiConnection extends GoogleConnection {
  constructor(options: GeminiClientOptions) {
    super(createGeminiClient(options), redactor(options.apiKey), options);
  }

  /** One {@link generateContent} call for the adapter `provider`; `what` names the call in messages. */
  generateContent(params: GenerateContentParameters, call: { provider: string; what: string; signal?: AbortSignal }): Promise<GeminiResponse> {
    const cap = new ResponseCap(this.maxBytes, 'Gemini', call.provider, call.what);
    return generateContent(this.ai, params, { ...call, redact: this.redact, timeoutMs: this.timeoutMs, cap });
  }
}
