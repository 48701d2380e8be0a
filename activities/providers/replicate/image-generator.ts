import { imagePrice, type ImageModelSpec } from '../../../domain/models';
import { probeImage } from '../../images/format';
import { nearestAspectRatio } from '../aspect-ratio';
import { catalogImageModel, checkReferences, prepareReferences, withReferenceInstructions, type PreparedReference } from '../references';
import { scrubbedCall } from '../scrub';
import type { GenerateImageInput, GenerateImageResult, ImageGenerator } from '../types';
import { ReplicateCall, outputUrls } from './client';
import { loraRequest, resolveOptions, type ReplicateClientOptions } from './options';

export interface ReplicateImageGeneratorOptions extends ReplicateClientOptions {
  /** FLUX 1.1 [pro] and Ultra: how permissive the vendor's safety filter is, 1 (strictest) to 6. @default 2 (the vendor's default) */
  safetyTolerance?: number;
  /** FLUX 1.1 [pro] Ultra: raw mode, less processed and more natural-looking pictures. @default false */
  raw?: boolean;
  /**
   * Reference images up to this many bytes go inline as data URIs; larger ones are uploaded to
   * Replicate's file store first and deleted after the prediction. Replicate recommends data URIs
   * only under 1 MB (replicate.com/docs/topics/predictions/input-files). @default 1000000
   */
  maxDataUriBytes?: number;
}

/** Input image formats the Replicate image models take (jpeg, png, gif, webp on their pages). */
const INPUT_MIME = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const;

/** How a model family on Replicate names its inputs. */
export type ReplicateFamily = 'flux' | 'flux-kontext' | 'flux-2' | 'seedream' | 'ideogram';

/** The family of a catalog model, from its Replicate name. */
export function replicateFamily(spec: ImageModelSpec): ReplicateFamily {
  const name = spec.vendorModel.split('/')[1] ?? '';
  if (name.startsWith('flux-kontext')) return 'flux-kontext';
  if (name.startsWith('flux-2')) return 'flux-2';
  if (name.startsWith('seedream')) return 'seedream';
  if (name.startsWith('ideogram')) return 'ideogram';
  return 'flux';
}

/**
 * The input a model on Replicate takes for one image; `images` are the reference images as URIs
 * (data URIs or uploaded files), product first. FLUX has no negative prompt, and Black Forest
 * Labs advise against negations in the prompt ("no text" tends to summon text), so the negatives
 * are not sent: the judge's must-avoid check catches what slips through. PNG output keeps the
 * master lossless for the formatting stage.
 *
 * Input names, from each model's API page on replicate.com (read 2026-12-02):
 * - flux-kontext-pro / -max: `input_image` (one), `aspect_ratio`, `output_format`, `seed`,
 *   `safety_tolerance` (at most 2 when an input image is given)
 * - flux-2-*: `input_images` (an array; pro takes 8), `aspect_ratio`, `resolution`, `output_format`, `seed`
 * - seedream-4: `image_input` (1-10), `size` (1K/2K/4K), `aspect_ratio`, `max_images`; no seed, a list out
 * - ideogram-v3-*: `aspect_ratio`, `seed`, `magic_prompt_option` (Off: Darkroom writes the prompt)
 */
export function replicateInput(spec: ImageModelSpec, input: GenerateImageInput, options: Pick<ReplicateImageGeneratorOptions, 'safetyTolerance' | 'raw'> = {}, images: readonly string[] = []): Record<string, unknown> {
  const aspect_ratio = nearestAspectRatio(input.width, input.height, spec.aspectRatios ?? ['1:1']);
  const prompt = input.prompt.trim();
  switch (replicateFamily(spec)) {
    case 'flux-kontext':
      return {
        prompt,
        ...(images[0] ? { input_image: images[0] } : {}),
        aspect_ratio,
        seed: input.seed,
        output_format: 'png',
        // The model refuses more than 2 with an input image.
        safety_tolerance: Math.min(options.safetyTolerance ?? 2, images.length ? 2 : 6),
      };
    case 'flux-2':
      return {
        prompt,
        ...(images.length ? { input_images: [...images] } : {}),
        aspect_ratio,
        ...(spec.id === 'flux-2-pro' ? { resolution: '1 MP', safety_tolerance: Math.min(options.safetyTolerance ?? 2, 5) } : {}),
        seed: input.seed,
        output_format: 'png',
      };
    case 'seedream':
      return { prompt, ...(images.length ? { image_input: [...images] } : {}), size: '2K', aspect_ratio, sequential_image_generation: 'disabled', max_images: 1 };
    case 'ideogram':
      return { prompt, aspect_ratio, seed: input.seed, magic_prompt_option: 'Off' };
    case 'flux':
      return fluxInput(spec, input, options);
  }
}

/** The input a FLUX.1 model (1.1 pro, Ultra, schnell, dev) takes; see {@link replicateInput}. */
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
 * Image models on Replicate — FLUX.1 (1.1 pro, Ultra, schnell, dev), FLUX.1 Kontext, FLUX.2,
 * Seedream 4, Ideogram 3.0 — run as official models by name:
 * `POST /v1/models/{owner}/{name}/predictions` with `Prefer: wait`, then polling if the image is
 * not ready by then. The requested size is mapped to the nearest aspect ratio the model takes;
 * the result reports the size actually made, read from the bytes. flux-1.1-pro-ultra makes up to
 * 4 MP natively (2048x2048, 2752x1536 at 16:9), which is why routing sends 4K briefs there
 * instead of generating small and upscaling.
 *
 * Reference images (a packshot) go in the model's own input field ({@link replicateInput}) as
 * data URIs when under `maxDataUriBytes`, else as files uploaded to Replicate and deleted after.
 *
 * The output URL is downloaded only from the allowed output hosts (see `outputHosts`).
 */
export class ReplicateImageGenerator implements ImageGenerator {
  readonly name = 'replicate';
  readonly #options: ReturnType<typeof resolveOptions>;
  readonly #flux: Pick<ReplicateImageGeneratorOptions, 'safetyTolerance' | 'raw'>;
  readonly #maxDataUriBytes: number;

  constructor(options: ReplicateImageGeneratorOptions) {
    this.#options = resolveOptions(options);
    const tolerance = options.safetyTolerance;
    if (tolerance !== undefined && !(Number.isInteger(tolerance) && tolerance >= 1 && tolerance <= 6)) {
      throw new RangeError(`safetyTolerance must be an integer from 1 to 6, not ${tolerance}`);
    }
    this.#flux = { safetyTolerance: tolerance, raw: options.raw };
    this.#maxDataUriBytes = options.maxDataUriBytes ?? 1_000_000;
  }

  /** One image; whatever it returns or throws leaves scrubbed of the token (`scrubbedCall`). */
  generate(input: GenerateImageInput): Promise<GenerateImageResult> {
    return scrubbedCall(this.#options.redact, input.signal, () => this.#generate(input));
  }

  async #generate(input: GenerateImageInput): Promise<GenerateImageResult> {
    input.signal?.throwIfAborted();
    const spec = catalogImageModel(input.model, 'replicate', 'a Replicate image model', this.name);
    const refs = await prepareReferences(checkReferences(spec, input.references, this.name), INPUT_MIME, this.name);
    const call = new ReplicateCall(this.#options, { provider: this.name, what: refs.length ? 'image editing' : 'image generation', signal: input.signal });
    const uploaded: string[] = [];
    let prediction;
    let image: Buffer;
    let urls: string[];
    // A brand's LoRA runs on the model's -lora variant (text to image only, so never with references).
    const lora = loraRequest(spec.id, input.prompt.trim(), input.lora);
    try {
      const images = await this.#inputUris(call, refs, uploaded);
      const body = replicateInput(spec, { ...input, prompt: withReferenceInstructions(input.prompt, refs) }, this.#flux, images);
      prediction = await call.predict(
        { model: lora?.vendorModel ?? (spec.vendorModel as `${string}/${string}`) },
        lora ? { ...body, prompt: lora.prompt, ...lora.input } : body,
      );
      urls = outputUrls(call, prediction);
      image = await call.download(urls[0]!);
    } finally {
      await Promise.all(uploaded.map((id) => call.deleteFileQuietly(id)));
    }
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
      costUsd: Math.round((imagePrice(input.model) * images + refs.length * (spec.priceUsdPerReferenceImage ?? 0)) * 1e6) / 1e6,
      model: input.model,
    };
  }

  /** The references as URIs: data URIs when small, else uploaded files (their ids pushed to `uploaded`). */
  async #inputUris(call: ReplicateCall, refs: readonly PreparedReference[], uploaded: string[]): Promise<string[]> {
    const uris: string[] = [];
    for (const [i, r] of refs.entries()) {
      if (r.data.byteLength <= this.#maxDataUriBytes) {
        uris.push(`data:${r.mime};base64,${r.data.toString('base64')}`);
        continue;
      }
      const file = await call.upload(r.data, r.mime, `reference-${i + 1}-${r.role}.${r.mime.split('/')[1]}`);
      uploaded.push(file.id);
      uris.push(file.url);
    }
    return uris;
  }
}
