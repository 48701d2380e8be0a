import type { Part as GeminiPart } from '@google/genai';
import sharp from 'sharp';
import { z } from 'zod';
import { InvalidRequestError } from '../errors';

/*
 * What goes into and comes out of a Gemini `generateContent` call, apart from the call itself:
 * the response as the adapters read it, its refusals, its text and its cost, and images as parts.
 */

// Deliberately small: only what the adapters read. Unknown fields pass through untouched.
const InlineData = z.object({ mimeType: z.string().optional(), data: z.string() });
const Part = z.looseObject({ text: z.string().optional(), thought: z.boolean().optional(), inlineData: InlineData.optional() });
const Candidate = z.looseObject({
  content: z.looseObject({ parts: z.array(Part).optional() }).optional(),
  finishReason: z.string().optional(),
  finishMessage: z.string().optional(),
});
export const GenerateContentResponseSchema = z.looseObject({
  candidates: z.array(Candidate).optional(),
  promptFeedback: z.looseObject({ blockReason: z.string().optional(), blockReasonMessage: z.string().optional() }).optional(),
  usageMetadata: z
    .looseObject({
      promptTokenCount: z.number().optional(),
      candidatesTokenCount: z.number().optional(),
      thoughtsTokenCount: z.number().optional(),
      totalTokenCount: z.number().optional(),
    })
    .optional(),
});
export type GeminiResponse = z.infer<typeof GenerateContentResponseSchema>;

/**
 * Finish reasons that mean a safety or policy filter stopped the answer. Gemini reports these
 * with HTTP 200, so they must be read from the body: they are permanent for this prompt.
 */
export const POLICY_FINISH_REASONS: ReadonlySet<string> = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'IMAGE_RECITATION',
]);

/** Why Gemini refused, when it did: a blocked prompt or a candidate stopped by a filter. */
export function policyBlock(res: GeminiResponse): string | undefined {
  const feedback = res.promptFeedback;
  if (feedback?.blockReason && feedback.blockReason !== 'BLOCKED_REASON_UNSPECIFIED') {
    return `prompt blocked (${feedback.blockReason})${feedback.blockReasonMessage ? `: ${feedback.blockReasonMessage}` : ''}`;
  }
  const candidate = res.candidates?.[0];
  if (candidate?.finishReason && POLICY_FINISH_REASONS.has(candidate.finishReason)) {
    return `answer stopped by a safety filter (${candidate.finishReason})${candidate.finishMessage ? `: ${candidate.finishMessage}` : ''}`;
  }
  return undefined;
}

/** The text parts of the first candidate (thoughts left out), joined. */
export function responseText(res: GeminiResponse): string {
  return (res.candidates?.[0]?.content?.parts ?? [])
    .filter((p) => !p.thought && typeof p.text === 'string')
    .map((p) => p.text)
    .join('');
}

/**
 * Text-model prices per million tokens (Google AI Studio paid tier, standard processing),
 * for costs computed from `usageMetadata`. Thinking tokens are billed as output.
 */
export const GEMINI_TOKEN_PRICES: Readonly<Record<string, { inputUsdPerMTok: number; outputUsdPerMTok: number; priceDate: string }>> = {
  // $0.30 in (text/image/video) and $2.50 out, as in ai.google.dev/gemini-api/docs/pricing and price
  // summaries dated March 2026. Check the vendor page before relying on a forecast.
  'gemini-2.5-flash': { inputUsdPerMTok: 0.3, outputUsdPerMTok: 2.5, priceDate: '2026-03-01' },
};

/** What a call cost from its token usage; undefined when the model's price or the usage is unknown. */
export function costFromUsage(model: string, usage: GeminiResponse['usageMetadata']): number | undefined {
  const price = GEMINI_TOKEN_PRICES[model];
  if (!price || !usage || usage.promptTokenCount === undefined) return undefined;
  const output = (usage.candidatesTokenCount ?? 0) + (usage.thoughtsTokenCount ?? 0);
  const usd = (usage.promptTokenCount * price.inputUsdPerMTok + output * price.outputUsdPerMTok) / 1e6;
  return Math.round(usd * 1e8) / 1e8;
}

/** Longest side of an image sent to a vision model. */
export const VISION_MAX_SIDE = 1024;

/**
 * An image as an inline part for a vision prompt. Large masters are shrunk to
 * {@link VISION_MAX_SIDE} px first: Gemini bills an image by 768 px tiles (258 tokens each)
 * and caps a request at 20 MB, while judging and describing need no more detail than this.
 */
export async function visionPart(image: Uint8Array, mime: string, provider: string): Promise<GeminiPart> {
  let data = Buffer.from(image);
  let mimeType = mime;
  try {
    const meta = await sharp(image).metadata();
    if (Math.max(meta.width, meta.height) > VISION_MAX_SIDE || !/^image\/(png|jpeg|webp)$/.test(mime)) {
      data = await sharp(image).autoOrient().resize(VISION_MAX_SIDE, VISION_MAX_SIDE, { fit: 'inside', withoutEnlargement: true }).jpeg({ quality: 88 }).toBuffer();
      mimeType = 'image/jpeg';
    }
  } catch (err) {
    throw new InvalidRequestError(`the image (${mime}) could not be decoded: ${(err as Error).message}`, provider, { cause: err });
  }
  return { inlineData: { mimeType, data: data.toString('base64') } };
}
