/**
 * A local stand-in for api.openai.com that speaks its wire format, so the adapters run the real
 * `openai` SDK (pointed here by `baseURL`) with no network. It serves the endpoints Darkroom
 * uses — POST /v1/images/generations, POST /v1/images/edits (multipart/form-data, input images as
 * `image[]` files), /v1/chat/completions and /v1/moderations — records every request,
 * and fails the next request on demand the way OpenAI does.
 *
 * Shapes follow the API reference and openai-node's types (ImagesResponse, ChatCompletion,
 * the `{ error: { message, type, param, code } }` error body).
 */
import { createHash } from 'node:crypto';
import type http from 'node:http';
import sharp from 'sharp';
import type { Fault, RecordedRequest } from './contract/faults';
import { echoesOf, leakyHeaders, leakyTree, oneShotAnswers, startRecordingServer, type LeakKind, type MultipartBody, type RawResponse, type ReceivedRequest, type StreamReport } from './fake-http';
import { fakeFidelity, fakeFidelityReasons } from './fake-fidelity';

export interface FakeOpenAIOptions {
  /** When set, requests must carry `Authorization: Bearer <apiKey>` (a 401 otherwise, as OpenAI answers). */
  apiKey?: string;
  /** Add `revised_prompt` to image results (gpt-image models do not; dall-e-3 did). @default false */
  revisedPrompt?: boolean;
  /** What a chat completion without `response_format` answers (the alt-text writer's call). */
  altText?: string;
  /**
   * A fault for some requests by their order (0-based, image requests only), e.g. every other one.
   * A `timeout` accepts the request and never answers; a {@link RawResponse} is sent as it is
   * (a streamed one is reported in {@link FakeOpenAI.streams}).
   */
  imageFaults?: (index: number) => Fault | RawResponse | undefined;
  /**
   * What the moderation model flags: an input containing one of these words (any case) is
   * flagged in its category. @default {@link FAKE_MODERATION_FLAGS}
   */
  moderationFlags?: Record<string, string[]>;
  /** Answer every request as a gateway that repeats the caller's key everywhere (see {@link FakeOpenAI.leakNext}). */
  leak?: LeakKind;
}

/** A canned answer for the next request, for tests that need one exact response. */
export interface CannedResponse {
  status: number;
  headers?: Record<string, string>;
  /** Sent as JSON unless it is a string. */
  body: unknown;
}

export interface FakeOpenAI {
  /** `http://127.0.0.1:<port>/v1`, for the SDK's `baseURL`. */
  baseURL: string;
  /** Every request received, oldest first. */
  requests(): RecordedRequest[];
  /** Makes the next request fail this way. `retryAfter` overrides the rateLimit fault's `retry-after` (default `7`). */
  fault(kind: Fault, options?: { retryAfter?: string }): void;
  /**
   * Image generations answered to a client still connected: what the vendor would bill.
   * A response written after the client went away (a killed worker) is not counted.
   */
  delivered(): number;
  /** From now on, image responses wait until release(): lets a test crash a worker mid-call. */
  hold(): void;
  release(): void;
  /** Image requests waiting behind hold(). */
  held(): number;
  /** Answers the next request with exactly this. */
  respondNext(response: CannedResponse): void;
  /** The `message.content` of the next chat completion, instead of one made from its schema. */
  nextChatContent(content: string): void;
  /**
   * The next request is answered by a gateway that repeats the key it was sent everywhere: in an
   * error status (message, type, param, code, extra and nested fields, headers), in a 200 whose
   * JSON does not fit the schema, or in a 200 that is not JSON.
   */
  leakNext(kind: LeakKind): void;
  /** Answers the next request with exactly this (a streamed body is reported in streams()). */
  rawNext(response: RawResponse): void;
  /** Every streamed body sent, oldest first. */
  streams(): StreamReport[];
  close(): Promise<void>;
}

/** OpenAI's error body. */
const apiError = (message: string, type: string, code: string | null, param: string | null = null) => ({ error: { message, type, param, code } });

/** What OpenAI answers for each fault, in its own words. */
function faultResponse(kind: Exclude<Fault, 'timeout'>, ctx: { retryAfter: string; bearer: string; path: string }): CannedResponse {
  const chat = ctx.path.endsWith('/chat/completions');
  switch (kind) {
    case 'rateLimit':
      return {
        status: 429,
        headers: { 'retry-after': ctx.retryAfter, 'x-ratelimit-limit-requests': '5', 'x-ratelimit-remaining-requests': '0' },
        body: apiError(
          `Rate limit reached for ${chat ? 'gpt-4.1-mini' : 'gpt-image-1.5'} in organization org-fake on ${chat ? 'requests per min (RPM)' : 'images per minute (IPM)'}: Limit 5, Used 5, Requested 1. Please try again in 7s.`,
          'requests',
          'rate_limit_exceeded',
        ),
      };
    case 'serverError':
      return { status: 500, body: apiError('The server had an error while processing your request. Sorry about that!', 'server_error', null) };
    case 'contentPolicy':
      return {
        status: 400,
        body: apiError(
          'Your request was rejected as a result of our safety system. Your request may contain content that is not allowed by our safety system.',
          'image_generation_user_error',
          'moderation_blocked',
        ),
      };
    case 'badKey':
      // OpenAI masks most of the key in this message; the fake echoes it whole, so the test
      // proves the adapter scrubs it rather than trusting the vendor to.
      return {
        status: 401,
        body: apiError(
          `Incorrect API key provided: ${ctx.bearer || 'sk-...'}. You can find your API key at https://platform.openai.com/account/api-keys.`,
          'invalid_request_error',
          'invalid_api_key',
        ),
      };
    case 'malformed':
      return chat
        ? { status: 200, body: { id: 'chatcmpl-malformed', object: 'chat.completion', created: 1, model: 'gpt-4.1-mini', choices: [] } }
        : { status: 200, body: { created: 1, data: [{ url: null }] } };
  }
}

/** What a key-echoing gateway answers in OpenAI's wire format. */
function leakResponse(kind: LeakKind, key: string, path: string): RawResponse {
  const e = echoesOf(key);
  if (kind === 'garbage') return { status: 200, headers: leakyHeaders(key), body: `{"data": [ ${key} ${e.url} ${e.basic}, "oops" ` };
  if (kind === 'malformed') {
    const body = path.endsWith('/chat/completions')
      ? { id: `chatcmpl-${key}`, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: { text: key }, refusal: 42 }, finish_reason: key }], echo: leakyTree(key) }
      : { created: 1, data: [{ url: `https://gateway.example/${e.url}.png`, b64_json: { key } }], echo: leakyTree(key) };
    return { status: 200, headers: leakyHeaders(key), body: JSON.stringify(body) };
  }
  const error = { message: `Incorrect API key provided: ${key} (${e.url}, ${e.basic})`, type: key, param: key, code: key, detail: leakyTree(key) };
  return { status: kind, headers: { ...leakyHeaders(key), ...(kind === 429 ? { 'retry-after': '1' } : {}) }, body: JSON.stringify({ error, echo: leakyTree(key) }) };
}

const hash = (s: string) => createHash('sha256').update(s).digest().readUInt32BE(0);

/** Output tokens gpt-image-1 reports per quality and size (OpenAI's image generation guide). */
const IMAGE_OUTPUT_TOKENS: Record<string, Record<string, number>> = {
  low: { '1024x1024': 272, '1024x1536': 408, '1536x1024': 400 },
  medium: { '1024x1024': 1056, '1024x1536': 1584, '1536x1024': 1568 },
  high: { '1024x1024': 4160, '1024x1536': 6240, '1536x1024': 6208 },
};

async function imagesGenerations(body: Record<string, unknown>, revisedPrompt: boolean): Promise<CannedResponse> {
  const invalid = (message: string, param: string, code = 'invalid_value') => ({ status: 400, body: apiError(message, 'invalid_request_error', code, param) });
  const model = String(body.model ?? 'dall-e-2');
  const gptImage = model.startsWith('gpt-image') || model === 'chatgpt-image-latest';
  if (typeof body.prompt !== 'string' || !body.prompt) return invalid("Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
  if (gptImage && 'response_format' in body) return invalid("Unknown parameter: 'response_format'.", 'response_format', 'unknown_parameter');
  const size = String(body.size ?? '1024x1024');
  const m = /^(\d+)x(\d+)$/.exec(size);
  if (!m) return invalid(`Invalid value: '${size}'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'.`, 'size');
  const width = Number(m[1]);
  const height = Number(m[2]);
  const format = String(body.output_format ?? 'png');
  if (!['png', 'jpeg', 'webp'].includes(format)) return invalid(`Invalid value: '${format}'. Supported values are: 'png', 'jpeg', and 'webp'.`, 'output_format');
  const quality = String(body.quality ?? 'auto');
  const transparent = body.background === 'transparent';

  const h = hash(body.prompt);
  const colour = { r: h & 0xff, g: (h >>> 8) & 0xff, b: (h >>> 16) & 0xff, alpha: transparent ? 0 : 1 };
  let img = sharp({ create: { width, height, channels: transparent ? 4 : 3, background: colour } }).composite([
    { input: Buffer.from(`<svg width="${width}" height="${height}"><circle cx="${width / 2}" cy="${height / 2}" r="${Math.min(width, height) / 3}" fill="#F4B400"/></svg>`) },
  ]);
  img = format === 'jpeg' ? img.jpeg() : format === 'webp' ? img.webp() : img.png();
  const bytes = await img.toBuffer();

  return imagesAnswer(bytes, { prompt: body.prompt, size, quality, format, transparent, revisedPrompt, url: !gptImage && body.response_format !== 'b64_json' });
}

/**
 * The ImagesResponse for `bytes`. Models other than gpt-image (dall-e, and the FLUX servers that
 * copy the API) answer with a URL unless asked for `b64_json`.
 */
function imagesAnswer(bytes: Buffer, o: { prompt: string; size: string; quality: string; format: string; transparent: boolean; revisedPrompt: boolean; url: boolean; inputImages?: number }): CannedResponse {
  const inputTokens = Math.ceil(o.prompt.length / 4) + (o.inputImages ?? 0) * 323;
  const outputTokens = IMAGE_OUTPUT_TOKENS[o.quality]?.[o.size] ?? 1056;
  const { transparent, quality, format, size } = o;
  return {
    status: 200,
    body: {
      created: Math.floor(Date.now() / 1000),
      background: transparent ? 'transparent' : 'opaque',
      data: [{ ...(o.url ? { url: `https://images.example/${hash(o.prompt).toString(16)}.png` } : { b64_json: bytes.toString('base64') }), ...(o.revisedPrompt ? { revised_prompt: `${o.prompt} (revised)` } : {}) }],
      output_format: format,
      quality: quality === 'auto' ? 'medium' : quality,
      size,
      usage: {
        input_tokens: inputTokens,
        input_tokens_details: { image_tokens: (o.inputImages ?? 0) * 323, text_tokens: inputTokens - (o.inputImages ?? 0) * 323 },
        output_tokens: outputTokens,
        output_tokens_details: { image_tokens: outputTokens, text_tokens: 0 },
        total_tokens: inputTokens + outputTokens,
      },
    },
  };
}

/**
 * POST /v1/images/edits: the input images arrive as files (`image[]` when several, `image` when
 * one), the rest as text fields. The answer puts the first input image, as it was sent, in the
 * middle of a scene coloured by the prompt, so a test can find the packshot in the result.
 */
async function imagesEdits(body: MultipartBody, revisedPrompt: boolean): Promise<CannedResponse> {
  const invalid = (message: string, param: string, code = 'invalid_value') => ({ status: 400, body: apiError(message, 'invalid_request_error', code, param) });
  const f = body.fields;
  const model = f.model ?? 'gpt-image-1.5';
  const gptImage = model.startsWith('gpt-image') || model === 'chatgpt-image-latest';
  if (!f.prompt) return invalid("Missing required parameter: 'prompt'.", 'prompt', 'missing_required_parameter');
  const images = body.files.filter((x) => x.field === 'image[]' || x.field === 'image');
  if (images.length === 0) return invalid("Missing required parameter: 'image'.", 'image', 'missing_required_parameter');
  if (gptImage && images.length > 16) return invalid(`Invalid 'image': too many images (${images.length}); the maximum is 16.`, 'image', 'array_above_max_length');
  if (gptImage && 'response_format' in f) return invalid("Unknown parameter: 'response_format'.", 'response_format', 'unknown_parameter');
  if (f.input_fidelity !== undefined) {
    if (!['high', 'low'].includes(f.input_fidelity)) return invalid(`Invalid value: '${f.input_fidelity}'. Supported values are: 'high' and 'low'.`, 'input_fidelity');
    if (model === 'gpt-image-1-mini') return invalid("Invalid parameter: 'input_fidelity' is not supported for model 'gpt-image-1-mini'.", 'input_fidelity', 'unsupported_parameter');
  }
  const decoded: Array<{ data: Buffer; width: number; height: number }> = [];
  for (const [i, file] of images.entries()) {
    const meta = await sharp(file.data).metadata().catch(() => undefined);
    if (!meta || !['png', 'jpeg', 'webp'].includes(meta.format ?? '')) {
      return invalid(`Invalid image file or mode for image ${i + 1}, please check your image file.`, 'image', 'invalid_image_file');
    }
    decoded.push({ data: file.data, width: meta.width, height: meta.height });
  }
  const size = f.size ?? '1024x1024';
  const m = /^(\d+)x(\d+)$/.exec(size);
  if (!m) return invalid(`Invalid value: '${size}'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'.`, 'size');
  const [width, height] = [Number(m[1]), Number(m[2])];
  const format = f.output_format ?? 'png';
  if (!['png', 'jpeg', 'webp'].includes(format)) return invalid(`Invalid value: '${format}'. Supported values are: 'png', 'jpeg', and 'webp'.`, 'output_format');
  const quality = f.quality ?? 'auto';
  const h = hash(f.prompt);
  const product = await sharp(decoded[0]!.data).resize(Math.round(width / 2), Math.round(height / 2), { fit: 'inside' }).png().toBuffer();
  let img = sharp({ create: { width, height, channels: 3, background: { r: h & 0xff, g: (h >>> 8) & 0xff, b: (h >>> 16) & 0xff } } }).composite([{ input: product, gravity: 'center' }]);
  img = format === 'jpeg' ? img.jpeg() : format === 'webp' ? img.webp() : img.png();
  const bytes = await img.toBuffer();
  return imagesAnswer(bytes, { prompt: f.prompt, size, quality, format, transparent: false, revisedPrompt, url: !gptImage && f.response_format !== 'b64_json', inputImages: images.length });
}

/** The words the fake moderation model flags by default, by category. */
export const FAKE_MODERATION_FLAGS: Record<string, string[]> = { 'violence/graphic': ['gore', 'severed'], sexual: ['explicit nudity'], hate: ['hate symbol'] };

/** OpenAI's moderation categories (openai-node's Moderation.Categories). */
const MODERATION_CATEGORIES = [
  'harassment', 'harassment/threatening', 'hate', 'hate/threatening', 'illicit', 'illicit/violent', 'self-harm',
  'self-harm/instructions', 'self-harm/intent', 'sexual', 'sexual/minors', 'violence', 'violence/graphic',
];

/** POST /v1/moderations: one result per input, flagged by {@link FakeOpenAIOptions.moderationFlags}. */
function moderations(body: Record<string, unknown>, flags: Record<string, string[]>): CannedResponse {
  const input = body.input;
  const texts = typeof input === 'string' ? [input] : Array.isArray(input) && input.every((t) => typeof t === 'string') ? (input as string[]) : undefined;
  if (!texts || texts.length === 0) return { status: 400, body: apiError("Invalid value for 'input': expected a string or an array of strings.", 'invalid_request_error', 'invalid_value', 'input') };
  const model = String(body.model ?? 'omni-moderation-latest');
  const results = texts.map((text) => {
    const hit = new Set(Object.entries(flags).filter(([, words]) => words.some((w) => text.toLowerCase().includes(w.toLowerCase()))).map(([c]) => c));
    const categories = Object.fromEntries(MODERATION_CATEGORIES.map((c) => [c, hit.has(c)]));
    const category_scores = Object.fromEntries(MODERATION_CATEGORIES.map((c) => [c, hit.has(c) ? 0.97 : 0.0004]));
    const category_applied_input_types = Object.fromEntries(MODERATION_CATEGORIES.map((c) => [c, ['text']]));
    return { flagged: hit.size > 0, categories, category_scores, category_applied_input_types };
  });
  return { status: 200, body: { id: `modr-fake${hash(texts.join('\n')).toString(16)}`, model: model === 'omni-moderation-latest' ? 'omni-moderation-2024-09-26' : model, results } };
}

type JsonSchema = Record<string, unknown>;

/** Follows a local `$ref` (`#/$defs/…`, `#/definitions/…`). */
function deref(schema: JsonSchema, root: JsonSchema): JsonSchema {
  if (typeof schema.$ref !== 'string') return schema;
  const target = schema.$ref.replace(/^#\/?/, '').split('/').filter(Boolean).reduce<unknown>((o, k) => (o as Record<string, unknown>)?.[k], root);
  return deref((target ?? {}) as JsonSchema, root);
}

/**
 * A deterministic instance of a (strict structured-output) JSON schema, as a model would fill
 * it: an array whose items hold an enum gets one element per enum value (one judgement per
 * candidate id, one entry per checklist item); numbers depend on those enum values, so each
 * candidate gets its own scores; `present` is true except under a property about avoiding.
 */
function instanceOf(schema: JsonSchema, root: JsonSchema, path: string[], seed: string): unknown {
  if (typeof schema.$ref === 'string') return instanceOf(deref(schema, root), root, path, seed);
  const anyOf = (schema.anyOf ?? schema.oneOf) as JsonSchema[] | undefined;
  if (anyOf) return instanceOf(anyOf.find((s) => s.type !== 'null') ?? anyOf[0]!, root, path, seed);
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if ('const' in schema) return schema.const;
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const props = (schema.properties ?? {}) as Record<string, JsonSchema>;
      return Object.fromEntries(Object.entries(props).map(([k, s]) => [k, instanceOf(s, root, [...path, k], seed)]));
    }
    case 'array': {
      const max = typeof schema.maxItems === 'number' ? schema.maxItems : Infinity;
      if (max === 0) return [];
      const items = deref((schema.items ?? {}) as JsonSchema, root);
      const props = (items.properties ?? {}) as Record<string, JsonSchema>;
      const keyed = Object.entries(props).find(([, s]) => Array.isArray(s.enum));
      if (keyed) {
        const [key, s] = keyed;
        return (s.enum as unknown[]).map((v) => ({ ...(instanceOf(items, root, path, `${seed}/${String(v)}`) as object), [key]: v }));
      }
      const n = Math.min(items.type === 'string' ? 2 : 1, max);
      return Array.from({ length: n }, (_, i) => instanceOf(items, root, [...path, String(i)], seed));
    }
    case 'integer':
    case 'number': {
      const min = typeof schema.minimum === 'number' ? schema.minimum : 0;
      const max = typeof schema.maximum === 'number' ? schema.maximum : 100;
      // The upper half of the range: a fake that scores everything badly would trip score gates.
      const lo = Math.ceil(min + (max - min) / 2);
      return lo + (hash(`${seed}:${path.join('.')}`) % (max - lo + 1));
    }
    case 'boolean':
      return !path.some((p) => /avoid/i.test(p));
    case 'string':
      return `Fake ${path.filter((p) => !/^\d+$/.test(p)).at(-1) ?? 'text'} ${Number(path.at(-1) ?? 0) + 1} for ${seed.split('/').at(-1) || 'the request'}.`;
    default:
      return null;
  }
}

function countImages(messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let n = 0;
  for (const m of messages as Array<{ content?: unknown }>) {
    if (Array.isArray(m.content)) n += (m.content as Array<{ type?: string }>).filter((p) => p.type === 'image_url').length;
  }
  return n;
}

type ChatPart = { type?: string; text?: string; image_url?: { url?: string } };

/** The image bytes of a data URL. */
const dataUrlBytes = (url: string | undefined) => Buffer.from(/^data:[^;]+;base64,(.*)$/s.exec(url ?? '')?.[1] ?? '', 'base64');

/**
 * When the judge sent a product reference (an image after a text part naming it) and asked for
 * fidelity: each candidate's fidelity from its likeness to the reference (see fake-fidelity.ts).
 */
async function fidelityByCandidate(messages: unknown): Promise<Map<string, number> | undefined> {
  const parts = (messages as Array<{ content?: unknown }>).flatMap((m) => (Array.isArray(m.content) ? (m.content as ChatPart[]) : []));
  const at = parts.findIndex((p, i) => p.type === 'text' && /^Product reference\b/.test(p.text ?? '') && parts[i + 1]?.type === 'image_url');
  if (at < 0) return undefined;
  const reference = dataUrlBytes(parts[at + 1]!.image_url?.url);
  const out = new Map<string, number>();
  for (let i = 0; i < parts.length - 1; i++) {
    const id = /^Candidate id: (\S+)$/.exec(parts[i]!.text ?? '')?.[1];
    if (id && parts[i + 1]!.type === 'image_url') out.set(id, await fakeFidelity(reference, dataUrlBytes(parts[i + 1]!.image_url?.url)));
  }
  return out;
}

async function chatCompletions(body: Record<string, unknown>, content: string | undefined, altText: string): Promise<CannedResponse> {
  if (!Array.isArray(body.messages) || body.messages.length === 0) {
    return { status: 400, body: apiError("Missing required parameter: 'messages'.", 'invalid_request_error', 'missing_required_parameter', 'messages') };
  }
  const format = body.response_format as { type?: string; json_schema?: { schema?: JsonSchema } } | undefined;
  let text = content;
  if (text === undefined) {
    if (format?.type === 'json_schema' && format.json_schema?.schema) {
      const schema = format.json_schema.schema;
      const answer = instanceOf(schema, schema, [], '') as { candidates?: Array<Record<string, unknown>> };
      const fidelity = Array.isArray(answer.candidates) && answer.candidates.some((c) => 'fidelity' in c) ? await fidelityByCandidate(body.messages) : undefined;
      for (const c of fidelity ? answer.candidates! : []) {
        const score = fidelity!.get(String(c.id));
        if (score !== undefined) Object.assign(c, { fidelity: score, fidelityReasons: fakeFidelityReasons(score) });
      }
      text = JSON.stringify(answer);
    } else {
      text = altText;
    }
  }
  // About what OpenAI counts: a 768 px image at high detail is some hundreds of tokens.
  const promptTokens = 120 + JSON.stringify(body.messages).length % 97 + countImages(body.messages) * 765;
  const completionTokens = Math.ceil(text.length / 4);
  return {
    status: 200,
    body: {
      id: `chatcmpl-fake${hash(text).toString(16)}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: `${String(body.model)}-2025-04-14`,
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null, annotations: [] }, logprobs: null, finish_reason: 'stop' }],
      usage: {
        prompt_tokens: promptTokens,
        completion_tokens: completionTokens,
        total_tokens: promptTokens + completionTokens,
        prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      },
      service_tier: 'default',
      system_fingerprint: 'fp_fake',
    },
  };
}

/** The key a request carries as its bearer token ('' without one). */
const bearerOf = (req: http.IncomingMessage) => /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';

/** Starts the fake on a free port of 127.0.0.1. */
export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  let pendingFault: { kind: Fault; retryAfter: string } | undefined;
  let canned: CannedResponse | undefined;
  const oneShot = oneShotAnswers(options.leak, (kind, req) => leakResponse(kind, bearerOf(req), new URL(req.url ?? '/', 'http://x').pathname));
  let chatContent: string | undefined;
  let seq = 0;
  let imageIndex = 0;
  let delivered = 0;
  let holding = false;
  const waiting: Array<() => void> = [];
  const altText = options.altText ?? 'Image of a white ceramic teapot on a linen cloth, with steam rising from its spout';

  const send = (res: http.ServerResponse, r: CannedResponse) => {
    const text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    res.writeHead(r.status, { 'content-type': 'application/json', 'x-request-id': `req_fake${++seq}`, 'openai-processing-ms': '12', ...r.headers });
    res.end(text);
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, { url, body }: ReceivedRequest) {
    const path = url.pathname;
    const bearer = bearerOf(req);
    if (oneShot.answer(req, res)) return;
    const fault = pendingFault;
    pendingFault = undefined;
    if (fault?.kind === 'timeout') return; // never answers; close() drops the socket
    if (fault) return send(res, faultResponse(fault.kind, { retryAfter: fault.retryAfter, bearer, path }));
    if (canned) {
      const r = canned;
      canned = undefined;
      return send(res, r);
    }
    if (options.apiKey !== undefined && bearer !== options.apiKey) {
      const masked = bearer ? `${bearer.slice(0, 3)}${'*'.repeat(Math.max(0, bearer.length - 7))}${bearer.slice(-4)}` : '';
      return send(res, { status: 401, body: apiError(`Incorrect API key provided: ${masked}. You can find your API key at https://platform.openai.com/account/api-keys.`, 'invalid_request_error', 'invalid_api_key') });
    }
    if (req.method !== 'POST' || typeof body !== 'object' || body === null) {
      return send(res, { status: 404, body: apiError(`Invalid URL (${req.method} ${path})`, 'invalid_request_error', null) });
    }
    if (path === '/v1/images/generations' || path === '/v1/images/edits') {
      const scheduled = options.imageFaults?.(imageIndex++);
      if (scheduled === 'timeout') return; // accepted, never answered; close() drops the socket
      if (typeof scheduled === 'object') return oneShot.send(res, scheduled);
      if (scheduled) return send(res, faultResponse(scheduled, { retryAfter: '1', bearer, path }));
      const edit = path.endsWith('/edits');
      if (edit && !(body as Partial<MultipartBody>).multipart) {
        return send(res, { status: 400, body: apiError('Invalid Content-Type header (application/json), expected multipart/form-data.', 'invalid_request_error', null) });
      }
      const answer = edit ? await imagesEdits(body as MultipartBody, options.revisedPrompt ?? false) : await imagesGenerations(body as Record<string, unknown>, options.revisedPrompt ?? false);
      if (holding) await new Promise<void>((resolve) => waiting.push(resolve));
      if (res.destroyed || req.socket.destroyed) return;
      delivered++;
      return send(res, answer);
    }
    if (path === '/v1/moderations') {
      return send(res, moderations(body as Record<string, unknown>, options.moderationFlags ?? FAKE_MODERATION_FLAGS));
    }
    if (path === '/v1/chat/completions') {
      const content = chatContent;
      chatContent = undefined;
      return send(res, await chatCompletions(body as Record<string, unknown>, content, altText));
    }
    return send(res, { status: 404, body: apiError(`Invalid URL (${req.method} ${path})`, 'invalid_request_error', null) });
  }

  const server = await startRecordingServer(handle, (res, err) => send(res, { status: 500, body: apiError(`fake server error: ${err.message}`, 'server_error', null) }));
  return {
    baseURL: `${server.url}/v1`,
    requests: server.requests,
    fault(kind, o = {}) {
      pendingFault = { kind, retryAfter: o.retryAfter ?? '7' };
    },
    respondNext(response) {
      canned = response;
    },
    delivered: () => delivered,
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      for (const go of waiting.splice(0)) go();
    },
    held: () => waiting.length,
    nextChatContent(content) {
      chatContent = content;
    },
    ...oneShot.controls,
    async close() {
      // A `timeout` fault leaves a request open for ever; close() would wait for it.
      holding = false;
      for (const go of waiting.splice(0)) go();
      await server.close();
    },
  };
}
