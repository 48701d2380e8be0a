import { toFile } from 'openai';
import sharp, { type Metadata } from 'sharp';
import { z } from 'zod';
import { imagePrice, type ImageModelSpec, type Quality } from '../../../domain/models';
import { InvalidRequestError } from '../errors';
import { catalogImageModel, checkReferences, prepareReferences, withReferenceInstructions } from '../references';
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
  /**
   * How hard an edit holds on to the input images' details (`input_fidelity`): `high` keeps a
   * product's label and shape. Sent only on the edit path and only to models that take it
   * (gpt-image-1.5 and later; gpt-image-1-mini refuses it). @default high
   */
  inputFidelity?: 'high' | 'low';
  /**
   * Serve the catalog's `self-hosted` model from an OpenAI-compatible server (a team's own FLUX.2
   * box at `baseURL`) instead of OpenAI's models: `model` is the name that server knows; its calls
   * report `usdPerImage`. Such servers answer with a URL unless asked, so `b64_json` is asked for,
   * and the gpt-image-only fields (quality, input_fidelity) are not sent. @default OpenAI's models
   */
  selfHosted?: { model: string; usdPerImage?: number };
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

/** Input image formats `images.edit` takes for the gpt-image models. */
const EDIT_INPUT_MIME = ['image/png', 'image/jpeg', 'image/webp'] as const;
const EXTENSION: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp' };
/** openai-node 6.49: `input_fidelity` is for gpt-image-1 and gpt-image-1.5 and later, not gpt-image-1-mini. */
const NO_INPUT_FIDELITY = new Set(['gpt-image-1-mini']);

/**
 * gpt-image models (gpt-image-1.5, gpt-image-1-mini, gpt-image-2) through `images.generate`, or,
 * when the call carries reference images, through `images.edit`: the packshot (and any style
 * references) go up as files in a multipart/form-data request (`image[]`), with
 * `input_fidelity: high` so the product keeps its label and shape. They always answer in base64,
 * so there is no second download and no `response_format`. The cost is the vendor's per-image
 * price for the size and quality, from the catalog.
 *
 * With `selfHosted`, the same two endpoints of a team's own OpenAI-compatible server.
 */
export class OpenAIImageGenerator implements ImageGenerator {
  readonly name: 'openai' | 'self-hosted';
  readonly #openai: OpenAIConnection;
  readonly #quality: Quality;
  readonly #outputFormat: OpenAIOutputFormat;
  readonly #background: OpenAIBackground | undefined;
  readonly #inputFidelity: 'high' | 'low';
  readonly #selfHosted: { model: string; usdPerImage: number } | undefined;

  constructor(options: OpenAIImageGeneratorOptions) {
    this.#quality = options.quality ?? 'medium';
    this.#outputFormat = options.outputFormat ?? 'png';
    this.#background = options.background;
    this.#inputFidelity = options.inputFidelity ?? 'high';
    if (options.selfHosted) {
      const { model, usdPerImage = 0 } = options.selfHosted;
      if (!model) throw new Error('OpenAIImageGenerator: selfHosted.model is required (DARKROOM_SELF_HOSTED_MODEL)');
      if (!(Number.isFinite(usdPerImage) && usdPerImage >= 0)) throw new RangeError(`selfHosted.usdPerImage must be a number of dollars, at least 0, not ${usdPerImage}`);
      this.#selfHosted = { model, usdPerImage };
    }
    this.name = this.#selfHosted ? 'self-hosted' : 'openai';
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
    const provider = this.#selfHosted ? 'self-hosted' : 'openai';
    const spec = catalogImageModel(input.model, provider, provider === 'openai' ? 'an OpenAI image model' : 'the self-hosted image model', this.name);
    const size = `${input.width}x${input.height}`;
    if (!spec.sizes.includes(size)) {
      throw new InvalidRequestError(`${spec.id} does not make ${size} images (it makes ${spec.sizes.join(', ')})`, this.name);
    }
    const refs = await prepareReferences(checkReferences(spec, input.references, this.name), EDIT_INPUT_MIME, this.name);
    const prompt = withReferenceInstructions(promptWithNegatives(input.prompt, input.negativePrompt), refs);
    if (prompt.length > MAX_PROMPT_CHARS) {
      throw new InvalidRequestError(`prompt is ${prompt.length} characters; ${spec.id} takes at most ${MAX_PROMPT_CHARS}`, this.name);
    }
    const vendorModel = this.#selfHosted?.model ?? spec.vendorModel;
    // The fields both endpoints share. Self-hosted servers are asked for base64 (they default to URLs)
    // and spared gpt-image's quality tiers.
    const common = {
      model: vendorModel,
      prompt,
      // Checked against the catalog above; the SDK's type lists only the sizes it knew when published.
      size: size as '1024x1024',
      output_format: this.#outputFormat,
      ...(this.#selfHosted ? { response_format: 'b64_json' as const } : { quality: this.#quality }),
      ...(this.#background ? { background: this.#background } : {}),
      n: 1,
    };
    const what = refs.length ? 'images.edit' : 'images.generate';
    const raw: unknown = await this.#openai.request({ provider: this.name, signal, what }, async (client) => {
      if (!refs.length) return client.images.generate(common, { signal });
      const image = await Promise.all(refs.map((r, i) => toFile(r.data, `reference-${i + 1}-${r.role}.${EXTENSION[r.mime]}`, { type: r.mime })));
      const fidelity = !this.#selfHosted && !NO_INPUT_FIDELITY.has(spec.vendorModel) ? { input_fidelity: this.#inputFidelity } : {};
      return client.images.edit({ ...common, image, ...fidelity }, { signal });
    });
    return this.#result(raw, spec, size, what, signal);
  }

  async #result(raw: unknown, spec: ImageModelSpec, size: string, what: string, signal: AbortSignal | undefined): Promise<OpenAIGenerateImageResult> {
    const parsed = ImagesResponseSchema.safeParse(raw);
    if (!parsed.success) {
      throw malformed(what, this.name, `expected data[0].b64_json: ${z.prettifyError(parsed.error).replace(/\s+/g, ' ')}`);
    }
    const first = parsed.data.data[0]!;
    const image = Buffer.from(first.b64_json, 'base64');
    let meta: Metadata;
    try {
      meta = await sharp(image).metadata();
    } catch (err) {
      throw malformed(what, this.name, `data[0].b64_json is not a decodable image: ${(err as Error).message}`, err);
    }
    const mime = meta.format ? MIME[meta.format] : undefined;
    if (!mime || !meta.width || !meta.height) {
      throw malformed(what, this.name, `data[0].b64_json is ${meta.format ?? 'an unknown format'}, not png, jpeg or webp`);
    }
    signal?.throwIfAborted();

    const usage = parsed.data.usage;
    return {
      image,
      mime,
      width: meta.width,
      height: meta.height,
      costUsd: this.#selfHosted ? this.#selfHosted.usdPerImage : imagePrice(spec.id, size, this.#quality),
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
