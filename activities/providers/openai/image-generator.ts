import sharp, { type Metadata } from 'sharp';
import { z } from 'zod';
import { IMAGE_MODELS, imagePrice, type Quality } from '../../../domain/models';
import { InvalidRequestError } from '../errors';
import type { GenerateImageInput, GenerateImageResult, ImageGenerator } from '../types';
import { malformed, OpenAIConnection, type OpenAIClientOptions } from './client';

export type OpenAIOutputFormat = 'png' | 'jpeg' | 'webp';
export type OpenAIBackground = 'auto' | 'opaque' | 'transparent';

export interface OpenAIImageGeneratorOptions extends OpenAIClientOptions {
  /** Rendering quality; the catalog prices each tier. @default medium */
  quality?: Quality;
  /** Encoding of the returned image. @default png */
  outputFormat?: OpenAIOutputFormat;
  /** `transparent` needs png or webp. @default the vendor's (auto) */
  background?: OpenAIBackground;
}

/** Token usage the gpt-image models report; the price comes from the catalog, these are for the record. */
export interface OpenAIImageUsage {
  inputTokens: number;
  outputTokens: number;
  totalTokens: number;
}

export interface OpenAIGenerateImageResult extends GenerateImageResult {
  /** The vendor's token usage for this image, when it reported one. */
  usage?: OpenAIImageUsage;
}

/** gpt-image prompts may be up to 32,000 characters. */
const MAX_PROMPT_CHARS = 32_000;

/**
 * Deliberately small: only what this adapter reads. Extra fields (background, size,
 * output_format, token details) may come and go without breaking it.
 */
const ImagesResponseSchema = z.object({
  data: z.array(z.object({ b64_json: z.string().min(1), revised_prompt: z.string().optional() })).min(1),
  usage: z.object({ input_tokens: z.number(), output_tokens: z.number(), total_tokens: z.number() }).optional(),
});

const MIME: Record<string, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };

/**
 * gpt-image models (gpt-image-1.5, gpt-image-1-mini, gpt-image-2) through `images.generate`.
 * They always answer in base64, so there is no second download and no `response_format`.
 * The cost is the vendor's per-image price for the size and quality, from the catalog.
 */
export class OpenAIImageGenerator implements ImageGenerator {
  readonly name = 'openai';
  readonly #openai: OpenAIConnection;
  readonly #quality: Quality;
  readonly #outputFormat: OpenAIOutputFormat;
  readonly #background: OpenAIBackground | undefined;

  constructor(options: OpenAIImageGeneratorOptions) {
    this.#quality = options.quality ?? 'medium';
    this.#outputFormat = options.outputFormat ?? 'png';
    this.#background = options.background;
    if (this.#background === 'transparent' && this.#outputFormat === 'jpeg') {
      throw new Error('OpenAIImageGenerator: a transparent background needs outputFormat png or webp');
    }
    this.#openai = new OpenAIConnection(options);
  }

  generate(input: GenerateImageInput): Promise<OpenAIGenerateImageResult> {
    return this.#openai.call(input.signal, () => this.#generate(input));
  }

  async #generate(input: GenerateImageInput): Promise<OpenAIGenerateImageResult> {
    const { signal } = input;
    signal?.throwIfAborted();
    const spec = IMAGE_MODELS[input.model];
    if (!spec || spec.provider !== 'openai') {
      const ours = Object.values(IMAGE_MODELS).filter((m) => m.provider === 'openai').map((m) => m.id);
      throw new InvalidRequestError(`model "${input.model}" is not an OpenAI image model (use one of ${ours.join(', ')})`, this.name);
    }
    const size = `${input.width}x${input.height}`;
    if (!spec.sizes.includes(size)) {
      throw new InvalidRequestError(`${spec.id} does not make ${size} images (it makes ${spec.sizes.join(', ')})`, this.name);
    }
    const prompt = promptWithNegatives(input.prompt, input.negativePrompt);
    if (prompt.length > MAX_PROMPT_CHARS) {
      throw new InvalidRequestError(`prompt is ${prompt.length} characters; ${spec.id} takes at most ${MAX_PROMPT_CHARS}`, this.name);
    }

    const raw: unknown = await this.#openai.request({ provider: this.name, signal, what: 'images.generate' }, (client) =>
      client.images.generate(
        {
          model: spec.vendorModel,
          prompt,
          // Checked against the catalog above; the SDK's type lists only the sizes it knew when published.
          size: size as '1024x1024',
          quality: this.#quality,
          output_format: this.#outputFormat,
          ...(this.#background ? { background: this.#background } : {}),
          n: 1,
        },
        { signal },
      ),
    );

    const parsed = ImagesResponseSchema.safeParse(raw);
    if (!parsed.success) {
      throw malformed('images.generate', this.name, `expected data[0].b64_json: ${z.prettifyError(parsed.error).replace(/\s+/g, ' ')}`);
    }
    const first = parsed.data.data[0]!;
    const image = Buffer.from(first.b64_json, 'base64');
    let meta: Metadata;
    try {
      meta = await sharp(image).metadata();
    } catch (err) {
      throw malformed('images.generate', this.name, `data[0].b64_json is not a decodable image: ${(err as Error).message}`, err);
    }
    const mime = meta.format ? MIME[meta.format] : undefined;
    if (!mime || !meta.width || !meta.height) {
      throw malformed('images.generate', this.name, `data[0].b64_json is ${meta.format ?? 'an unknown format'}, not png, jpeg or webp`);
    }
    signal?.throwIfAborted();

    const usage = parsed.data.usage;
    return {
      image,
      mime,
      width: meta.width,
      height: meta.height,
      costUsd: imagePrice(spec.id, size, this.#quality),
      model: spec.id,
      ...(first.revised_prompt ? { revisedPrompt: first.revised_prompt } : {}),
      ...(usage ? { usage: { inputTokens: usage.input_tokens, outputTokens: usage.output_tokens, totalTokens: usage.total_tokens } } : {}),
    };
  }
}

/**
 * gpt-image has no negative prompt parameter, so the negatives go into the prompt as a
 * sentence — unless the prompt builder already wrote them there.
 */
export function promptWithNegatives(prompt: string, negative: string): string {
  const text = prompt.trim();
  const neg = negative.trim().replace(/[.\s]+$/, '');
  if (!neg || text.toLowerCase().includes(neg.toLowerCase())) return text;
  const sep = /[.!?]$/.test(text) ? ' ' : '. ';
  return `${text}${sep}Avoid: ${neg}.`;
}
