/**
 * Offline product fidelity: is the packshot in the candidate, and how faithfully? The judge does
 * not know where (or how big) a generator put the product, so it searches: the packshot's cut-out
 * is matched against the candidate at many sizes and places (masked normalised cross-correlation
 * on luminance, on downscaled copies), and the best match is then compared in colour.
 */
import sharp from 'sharp';
import { cutOut, type Cutout } from './packshot';

/** The long side, in pixels, both images are compared at: enough for shape and label bands, cheap to search. */
const WORK_SIZE = 160;
/** Product heights tried, as shares of the candidate's height. */
const MIN_SHARE = 0.12;
const MAX_SHARE = 0.95;
const SCALES = 16;

/** Where the product was found and how well it matches. */
export interface FidelityMatch {
  /** 0–100: structure (correlation) times colour agreement at the best match. */
  score: number;
  /** Top-left corner and size of the match, in candidate pixels. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** Share of the candidate's area the product covers, 0–1. */
  coverage: number;
  /** Masked normalised cross-correlation of luminance at the best match, −1…1. */
  correlation: number;
  /** Mean absolute RGB difference over the product's pixels at the best match, 0–255. */
  colourDifference: number;
}

interface Work {
  w: number;
  h: number;
  rgb: Uint8Array;
  lum: Float32Array;
}

async function workImage(image: Uint8Array): Promise<Work & { scale: number }> {
  const meta = await sharp(image).metadata();
  const scale = WORK_SIZE / Math.max(meta.width ?? WORK_SIZE, meta.height ?? WORK_SIZE);
  const { data, info } = await sharp(image).resize({ width: WORK_SIZE, height: WORK_SIZE, fit: 'inside' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { w: info.width, h: info.height, rgb: data, lum: luminance(data, 3), scale };
}

function luminance(data: Uint8Array, channels: number): Float32Array {
  const out = new Float32Array(data.length / channels);
  for (let i = 0, j = 0; j < out.length; i += channels, j++) out[j] = 0.2126 * data[i]! + 0.7152 * data[i + 1]! + 0.0722 * data[i + 2]!;
  return out;
}

interface Template {
  tw: number;
  th: number;
  /** Offsets (y * work width + x) of the product's opaque pixels, their centred luminance, and their colour. */
  offsets: Int32Array;
  centred: Float32Array;
  rgb: Uint8Array;
  energy: number;
}

async function template(cut: Cutout, tw: number, th: number, stride: number): Promise<Template | undefined> {
  const data = await sharp(cut.data, { raw: { width: cut.width, height: cut.height, channels: 4 } }).resize(tw, th, { fit: 'fill' }).raw().toBuffer();
  const offsets: number[] = [];
  const lums: number[] = [];
  const rgb: number[] = [];
  for (let y = 0; y < th; y++) {
    for (let x = 0; x < tw; x++) {
      const i = (y * tw + x) * 4;
      // Only solid product pixels: edges blend with whatever background the generator chose.
      if (data[i + 3]! < 230) continue;
      offsets.push(y * stride + x);
      lums.push(0.2126 * data[i]! + 0.7152 * data[i + 1]! + 0.0722 * data[i + 2]!);
      rgb.push(data[i]!, data[i + 1]!, data[i + 2]!);
    }
  }
  if (offsets.length < 24) return undefined;
  const mean = lums.reduce((a, b) => a + b, 0) / lums.length;
  const centred = Float32Array.from(lums, (v) => v - mean);
  const energy = centred.reduce((a, v) => a + v * v, 0);
  if (energy < 1e-6 * lums.length) return undefined;
  return { tw, th, offsets: Int32Array.from(offsets), centred, rgb: Uint8Array.from(rgb), energy };
}

/** Masked NCC of the template with the window whose top-left is `base` (an index into the work image). */
function ncc(work: Work, t: Template, base: number): number {
  const { lum } = work;
  const n = t.offsets.length;
  let s = 0;
  let ss = 0;
  let st = 0;
  for (let k = 0; k < n; k++) {
    const v = lum[base + t.offsets[k]!]!;
    s += v;
    ss += v * v;
    st += v * t.centred[k]!;
  }
  const variance = ss - (s * s) / n;
  if (variance <= 1e-6) return 0;
  return st / Math.sqrt(variance * t.energy);
}

function colourDifference(work: Work, t: Template, base: number): number {
  let sum = 0;
  for (let k = 0; k < t.offsets.length; k++) {
    const i = (base + t.offsets[k]!) * 3;
    sum += Math.abs(work.rgb[i]! - t.rgb[k * 3]!) + Math.abs(work.rgb[i + 1]! - t.rgb[k * 3 + 1]!) + Math.abs(work.rgb[i + 2]! - t.rgb[k * 3 + 2]!);
  }
  return sum / (t.offsets.length * 3);
}

/** A decoded reference, reused for every candidate of one judging call. */
export async function referenceCutout(reference: Uint8Array): Promise<Cutout> {
  return cutOut(reference);
}

/** Searches `candidate` for the product in `cut` and scores the best match. */
export async function findProduct(candidate: Uint8Array, cut: Cutout, signal?: AbortSignal): Promise<FidelityMatch> {
  const work = await workImage(candidate);
  const aspect = cut.width / cut.height;
  let best = { r: -2, t: undefined as Template | undefined, x: 0, y: 0 };
  const tried = new Map<string, Template | undefined>();
  const templateAt = async (th: number) => {
    const tw = Math.max(4, Math.round(th * aspect));
    const key = `${tw}x${th}`;
    if (!tried.has(key)) tried.set(key, tw <= work.w && th <= work.h ? await template(cut, tw, th, work.w) : undefined);
    return tried.get(key);
  };
  const search = (t: Template, x0: number, x1: number, y0: number, y1: number, step: number) => {
    for (let y = Math.max(0, y0); y <= Math.min(work.h - t.th, y1); y += step) {
      for (let x = Math.max(0, x0); x <= Math.min(work.w - t.tw, x1); x += step) {
        const r = ncc(work, t, y * work.w + x);
        if (r > best.r) best = { r, t, x, y };
      }
    }
  };
  for (let i = 0; i < SCALES; i++) {
    signal?.throwIfAborted();
    const share = MIN_SHARE * (MAX_SHARE / MIN_SHARE) ** (i / (SCALES - 1));
    const t = await templateAt(Math.max(8, Math.round(work.h * share)));
    if (t) search(t, 0, work.w, 0, work.h, 2);
  }
  // Refine: every position near the best, at its size and the sizes either side.
  const coarse = best;
  if (coarse.t) {
    for (const dh of [-2, -1, 0, 1, 2]) {
      const t = await templateAt(coarse.t.th + dh);
      if (t) search(t, coarse.x - 3, coarse.x + 3, coarse.y - 3, coarse.y + 3, 1);
    }
  }
  const t = best.t;
  if (!t) return { score: 0, x: 0, y: 0, width: 0, height: 0, coverage: 0, correlation: 0, colourDifference: 255 };
  const base = best.y * work.w + best.x;
  const diff = colourDifference(work, t, base);
  // Structure counts most; colour separates a look-alike shape in another colour. ΔRGB 8 is a faithful copy, 64 another product.
  const structure = Math.max(0, best.r) ** 2;
  const colour = Math.max(0, Math.min(1, 1 - (diff - 8) / 56));
  const score = Math.round(100 * structure * colour);
  return {
    score,
    x: Math.round(best.x / work.scale),
    y: Math.round(best.y / work.scale),
    width: Math.round(t.tw / work.scale),
    height: Math.round(t.th / work.scale),
    coverage: t.offsets.length / (work.w * work.h),
    correlation: best.r,
    colourDifference: diff,
  };
}
