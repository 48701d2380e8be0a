import { PersonGeneration, SafetyFilterLevel, type GenerateImagesConfig } from '@google/genai';
import { imagePrice } from '../../../domain/models';
import { probeImage } from '../../images/format';
import { nearestAspectRatio } from '../aspect-ratio';
import { catalogImageModel, checkReferences } from '../references';
import type { GenerateImageInput, GenerateImageResult, ImageGenerator } from '../types';
import { VertexConnection, type VertexClientOptions } from './client';

export interface ImagenImageGeneratorOptions extends VertexClientOptions {
  /**
   * Imagen's invisible SynthID watermark. Imagen takes a seed only without it, so `false` sends
   * the input's seed and makes a generation repeatable. Matches `DARKROOM_VERTEX_WATERMARK`.
   * @default true (Google's default)
   */
  addWatermark?: boolean;
}

/**
 * The request for one image. `sampleCount` is 1: Darkroom asks for each candidate in its own
 * activity, under its own idempotency key, so that a retried activity pays for one image, not
 * a batch. Darkroom writes its own prompt, so Imagen's prompt rewriting is off; the reason for
 * a filtered image is asked for, so a refusal can say why.
 */
export function imagenConfig(input: Pick<GenerateImageInput, 'negativePrompt' | 'seed'>, o: { aspectRatio: string; twoK: boolean; addWatermark: boolean }): GenerateImagesConfig {
  const negative = input.negativePrompt.trim();
  return {
    numberOfImages: 1,
    aspectRatio: o.aspectRatio,
    ...(o.twoK ? { imageSize: '2K' } : {}),
    ...(negative ? { negativePrompt: negative } : {}),
    personGeneration: PersonGeneration.ALLOW_ADULT,
    safetyFilterLevel: SafetyFilterLevel.BLOCK_MEDIUM_AND_ABOVE,
    includeRaiReason: true,
    outputMimeType: 'image/png',
    enhancePrompt: false,
    addWatermark: o.addWatermark,
    // Imagen refuses a seed while the watermark is on.
    ...(o.addWatermark ? {} : { seed: input.seed }),
  };
}

/**
 * Imagen 4 (Standard, Fast, Ultra) on Vertex AI, through the SDK's `models.generateImages`
 * (`POST …/publishers/google/models/<model>:predict`). Text to image only: the catalog gives
 * Imagen no `maxReferenceImages`, so routing keeps packshot briefs off it and a call with
 * references is refused before any request. The requested size maps to the nearest of the
 * model's aspect ratios (Ultra at 2K); the result reports the size Imagen made. An image held
 * back by Responsible AI filtering (HTTP 200, no bytes, a `raiFilteredReason`) is a
 * ContentPolicyError, not retried.
 */
export class ImagenImageGenerator implements ImageGenerator {
  readonly name = 'vertex-imagen';
  readonly #vertex: VertexConnection;
  readonly #addWatermark: boolean;

  constructor(options: ImagenImageGeneratorOptions) {
    this.#vertex = new VertexConnection(options);
    this.#addWatermark = options.addWatermark ?? true;
  }

  generate(input: GenerateImageInput): Promise<GenerateImageResult> {
    return this.#vertex.call(input.signal, () => this.#generate(input));
  }

  async #generate(input: GenerateImageInput): Promise<GenerateImageResult> {
    input.signal?.throwIfAborted();
    const spec = catalogImageModel(input.model, 'vertex', 'an Imagen model', this.name);
    checkReferences(spec, input.references, this.name);
    const aspectRatio = nearestAspectRatio(input.width, input.height, spec.aspectRatios ?? ['1:1']);
    const config = imagenConfig(input, { aspectRatio, twoK: spec.maxLongSide > 2000, addWatermark: this.#addWatermark });
    const what = 'image generation';

    const raw: unknown = await this.#vertex.request({ provider: this.name, what, signal: input.signal }, (ai, fetch) =>
      ai.models.generateImages({ model: spec.vendorModel, prompt: input.prompt, config: { ...config, abortSignal: input.signal, httpOptions: { fetch } } }),
    );
    const { bytes: image, enhancedPrompt } = this.#vertex.image(raw, { provider: this.name, what });
    const probe = await probeImage(image).catch((err: unknown) => {
      throw this.#vertex.malformed(what, this.name, `the image does not decode (${(err as Error).message})`, err);
    });
    input.signal?.throwIfAborted();
    return {
      image,
      mime: probe.mime,
      width: probe.width,
      height: probe.height,
      // Imagen bills per image made, at the catalog's dated price.
      costUsd: imagePrice(input.model),
      model: input.model,
      ...(enhancedPrompt ? { revisedPrompt: enhancedPrompt } : {}),
    };
  }
}
