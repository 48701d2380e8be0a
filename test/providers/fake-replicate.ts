/**
 * A local stand-in for api.replicate.com and replicate.delivery that speaks Replicate's HTTP API,
 * so the adapters run the real `replicate` SDK (pointed here by `baseUrl`) with no network.
 *
 * - POST /v1/models/{owner}/{name}/predictions — official models by name (FLUX, Recraft)
 * - POST /v1/predictions — any model by `version` (community models such as Real-ESRGAN)
 * - GET  /v1/models/{owner}/{name} — the model, with `latest_version`
 * - GET  /v1/predictions/{id}, POST /v1/predictions/{id}/cancel
 * - GET  /files/{id}.png — output files, as replicate.delivery serves them
 *
 * Predictions honour `Prefer: wait` (answering with the finished prediction) unless told to stay
 * `starting` for a number of polls. Errors are RFC 7807 problem bodies, as Replicate sends them;
 * inputs are validated like the models' schemas (422 with `invalid_fields`). Real images are
 * made with sharp at the sizes the models make.
 */
import { randomBytes } from 'node:crypto';
import type http from 'node:http';
import sharp from 'sharp';
import type { Fault, RecordedRequest } from './contract/faults';
import { echoesOf, leakyHeaders, leakyTree, sendJson, sendRaw, startRecordingServer, type LeakKind, type RawResponse, type ReceivedRequest, type StreamReport } from './fake-http';

/** The version id the fake gives nightmareai/real-esrgan (64 hex digits, like a real one). */
export const REAL_ESRGAN_VERSION = 'f121d640bd286e1fdc67f9799164c1d5be36ff74576ee11c803ae5b665dd46aa';

const FLUX_RATIOS = ['1:1', '16:9', '9:16', '3:2', '2:3', '4:5', '5:4', '3:4', '4:3', '21:9', '9:21'];

interface ModelDef {
  official: boolean;
  /** Megapixels of a generated image; 0 for upscalers. */
  megapixels: number;
  formats: string[];
  /** Outputs a list of URLs (multi-output models) rather than one. */
  list: boolean;
}

const MODELS: Record<string, ModelDef> = {
  'black-forest-labs/flux-1.1-pro': { official: true, megapixels: 1, formats: ['webp', 'jpg', 'png'], list: false },
  'black-forest-labs/flux-1.1-pro-ultra': { official: true, megapixels: 4, formats: ['jpg', 'png'], list: false },
  'black-forest-labs/flux-schnell': { official: true, megapixels: 1, formats: ['webp', 'jpg', 'png'], list: true },
  'black-forest-labs/flux-dev': { official: true, megapixels: 1, formats: ['webp', 'jpg', 'png'], list: true },
  'black-forest-labs/flux-dev-lora': { official: true, megapixels: 1, formats: ['webp', 'jpg', 'png'], list: true },
  'black-forest-labs/flux-schnell-lora': { official: true, megapixels: 1, formats: ['webp', 'jpg', 'png'], list: true },
  'recraft-ai/recraft-crisp-upscale': { official: true, megapixels: 0, formats: ['png'], list: false },
  'nightmareai/real-esrgan': { official: false, megapixels: 0, formats: ['png'], list: false },
};

/** Size of a FLUX image for an aspect ratio: about `mp` megapixels, sides multiples of 32. */
export function fluxSize(ratio: string, mp: number): [number, number] {
  const [w, h] = ratio.split(':').map(Number) as [number, number];
  const px = mp * 1024 * 1024;
  const width = Math.round(Math.sqrt((px * w) / h) / 32) * 32;
  const height = Math.round(Math.sqrt((px * h) / w) / 32) * 32;
  return [width, height];
}

export interface FakeReplicateOptions {
  /** Requests must carry `Authorization: Bearer <apiToken>` (401 otherwise). */
  apiToken: string;
  /** How many times Recraft Crisp Upscale enlarges (it has no scale input). @default 2 */
  recraftFactor?: number;
  /** Put the bearer token the request carried into the 401 body, to prove adapters scrub it. @default false */
  echoTokenInErrors?: boolean;
  /** Answer every API request as a gateway that repeats the caller's token everywhere (see {@link FakeReplicate.leakNext}). */
  leak?: ReplicateLeakKind;
}

/** {@link LeakKind}, and a prediction that failed with the token in its error. */
export type ReplicateLeakKind = LeakKind | 'failed';

export interface FakeReplicate {
  /** `http://127.0.0.1:<port>/v1`, for the SDK's `baseUrl`. */
  baseUrl: string;
  /** `127.0.0.1:<port>`: where output files are served from. */
  host: string;
  requests(): RecordedRequest[];
  /**
   * Makes the next request fail this way (contentPolicy and malformed: the next prediction
   * answer); with `method`, the next request with that method.
   */
  fault(kind: Fault, options?: { method?: 'GET' | 'POST' }): void;
  /** The next prediction is still `starting` when `Prefer: wait` gives up, and `processing` for this many status checks after. */
  slowNext(polls: number): void;
  /** The next prediction's output is this URL instead of a file on the fake. */
  outputNext(url: string): void;
  /**
   * The next API request is answered by a gateway that repeats the token it was sent everywhere:
   * an error status (title, detail, type, extra and nested fields, headers), a prediction whose
   * output is not a URL, a failed prediction, or a 200 that is not JSON.
   */
  leakNext(kind: ReplicateLeakKind): void;
  /** Answers the next API request (not an output download) with exactly this. */
  rawNext(response: RawResponse): void;
  /** The next prediction's output file is answered with exactly this (a streamed body is reported in streams()). */
  serveNext(response: RawResponse): void;
  /** Every streamed body sent, oldest first. */
  streams(): StreamReport[];
  close(): Promise<void>;
}

interface Prediction {
  id: string;
  model: string;
  version: string;
  input: Record<string, unknown>;
  status: string;
  output: unknown;
  error: string | null;
  remainingPolls: number;
  result: unknown;
  created_at: string;
}

/** What a token-echoing gateway answers in Replicate's wire format. */
function leakResponse(kind: ReplicateLeakKind, token: string, method: string): RawResponse {
  const e = echoesOf(token);
  const headers = { 'content-type': 'application/json', ...leakyHeaders(token) };
  const prediction = (over: Record<string, unknown>) => ({ id: `leak${e.url.length}`, model: token, version: token, input: { token }, logs: token, urls: { get: `https://gateway.example/${e.url}` }, ...over });
  if (kind === 'garbage') return { status: 200, headers, body: `{"id": "x", "status": ${token} ${e.url} ${e.basic}, "oops" ` };
  if (kind === 'malformed') return { status: method === 'POST' ? 201 : 200, headers, body: JSON.stringify(prediction({ status: 'succeeded', output: { url: token, tree: leakyTree(token) }, error: null })) };
  if (kind === 'failed') {
    return { status: method === 'POST' ? 201 : 200, headers, body: JSON.stringify(prediction({ status: 'failed', output: null, error: { message: `bad token ${token}`, tree: leakyTree(token) } })) };
  }
  return {
    status: kind,
    headers: { ...headers, 'content-type': 'application/problem+json', ...(kind === 429 ? { 'retry-after': '1' } : {}) },
    body: JSON.stringify({ type: token, title: `Unauthenticated ${token}`, detail: `You did not pass a valid authentication token: ${token} (${e.url}, ${e.basic})`, status: kind, instance: e.url, invalid_fields: [{ type: token, field: token, description: e.basic }], echo: leakyTree(token) }),
  };
}

const problem = (status: number, title: string, detail: string, extra: Record<string, unknown> = {}) => ({ type: 'about:blank', title, detail, status, ...extra });

export async function startFakeReplicate(options: FakeReplicateOptions): Promise<FakeReplicate> {
  const predictions = new Map<string, Prediction>();
  const files = new Map<string, { data: Buffer; mime: string }>();
  let pendingLeak: ReplicateLeakKind | undefined;
  let raw: RawResponse | undefined;
  let serve: RawResponse | undefined;
  const served = new Map<string, RawResponse>();
  const streams: StreamReport[] = [];
  let pending: { kind: Fault; method?: string } | undefined;
  let slowPolls = 0;
  let outputOverride: string | undefined;
  let origin = '';

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
    sendJson(res, status, body, { 'content-type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers });

  /** The prediction as the API shows it. */
  const view = (p: Prediction) => ({
    id: p.id,
    model: p.model,
    version: p.version,
    input: p.input,
    logs: '',
    output: p.output,
    data_removed: false,
    error: p.error,
    status: p.status,
    created_at: p.created_at,
    ...(p.status === 'succeeded' ? { started_at: p.created_at, completed_at: new Date().toISOString(), metrics: { predict_time: 1.23, ...(MODELS[p.model]!.megapixels ? { image_count: 1 } : {}) } } : {}),
    urls: {
      cancel: `${origin}/v1/predictions/${p.id}/cancel`,
      get: `${origin}/v1/predictions/${p.id}`,
      stream: `${origin}/stream/${p.id}`,
      web: `https://replicate.com/p/${p.id}`,
    },
  });

  /** Runs the model: validates its input like the model's schema, then makes the output file. */
  async function run(model: string, input: Record<string, unknown>): Promise<{ invalid?: Array<{ field: string; message: string }>; output?: unknown }> {
    const def = MODELS[model]!;
    const invalid: Array<{ field: string; message: string }> = [];
    let image: Buffer;
    if (def.megapixels) {
      if (typeof input.prompt !== 'string' || !input.prompt) invalid.push({ field: 'input.prompt', message: 'prompt is required' });
      const ratio = (input.aspect_ratio as string | undefined) ?? '1:1';
      if (!FLUX_RATIOS.includes(ratio)) invalid.push({ field: 'input.aspect_ratio', message: `aspect_ratio must be one of: ${FLUX_RATIOS.join(', ')}` });
      const format = (input.output_format as string | undefined) ?? 'webp';
      if (!def.formats.includes(format)) invalid.push({ field: 'input.output_format', message: `output_format must be one of: ${def.formats.join(', ')}` });
      if (input.seed !== undefined && !Number.isInteger(input.seed)) invalid.push({ field: 'input.seed', message: 'seed must be an integer' });
      if (input.lora_scale !== undefined && !(typeof input.lora_scale === 'number' && input.lora_scale >= -1 && input.lora_scale <= 3)) invalid.push({ field: 'input.lora_scale', message: 'lora_scale must be from -1 to 3' });
      if (input.lora_weights !== undefined && typeof input.lora_weights !== 'string') invalid.push({ field: 'input.lora_weights', message: 'lora_weights must be a string' });
      if (invalid.length) return { invalid };
      const [width, height] = fluxSize(ratio, def.megapixels);
      const base = sharp({ create: { width, height, channels: 3, background: { r: 30, g: 90, b: 160 } } });
      image = await (format === 'png' ? base.png({ compressionLevel: 1 }) : format === 'jpg' ? base.jpeg() : base.webp()).toBuffer();
    } else {
      const m = typeof input.image === 'string' ? /^data:image\/[a-z]+;base64,(.+)$/s.exec(input.image) : null;
      if (!m) return { invalid: [{ field: 'input.image', message: 'image must be a URI (a data URI here)' }] };
      const src = Buffer.from(m[1]!, 'base64');
      const meta = await sharp(src).metadata();
      let factor = options.recraftFactor ?? 2;
      if (model === 'nightmareai/real-esrgan') {
        factor = input.scale === undefined ? 4 : Number(input.scale);
        if (!(factor > 0 && factor <= 10)) return { invalid: [{ field: 'input.scale', message: 'scale must be at most 10' }] };
      }
      image = await sharp(src).resize(Math.round(meta.width * factor), Math.round(meta.height * factor), { fit: 'fill' }).png({ compressionLevel: 1 }).toBuffer();
    }
    const fileId = randomBytes(8).toString('hex');
    files.set(fileId, { data: image, mime: 'image/png' });
    if (serve) served.set(fileId, serve);
    serve = undefined;
    const url = outputOverride ?? `${origin}/files/${fileId}.png`;
    outputOverride = undefined;
    return { output: def.list ? [url] : url };
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, { url, method, body }: ReceivedRequest) {
    const file = /^\/files\/([0-9a-f]+)\.png$/.exec(url.pathname);
    if (file && method === 'GET') {
      const special = served.get(file[1]!);
      if (special) {
        const report = sendRaw(res, special);
        if (report) streams.push(report);
        return;
      }
      const f = files.get(file[1]!);
      if (!f) return send(res, 404, problem(404, 'Not found', 'no such file'));
      res.writeHead(200, { 'content-type': f.mime, 'content-length': f.data.length });
      return res.end(f.data);
    }

    const leak = pendingLeak ?? options.leak;
    pendingLeak = undefined;
    if (leak !== undefined) return sendRaw(res, leakResponse(leak, (req.headers.authorization ?? '').replace(/^Bearer /, ''), method));
    if (raw) {
      const r = raw;
      raw = undefined;
      const report = sendRaw(res, r);
      if (report) streams.push(report);
      return;
    }

    const answersPrediction = /^\/v1\/(?:models\/[^/]+\/[^/]+\/)?predictions(?:\/[^/]+)?$/.test(url.pathname);
    let fault: Fault | undefined;
    if (pending && (!pending.method || pending.method === method) && (answersPrediction || (pending.kind !== 'contentPolicy' && pending.kind !== 'malformed'))) {
      fault = pending.kind;
      pending = undefined;
    }

    if (fault === 'timeout') return; // never answers; close() destroys the socket
    if (fault === 'badKey' || req.headers.authorization !== `Bearer ${options.apiToken}`) {
      const echo = options.echoTokenInErrors ? ` (got ${String(req.headers.authorization ?? 'none')})` : '';
      return send(res, 401, problem(401, 'Unauthenticated', `You did not pass a valid authentication token${echo}`));
    }
    if (fault === 'rateLimit') {
      return send(res, 429, problem(429, 'Request was throttled', 'Request was throttled. Expected available in 7 seconds.'), { 'retry-after': '7' });
    }
    if (fault === 'serverError') return send(res, 500, problem(500, 'Internal Server Error', 'Internal server error'));
    if (fault === 'malformed') return send(res, method === 'POST' ? 201 : 200, { id: 42, state: 'done', result: null });

    const modelGet = /^\/v1\/models\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (modelGet && method === 'GET') {
      const name = `${modelGet[1]}/${modelGet[2]}`;
      if (!MODELS[name]) return send(res, 404, problem(404, 'Not found', 'The requested resource could not be found.'));
      return send(res, 200, {
        url: `https://replicate.com/${name}`,
        owner: modelGet[1],
        name: modelGet[2],
        visibility: 'public',
        run_count: 1000,
        latest_version: MODELS[name]!.official ? null : { id: REAL_ESRGAN_VERSION, created_at: '2023-01-01T00:00:00Z', cog_version: '0.8.6', openapi_schema: {} },
      });
    }

    const byModel = /^\/v1\/models\/([^/]+)\/([^/]+)\/predictions$/.exec(url.pathname);
    if ((byModel || url.pathname === '/v1/predictions') && method === 'POST') {
      const b = (body ?? {}) as { version?: unknown; input?: unknown };
      let model: string;
      if (byModel) {
        model = `${byModel[1]}/${byModel[2]}`;
        if (!MODELS[model]?.official) return send(res, 404, problem(404, 'Not found', 'The requested resource could not be found.'));
      } else {
        const entry = Object.entries(MODELS).find(([, d]) => !d.official);
        if (b.version !== REAL_ESRGAN_VERSION || !entry) {
          return send(res, 422, problem(422, 'Invalid version or not permitted', 'The specified version does not exist (or perhaps you don\'t have permission to use it?)'));
        }
        model = entry[0];
      }
      if (!b.input || typeof b.input !== 'object') return send(res, 422, problem(422, 'Input validation failed', '- input: input is required', { invalid_fields: [{ type: 'required', field: 'input', description: 'input is required' }] }));
      const input = b.input as Record<string, unknown>;
      const id = randomBytes(13).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, 'x').slice(0, 26);
      const p: Prediction = { id, model, version: byModel ? 'hidden' : REAL_ESRGAN_VERSION, input, status: 'starting', output: null, error: null, remainingPolls: slowPolls, result: undefined, created_at: new Date().toISOString() };
      slowPolls = 0;
      if (fault === 'contentPolicy') {
        p.status = 'failed';
        p.error = 'Your input was flagged as sensitive. Please try again with different inputs. (E005)';
      } else {
        const out = await run(model, input);
        if (out.invalid) {
          return send(res, 422, problem(422, 'Input validation failed', out.invalid.map((i) => `- ${i.field}: ${i.message}`).join('\n'), { invalid_fields: out.invalid.map((i) => ({ type: 'invalid', field: i.field, description: i.message })) }));
        }
        p.result = out.output;
        const wait = /^wait(?:=(\d+))?$/.exec(String(req.headers.prefer ?? ''));
        if (wait && p.remainingPolls === 0) {
          p.status = 'succeeded';
          p.output = p.result;
        }
      }
      predictions.set(id, p);
      return send(res, 201, view(p), { location: `${origin}/v1/predictions/${id}` });
    }

    const one = /^\/v1\/predictions\/([^/]+)(\/cancel)?$/.exec(url.pathname);
    if (one) {
      const p = predictions.get(one[1]!);
      if (!p) return send(res, 404, problem(404, 'Not found', 'The requested resource could not be found.'));
      if (one[2] && method === 'POST') {
        if (p.status === 'starting' || p.status === 'processing') p.status = 'canceled';
        return send(res, 200, view(p));
      }
      if (method === 'GET') {
        if (fault === 'contentPolicy') {
          p.status = 'failed';
          p.error = 'Your input was flagged as sensitive. Please try again with different inputs. (E005)';
        } else if (p.status === 'starting' || p.status === 'processing') {
          if (p.remainingPolls > 0) {
            p.remainingPolls--;
            p.status = 'processing';
          } else {
            p.status = 'succeeded';
            p.output = p.result;
          }
        }
        return send(res, 200, view(p));
      }
    }
    return send(res, 404, problem(404, 'Not found', 'The requested resource could not be found.'));
  }

  const server = await startRecordingServer(handle, (res, err) => send(res, 500, problem(500, 'Internal Server Error', `fake-replicate: ${err.message}`)));
  origin = server.url;
  return {
    baseUrl: `${origin}/v1`,
    host: server.host,
    requests: server.requests,
    fault(kind, opts) {
      pending = { kind, method: opts?.method };
    },
    slowNext(polls) {
      slowPolls = polls;
    },
    outputNext(u) {
      outputOverride = u;
    },
    leakNext(kind) {
      pendingLeak = kind;
    },
    rawNext(r) {
      raw = r;
    },
    serveNext(r) {
      serve = r;
    },
    streams: () => [...streams],
    close: server.close,
  };
}
