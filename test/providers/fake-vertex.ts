/**
 * A local stand-in for Vertex AI (`<location>-aiplatform.googleapis.com`) that speaks the wire
 * format of Imagen's `:predict`, so the Vertex adapters run the real `@google/genai` SDK in
 * Vertex mode (pointed here by `httpOptions.baseUrl`) with no network. It serves:
 *
 * - `POST /v1/projects/{project}/locations/{location}/publishers/google/models/{model}:predict`,
 *   with `Authorization: Bearer <token>` (Application Default Credentials);
 * - `POST /v1/publishers/google/models/{model}:predict`, with `x-goog-api-key` (express mode);
 * - `POST /sts/token`, an OAuth 2.0 token exchange (RFC 8693) as Google's STS answers it, for a
 *   workload identity federation credentials file whose `token_url` points here: the way ADC
 *   gets a token without any Google host.
 *
 * Shapes follow the Imagen API reference: `instances[0].prompt` and `parameters { sampleCount,
 * aspectRatio, negativePrompt, seed, addWatermark, sampleImageSize, outputOptions.mimeType,
 * includeRaiReason, … }` in; `predictions[] { bytesBase64Encoded, mimeType }` out, or
 * `{ raiFilteredReason }` for an image its filters held back. Upscale is the same endpoint with
 * `parameters.mode: "upscale"`, `upscaleConfig.upscaleFactor` and `instances[0].image`. Errors
 * are `{ error: { code, message, status, details } }`, as every Google API sends them.
 */
import type http from 'node:http';
import sharp from 'sharp';
import type { Fault, RecordedRequest } from './contract/faults';
import { echoesOf, leakyHeaders, leakyTree, sendJson, oneShotAnswers, startRecordingServer, type LeakKind, type RawResponse, type ReceivedRequest, type StreamReport } from './fake-http';

/** Imagen 4's 1K outputs per aspect ratio, and Ultra's 2K ones (sampleImageSize "2K"). */
export const IMAGEN_SIZES: Readonly<Record<string, Readonly<Record<string, [number, number]>>>> = {
  '1K': { '1:1': [1024, 1024], '3:4': [896, 1280], '4:3': [1280, 896], '9:16': [768, 1408], '16:9': [1408, 768] },
  '2K': { '1:1': [2048, 2048], '3:4': [1792, 2560], '4:3': [2560, 1792], '9:16': [1536, 2816], '16:9': [2816, 1536] },
};

/** What Vertex AI says when its Responsible AI filters held back every image. */
export const RAI_REASON = "Unable to show generated images. All images were filtered out because they violated Vertex AI's usage guidelines. Support codes: 58061214";

export interface FakeVertexOptions {
  /** The project the ADC path must name in its URL. */
  project: string;
  /** An express-mode key the fake accepts (`x-goog-api-key`). */
  apiKey?: string;
  /** The access token the STS endpoint issues and the ADC path must carry. @default ya29.fake-vertex-token */
  accessToken?: string;
}

export interface FakeVertex {
  /** `http://127.0.0.1:<port>`, for the SDK's `httpOptions.baseUrl` (the SDK adds `/v1`). */
  baseUrl: string;
  /** Where the STS token exchange is served (a credentials file's `token_url`). */
  tokenUrl: string;
  accessToken: string;
  requests(): RecordedRequest[];
  /** Makes the next `:predict` request fail this way. */
  fault(kind: Fault): void;
  /** Answers the next request as a gateway that repeats the key it was sent everywhere. */
  leakNext(kind: LeakKind): void;
  /** Answers the next request with exactly this. */
  rawNext(response: RawResponse): void;
  /** The next STS token request is refused (HTTP 400 invalid_grant, as Google's STS says it). */
  refuseNextToken(): void;
  streams(): StreamReport[];
  close(): Promise<void>;
}

const googleError = (code: number, status: string, message: string, details?: unknown[]) => ({ error: { code, message, status, ...(details ? { details } : {}) } });

/** What a key-echoing gateway answers, in Vertex AI's wire format. */
function leakResponse(kind: LeakKind, key: string): RawResponse {
  const e = echoesOf(key);
  const headers = { 'content-type': 'application/json; charset=UTF-8', ...leakyHeaders(key) };
  if (kind === 'garbage') return { status: 200, headers, body: `{"predictions": [ ${key} ${e.url} ${e.basic}, "oops" ` };
  if (kind === 'malformed') {
    return { status: 200, headers, body: JSON.stringify({ predictions: [{ bytesBase64Encoded: { key }, mimeType: key, raiFilteredReason: 42 }], deployedModelId: key, echo: leakyTree(key) }) };
  }
  const details = [
    { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: key, domain: e.url, metadata: { key, basic: e.basic } },
    { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: key },
  ];
  return {
    status: kind,
    headers: { ...headers, ...(kind === 429 ? { 'retry-after': '1' } : {}) },
    body: JSON.stringify({ error: { code: kind, message: `API key not valid: ${key} (${e.url}, ${e.basic})`, status: key, details, echo: leakyTree(key) } }),
  };
}

interface PredictBody {
  instances?: Array<{ prompt?: string; image?: { bytesBase64Encoded?: string } }>;
  parameters?: {
    sampleCount?: number;
    aspectRatio?: string;
    seed?: number;
    addWatermark?: boolean;
    sampleImageSize?: string;
    enhancePrompt?: boolean;
    personGeneration?: string;
    safetySetting?: string;
    mode?: string;
    upscaleConfig?: { upscaleFactor?: string };
    outputOptions?: { mimeType?: string };
  };
}

export async function startFakeVertex(options: FakeVertexOptions): Promise<FakeVertex> {
  const accessToken = options.accessToken ?? 'ya29.fake-vertex-token';
  let pending: Fault | undefined;
  const oneShot = oneShotAnswers<LeakKind>(undefined, (kind, req) => leakResponse(kind, String(req.headers['x-goog-api-key'] ?? '')));
  let refuseToken = false;
  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
    sendJson(res, status, body, { 'content-type': 'application/json; charset=UTF-8', ...headers });

  async function render(width: number, height: number): Promise<string> {
    const png = await sharp({ create: { width, height, channels: 3, background: { r: 60, g: 140, b: 200 } } }).png({ compressionLevel: 1 }).toBuffer();
    return png.toString('base64');
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, { url, body }: ReceivedRequest) {
    if (req.method === 'POST' && url.pathname === '/sts/token') {
      if (refuseToken) {
        refuseToken = false;
        return send(res, 400, { error: 'invalid_grant', error_description: 'The subject token is expired or was revoked.' });
      }
      const form = new URLSearchParams(typeof body === 'string' ? body : '');
      if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:token-exchange' || !form.get('subject_token')) {
        return send(res, 400, { error: 'invalid_request', error_description: 'Invalid token exchange request.' });
      }
      return send(res, 200, { access_token: accessToken, issued_token_type: 'urn:ietf:params:oauth:token-type:access_token', token_type: 'Bearer', expires_in: 3600 });
    }
    if (oneShot.answer(req, res)) return;
    const sentKey = String(req.headers['x-goog-api-key'] ?? '');
    const fault = pending;
    pending = undefined;
    if (fault === 'timeout') return; // never answers; close() destroys the socket

    const adc = /^\/v1\/projects\/([^/]+)\/locations\/([^/]+)\/publishers\/google\/models\/([^/:]+):predict$/.exec(url.pathname);
    const express = /^\/v1\/publishers\/google\/models\/([^/:]+):predict$/.exec(url.pathname);
    if ((!adc && !express) || req.method !== 'POST') return send(res, 404, googleError(404, 'NOT_FOUND', `Method not found: ${req.method} ${url.pathname}`));
    const model = decodeURIComponent((adc ? adc[3] : express![1])!);

    if (adc) {
      if (fault === 'badKey' || req.headers.authorization !== `Bearer ${accessToken}`) {
        return send(res, 401, googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.'));
      }
      if (decodeURIComponent(adc[1]!) !== options.project) {
        return send(res, 403, googleError(403, 'PERMISSION_DENIED', `Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/projects/${adc[1]}/locations/${adc[2]}/publishers/google/models/${model}' (or it may not exist).`));
      }
    } else if (fault === 'badKey' || !options.apiKey || sentKey !== options.apiKey) {
      return send(res, 400, googleError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'aiplatform.googleapis.com' } },
      ]));
    }
    if (fault === 'rateLimit') {
      return send(res, 429, googleError(429, 'RESOURCE_EXHAUSTED', `Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model with base model: ${model}. Please submit a quota increase request.`, [
        { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7s' },
      ]));
    }
    if (fault === 'serverError') return send(res, 500, googleError(500, 'INTERNAL', 'Internal error encountered.'));
    if (fault === 'contentPolicy') return send(res, 200, { predictions: [{ raiFilteredReason: RAI_REASON }] });
    if (fault === 'malformed') return send(res, 200, { predictions: [{ bytesBase64Encoded: 42, mimeType: 'image/png' }] });

    const b = (body ?? {}) as PredictBody;
    const p = b.parameters ?? {};
    const invalid = (message: string) => send(res, 400, googleError(400, 'INVALID_ARGUMENT', message));
    if (!Array.isArray(b.instances) || b.instances.length !== 1) return invalid('Exactly one instance is expected.');

    if (p.mode === 'upscale') {
      if (!model.includes('upscale')) return invalid(`Model ${model} does not support upscaling.`);
      const factor = { x2: 2, x3: 3, x4: 4 }[p.upscaleConfig?.upscaleFactor ?? ''];
      if (!factor) return invalid(`Unsupported upscale factor: ${p.upscaleConfig?.upscaleFactor}`);
      const input = Buffer.from(b.instances[0]!.image?.bytesBase64Encoded ?? '', 'base64');
      if (input.length > 10 * 1024 * 1024) return invalid('Image is larger than 10 MB.');
      const meta = await sharp(input).metadata().catch(() => undefined);
      if (!meta?.width || !meta.height) return invalid('Unable to process the input image.');
      const out = await sharp(input).resize(meta.width * factor, meta.height * factor, { kernel: 'nearest' }).png({ compressionLevel: 1 }).toBuffer();
      return send(res, 200, { predictions: [{ mimeType: 'image/png', bytesBase64Encoded: out.toString('base64') }] });
    }

    if (!model.startsWith('imagen-')) return send(res, 404, googleError(404, 'NOT_FOUND', `Publisher Model \`publishers/google/models/${model}\` was not found or your project does not have access to it.`));
    const prompt = b.instances[0]!.prompt;
    if (!prompt) return invalid('The prompt is empty.');
    const count = p.sampleCount ?? 4;
    if (!Number.isInteger(count) || count < 1 || count > 4) return invalid(`sampleCount must be between 1 and 4, got ${count}.`);
    if (p.seed !== undefined && p.addWatermark !== false) return invalid('Seed is not supported when addWatermark is enabled.');
    const oneOf = (field: 'personGeneration' | 'safetySetting', allowed: string[]) => p[field] === undefined || allowed.includes(String(p[field]).toLowerCase());
    if (!oneOf('personGeneration', ['dont_allow', 'allow_adult', 'allow_all'])) return invalid(`Unsupported personGeneration: ${p.personGeneration}`);
    if (!oneOf('safetySetting', ['block_low_and_above', 'block_medium_and_above', 'block_only_high', 'block_none'])) return invalid(`Unsupported safetySetting: ${p.safetySetting}`);
    const sizes = IMAGEN_SIZES[p.sampleImageSize ?? '1K'];
    const size = sizes?.[p.aspectRatio ?? '1:1'];
    if (!size) return invalid(`Unsupported aspect ratio ${p.aspectRatio} or image size ${p.sampleImageSize}.`);
    const bytes = await render(size[0], size[1]);
    return send(res, 200, {
      predictions: Array.from({ length: count }, () => ({ mimeType: 'image/png', bytesBase64Encoded: bytes, ...(p.enhancePrompt !== false ? { prompt: `${prompt}, highly detailed` } : {}) })),
    });
  }

  const server = await startRecordingServer(handle, (res, err) => send(res, 500, googleError(500, 'INTERNAL', `fake-vertex: ${err.message}`)));
  return {
    baseUrl: server.url,
    tokenUrl: `${server.url}/sts/token`,
    accessToken,
    requests: server.requests,
    fault(kind) {
      pending = kind;
    },
    ...oneShot.controls,
    refuseNextToken() {
      refuseToken = true;
    },
    close: server.close,
  };
}
