import { imagePrice } from '../../../domain/models';
import { probeImage } from '../../images/format';
import { nearestAspectRatio } from '../aspect-ratio';
import { catalogImageModel, checkReferences, prepareReferences, withReferenceInstructions } from '../references';
import type { GenerateImageInput, GenerateImageResult, ImageGenerator } from '../types';
import { GeminiConnection, malformed, type GeminiClientOptions } from './client';

export type GeminiImageGeneratorOptions = GeminiClientOptions;

/**
 * The prompt Gemini receives. Gemini image models take no negative prompt, but they follow
 * instructions, so the things to keep out become one plain "Avoid:" sentence at the end.
 */
export function geminiImagePrompt(prompt: string, negativePrompt: string): string {
  const avoid = negativePrompt.trim().replace(/[\s.]+$/, '');
  return avoid ? `${prompt.trim()}\n\nAvoid: ${avoid}.` : prompt.trim();
}

/** Input image formats Gemini image models take inline. */
const INLINE_MIME = ['image/png', 'image/jpeg', 'image/webp', 'image/heic', 'image/heif'] as const;

/**
 * Gemini image models (2.5 Flash Image "nano-banana", 3.1 Flash Image, 3 Pro Image) through
 * `generateContent`. Reference images (the packshot first) go as inline image parts before the
 * text part, which is how Gemini edits and composes: "this product, in this scene". The model takes an aspect
 * ratio, not a size: the requested size is mapped to the nearest ratio in the catalog, and the
 * result reports the size the model actually made (read from the bytes). A safety block comes
 * back as HTTP 200 with a finish or block reason and becomes a ContentPolicyError.
 */
export class GeminiImageGenerator implements ImageGenerator {
  readonly name = 'gemini';
  readonly #gemini: GeminiConnection;

  constructor(options: GeminiImageGeneratorOptions) {
    this.#gemini = new GeminiConnection(options);
  }

  generate(input: GenerateImageInput): Promise<GenerateImageResult> {
    return this.#gemini.call(input.signal, () => this.#generate(input));
  }

  async #generate(input: GenerateImageInput): Promise<GenerateImageResult> {
    input.signal?.throwIfAborted();
    const spec = catalogImageModel(input.model, 'google', 'a Gemini image model', this.name);
    const aspectRatio = nearestAspectRatio(input.width, input.height, spec.aspectRatios ?? ['1:1']);
    const refs = await prepareReferences(checkReferences(spec, input.references, this.name), INLINE_MIME, this.name);
    const text = withReferenceInstructions(geminiImagePrompt(input.prompt, input.negativePrompt), refs);

    const res = await this.#gemini.generateContent(
      {
        model: spec.vendorModel,
        contents: [{ role: 'user', parts: [...refs.map((r) => ({ inlineData: { mimeType: r.mime, data: r.data.toString('base64') } })), { text }] }],
        config: {
          // Image only: a text part would be billed and thrown away.
          responseModalities: ['IMAGE'],
          imageConfig: { aspectRatio },
          candidateCount: 1,
          seed: input.seed,
        },
      },
      { provider: this.name, what: refs.length ? 'image editing' : 'image generation', signal: input.signal },
    );

    const candidate = res.candidates?.[0];
    const parts = candidate?.content?.parts ?? [];
    const imagePart = parts.find((p) => p.inlineData?.data && (p.inlineData.mimeType ?? 'image/').startsWith('image/'));
    if (!imagePart?.inlineData) {
      const said = parts.map((p) => p.text ?? '').join(' ').trim();
      const why = candidate?.finishReason ? `finish reason ${candidate.finishReason}` : res.candidates ? 'no image part' : 'no candidates';
      throw malformed('image generation', this.name, `${why}${said ? `; the model said: ${this.#gemini.text(said, 200)}` : ''}`);
    }
    const image = Buffer.from(imagePart.inlineData.data, 'base64');
    const probe = await probeImage(image).catch((err: unknown) => {
      throw malformed('image generation', this.name, `the image part does not decode (${(err as Error).message})`, err);
    });
    input.signal?.throwIfAborted();
    return {
      image,
      mime: probe.mime,
      width: probe.width,
      height: probe.height,
      // Per image at the catalog's dated price (2.5 Flash Image: 1290 output tokens at $30/M), and
      // the input images at theirs.
      costUsd: Math.round((imagePrice(input.model) + refs.length * (spec.priceUsdPerReferenceImage ?? 0)) * 1e6) / 1e6,
      model: input.model,
    };
  }
}
