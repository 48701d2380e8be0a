import sharp from 'sharp';
import { probeImage } from '../../images/format';
import { InvalidRequestError } from '../errors';
import type { UpscaleInput, UpscaleResult, Upscaler } from '../types';

/** Largest side the local upscaler will produce; beyond it libvips memory use gets silly. */
const MAX_SIDE = 16_384;

/**
 * The smallest size with the input's aspect ratio that is at least `minWidth` x `minHeight`.
 * Rounding can cost the exact ratio a pixel; it never costs the minimums.
 */
export function upscaleTarget(width: number, height: number, minWidth: number, minHeight: number): { width: number; height: number; factor: number } {
  const factor = Math.max(minWidth / width, minHeight / height);
  return {
    width: Math.max(minWidth, Math.round(width * factor)),
    height: Math.max(minHeight, Math.round(height * factor)),
    factor,
  };
}

/**
 * Offline upscaling with a Lanczos-3 kernel and a light sharpen to restore edge contrast.
 * It adds no detail a model would invent, but it gets print and 4K channels their pixels.
 */
export class SharpUpscaler implements Upscaler {
  readonly name = 'sharp-lanczos';

  async upscale(input: UpscaleInput): Promise<UpscaleResult> {
    const { image, minWidth, minHeight, signal } = input;
    signal?.throwIfAborted();
    const probe = await probeImage(image).catch((err: unknown) => {
      throw new InvalidRequestError(`image could not be decoded: ${(err as Error).message}`, this.name, { cause: err });
    });
    if (probe.width >= minWidth && probe.height >= minHeight) {
      return { image, mime: probe.mime, width: probe.width, height: probe.height, costUsd: 0 };
    }
    const target = upscaleTarget(probe.width, probe.height, minWidth, minHeight);
    if (target.width > MAX_SIDE || target.height > MAX_SIDE) {
      throw new InvalidRequestError(`upscaling ${probe.width}x${probe.height} to at least ${minWidth}x${minHeight} needs ${target.width}x${target.height}, over ${MAX_SIDE} px a side`, this.name);
    }
    const { data, info } = await sharp(image)
      .autoOrient()
      .resize(target.width, target.height, { fit: 'fill', kernel: 'lanczos3' })
      .sharpen({ sigma: 0.6, m1: 0.5, m2: 1.5 })
      .png({ compressionLevel: 6 })
      .toBuffer({ resolveWithObject: true });
    signal?.throwIfAborted();
    return { image: data, mime: 'image/png', width: info.width, height: info.height, costUsd: 0 };
  }
}
