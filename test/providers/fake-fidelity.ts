/**
 * What the fake vendors answer for product fidelity: a cheap, deterministic likeness between the
 * product reference and a candidate (mean absolute difference of 16×16 greyscale thumbnails), so
 * a test can show, through the real SDKs, that the right product scores above a wrong one.
 */
import sharp from 'sharp';

const thumb = (image: Uint8Array) => sharp(image).resize(16, 16, { fit: 'fill' }).flatten({ background: '#ffffff' }).greyscale().raw().toBuffer();

/** 0–100: 100 when the thumbnails are identical, 0 when they differ by half the grey range or more on average. */
export async function fakeFidelity(reference: Uint8Array, candidate: Uint8Array): Promise<number> {
  const [a, b] = await Promise.all([thumb(reference), thumb(candidate)]);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  const mad = sum / a.length;
  return Math.max(0, Math.min(100, Math.round(100 - (mad / 128) * 100)));
}

export function fakeFidelityReasons(score: number): string[] {
  return score >= 70 ? ['Same product: shape and label match the reference.'] : ['A different product: the shape and colours do not match the reference.'];
}
