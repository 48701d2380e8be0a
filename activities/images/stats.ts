import sharp from 'sharp';
import { deltaE, rgbToHex, rgbToLab, type Rgb } from '../../domain/colors';

/** Longest side of the copy the statistics are measured on: enough for tone and colour, and fast. */
export const STATS_SIZE = 256;

/** Decoded 8-bit pixels. */
export interface RawPixels {
  data: Uint8Array;
  width: number;
  height: number;
  /** 3 (RGB) or 4 (RGBA; alpha is ignored). */
  channels: number;
}

/** A colour that covers a share of the picture. */
export interface DominantColor {
  hex: string;
  rgb: Rgb;
  /** Fraction of the pixels, 0–1. */
  share: number;
}

/**
 * Measurements of one image, taken on a copy scaled to {@link STATS_SIZE} px on its long side
 * so that numbers are comparable between images of different sizes.
 */
export interface ImageStats {
  /** Size of the original image. */
  width: number;
  height: number;
  /** Variance of the 4-neighbour Laplacian of luminance: high for crisp detail, near 0 for blur or flat fills. */
  laplacianVariance: number;
  /** Mean luminance, 0–255. */
  meanLuminance: number;
  /** Standard deviation of luminance, 0–255: global contrast. */
  luminanceStdev: number;
  /** Share of pixels at or below luminance 5 (crushed shadows). */
  shadowClipping: number;
  /** Share of pixels at or above luminance 250 (blown highlights). */
  highlightClipping: number;
  /** Hasler–Süsstrunk colourfulness: about 0 greyscale, 33 moderate, 59 quite, 82+ highly colourful. */
  colorfulness: number;
  /** Main colours, largest share first. */
  dominant: DominantColor[];
}

/** Decodes `image` and measures it. */
export async function imageStats(image: Uint8Array): Promise<ImageStats> {
  const open = () => sharp(image).autoOrient();
  const { autoOrient } = await open().metadata();
  const { data, info } = await open()
    .resize(STATS_SIZE, STATS_SIZE, { fit: 'inside', withoutEnlargement: true })
    // Transparent areas read as white, as a viewer would see them on a page.
    .flatten({ background: '#ffffff' })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const pixels: RawPixels = { data, width: info.width, height: info.height, channels: info.channels };
  return {
    width: autoOrient.width,
    height: autoOrient.height,
    ...pixelStats(pixels),
    dominant: dominantColors(pixels),
  };
}

/** Rec. 709 luminance of each pixel (alpha ignored). */
function luminance(px: RawPixels): Float32Array {
  const { data, width, height, channels } = px;
  const lum = new Float32Array(width * height);
  for (let i = 0, p = 0; i < lum.length; i++, p += channels) lum[i] = 0.2126 * (data[p] as number) + 0.7152 * (data[p + 1] as number) + 0.0722 * (data[p + 2] as number);
  return lum;
}

/**
 * Structural similarity (SSIM, Wang et al. 2004) of two images of the same size, on luminance:
 * the mean over 8x8 windows every 4 pixels, with the usual constants for 8-bit values. 1 for
 * identical images; encoders at delivery quality land around 0.95–0.99. Pure.
 */
export function lumaSsim(a: RawPixels, b: RawPixels): number {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`lumaSsim: sizes differ (${a.width}x${a.height} vs ${b.width}x${b.height})`);
  const { width, height } = a;
  const x = luminance(a);
  const y = luminance(b);
  const W = 8;
  const C1 = (0.01 * 255) ** 2;
  const C2 = (0.03 * 255) ** 2;
  let sum = 0;
  let windows = 0;
  for (let top = 0; top + W <= height; top += 4) {
    for (let left = 0; left + W <= width; left += 4) {
      let sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
      for (let r = top; r < top + W; r++) {
        for (let i = r * width + left, end = i + W; i < end; i++) {
          const u = x[i] as number, v = y[i] as number;
          sx += u; sy += v; sxx += u * u; syy += v * v; sxy += u * v;
        }
      }
      const n = W * W;
      const mx = sx / n, my = sy / n;
      const vx = sxx / n - mx * mx, vy = syy / n - my * my, cxy = sxy / n - mx * my;
      sum += ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
      windows++;
    }
  }
  if (windows === 0) throw new Error(`lumaSsim: ${width}x${height} is smaller than one ${W}x${W} window`);
  return sum / windows;
}

/** Tone, contrast, sharpness and colourfulness of raw pixels. Pure. */
export function pixelStats(px: RawPixels): Omit<ImageStats, 'width' | 'height' | 'dominant'> {
  const { data, width, height, channels } = px;
  const n = width * height;
  // Rec. 709 weights on the encoded values: what people perceive as brightness, closely enough.
  const lum = luminance(px);
  let sumY = 0, sumY2 = 0, dark = 0, bright = 0;
  let sumRg = 0, sumRg2 = 0, sumYb = 0, sumYb2 = 0;
  for (let i = 0, p = 0; i < n; i++, p += channels) {
    const r = data[p] as number, g = data[p + 1] as number, b = data[p + 2] as number;
    const y = lum[i] as number;
    sumY += y;
    sumY2 += y * y;
    if (y <= 5) dark++;
    if (y >= 250) bright++;
    const rg = r - g;
    const yb = 0.5 * (r + g) - b;
    sumRg += rg;
    sumRg2 += rg * rg;
    sumYb += yb;
    sumYb2 += yb * yb;
  }
  const meanY = sumY / n;
  const meanRg = sumRg / n, meanYb = sumYb / n;
  const sdRg = Math.sqrt(Math.max(0, sumRg2 / n - meanRg * meanRg));
  const sdYb = Math.sqrt(Math.max(0, sumYb2 / n - meanYb * meanYb));

  // Laplacian over interior pixels; its variance is the standard focus measure.
  let sumL = 0, sumL2 = 0, count = 0;
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const l = (lum[i - 1] as number) + (lum[i + 1] as number) + (lum[i - width] as number) + (lum[i + width] as number) - 4 * (lum[i] as number);
      sumL += l;
      sumL2 += l * l;
      count++;
    }
  }
  const meanL = count ? sumL / count : 0;

  return {
    laplacianVariance: count ? Math.max(0, sumL2 / count - meanL * meanL) : 0,
    meanLuminance: meanY,
    luminanceStdev: Math.sqrt(Math.max(0, sumY2 / n - meanY * meanY)),
    shadowClipping: dark / n,
    highlightClipping: bright / n,
    colorfulness: Math.hypot(sdRg, sdYb) + 0.3 * Math.hypot(meanRg, meanYb),
  };
}

export interface DominantColorOptions {
  /** Most colours to return. @default 6 */
  max?: number;
  /** Colours closer than this ΔE are one colour. @default 12 */
  mergeDeltaE?: number;
  /** Colours covering less than this share are dropped. @default 0.02 */
  minShare?: number;
}

/**
 * Main colours of raw pixels: a coarse 4-bit-per-channel histogram, then buckets merged
 * greedily (largest first) while they are within `mergeDeltaE` of a colour already kept.
 * Deterministic and fast on a stats-sized copy, and unlike k-means it needs no seed.
 */
export function dominantColors(px: RawPixels, options: DominantColorOptions = {}): DominantColor[] {
  const { max = 6, mergeDeltaE = 12, minShare = 0.02 } = options;
  const { data, width, height, channels } = px;
  const n = width * height;
  const count = new Uint32Array(4096);
  const sum = new Float64Array(4096 * 3);
  for (let i = 0, p = 0; i < n; i++, p += channels) {
    const r = data[p] as number, g = data[p + 1] as number, b = data[p + 2] as number;
    const bin = ((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4);
    count[bin] = (count[bin] as number) + 1;
    sum[bin * 3] = (sum[bin * 3] as number) + r;
    sum[bin * 3 + 1] = (sum[bin * 3 + 1] as number) + g;
    sum[bin * 3 + 2] = (sum[bin * 3 + 2] as number) + b;
  }
  const bins: Array<{ rgb: Rgb; count: number }> = [];
  for (let bin = 0; bin < 4096; bin++) {
    const c = count[bin] as number;
    if (c) bins.push({ rgb: [(sum[bin * 3] as number) / c, (sum[bin * 3 + 1] as number) / c, (sum[bin * 3 + 2] as number) / c], count: c });
  }
  bins.sort((a, b) => b.count - a.count);

  // Distances in Lab, converted once per bin and once per merge rather than once per comparison.
  const clusters: Array<{ r: number; g: number; b: number; lab: [number, number, number]; count: number }> = [];
  for (const bin of bins) {
    const lab = rgbToLab(bin.rgb);
    let best: (typeof clusters)[number] | undefined;
    let bestD = mergeDeltaE;
    for (const c of clusters) {
      const d = Math.hypot(c.lab[0] - lab[0], c.lab[1] - lab[1], c.lab[2] - lab[2]);
      if (d < bestD) {
        bestD = d;
        best = c;
      }
    }
    if (best) {
      // Weighted mean, so a cluster's colour is the average of the pixels it holds.
      const total = best.count + bin.count;
      best.r = (best.r * best.count + bin.rgb[0] * bin.count) / total;
      best.g = (best.g * best.count + bin.rgb[1] * bin.count) / total;
      best.b = (best.b * best.count + bin.rgb[2] * bin.count) / total;
      best.lab = rgbToLab([best.r, best.g, best.b]);
      best.count = total;
    } else {
      clusters.push({ r: bin.rgb[0], g: bin.rgb[1], b: bin.rgb[2], lab, count: bin.count });
    }
  }
  return clusters
    .sort((a, b) => b.count - a.count)
    .filter((c) => c.count / n >= minShare)
    .slice(0, max)
    .map((c) => {
      const rgb: Rgb = [Math.round(c.r), Math.round(c.g), Math.round(c.b)];
      return { hex: rgbToHex(rgb), rgb, share: c.count / n };
    });
}

/** Distance from `color` to the nearest of `dominant`, with that colour. */
export function nearestDominant(color: Rgb, dominant: readonly DominantColor[]): { color: DominantColor; deltaE: number } | undefined {
  let best: { color: DominantColor; deltaE: number } | undefined;
  for (const d of dominant) {
    const e = deltaE(color, d.rgb);
    if (!best || e < best.deltaE) best = { color: d, deltaE: e };
  }
  return best;
}
