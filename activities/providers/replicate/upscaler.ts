import { UPSCALE_MODELS } from '../../../domain/models';
import { finishUpscale, startUpscale } from '../local/upscaler';
import { scrubbedCall } from '../scrub';
import type { UpscaleInput, UpscaleResult, Upscaler } from '../types';
import { ReplicateCall, outputUrls, type PredictionTarget } from './client';
import { resolveOptions, type ReplicateClientOptions } from './options';

export type ReplicateUpscaleModel = 'real-esrgan' | 'recraft-crisp-upscale';

export interface ReplicateUpscalerOptions extends ReplicateClientOptions {
  /** Which upscaler runs, by its `UPSCALE_MODELS` id. @default real-esrgan */
  model?: ReplicateUpscaleModel;
  /**
   * A model version id to pin. Community models (nightmareai/real-esrgan) run only by version;
   * without this the model's latest version is looked up once (`GET /v1/models/{owner}/{name}`)
   * and reused. Official models (recraft-ai/recraft-crisp-upscale) run by name and ignore it.
   * @default the latest version
   */
  version?: string;
}

/** How each model is run on Replicate and what it is asked for. */
const MODELS: Record<ReplicateUpscaleModel, { official: boolean; input: (image: string, factor: number) => Record<string, unknown> }> = {
  // Real-ESRGAN takes a free scale factor; 2 and 4 are the ones it was trained for, so the smaller
  // that reaches the minimum is asked for (4 when even that is short; lanczos finishes the rest).
  'real-esrgan': { official: false, input: (image, factor) => ({ image, scale: factor <= 2 ? 2 : 4, face_enhance: false }) },
  // Crisp upscale has no factor: it makes the image larger by its own rule.
  'recraft-crisp-upscale': { official: true, input: (image) => ({ image }) },
};

/**
 * Model upscaling on Replicate, Real-ESRGAN or Recraft Crisp Upscale. The image goes up as a
 * data URI (nothing is left in Replicate's file store). A result larger than asked is kept as
 * it is; one still smaller than the minimum (Crisp Upscale's fixed factor, or more than 4x
 * needed) is finished with a sharp Lanczos-3 resize, which adds no detail but gets the pixels.
 */
export class ReplicateUpscaler implements Upscaler {
  readonly name: ReplicateUpscaleModel;
  readonly #options: ReturnType<typeof resolveOptions>;
  readonly #vendorModel: `${string}/${string}`;
  #version: string | undefined;

  constructor(options: ReplicateUpscalerOptions) {
    this.#options = resolveOptions(options);
    this.name = options.model ?? 'real-esrgan';
    if (!MODELS[this.name]) throw new RangeError(`unknown Replicate upscaler ${JSON.stringify(this.name)}: use ${Object.keys(MODELS).join(' or ')}`);
    this.#vendorModel = UPSCALE_MODELS[this.name].vendorModel as `${string}/${string}`;
    this.#version = options.version;
  }

  /** Whatever it returns or throws leaves scrubbed of the token (`scrubbedCall`). */
  upscale(input: UpscaleInput): Promise<UpscaleResult> {
    return scrubbedCall(this.#options.redact, input.signal, () => this.#upscale(input));
  }

  async #upscale(input: UpscaleInput): Promise<UpscaleResult> {
    const start = await startUpscale(input, this.name);
    if (start.done) return start.done;
    const { probe, target } = start;
    const { image, signal } = input;
    const model = MODELS[this.name];
    const call = new ReplicateCall(this.#options, { provider: this.name, what: 'upscaling', signal });

    let where: PredictionTarget;
    if (model.official) {
      where = { model: this.#vendorModel };
    } else {
      if (!this.#version) {
        const [owner, name] = this.#vendorModel.split('/') as [string, string];
        this.#version = await call.latestVersion(owner, name);
      }
      where = { version: this.#version };
    }
    const dataUri = `data:${probe.mime};base64,${Buffer.from(image).toString('base64')}`;
    const prediction = await call.predict(where, model.input(dataUri, target.factor));
    const out = await call.download(outputUrls(call, prediction)[0]!);
    return finishUpscale(out, input, UPSCALE_MODELS[this.name].priceUsdPerImage, (detail, err) => call.malformed(`the output of prediction ${prediction.id} ${detail}`, err));
  }
}
