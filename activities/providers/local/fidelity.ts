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

/** The candidate (or a region of it) at `scale`, as RGB and luminance. */
async function workImage(image: Uint8Array, scale: number, region?: { left: number; top: number; width: number; height: number }): Promise<Work> {
  let img = sharp(image);
  if (region) img = img.extract(region);
  const meta = region ?? (await sharp(image).metadata());
  const width = Math.max(1, Math.round((meta.width ?? 1) * scale));
  const height = Math.max(1, Math.round((meta.height ?? 1) * scale));
  const { data, info } = await img.resize(width, height, { fit: 'fill' }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { w: info.width, h: info.height, rgb: data, lum: luminance(data, 3) };
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

/** Windows correlating less than this are not the product, whatever their colour. */
const MIN_CORRELATION = 0.3;

/** Structure counts most; colour separates a look-alike shape in another colour. ΔRGB 8 is a faithful copy, 64 another product. */
function combined(correlation: number, colourDiff: number): number {
  const colour = Math.max(0, Math.min(1, 1 - (colourDiff - 8) / 56));
  return Math.max(0, correlation) ** 2 * colour;
}

/** A decoded reference, reused for every candidate of one judging call. */
export async function referenceCutout(reference: Uint8Array): Promise<Cutout> {
  return cutOut(reference);
}

interface Best {
  score: number;
  r: number;
  diff: number;
  t?: Template;
  x: number;
  y: number;
}

/** Template search over one work image: each call tries one product height over a range of positions. */
class Search {
  best: Best = { score: -1, r: -2, diff: 255, x: 0, y: 0 };
  readonly #templates = new Map<number, Template | undefined>();

  constructor(readonly work: Work, readonly cut: Cutout) {}

  async at(th: number, x0: number, x1: number, y0: number, y1: number, step: number): Promise<void> {
    const { work } = this;
    if (!this.#templates.has(th)) {
      const tw = Math.max(4, Math.round((th * this.cut.width) / this.cut.height));
      this.#templates.set(th, th >= 8 && tw <= work.w && th <= work.h ? await template(this.cut, tw, th, work.w) : undefined);
    }
    const t = this.#templates.get(th);
    if (!t) return;
    for (let y = Math.max(0, y0); y <= Math.min(work.h - t.th, y1); y += step) {
      for (let x = Math.max(0, x0); x <= Math.min(work.w - t.tw, x1); x += step) {
        const base = y * work.w + x;
        const r = ncc(work, t, base);
        // Shape alone is not enough: a small window correlates with any texture. Colour must agree too.
        if (r < MIN_CORRELATION || r * r <= this.best.score) continue;
        const diff = colourDifference(work, t, base);
        const score = combined(r, diff);
        if (score > this.best.score) this.best = { score, r, diff, t, x, y };
      }
    }
  }
}

/** Product height, in pixels, the fine pass compares at: label bands and the cap's shape show. */
const FINE_HEIGHT = 128;

/**
 * Searches `candidate` for the product in `cut` and scores the best match: a coarse search over
 * the whole frame at many sizes, then a finer one around the best place found.
 */
export async function findProduct(candidate: Uint8Array, cut: Cutout, signal?: AbortSignal): Promise<FidelityMatch> {
  const meta = await sharp(candidate).metadata();
  const W = meta.width ?? 0;
  const H = meta.height ?? 0;
  const coarseScale = WORK_SIZE / Math.max(W, H, 1);
  const coarse = new Search(await workImage(candidate, coarseScale), cut);
  const { work } = coarse;
  for (let i = 0; i < SCALES; i++) {
    signal?.throwIfAborted();
    const share = MIN_SHARE * (MAX_SHARE / MIN_SHARE) ** (i / (SCALES - 1));
    await coarse.at(Math.round(work.h * share), 0, work.w, 0, work.h, 2);
  }
  const found = coarse.best;
  if (!found.t) return { score: 0, x: 0, y: 0, width: 0, height: 0, coverage: 0, correlation: Math.max(0, found.r), colourDifference: found.diff };
  // The coarse box in candidate pixels, widened, and compared again at a resolution where details show.
  const box = { x: found.x / coarseScale, y: found.y / coarseScale, w: found.t.tw / coarseScale, h: found.t.th / coarseScale };
  const margin = Math.max(box.w, box.h) * 0.12;
  const left = Math.max(0, Math.floor(box.x - margin));
  const top = Math.max(0, Math.floor(box.y - margin));
  const region = { left, top, width: Math.min(W, Math.ceil(box.x + box.w + margin)) - left, height: Math.min(H, Math.ceil(box.y + box.h + margin)) - top };
  const fineScale = Math.min(1, FINE_HEIGHT / box.h);
  signal?.throwIfAborted();
  const fine = new Search(await workImage(candidate, fineScale, region), cut);
  const th = Math.round(box.h * fineScale);
  for (const k of [-0.06, -0.03, 0, 0.03, 0.06]) await fine.at(Math.round(th * (1 + k)), 0, fine.work.w, 0, fine.work.h, 1);
  const best = fine.best.score >= found.score ? fine.best : undefined;
  const t = best?.t ?? found.t;
  const scale = best ? fineScale : coarseScale;
  const origin = best ? { x: left, y: top } : { x: 0, y: 0 };
  const b = best ?? found;
  const width = t.tw / scale;
  const height = t.th / scale;
  return {
    score: Math.round(100 * b.score),
    x: Math.round(origin.x + b.x / scale),
    y: Math.round(origin.y + b.y / scale),
    width: Math.round(width),
    height: Math.round(height),
    coverage: (t.offsets.length / (t.tw * t.th)) * ((width * height) / Math.max(1, W * H)),
    correlation: b.r,
    colourDifference: b.diff,
  };
}
