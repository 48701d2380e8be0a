import type { Brief } from './brief';

export type Provider = 'local' | 'openai' | 'google' | 'replicate';

/** An image model Darkroom can route to, with the facts routing and budgeting need. */
export interface ImageModelSpec {
  id: string;
  provider: Provider;
  label: string;
  tier: 'free' | 'cheap' | 'standard' | 'premium';
  /** Generation sizes the model accepts, `WxH`. */
  sizes: readonly string[];
  /** Longest side it can produce without upscaling. */
  maxLongSide: number;
  textRendering: 'none' | 'fair' | 'good';
  photorealism: 'low' | 'fair' | 'high';
  maxImagesPerCall: number;
  /** US dollars per image at the default size and quality. */
  priceUsdPerImage: number;
  /** The date the price was read from the vendor's price page. */
  priceDate: string;
  typicalLatencyMs: number;
}

/**
 * The model catalog. `local` renders offline with sharp and costs nothing; vendor models
 * are added with their dated prices as their adapters land.
 */
export const IMAGE_MODELS: Readonly<Record<string, ImageModelSpec>> = {
  local: {
    id: 'local', provider: 'local', label: 'Darkroom offline generator', tier: 'free',
    sizes: ['1024x1024', '1536x1024', '1024x1536'], maxLongSide: 2048,
    textRendering: 'none', photorealism: 'low', maxImagesPerCall: 1,
    priceUsdPerImage: 0, priceDate: '2026-11-21', typicalLatencyMs: 300,
  },
};

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
