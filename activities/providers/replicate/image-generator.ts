import { IMAGE_MODELS, imagePrice, type ImageModelSpec } from '../../../domain/models';
import { probeImage } from '../../images/format';
import { nearestAspectRatio } from '../aspect-ratio';
import { InvalidRequestError } from '../errors';
import { scrubbedCall } from '../scrub';
import type { GenerateImageInput, GenerateImageResult, ImageGenerator } from '../types';
import { ReplicateCall, outputUrls } from './client';
import { loraRequest, resolveOptions, type ReplicateClientOptions } from './options';

export interface ReplicateImageGeneratorOptions extends ReplicateClientOptions {
  /** FLUX 1.1 [pro] and Ultra: how permissive the vendor's safety filter is, 1 (strictest) to 6. @default 2 (the vendor's default) */
  safetyTolerance?: number;
  /** FLUX 1.1 [pro] Ultra: raw mode, less processed and more natural-looking pictures. @default false */
  raw?: boolean;
}

/**
 * The input a FLUX model on Replicate takes for one image. FLUX has no negative prompt, and
 * Black Forest Labs advise against negations in the prompt ("no text" tends to summon text),
 * so the negatives are not sent: the judge's must-avoid check catches what slips through.
 * PNG output keeps the master lossless for the formatting stage.
 */
export function fluxInput(spec: ImageModelSpec, input: GenerateImageInput, options: Pick<ReplicateImageGeneratorOptions, 'safetyTolerance' | 'raw'> = {}): Record<string, unknown> {
  const body: Record<string, unknown> = {
    prompt: input.prompt.trim(),
    aspect_ratio: nearestAspectRatio(input.width, input.height, spec.aspectRatios ?? ['1:1']),
    seed: input.seed,
    output_format: 'png',
  };
  switch (spec.id) {
    case 'flux-1.1-pro':
      body.safety_tolerance = options.safetyTolerance ?? 2;
      break;
    case 'flux-1.1-pro-ultra':
      body.safety_tolerance = options.safetyTolerance ?? 2;
      body.raw = options.raw ?? false;
      break;
    default:
      // flux-schnell and flux-dev can make several images per call; Darkroom asks for one per seed.
      body.num_outputs = 1;
  }
  return body;
}

/**
 * FLUX models on Replicate (flux-1.1-pro, flux-1.1-pro-ultra, flux-schnell, flux-dev), run as
 * official models by name: `POST /v1/models/{owner}/{name}/predictions` with `Prefer: wait`,
 * then polling if the image is not ready by then. The requested size is mapped to the nearest
 * aspect ratio the model takes; the result reports the size actually made, read from the bytes.
 * flux-1.1-pro-ultra makes up to 4 MP natively (2048x2048, 2752x1536 at 16:9), which is why
 * routing sends 4K briefs there instead of generating small and upscaling.
 *
 * The output URL is downloaded only from the allowed output hosts (see `outputHosts`).
 */
export class ReplicateImageGenerator implements ImageGenerator {
  readonly name = 'replicate';
  readonly #options: ReturnType<typeof resolveOptions>;
  readonly #flux: Pick<ReplicateImageGeneratorOptions, 'safetyTolerance' | 'raw'>;

  constructor(options: ReplicateImageGeneratorOptions) {
    this.#options = resolveOptions(options);
    const tolerance = options.safetyTolerance;
    if (tolerance !== undefined && !(Number.isInteger(tolerance) && tolerance >= 1 && tolerance <= 6)) {
      throw new RangeError(`safetyTolerance must be an integer from 1 to 6, not ${tolerance}`);
    }
    this.#flux = { safetyTolerance: tolerance, raw: options.raw };
  }

  /** One image; whatever it returns or throws leaves scrubbed of the token (`scrubbedCall`). */
  generate(input: GenerateImageInput): Promise<GenerateImageResult> {
    return scrubbedCall(this.#options.redact, input.signal, () => this.#generate(input));
  }

  async #generate(input: GenerateImageInput): Promise<GenerateImageResult> {
    input.signal?.throwIfAborted();
    const spec = IMAGE_MODELS[input.model];
    if (!spec || spec.provider !== 'replicate') {
      throw new InvalidRequestError(`model ${JSON.stringify(input.model)} is not a Replicate image model in the catalog`, this.name);
    }
    const call = new ReplicateCall(this.#options, { provider: this.name, what: 'image generation', signal: input.signal });
    const lora = loraRequest(spec.id, input.prompt.trim(), input.lora);
    const body = fluxInput(spec, input, this.#flux);
    const prediction = await call.predict(
      { model: lora?.vendorModel ?? (spec.vendorModel as `${string}/${string}`) },
      lora ? { ...body, prompt: lora.prompt, ...lora.input } : body,
    );
    const urls = outputUrls(call, prediction);
    const image = await call.download(urls[0]!);
    const probe = await probeImage(image).catch((err: unknown) => {
      throw call.malformed(`the output of prediction ${prediction.id} does not decode as an image (${(err as Error).message})`, err);
    });
    input.signal?.throwIfAborted();
    // Billed per output image; Replicate reports the count in metrics for its official image models.
    const images = Math.max(1, prediction.metrics?.image_count ?? urls.length);
    return {
      image,
      mime: probe.mime,
      width: probe.width,
      height: probe.height,
      costUsd: Math.round(imagePrice(input.model) * images * 1e6) / 1e6,
      model: input.model,
    };
  }
}
