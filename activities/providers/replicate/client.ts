import Replicate from 'replicate';
import { z } from 'zod';
import { AuthenticationError, ContentPolicyError, InvalidRequestError, ProviderUnavailableError, RateLimitError, type ProviderError } from '../errors';
import { ResponseCap } from '../response-cap';
import { vendorPreview, vendorText } from '../scrub';
import { malformedResponse, settledFailure, statusFailure } from '../vendor-failure';
import { outputUrlAllowed, retryAfterMs, type Resolved } from './options';

/** Redirects followed when downloading an output, each to an allowed host. */
const MAX_REDIRECTS = 3;

/** The RFC 7807 problem body Replicate sends with an error status. */
const Problem = z.looseObject({ title: z.string().optional(), detail: z.string().optional(), status: z.number().optional() });

const PredictionSchema = z.looseObject({
  id: z.string().min(1),
  status: z.string(),
  output: z.unknown().optional(),
  error: z.unknown().optional(),
  metrics: z.looseObject({ predict_time: z.number().optional(), image_count: z.number().optional() }).nullish(),
});
export type Prediction = z.infer<typeof PredictionSchema>;

const UploadedFile = z.looseObject({ id: z.string().min(1), urls: z.looseObject({ get: z.string().min(1) }) });

const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'aborted']);

/** A failed prediction whose error says a safety filter refused the input or the output. */
const POLICY_ERROR = /nsfw|flagged as sensitive|sensitive content|safety (?:filter|checker|system)|content (?:policy|moderation)|\(E005\)/i;

/** Where a prediction is created: an official model by name, or any model by version id. */
export type PredictionTarget = { model: `${string}/${string}` } | { version: string };

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * One adapter call against Replicate: create a prediction, wait for it, download its output,
 * under one deadline and the caller's signal.
 *
 * SDK retries are off, which the replicate SDK (1.4) has no option for: its `request()` wraps
 * every call in `withAutomaticRetries`, retrying a 429 (and, for GETs, any 5xx) and swallowing
 * any error the fetch throws, up to five more times. So the fetch given to the SDK answers
 * only successes: any failure — an error status, a network error, the deadline — is turned
 * into Darkroom's error class at once and remembered, and every later fetch of this call
 * rejects with that same error without touching the network. The SDK's retry loop then ends
 * with our error and the vendor saw exactly one request. Each call gets its own SDK client,
 * so one call's failure never leaks into another, and its own response cap, which every body it
 * reads (API answers and output downloads) counts against.
 *
 * The adapters run each public method inside `scrubbedCall` with {@link Resolved.redact}: the
 * errors made here keep the vendor's clipped words and its errors as `cause`, and are scrubbed of
 * the token on the way out.
 */
export class ReplicateCall {
  readonly signal: AbortSignal;
  readonly client: Replicate;
  readonly #o: Resolved;
  readonly #provider: string;
  readonly #what: string;
  readonly #caller?: AbortSignal;
  readonly #deadline: AbortSignal;
  readonly #cap: ResponseCap;
  #failure: { error: unknown } | undefined;

  constructor(options: Resolved, ctx: { provider: string; what: string; signal?: AbortSignal; timeoutMs?: number }) {
    this.#o = options;
    this.#provider = ctx.provider;
    this.#what = ctx.what;
    this.#caller = ctx.signal;
    this.#deadline = AbortSignal.timeout(ctx.timeoutMs ?? options.timeoutMs);
    this.signal = ctx.signal ? AbortSignal.any([ctx.signal, this.#deadline]) : this.#deadline;
    this.#cap = new ResponseCap(options.maxResponseBytes, 'Replicate', ctx.provider, ctx.what);
    this.client = new Replicate({
      auth: options.apiToken,
      ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      fetch: (input, init) => this.#fetchOnce(input, init),
      // Inputs are strings already (images as data URIs), so the default strategy uploads nothing.
      // Not 'data-uri': in replicate 1.4 it passes the client, not the input, to the encoder.
      fileEncodingStrategy: 'default',
      useFileOutput: false,
    });
  }

  async #fetchOnce(input: Request | string | URL, init?: RequestInit): Promise<Response> {
    if (this.#failure) throw this.#failure.error;
    const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
    let res: Response;
    try {
      res = this.#cap.response(await this.#o.fetch(input, { ...init, signal: this.signal }), url.host);
    } catch (err) {
      throw this.#fail(this.#transportError(err));
    }
    if (res.ok) return res;
    const text = await res.text().catch(() => '');
    if (this.#cap.tripped) throw this.#fail(this.#cap.tripped);
    const method = (init?.method ?? 'GET').toUpperCase();
    throw this.#fail(this.#statusError(res.status, res.headers, text, `${method} ${url.pathname}`));
  }

  #fail(error: unknown): unknown {
    this.#failure = { error };
    return error;
  }

  /** A cancelled call rethrows the signal's reason (Temporal's CancelledFailure), not a provider error. */
  #transportError(err: unknown): unknown {
    if (this.#caller?.aborted) return this.#caller.reason ?? err;
    if (this.#cap.tripped) return this.#cap.tripped;
    if (this.#deadline.aborted) {
      return new ProviderUnavailableError(`Replicate ${this.#what}: no answer within ${this.#o.timeoutMs} ms`, this.#provider, { cause: err });
    }
    const detail = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
    return new ProviderUnavailableError(`Replicate ${this.#what}: could not reach the API (${this.#text(String(detail))})`, this.#provider, { cause: err });
  }

  #statusError(status: number, headers: Headers, text: string, request: string): ProviderError {
    let problem: z.infer<typeof Problem> | undefined;
    try {
      const p = Problem.safeParse(JSON.parse(text));
      problem = p.success ? p.data : undefined;
    } catch {
      problem = undefined;
    }
    const detail = this.#text(problem?.detail ?? problem?.title ?? (text || `HTTP ${status}`));
    const where = `Replicate ${this.#what} (HTTP ${status} on ${request})`;
    const p = this.#provider;
    if (status === 429) return new RateLimitError(`${where}: ${detail}`, p, retryAfterMs(headers, detail));
    if (status === 401 || status === 403) return new AuthenticationError(`${where}: ${detail} — check REPLICATE_API_TOKEN`, p);
    if (status === 402) return new AuthenticationError(`${where}: ${detail} — the account cannot pay for predictions; check its billing`, p);
    return statusFailure(status, `${where}: ${detail}`, p);
  }

  /** Vendor text fit for a message: the token redacted, then clipped ({@link vendorText}). */
  #text(text: string, max?: number): string {
    return vendorText(text, this.#o.redact, max);
  }

  /** A short scrubbed preview of vendor data ({@link vendorPreview}). */
  preview(value: unknown, max = 120): string {
    return vendorPreview(value, this.#o.redact, max);
  }

  /** Whatever an SDK call threw, as a Darkroom error (or the caller's abort reason). */
  #mapped(err: unknown): unknown {
    const settled = settledFailure(err, this.#caller, this.#cap);
    if (settled) return settled.error;
    if (this.#deadline.aborted) return this.#transportError(err);
    if (err instanceof SyntaxError) return this.malformed(`not JSON (${this.#text(err.message)})`, err);
    return new ProviderUnavailableError(`Replicate ${this.#what}: ${this.#text(err instanceof Error ? err.message : String(err))}`, this.#provider, { cause: err });
  }

  malformed(detail: string, cause?: unknown): ProviderUnavailableError {
    return malformedResponse('Replicate', this.#what, this.#provider, detail, cause);
  }

  #prediction(raw: unknown): Prediction {
    const r = PredictionSchema.safeParse(raw);
    if (!r.success) throw this.malformed(`not a prediction: ${z.prettifyError(r.error).replace(/\s+/g, ' ')}`, r.error);
    return r.data;
  }

  /** The latest version id of a model, for models that only run by version (community models). */
  async latestVersion(owner: string, name: string): Promise<string> {
    let raw: unknown;
    try {
      raw = await this.client.models.get(owner, name, { signal: this.signal });
    } catch (err) {
      throw this.#mapped(err);
    }
    const id = (raw as { latest_version?: { id?: unknown } } | null)?.latest_version?.id;
    if (typeof id !== 'string' || !id) throw this.malformed(`model ${owner}/${name} has no latest_version`);
    return id;
  }

  /**
   * Creates a prediction with `Prefer: wait` (Replicate holds the request open up to 60 s and
   * usually answers with the finished prediction), then polls `GET /predictions/{id}` while it
   * is still starting or processing. Succeeded: the prediction. Failed on a safety filter:
   * ContentPolicyError. Any other failure or cancellation: retryable.
   */
  async predict(target: PredictionTarget, input: Record<string, unknown>): Promise<Prediction> {
    this.signal.throwIfAborted();
    const wait = Math.max(1, Math.min(60, Math.floor(this.#o.timeoutMs / 1000)));
    let prediction: Prediction;
    try {
      prediction = this.#prediction(await this.client.predictions.create({ ...target, input, wait, signal: this.signal }));
    } catch (err) {
      throw this.#mapped(err);
    }
    try {
      while (!TERMINAL.has(prediction.status)) {
        await sleep(this.#o.pollIntervalMs, this.signal);
        prediction = this.#prediction(await this.client.predictions.get(prediction.id, { signal: this.signal }));
      }
    } catch (err) {
      // Timed out or cancelled while it runs: stop it, so a retry does not pay for two.
      this.#cancelQuietly(prediction.id);
      throw this.#mapped(err);
    }
    if (prediction.status === 'succeeded') return prediction;
    const error = typeof prediction.error === 'string' ? this.#text(prediction.error) : this.preview(prediction.error ?? null, 400);
    if (prediction.status === 'failed' && POLICY_ERROR.test(error)) {
      throw new ContentPolicyError(`Replicate ${this.#what}: prediction ${prediction.id} refused by a safety filter: ${error}`, this.#provider);
    }
    throw new ProviderUnavailableError(`Replicate ${this.#what}: prediction ${prediction.id} ${prediction.status}${error !== 'null' ? `: ${error}` : ''}`, this.#provider);
  }

  /**
   * Uploads an input file to Replicate's file store (`POST /v1/files`, multipart) for inputs too
   * large for a data URI, and returns its id and the URL a prediction reads it from. The caller
   * deletes it when the prediction is done ({@link deleteFileQuietly}).
   */
  async upload(data: Buffer, mime: string, filename: string): Promise<{ id: string; url: string }> {
    let raw: unknown;
    try {
      raw = await this.client.files.create(new File([new Uint8Array(data)], filename, { type: mime }), { purpose: 'darkroom reference image' }, { signal: this.signal });
    } catch (err) {
      throw this.#mapped(err);
    }
    const r = UploadedFile.safeParse(raw);
    if (!r.success) throw this.malformed(`the uploaded file has no id or urls.get: ${this.preview(raw)}`);
    return { id: r.data.id, url: r.data.urls.get };
  }

  /**
   * Removes an uploaded input file, on its own short deadline and without failing the call it
   * served when that does not work.
   */
  async deleteFileQuietly(id: string): Promise<void> {
    const call = new ReplicateCall(this.#o, { provider: this.#provider, what: 'file cleanup', timeoutMs: 5_000 });
    await call.client.files.delete(id, { signal: call.signal }).catch(() => undefined);
  }

  #cancelQuietly(id: string): void {
    const call = new ReplicateCall(this.#o, { provider: this.#provider, what: 'cancel', timeoutMs: 5_000 });
    call.client.predictions.cancel(id, { signal: call.signal }).catch(() => undefined);
  }

  /**
   * Downloads an output file, only from an allowed host (redirects included) and without the
   * API token: a prediction's output URL is vendor data, and an unchecked fetch of it would let
   * a compromised or spoofed response make the worker request any address. The body is read
   * under the call's response cap as it arrives: one over it (declared or not) is refused with a
   * ResponseTooLargeError and its connection dropped, having held at most the cap and one chunk.
   */
  async download(output: string): Promise<Buffer> {
    const data = /^data:(image\/[a-z0-9.+-]+);base64,(.*)$/is.exec(output);
    if (data) return Buffer.from(data[2]!, 'base64');
    let url: URL;
    try {
      url = new URL(output);
    } catch (err) {
      throw this.malformed(`output ${JSON.stringify(output.slice(0, 100))} is not a URL`, err);
    }
    for (let hop = 0; ; hop++) {
      this.#checkHost(url);
      let res: Response;
      try {
        res = await this.#o.fetch(url, { signal: this.signal, redirect: 'manual' });
      } catch (err) {
        throw this.#mapped(this.#transportError(err));
      }
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        await res.body?.cancel().catch(() => undefined);
        if (hop >= MAX_REDIRECTS) throw new ProviderUnavailableError(`Replicate ${this.#what}: too many redirects downloading the output`, this.#provider);
        url = new URL(location, url);
        continue;
      }
      if (!res.ok) {
        await res.body?.cancel().catch(() => undefined);
        throw new ProviderUnavailableError(`Replicate ${this.#what}: downloading the output from ${url.host} failed with HTTP ${res.status}`, this.#provider);
      }
      try {
        return await this.#cap.bytes(res, url.host);
      } catch (err) {
        throw this.#mapped(this.#transportError(err));
      }
    }
  }

  #checkHost(url: URL): void {
    if (outputUrlAllowed(url, this.#o.outputHosts)) return;
    const listed = this.#o.outputHosts.join(', ') || '(none)';
    const hint = url.protocol === 'http:' ? ` over plain HTTP (add http://${url.host} to allow that)` : '';
    throw new InvalidRequestError(
      `Replicate ${this.#what}: refusing to download the output from ${url.host}${hint}: it is not among the allowed output hosts (${listed}; set REPLICATE_OUTPUT_HOSTS)`,
      this.#provider,
    );
  }
}

/** Output URLs of a prediction: Replicate gives one URL, or a list of them for multi-output models. */
export function outputUrls(call: ReplicateCall, prediction: Prediction): string[] {
  const out = prediction.output;
  const urls = typeof out === 'string' ? [out] : Array.isArray(out) ? out : undefined;
  if (!urls || urls.length === 0 || !urls.every((u): u is string => typeof u === 'string' && u.length > 0)) {
    throw call.malformed(`prediction ${prediction.id} succeeded without an output URL (output: ${call.preview(out ?? null)})`);
  }
  return urls;
}
