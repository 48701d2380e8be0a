/**
 * A local stand-in for api.replicate.com and replicate.delivery that speaks Replicate's HTTP API,
 * so the adapters run the real `replicate` SDK (pointed here by `baseUrl`) with no network.
 *
 * - POST /v1/models/{owner}/{name}/predictions — official models by name (FLUX, Recraft)
 * - POST /v1/predictions — any model by `version` (community models such as Real-ESRGAN)
 * - GET  /v1/models/{owner}/{name} — the model, with `latest_version`
 * - GET  /v1/predictions/{id}, POST /v1/predictions/{id}/cancel
 * - GET  /files/{id}.png — output files, as replicate.delivery serves them
 * - POST /v1/files (multipart, the file in `content`), DELETE /v1/files/{id} — input files too large for a data URI
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
import { echoesOf, leakyHeaders, leakyTree, sendJson, oneShotAnswers, startRecordingServer, type LeakKind, type MultipartBody, type RawResponse, type ReceivedRequest, type StreamReport } from './fake-http';

/** The version id the fake gives nightmareai/real-esrgan (64 hex digits, like a real one). */
export const REAL_ESRGAN_VERSION = 'f121d640bd286e1fdc67f9799164c1d5be36ff74576ee11c803ae5b665dd46aa';

const FLUX_RATIOS = ['1:1', '16:9', '9:16', '3:2', '2:3', '4:5', '5:4', '3:4', '4:3', '21:9', '9:21'];

const FLUX2_RATIOS = ['1:1', '16:9', '9:16', '3:2', '2:3', '4:5', '5:4', '3:4', '4:3', 'match_input_image', 'custom'];
const SEEDREAM_RATIOS = ['match_input_image', '1:1', '4:3', '3:4', '16:9', '9:16', '3:2', '2:3', '21:9'];
const IDEOGRAM_RATIOS = ['1:3', '3:1', '1:2', '2:1', '9:16', '16:9', '10:16', '16:10', '2:3', '3:2', '3:4', '4:3', '4:5', '5:4', '1:1'];

interface ModelDef {
  official: boolean;
  /** Megapixels of a generated image; 0 for upscalers. */
  megapixels: number;
  /** Output formats it takes; empty: it has no `output_format` input. */
  formats: string[];
  /** Outputs a list of URLs (multi-output models) rather than one. */
  list: boolean;
  /** @default FLUX_RATIOS */
  ratios?: string[];
  /** Where it takes input images, and how many: one URI (`input_image`) or a list. */
  images?: { field: string; list: boolean; max: number };
  /** The most permissive safety_tolerance it takes, with input images and without. */
  tolerance?: { withImages: number; max: number };
  /** It has a `seed` input. @default true */
  seed?: boolean;
}

const MODELS: Record<string, ModelDef> = {
  'black-forest-labs/flux-1.1-pro': { official: true, megapixels: 1, formats: ['webp', 'jpg', 'png'], list: false },
  'black-forest-labs/flux-1.1-pro-ultra': { official: true, megapixels: 4, formats: ['jpg', 'png'], list: false },
  'black-forest-labs/flux-schnell': { official: true, megapixels: 1, formats: ['webp', 'jpg', 'png'], list: true },
  'black-forest-labs/flux-dev': { official: true, megapixels: 1, formats: ['webp', 'jpg', 'png'], list: true },
  'black-forest-labs/flux-kontext-pro': { official: true, megapixels: 1, formats: ['jpg', 'png'], list: false, ratios: [...FLUX_RATIOS, 'match_input_image'], images: { field: 'input_image', list: false, max: 1 }, tolerance: { withImages: 2, max: 6 } },
  'black-forest-labs/flux-kontext-max': { official: true, megapixels: 1, formats: ['jpg', 'png'], list: false, ratios: [...FLUX_RATIOS, 'match_input_image'], images: { field: 'input_image', list: false, max: 1 }, tolerance: { withImages: 2, max: 6 } },
  'black-forest-labs/flux-2-pro': { official: true, megapixels: 1, formats: ['webp', 'jpg', 'png'], list: false, ratios: FLUX2_RATIOS, images: { field: 'input_images', list: true, max: 8 }, tolerance: { withImages: 5, max: 5 } },
  'black-forest-labs/flux-2-flex': { official: true, megapixels: 1, formats: ['webp', 'jpg', 'png'], list: false, ratios: FLUX2_RATIOS, images: { field: 'input_images', list: true, max: 8 } },
  'black-forest-labs/flux-2-dev': { official: true, megapixels: 1, formats: ['webp', 'jpg', 'png'], list: false, ratios: FLUX2_RATIOS, images: { field: 'input_images', list: true, max: 4 } },
  'bytedance/seedream-4': { official: true, megapixels: 4, formats: [], list: true, ratios: SEEDREAM_RATIOS, images: { field: 'image_input', list: true, max: 10 }, seed: false },
  'ideogram-ai/ideogram-v3-turbo': { official: true, megapixels: 1, formats: [], list: false, ratios: IDEOGRAM_RATIOS },
  'ideogram-ai/ideogram-v3-balanced': { official: true, megapixels: 1, formats: [], list: false, ratios: IDEOGRAM_RATIOS },
  'ideogram-ai/ideogram-v3-quality': { official: true, megapixels: 1, formats: [], list: false, ratios: IDEOGRAM_RATIOS },
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
  /** Input files uploaded and not deleted, by id, and the ids deleted so far. */
  uploads(): { live: Map<string, { data: Buffer; type: string }>; deleted: string[] };
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
  /** Input files uploaded through POST /v1/files, by id. */
  const uploads = new Map<string, { data: Buffer; type: string }>();
  const deleted: string[] = [];
  /** The bytes behind an input URI: a data URI, or a file uploaded here. */
  const inputFile = (uri: string): Buffer | undefined => {
    const data = /^data:image\/[a-z0-9.+-]+;base64,(.+)$/s.exec(uri);
    if (data) return Buffer.from(data[1]!, 'base64');
    const up = /\/v1\/files\/([^/]+)$/.exec(uri);
    return up ? uploads.get(up[1]!)?.data : undefined;
  };
  const oneShot = oneShotAnswers(options.leak, (kind, req) => leakResponse(kind, (req.headers.authorization ?? '').replace(/^Bearer /, ''), req.method ?? 'GET'));
  let serve: RawResponse | undefined;
  const served = new Map<string, RawResponse>();
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
      const ratios = def.ratios ?? FLUX_RATIOS;
      const ratio = (input.aspect_ratio as string | undefined) ?? '1:1';
      if (!ratios.includes(ratio)) invalid.push({ field: 'input.aspect_ratio', message: `aspect_ratio must be one of: ${ratios.join(', ')}` });
      const format = (input.output_format as string | undefined) ?? def.formats[0] ?? 'png';
      if (def.formats.length === 0 && input.output_format !== undefined) invalid.push({ field: 'input.output_format', message: 'Additional property output_format is not allowed' });
      else if (def.formats.length && !def.formats.includes(format)) invalid.push({ field: 'input.output_format', message: `output_format must be one of: ${def.formats.join(', ')}` });
      if (def.seed === false && input.seed !== undefined) invalid.push({ field: 'input.seed', message: 'Additional property seed is not allowed' });
      if (input.seed !== undefined && !Number.isInteger(input.seed)) invalid.push({ field: 'input.seed', message: 'seed must be an integer' });
      // Input images: data URIs or files uploaded to this fake, each a real image.
      const inputs: Buffer[] = [];
      for (const field of ['input_image', 'input_images', 'image_input']) {
        if (input[field] === undefined) continue;
        if (def.images?.field !== field) {
          invalid.push({ field: `input.${field}`, message: `Additional property ${field} is not allowed` });
          continue;
        }
        const uris = def.images.list ? input[field] : [input[field]];
        if (!Array.isArray(uris) || (!def.images.list && typeof input[field] !== 'string')) {
          invalid.push({ field: `input.${field}`, message: `${field} must be ${def.images.list ? 'an array of URIs' : 'a URI'}` });
          continue;
        }
        if (uris.length > def.images.max) invalid.push({ field: `input.${field}`, message: `${field} takes at most ${def.images.max} images` });
        for (const uri of uris) {
          const bytes = typeof uri === 'string' ? inputFile(uri) : undefined;
          const ok = bytes && (await sharp(bytes).metadata().then((m) => ['png', 'jpeg', 'webp', 'gif'].includes(m.format ?? ''), () => false));
          if (!ok) invalid.push({ field: `input.${field}`, message: `${field}: ${String(uri).slice(0, 40)}… is not a reachable jpeg, png, gif or webp image` });
          else inputs.push(bytes);
        }
      }
      if (def.tolerance && input.safety_tolerance !== undefined) {
        const max = inputs.length ? def.tolerance.withImages : def.tolerance.max;
        if (!(Number(input.safety_tolerance) <= max)) invalid.push({ field: 'input.safety_tolerance', message: `safety_tolerance must be at most ${max}${inputs.length ? ' when input images are used' : ''}` });
      }
      if (ratio === 'match_input_image' && !inputs.length) invalid.push({ field: 'input.aspect_ratio', message: 'match_input_image needs an input image' });
      if (input.lora_scale !== undefined && !(typeof input.lora_scale === 'number' && input.lora_scale >= -1 && input.lora_scale <= 3)) invalid.push({ field: 'input.lora_scale', message: 'lora_scale must be from -1 to 3' });
      if (input.lora_weights !== undefined && typeof input.lora_weights !== 'string') invalid.push({ field: 'input.lora_weights', message: 'lora_weights must be a string' });
      if (invalid.length) return { invalid };
      const [width, height] = fluxSize(ratio === 'match_input_image' || ratio === 'custom' ? '1:1' : ratio, def.megapixels);
      const overlay = inputs[0] ? [{ input: await sharp(inputs[0]).resize(Math.round(width / 2), Math.round(height / 2), { fit: 'inside' }).png().toBuffer(), gravity: 'center' }] : [];
      const base = sharp({ create: { width, height, channels: 3, background: { r: 30, g: 90, b: 160 } } }).composite(overlay);
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
      if (special) return oneShot.send(res, special);
      const f = files.get(file[1]!);
      if (!f) return send(res, 404, problem(404, 'Not found', 'no such file'));
      res.writeHead(200, { 'content-type': f.mime, 'content-length': f.data.length });
      return res.end(f.data);
    }

    if (oneShot.answer(req, res)) return;

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

    if (url.pathname === '/v1/files' && method === 'POST') {
      const form = body as Partial<MultipartBody> | undefined;
      const content = form?.multipart ? form.files?.find((f) => f.field === 'content') : undefined;
      if (!content) return send(res, 400, problem(400, 'Bad request', 'content: a file is required'));
      const id = randomBytes(12).toString('hex');
      uploads.set(id, { data: content.data, type: content.type ?? 'application/octet-stream' });
      return send(res, 201, {
        id,
        name: content.filename,
        content_type: content.type,
        size: content.data.length,
        etag: id.slice(0, 16),
        checksums: {},
        metadata: {},
        created_at: new Date().toISOString(),
        expires_at: new Date(Date.now() + 86_400_000).toISOString(),
        urls: { get: `${origin}/v1/files/${id}` },
      });
    }
    const fileOne = /^\/v1\/files\/([^/]+)$/.exec(url.pathname);
    if (fileOne && method === 'DELETE') {
      if (!uploads.delete(fileOne[1]!)) return send(res, 404, problem(404, 'Not found', 'The requested resource could not be found.'));
      deleted.push(fileOne[1]!);
      res.writeHead(204);
      return res.end();
    }

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
    ...oneShot.controls,
    serveNext(r) {
      serve = r;
    },
    uploads: () => ({ live: new Map(uploads), deleted: [...deleted] }),
    close: server.close,
  };
}
