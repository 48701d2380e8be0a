import type { ChatCompletionCreateParamsNonStreaming } from 'openai/resources/chat/completions';
import sharp from 'sharp';
import { z } from 'zod';
import { VISION_MODELS } from '../../../domain/models';
import { ContentPolicyError, InvalidRequestError } from '../errors';
import { malformed, type OpenAIConnection, type OpenAIRequest } from './client';

/** US dollars per million tokens for a chat model that can see images. */
export interface ChatPrice {
  inputUsdPerMTok: number;
  outputUsdPerMTok: number;
  /** When the price was read, and where. */
  priceDate: string;
}

/**
 * OpenAI's list prices (standard tier, uncached input) for the vision models the judge and the
 * alt-text writer may use. Image inputs are billed as input tokens, and the usage the API
 * returns already counts them, so tokens × price is the whole cost of a call. Cached input is
 * cheaper; ignoring that overestimates a little, never under.
 *
 * Source: platform.openai.com/docs/pricing — gpt-4.1 family prices as published at launch on
 * 2025-04-14, unchanged in the price lists read on 2026-11-21.
 */
export const OPENAI_CHAT_PRICES: Readonly<Record<string, ChatPrice>> = {
  'gpt-4.1-mini': { inputUsdPerMTok: 0.4, outputUsdPerMTok: 1.6, priceDate: '2025-04-14' },
  'gpt-4.1': { inputUsdPerMTok: 2, outputUsdPerMTok: 8, priceDate: '2025-04-14' },
  'gpt-4.1-nano': { inputUsdPerMTok: 0.1, outputUsdPerMTok: 0.4, priceDate: '2025-04-14' },
};

/** Options shared by the judge and the alt-text writer. */
export interface OpenAIVisionOptions {
  /** The chat model that looks at the images. @default gpt-4.1-mini */
  model?: string;
  /** Its price, for a model not in {@link OPENAI_CHAT_PRICES}. @default the table's entry for `model` */
  price?: Omit<ChatPrice, 'priceDate'> & { priceDate?: string };
}

export const DEFAULT_VISION_MODEL = 'gpt-4.1-mini';

/** Resolves the price up front, so a worker with an unpriced model fails at start, not after spending. */
export function chatPrice(options: OpenAIVisionOptions): { model: string; price: Omit<ChatPrice, 'priceDate'> } {
  const model = options.model ?? DEFAULT_VISION_MODEL;
  const price = options.price ?? OPENAI_CHAT_PRICES[model];
  if (!price) {
    throw new Error(`no price known for OpenAI model "${model}": pass price { inputUsdPerMTok, outputUsdPerMTok } (known: ${Object.keys(OPENAI_CHAT_PRICES).join(', ')})`);
  }
  return { model, price };
}

/**
 * The cost of one call: tokens × price from the usage the API reported; without usage, the
 * catalog's per-image price (VISION_MODELS) for the images sent.
 */
export function callCostUsd(usage: { prompt_tokens: number; completion_tokens: number } | undefined, price: Omit<ChatPrice, 'priceDate'>, model: string, images: number): number {
  if (usage) {
    const usd = (usage.prompt_tokens * price.inputUsdPerMTok + usage.completion_tokens * price.outputUsdPerMTok) / 1e6;
    return Math.round(usd * 1e8) / 1e8;
  }
  const perImage = (VISION_MODELS as Record<string, { priceUsdPerImage: number }>)[model]?.priceUsdPerImage ?? VISION_MODELS['gpt-4.1-mini'].priceUsdPerImage;
  return Math.round(perImage * images * 1e8) / 1e8;
}

/** Longest side sent to the vision model: enough to see hands and lettering, far fewer tokens than a master. */
export const VISION_MAX_SIDE = 768;

/** A JPEG data URL of the image at most {@link VISION_MAX_SIDE} px a side (transparency flattened onto white). */
export async function visionDataUrl(image: Uint8Array, label: string, provider: string): Promise<string> {
  try {
    const jpeg = await sharp(image)
      .rotate()
      .resize(VISION_MAX_SIDE, VISION_MAX_SIDE, { fit: 'inside', withoutEnlargement: true })
      .flatten({ background: '#ffffff' })
      .jpeg({ quality: 85, mozjpeg: true })
      .toBuffer();
    return `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  } catch (err) {
    throw new InvalidRequestError(`${label} could not be decoded: ${(err as Error).message}`, provider, { cause: err });
  }
}

/** Deliberately small: the one message this adapter reads, and the usage it prices. */
const ChatResponseSchema = z.object({
  choices: z
    .array(
      z.object({
        message: z.object({ content: z.string().nullish(), refusal: z.string().nullish() }),
        finish_reason: z.string().nullish(),
      }),
    )
    .min(1),
  usage: z.object({ prompt_tokens: z.number(), completion_tokens: z.number() }).nullish(),
});

export interface ChatAnswer {
  content: string;
  usage: { prompt_tokens: number; completion_tokens: number } | undefined;
  finishReason: string | undefined;
}

/**
 * One chat completion, checked: a refusal or a content filter stop is a content-policy failure
 * (not retried); an answer without text is malformed (retried).
 */
export async function askVision(connection: OpenAIConnection, params: ChatCompletionCreateParamsNonStreaming, ctx: OpenAIRequest): Promise<ChatAnswer> {
  const raw: unknown = await connection.request(ctx, (client) => client.chat.completions.create(params, { signal: ctx.signal }));
  const parsed = ChatResponseSchema.safeParse(raw);
  if (!parsed.success) {
    throw malformed(ctx.what, ctx.provider, `expected choices[0].message: ${z.prettifyError(parsed.error).replace(/\s+/g, ' ')}`);
  }
  const choice = parsed.data.choices[0]!;
  if (choice.message.refusal) {
    throw new ContentPolicyError(`OpenAI ${ctx.what}: the model refused: ${choice.message.refusal}`, ctx.provider);
  }
  if (choice.finish_reason === 'content_filter') {
    throw new ContentPolicyError(`OpenAI ${ctx.what}: the answer was stopped by OpenAI's content filter`, ctx.provider);
  }
  const content = choice.message.content?.trim();
  if (!content) throw malformed(ctx.what, ctx.provider, 'choices[0].message.content is empty');
  return { content, usage: parsed.data.usage ?? undefined, finishReason: choice.finish_reason ?? undefined };
}
