import { UPSCALE_MODELS } from '../../../domain/models';
import { InvalidRequestError } from '../errors';
import { finishUpscale, startUpscale } from '../local/upscaler';
import type { UpscaleInput, UpscaleResult, Upscaler } from '../types';
import { VertexConnection, type VertexClientOptions } from './client';

/** Largest input Imagen upscale takes (its model page: 10 MB per image sent). */
export const IMAGEN_UPSCALE_MAX_INPUT_BYTES = 10 * 1024 * 1024;

/** The factors Imagen upscale takes: the smallest that reaches the target, else its largest. */
export function imagenUpscaleFactor(factor: number): 'x2' | 'x3' | 'x4' {
  return factor <= 2 ? 'x2' : factor <= 3 ? 'x3' : 'x4';
}

/**
 * Imagen upscale (`imagen-4.0-upscale-preview`) on Vertex AI, through the SDK's
 * `models.upscaleImage` (`:predict` with `mode: "upscale"`). The factor is the smallest of x2,
 * x3 and x4 that reaches the minimum; an image that needs more than x4 is finished from the
 * model's output with Lanczos, as the Replicate upscaler does.
 */
export class ImagenUpscaler implements Upscaler {
  readonly name = 'imagen-4-upscale';
  readonly #vertex: VertexConnection;

  constructor(options: VertexClientOptions) {
    this.#vertex = new VertexConnection(options);
  }

  upscale(input: UpscaleInput): Promise<UpscaleResult> {
    return this.#vertex.call(input.signal, () => this.#upscale(input));
  }

  async #upscale(input: UpscaleInput): Promise<UpscaleResult> {
    const start = await startUpscale(input, this.name);
    if (start.done) return start.done;
    const { probe, target } = start;
    const { image, signal } = input;
    if (image.byteLength > IMAGEN_UPSCALE_MAX_INPUT_BYTES) {
      throw new InvalidRequestError(`image is ${image.byteLength} bytes; Imagen upscale takes at most ${IMAGEN_UPSCALE_MAX_INPUT_BYTES}`, this.name);
    }
    const what = 'upscaling';
    const raw: unknown = await this.#vertex.request({ provider: this.name, what, signal }, (ai, fetch) =>
      ai.models.upscaleImage({
        model: UPSCALE_MODELS[this.name].vendorModel,
        image: { imageBytes: Buffer.from(image).toString('base64'), mimeType: probe.mime },
        upscaleFactor: imagenUpscaleFactor(target.factor),
        config: { outputMimeType: 'image/png', includeRaiReason: true, abortSignal: signal, httpOptions: { fetch } },
      }),
    );
    const out = this.#vertex.image(raw, { provider: this.name, what }).bytes;
    return finishUpscale(out, input, UPSCALE_MODELS[this.name].priceUsdPerImage, (detail, err) => this.#vertex.malformed(what, this.name, `the upscaled image ${detail}`, err));
  }
}
