import type { Brief } from './brief';

export type Provider = 'local' | 'openai' | 'google' | 'replicate';

export type Quality = 'low' | 'medium' | 'high';

/** An image model Darkroom can route to, with the facts routing and budgeting need. */
export interface ImageModelSpec {
  id: string;
  provider: Provider;
  /** The vendor's own model name or Replicate `owner/name`. */
  vendorModel: string;
  label: string;
  tier: 'free' | 'cheap' | 'standard' | 'premium';
  /** Generation sizes the model accepts, `WxH` (the first is its default). */
  sizes: readonly string[];
  /** Aspect ratios the model takes instead of sizes (Gemini, Flux), if any. */
  aspectRatios?: readonly string[];
  /** Longest side it can produce without upscaling. */
  maxLongSide: number;
  textRendering: 'none' | 'fair' | 'good' | 'excellent';
  photorealism: 'low' | 'fair' | 'high';
  maxImagesPerCall: number;
  /** US dollars per image at the default size and quality. */
  priceUsdPerImage: number;
  /** Per quality and size, where the vendor prices them differently: `{ medium: { '1024x1024': 0.034 } }`. */
  priceTable?: Partial<Record<Quality, Record<string, number>>>;
  /** The date the price was read from the vendor's (or a reseller's) published price list. */
  priceDate: string;
  typicalLatencyMs: number;
}

const FLUX_RATIOS = ['1:1', '16:9', '9:16', '3:2', '2:3', '4:5', '5:4', '3:4', '4:3', '21:9', '9:21'] as const;

/**
 * The model catalog. `local` renders offline with sharp and costs nothing. Vendor prices are
 * per image as published on the date given; check them before relying on a forecast.
 */
export const IMAGE_MODELS: Readonly<Record<string, ImageModelSpec>> = {
  local: {
    id: 'local', provider: 'local', vendorModel: 'local', label: 'Darkroom offline generator', tier: 'free',
    sizes: ['1024x1024', '1536x1024', '1024x1536'], maxLongSide: 2048,
    textRendering: 'none', photorealism: 'low', maxImagesPerCall: 1,
    priceUsdPerImage: 0, priceDate: '2026-11-21', typicalLatencyMs: 300,
  },
  'gpt-image-1.5': {
    id: 'gpt-image-1.5', provider: 'openai', vendorModel: 'gpt-image-1.5', label: 'OpenAI GPT Image 1.5', tier: 'standard',
    sizes: ['1024x1024', '1536x1024', '1024x1536'], maxLongSide: 1536,
    textRendering: 'excellent', photorealism: 'high', maxImagesPerCall: 10,
    priceUsdPerImage: 0.034,
    priceTable: {
      low: { '1024x1024': 0.009, '1536x1024': 0.013, '1024x1536': 0.013 },
      medium: { '1024x1024': 0.034, '1536x1024': 0.05, '1024x1536': 0.051 },
      high: { '1024x1024': 0.133, '1536x1024': 0.199, '1024x1536': 0.2 },
    },
    priceDate: '2026-11-21', typicalLatencyMs: 10_000,
  },
  'gpt-image-1-mini': {
    id: 'gpt-image-1-mini', provider: 'openai', vendorModel: 'gpt-image-1-mini', label: 'OpenAI GPT Image 1 mini', tier: 'cheap',
    sizes: ['1024x1024', '1536x1024', '1024x1536'], maxLongSide: 1536,
    textRendering: 'good', photorealism: 'fair', maxImagesPerCall: 10,
    priceUsdPerImage: 0.011,
    priceTable: {
      low: { '1024x1024': 0.005, '1536x1024': 0.006, '1024x1536': 0.006 },
      medium: { '1024x1024': 0.011, '1536x1024': 0.015, '1024x1536': 0.015 },
      high: { '1024x1024': 0.036, '1536x1024': 0.052, '1024x1536': 0.052 },
    },
    priceDate: '2026-11-21', typicalLatencyMs: 8_000,
  },
  'gpt-image-2': {
    id: 'gpt-image-2', provider: 'openai', vendorModel: 'gpt-image-2', label: 'OpenAI GPT Image 2', tier: 'premium',
    sizes: ['1024x1024', '1536x1024', '1024x1536'], maxLongSide: 3840,
    textRendering: 'excellent', photorealism: 'high', maxImagesPerCall: 10,
    // Token-priced by the vendor; these are per-image estimates for 1024x1024.
    priceUsdPerImage: 0.07, priceTable: { low: { '1024x1024': 0.02 }, medium: { '1024x1024': 0.07 }, high: { '1024x1024': 0.19 } },
    priceDate: '2026-05-01', typicalLatencyMs: 15_000,
  },
  'gemini-2.5-flash-image': {
    id: 'gemini-2.5-flash-image', provider: 'google', vendorModel: 'gemini-2.5-flash-image', label: 'Google Gemini 2.5 Flash Image (nano-banana)', tier: 'cheap',
    sizes: ['1024x1024', '1248x832', '832x1248', '1344x768', '768x1344', '1184x864', '864x1184', '1152x896', '896x1152', '1536x672'],
    aspectRatios: ['1:1', '3:2', '2:3', '16:9', '9:16', '4:3', '3:4', '5:4', '4:5', '21:9'],
    maxLongSide: 1536, textRendering: 'fair', photorealism: 'fair', maxImagesPerCall: 1,
    priceUsdPerImage: 0.039, priceDate: '2026-11-21', typicalLatencyMs: 6_000,
  },
  'flux-1.1-pro': {
    id: 'flux-1.1-pro', provider: 'replicate', vendorModel: 'black-forest-labs/flux-1.1-pro', label: 'FLUX 1.1 [pro] on Replicate', tier: 'standard',
    sizes: ['1024x1024', '1344x768', '768x1344', '1216x832', '832x1216'], aspectRatios: FLUX_RATIOS, maxLongSide: 1440,
    textRendering: 'fair', photorealism: 'high', maxImagesPerCall: 1,
    priceUsdPerImage: 0.04, priceDate: '2026-11-21', typicalLatencyMs: 5_000,
  },
  'flux-1.1-pro-ultra': {
    id: 'flux-1.1-pro-ultra', provider: 'replicate', vendorModel: 'black-forest-labs/flux-1.1-pro-ultra', label: 'FLUX 1.1 [pro] Ultra on Replicate (up to 4 MP)', tier: 'premium',
    sizes: ['2048x2048', '2752x1536', '1536x2752'], aspectRatios: FLUX_RATIOS, maxLongSide: 2752,
    textRendering: 'fair', photorealism: 'high', maxImagesPerCall: 1,
    priceUsdPerImage: 0.06, priceDate: '2026-11-21', typicalLatencyMs: 10_000,
  },
  'flux-schnell': {
    id: 'flux-schnell', provider: 'replicate', vendorModel: 'black-forest-labs/flux-schnell', label: 'FLUX.1 [schnell] on Replicate', tier: 'cheap',
    sizes: ['1024x1024', '1344x768', '768x1344'], aspectRatios: FLUX_RATIOS, maxLongSide: 1440,
    textRendering: 'none', photorealism: 'fair', maxImagesPerCall: 4,
    priceUsdPerImage: 0.003, priceDate: '2026-11-21', typicalLatencyMs: 1_500,
  },
  'flux-dev': {
    id: 'flux-dev', provider: 'replicate', vendorModel: 'black-forest-labs/flux-dev', label: 'FLUX.1 [dev] on Replicate', tier: 'standard',
    sizes: ['1024x1024', '1344x768', '768x1344'], aspectRatios: FLUX_RATIOS, maxLongSide: 1440,
    textRendering: 'fair', photorealism: 'high', maxImagesPerCall: 4,
    priceUsdPerImage: 0.025, priceDate: '2026-11-21', typicalLatencyMs: 4_000,
  },
};

/** Vision models that judge candidates and write alt text, priced per image looked at. */
export const VISION_MODELS = {
  'local-judge': { provider: 'local', vendorModel: 'local', priceUsdPerImage: 0, priceDate: '2026-11-21' },
  'gpt-4.1-mini': { provider: 'openai', vendorModel: 'gpt-4.1-mini', priceUsdPerImage: 0.0015, priceDate: '2026-11-21' },
  'gemini-2.5-flash': { provider: 'google', vendorModel: 'gemini-2.5-flash', priceUsdPerImage: 0.0008, priceDate: '2026-11-21' },
} as const;

/** Upscalers on Replicate, priced per run. */
export const UPSCALE_MODELS = {
  'sharp-lanczos': { provider: 'local', vendorModel: 'sharp', priceUsdPerImage: 0, priceDate: '2026-11-21' },
  'real-esrgan': { provider: 'replicate', vendorModel: 'nightmareai/real-esrgan', priceUsdPerImage: 0.0025, priceDate: '2026-11-21' },
  'recraft-crisp-upscale': { provider: 'replicate', vendorModel: 'recraft-ai/recraft-crisp-upscale', priceUsdPerImage: 0.004, priceDate: '2026-11-21' },
} as const;

/** Price of one image from the catalog, by quality and size where the vendor distinguishes them. */
export function imagePrice(modelId: string, size?: string, quality: Quality = 'medium'): number {
  const m = IMAGE_MODELS[modelId];
  if (!m) throw new Error(`unknown image model ${JSON.stringify(modelId)}`);
  const tier = m.priceTable?.[quality];
  return (size !== undefined ? tier?.[size] : undefined) ?? tier?.[m.sizes[0]!] ?? m.priceUsdPerImage;
}

export interface BatchCost {
  model: string;
  count: number;
  generateUsd: number;
  judgeUsd: number;
  upscaleUsd: number;
  totalUsd: number;
}

/** Forecast for `count` candidates on `model`, judge and upscale included. */
export function costForBatch(modelId: string, count: number, options: { judgeUsdPerImage?: number; upscales?: number; upscaleUsd?: number } = {}): BatchCost {
  const model = IMAGE_MODELS[modelId];
  if (!model) throw new Error(`unknown image model ${JSON.stringify(modelId)}`);
  const round = (v: number) => Math.round(v * 1e6) / 1e6;
  const generateUsd = round(model.priceUsdPerImage * count);
  const judgeUsd = round((options.judgeUsdPerImage ?? 0) * count);
  const upscaleUsd = round((options.upscaleUsd ?? 0) * (options.upscales ?? 0));
  return { model: modelId, count, generateUsd, judgeUsd, upscaleUsd, totalUsd: round(generateUsd + judgeUsd + upscaleUsd) };
}

/** Picks the image model for a brief among those available (configured) on this worker. */
export function pickImageModel(brief: Pick<Brief, 'model'>, available: readonly string[] = ['local']): string {
  if (brief.model !== 'auto') {
    if (!IMAGE_MODELS[brief.model]) {
      throw new Error(`model ${JSON.stringify(brief.model)} is not in the catalog: use auto or one of ${Object.keys(IMAGE_MODELS).join(', ')}`);
    }
    return brief.model;
  }
  return available.find((m) => IMAGE_MODELS[m]) ?? 'local';
}

/**
 * The generation size that loses least to cropping across all target aspects:
 * for each size, the worst channel's kept share of the frame; the best worst case wins.
 */
export function pickMasterSize(modelId: string, channels: ReadonlyArray<{ width: number; height: number }>): { width: number; height: number } {
  const model = IMAGE_MODELS[modelId] ?? IMAGE_MODELS.local!;
  let best = { width: 1024, height: 1024, kept: -1 };
  for (const size of model.sizes) {
    const [w, h] = size.split('x').map(Number) as [number, number];
    const a = w / h;
    const worst = Math.min(...channels.map((c) => {
      const b = c.width / c.height;
      return Math.min(a / b, b / a);
    }));
    if (worst > best.kept + 1e-9) best = { width: w, height: h, kept: worst };
  }
  return { width: best.width, height: best.height };
}
