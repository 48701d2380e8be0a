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

/** Where an upscale starts: the input's size and the target, or the input itself when it is already large enough. */
export type UpscaleStart = { done: UpscaleResult } | { done?: undefined; probe: Awaited<ReturnType<typeof probeImage>>; target: ReturnType<typeof upscaleTarget> };

/**
 * The start every upscaler shares: the input decoded (InvalidRequestError, for `provider`, when
 * it does not) and, when it already meets the minimums, the input as the result, at no cost.
 */
export async function startUpscale(input: UpscaleInput, provider: string): Promise<UpscaleStart> {
  const { image, minWidth, minHeight, signal } = input;
  signal?.throwIfAborted();
  const probe = await probeImage(image).catch((err: unknown) => {
    throw new InvalidRequestError(`image could not be decoded: ${(err as Error).message}`, provider, { cause: err });
  });
  if (probe.width >= minWidth && probe.height >= minHeight) {
    return { done: { image, mime: probe.mime, width: probe.width, height: probe.height, costUsd: 0 } };
  }
  return { probe, target: upscaleTarget(probe.width, probe.height, minWidth, minHeight) };
}

/**
 * The end every model upscaler shares: the model's output, decoded (`malformed(detail, cause)`
 * makes the error when it does not), as the result when it meets the minimums; otherwise a
 * Lanczos finish from it, which is better than one from the original. Costs the model's price.
 */
export async function finishUpscale(
  out: Buffer,
  input: UpscaleInput,
  costUsd: number,
  malformed: (detail: string, cause: unknown) => Error,
): Promise<UpscaleResult> {
  const got = await probeImage(out).catch((err: unknown) => {
    throw malformed(`does not decode as an image (${(err as Error).message})`, err);
  });
  input.signal?.throwIfAborted();
  if (got.width >= input.minWidth && got.height >= input.minHeight) return { image: out, mime: got.mime, width: got.width, height: got.height, costUsd };
  return lanczosUpscale(out, upscaleTarget(got.width, got.height, input.minWidth, input.minHeight), { sharpen: false, costUsd, signal: input.signal });
}

/**
 * A Lanczos-3 resize to exactly `width` x `height` (optionally with a light sharpen to restore
 * edge contrast), as PNG: the local upscaler's whole work, and the finish of a model upscale
 * that came back short of the minimum.
 */
export async function lanczosUpscale(
  image: Uint8Array,
  size: { width: number; height: number },
  options: { sharpen: boolean; costUsd: number; signal?: AbortSignal },
): Promise<UpscaleResult> {
  let pipeline = sharp(image).autoOrient().resize(size.width, size.height, { fit: 'fill', kernel: 'lanczos3' });
  if (options.sharpen) pipeline = pipeline.sharpen({ sigma: 0.6, m1: 0.5, m2: 1.5 });
  const { data, info } = await pipeline.png({ compressionLevel: 6 }).toBuffer({ resolveWithObject: true });
  options.signal?.throwIfAborted();
  return { image: data, mime: 'image/png', width: info.width, height: info.height, costUsd: options.costUsd };
}

/**
 * Offline upscaling with a Lanczos-3 kernel and a light sharpen to restore edge contrast.
 * It adds no detail a model would invent, but it gets print and 4K channels their pixels.
 */
export class SharpUpscaler implements Upscaler {
  readonly name = 'sharp-lanczos';

  async upscale(input: UpscaleInput): Promise<UpscaleResult> {
    const start = await startUpscale(input, this.name);
    if (start.done) return start.done;
    const { probe, target } = start;
    const { minWidth, minHeight } = input;
    if (target.width > MAX_SIDE || target.height > MAX_SIDE) {
      throw new InvalidRequestError(`upscaling ${probe.width}x${probe.height} to at least ${minWidth}x${minHeight} needs ${target.width}x${target.height}, over ${MAX_SIDE} px a side`, this.name);
    }
    return lanczosUpscale(input.image, target, { sharpen: true, costUsd: 0, signal: input.signal });
  }
}
