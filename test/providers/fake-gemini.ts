/**
 * A local stand-in for generativelanguage.googleapis.com that speaks the Gemini API's wire
 * format, so the adapters run the real `@google/genai` SDK (pointed here by
 * `httpOptions.baseUrl`) with no network. It serves POST /v1beta/models/{model}:generateContent,
 * records every request, and fails the next request on demand the way Gemini does.
 *
 * Shapes follow the REST reference and the SDK's types: `GenerateContentResponse` with
 * `candidates[].content.parts[].inlineData { mimeType, data }`, `finishReason`,
 * `promptFeedback.blockReason`, `usageMetadata`; errors as `{ error: { code, message, status,
 * details } }` with `google.rpc.RetryInfo` / `google.rpc.ErrorInfo` details. A safety block is
 * a 200 with a finish or block reason, not an HTTP error.
 */
import type http from 'node:http';
import sharp from 'sharp';
import type { Fault, RecordedRequest } from './contract/faults';
import { fakeFidelity, fakeFidelityReasons } from './fake-fidelity';
import { echoesOf, leakyHeaders, leakyTree, sendJson, oneShotAnswers, startRecordingServer, type LeakKind, type RawResponse, type ReceivedRequest, type StreamReport } from './fake-http';

/** The sizes Gemini 2.5 Flash Image makes per aspect ratio (its documented 1024-class outputs). */
export const GEMINI_IMAGE_SIZES: Readonly<Record<string, [number, number]>> = {
  '1:1': [1024, 1024],
  '2:3': [832, 1248],
  '3:2': [1248, 832],
  '3:4': [864, 1184],
  '4:3': [1184, 864],
  '4:5': [896, 1152],
  '5:4': [1152, 896],
  '9:16': [768, 1344],
  '16:9': [1344, 768],
  '21:9': [1536, 672],
};

/**
 * Variants of a fault, for the adapter tests that need one: a prompt block instead of a finish
 * reason; a rate limit with only RetryInfo (what Gemini usually sends) or only `retry-after`.
 */
export type FaultVariant = 'promptBlock' | 'retryInfoOnly' | 'headerOnly';

export interface FakeGemini {
  /** `http://127.0.0.1:<port>`, for the SDK's `httpOptions.baseUrl` (the SDK adds `/v1beta`). */
  baseUrl: string;
  /** Every request received, oldest first. */
  requests(): RecordedRequest[];
  /** Makes the next request fail this way. */
  fault(kind: Fault, variant?: FaultVariant): void;
  /** The JSON text the next text answer carries, instead of one made from the request. */
  nextText(text: string): void;
  /**
   * The next request is answered by a gateway that repeats the key it was sent everywhere: in an
   * error status (message, status, details, extra and nested fields, headers), in a 200 whose
   * JSON does not fit the schema, or in a 200 that is not JSON.
   */
  leakNext(kind: LeakKind): void;
  /** Answers the next request with exactly this (a streamed body is reported in streams()). */
  rawNext(response: RawResponse): void;
  /** Every streamed body sent, oldest first. */
  streams(): StreamReport[];
  close(): Promise<void>;
}

/** The image types Gemini takes as inline data. */
const INLINE_MIME = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/heic', 'image/heif']);

const googleError = (code: number, status: string, message: string, details?: unknown[]) => ({ error: { code, message, status, ...(details ? { details } : {}) } });

/** Usage as Gemini reports it: images in the prompt cost 258 tokens each, an output image 1290. */
function usage(promptImages: number, promptText: string, out: { image?: boolean; text?: string }) {
  const prompt = 258 * promptImages + Math.ceil(promptText.length / 4);
  const candidates = out.image ? 1290 : Math.ceil((out.text ?? '').length / 4);
  return {
    promptTokenCount: prompt,
    candidatesTokenCount: candidates,
    totalTokenCount: prompt + candidates,
    promptTokensDetails: [{ modality: 'TEXT', tokenCount: prompt - 258 * promptImages }, ...(promptImages ? [{ modality: 'IMAGE', tokenCount: 258 * promptImages }] : [])],
    ...(out.image ? { candidatesTokensDetails: [{ modality: 'IMAGE', tokenCount: 1290 }] } : {}),
  };
}

interface Part {
  text?: string;
  inlineData?: { mimeType?: string; data?: string };
}

/** A plausible judge answer made from the prompt: every candidate id, every brief item checked. */
async function judgeAnswer(parts: Part[], fidelity: boolean): Promise<string> {
  const prompt = parts[0]?.text ?? '';
  const items = (label: string) => {
    const line = new RegExp(`^- ${label}: (.*)$`, 'm').exec(prompt)?.[1] ?? '';
    return [...line.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
  };
  const ids = parts.map((p) => /^Candidate (\S+):$/.exec(p.text ?? '')?.[1]).filter((id): id is string => Boolean(id));
  // With a product reference (an image after a text part naming it): fidelity from likeness to it.
  const imageAfter = (i: number) => Buffer.from(parts[i + 1]?.inlineData?.data ?? '', 'base64');
  const refAt = parts.findIndex((p, i) => /^Product reference\b/.test(p.text ?? '') && parts[i + 1]?.inlineData);
  const scores = new Map<string, number>();
  if (fidelity && refAt >= 0) {
    for (let i = 0; i < parts.length - 1; i++) {
      const id = /^Candidate (\S+):$/.exec(parts[i]!.text ?? '')?.[1];
      if (id && parts[i + 1]!.inlineData) scores.set(id, await fakeFidelity(imageAfter(refAt), imageAfter(i)));
    }
  }
  return JSON.stringify({
    candidates: ids.map((id, i) => ({
      id,
      match: 80 - i * 10,
      aesthetics: 70,
      artifacts: 90,
      mustInclude: items('Must include').map((item) => ({ item, present: i === 0 })),
      mustAvoid: items('Must avoid').map((item) => ({ item, present: false })),
      reasons: [`Candidate ${id} shows the subject clearly.`],
      safety: { safe: true, confident: true, concerns: [] },
      ...(scores.has(id) ? { fidelity: scores.get(id), fidelityReasons: fakeFidelityReasons(scores.get(id)!) } : {}),
    })),
  });
}

/** What a key-echoing gateway answers in the Gemini API's wire format. */
function leakResponse(kind: LeakKind, key: string): RawResponse {
  const e = echoesOf(key);
  const headers = { 'content-type': 'application/json; charset=UTF-8', ...leakyHeaders(key) };
  if (kind === 'garbage') return { status: 200, headers, body: `{"candidates": [ ${key} ${e.url} ${e.basic}, "oops" ` };
  if (kind === 'malformed') {
    return {
      status: 200,
      headers,
      body: JSON.stringify({
        candidates: [{ content: { parts: [{ text: { key }, inlineData: { data: 42, mimeType: key } }], role: key }, finishReason: 42, finishMessage: key }],
        modelVersion: key,
        echo: leakyTree(key),
      }),
    };
  }
  const details = [
    { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: key, domain: e.url, metadata: { key, basic: e.basic } },
    { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: key },
    { '@type': 'type.googleapis.com/google.rpc.DebugInfo', detail: key, stackEntries: [key, e.url] },
  ];
  return {
    status: kind,
    headers: { ...headers, ...(kind === 429 ? { 'retry-after': '1' } : {}) },
    body: JSON.stringify({ error: { code: kind, message: `API key not valid: ${key} (${e.url}, ${e.basic})`, status: key, details, echo: leakyTree(key) } }),
  };
}

export interface FakeGeminiOptions {
  /** Requests must carry `x-goog-api-key: <apiKey>` (400 API_KEY_INVALID otherwise, as Gemini answers). */
  apiKey: string;
  /** Put the key the request carried into the error message, to prove adapters scrub it. @default false */
  echoKeyInErrors?: boolean;
  /** Answer every request as a gateway that repeats the caller's key everywhere (see {@link FakeGemini.leakNext}). */
  leak?: LeakKind;
}

export async function startFakeGemini(options: FakeGeminiOptions): Promise<FakeGemini> {
  let pending: { kind: Fault; variant?: FaultVariant } | undefined;
  let cannedText: string | undefined;
  const oneShot = oneShotAnswers(options.leak, (kind, req) => leakResponse(kind, String(req.headers['x-goog-api-key'] ?? '')));

  const send = (res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
    sendJson(res, status, body, { 'content-type': 'application/json; charset=UTF-8', ...headers });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse, { url, body }: ReceivedRequest) {
    if (oneShot.answer(req, res)) return;
    const fault = pending;
    pending = undefined;
    if (fault?.kind === 'timeout') return; // never answers; close() destroys the socket

    const route = /^\/v1beta\/models\/([^/:]+):generateContent$/.exec(url.pathname);
    if (!route || req.method !== 'POST') {
      return send(res, 404, googleError(404, 'NOT_FOUND', `Method not found: ${req.method} ${url.pathname}`));
    }
    const model = decodeURIComponent(route[1]!);

    if (fault?.kind === 'badKey' || req.headers['x-goog-api-key'] !== options.apiKey) {
      const echo = options.echoKeyInErrors ? ` (got ${String(req.headers['x-goog-api-key'] ?? 'none')})` : '';
      return send(res, 400, googleError(400, 'INVALID_ARGUMENT', `API key not valid. Please pass a valid API key.${echo}`, [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
        { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message: 'API key not valid. Please pass a valid API key.' },
      ]));
    }
    if (fault?.kind === 'rateLimit') {
      return send(
        res,
        429,
        googleError(429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota, please check your plan and billing details.', [
          { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] },
          { '@type': 'type.googleapis.com/google.rpc.Help', links: [{ description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' }] },
          ...(fault.variant === 'headerOnly' ? [] : [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7s' }]),
        ]),
        fault.variant === 'retryInfoOnly' ? {} : { 'retry-after': '7' },
      );
    }
    if (fault?.kind === 'serverError') {
      return send(res, 500, googleError(500, 'INTERNAL', 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'));
    }

    const b = (body ?? {}) as { contents?: Array<{ parts?: Part[] }>; generationConfig?: { responseModalities?: string[]; imageConfig?: { aspectRatio?: string }; responseSchema?: { properties?: Record<string, unknown> } } };
    if (!Array.isArray(b.contents) || b.contents.length === 0) {
      return send(res, 400, googleError(400, 'INVALID_ARGUMENT', '* GenerateContentRequest.contents: contents is not specified'));
    }
    const parts = b.contents.flatMap((c) => c.parts ?? []);
    const promptText = parts.map((p) => p.text ?? '').join('\n');
    const promptImages = parts.filter((p) => p.inlineData).length;
    const wantsImage = model.includes('image');

    if (fault?.kind === 'contentPolicy') {
      if (fault.variant === 'promptBlock') {
        return send(res, 200, { promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, usageMetadata: usage(promptImages, promptText, {}), modelVersion: model });
      }
      return send(res, 200, {
        candidates: [{ finishReason: wantsImage ? 'IMAGE_SAFETY' : 'SAFETY', index: 0, ...(wantsImage ? { finishMessage: 'Unable to show the generated image, it may violate our policies.' } : {}) }],
        usageMetadata: usage(promptImages, promptText, {}),
        modelVersion: model,
        responseId: 'fake-blocked',
      });
    }
    if (fault?.kind === 'malformed') {
      return send(res, 200, { candidates: [{ content: { parts: 'not a list', role: 'model' }, finishReason: 'STOP' }] });
    }

    if (wantsImage) {
      const ratio = b.generationConfig?.imageConfig?.aspectRatio ?? '1:1';
      const size = GEMINI_IMAGE_SIZES[ratio];
      if (!size) return send(res, 400, googleError(400, 'INVALID_ARGUMENT', `Unsupported aspect ratio: ${ratio}`));
      const [width, height] = size;
      // Input images (the edit path): each must be an image Gemini reads; the first is placed in
      // the middle of the result, as an edit model places a product in a scene.
      const inline = parts.filter((p) => p.inlineData);
      if (inline.length > 14) return send(res, 400, googleError(400, 'INVALID_ARGUMENT', `Too many images in the request: ${inline.length}; the maximum is 14.`));
      const inputs: Buffer[] = [];
      for (const p of inline) {
        const data = Buffer.from(p.inlineData?.data ?? '', 'base64');
        const ok = INLINE_MIME.has(p.inlineData?.mimeType ?? '') && (await sharp(data).metadata().then(() => true, () => false));
        if (!ok) return send(res, 400, googleError(400, 'INVALID_ARGUMENT', 'Unable to process input image. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'));
        inputs.push(data);
      }
      const overlay = inputs[0] ? [{ input: await sharp(inputs[0]).resize(Math.round(width / 2), Math.round(height / 2), { fit: 'inside' }).png().toBuffer(), gravity: 'center' }] : [];
      const png = await sharp({ create: { width, height, channels: 3, background: { r: 200, g: 120, b: 40 } } }).composite(overlay).png({ compressionLevel: 1 }).toBuffer();
      return send(res, 200, {
        candidates: [{ content: { parts: [{ inlineData: { mimeType: 'image/png', data: png.toString('base64') } }], role: 'model' }, finishReason: 'STOP', index: 0 }],
        usageMetadata: usage(promptImages, promptText, { image: true }),
        modelVersion: model,
        responseId: `fake-${server.requests().length}`,
      });
    }

    const props = b.generationConfig?.responseSchema?.properties ?? {};
    const text = cannedText ?? ('candidates' in props ? await judgeAnswer(parts, JSON.stringify(props).includes('"fidelity"')) : 'altText' in props ? JSON.stringify({ altText: 'A ceramic teapot on a linen cloth, steam curling from its spout' }) : 'OK');
    cannedText = undefined;
    return send(res, 200, {
      candidates: [{ content: { parts: [{ text }], role: 'model' }, finishReason: 'STOP', index: 0 }],
      usageMetadata: usage(promptImages, promptText, { text }),
      modelVersion: model,
      responseId: `fake-${server.requests().length}`,
    });
  }

  const server = await startRecordingServer(handle, (res, err) => send(res, 500, googleError(500, 'INTERNAL', `fake-gemini: ${err.message}`)));
  return {
    baseUrl: server.url,
    requests: server.requests,
    fault(kind, variant) {
      pending = { kind, variant };
    },
    nextText(text) {
      cannedText = text;
    },
    ...oneShot.controls,
    close: server.close,
  };
}
