import type { Brief } from './brief';
import { resolveChannel } from './channels';

/**
 * `self-hosted`: a team's own OpenAI-compatible image server (`DARKROOM_SELF_HOSTED_BASE_URL`).
 * `vertex`: Google's models on Vertex AI (Imagen 4), which a Gemini API key does not reach.
 */
export type Provider = 'local' | 'openai' | 'google' | 'replicate' | 'self-hosted' | 'vertex';

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
  /** Reference images (packshot, style) one call can take on the model's edit path; absent: text only. */
  maxReferenceImages?: number;
  /** US dollars per image at the default size and quality. */
  priceUsdPerImage: number;
  /** What each reference image adds to a call, where the vendor bills input images (FLUX.2 by the megapixel). @default 0 */
  priceUsdPerReferenceImage?: number;
  /** Per quality and size, where the vendor prices them differently: `{ medium: { '1024x1024': 0.034 } }`. */
  priceTable?: Partial<Record<Quality, Record<string, number>>>;
  /** The date the price was read from the vendor's (or a reseller's) published price list. */
  priceDate: string;
  typicalLatencyMs: number;
  /**
   * Why Darkroom cannot call this model yet, when it cannot: the entry is kept for forecasts and
   * comparison, but routing, the registry and {@link capabilitiesFor} leave it out.
   */
  notRoutedYet?: string;
}

const FLUX_RATIOS = ['1:1', '16:9', '9:16', '3:2', '2:3', '4:5', '5:4', '3:4', '4:3', '21:9', '9:21'] as const;
const FLUX_SIZES = ['1024x1024', '1344x768', '768x1344', '1216x832', '832x1216'] as const;
/** FLUX.2's ratios on Replicate (besides `match_input_image` and `custom`). */
const FLUX2_RATIOS = ['1:1', '16:9', '9:16', '3:2', '2:3', '4:5', '5:4', '3:4', '4:3'] as const;
const FLUX2_SIZES = ['1024x1024', '1376x768', '768x1376', '1248x832', '832x1248'] as const;
const GEMINI_RATIOS = ['1:1', '3:2', '2:3', '16:9', '9:16', '4:3', '3:4', '5:4', '4:5', '21:9'] as const;
const GEMINI_SIZES = ['1024x1024', '1248x832', '832x1248', '1344x768', '768x1344', '1184x864', '864x1184', '1152x896', '896x1152', '1536x672'] as const;
const IMAGEN_RATIOS = ['1:1', '3:4', '4:3', '9:16', '16:9'] as const;
const IMAGEN_SIZES = ['1024x1024', '896x1280', '1280x896', '768x1408', '1408x768'] as const;
/** Ideogram 3.0's ratios on Replicate (its schema also has 1:3, 3:1, 1:2, 2:1, 10:16, 16:10). */
const IDEOGRAM_RATIOS = ['1:1', '16:9', '9:16', '3:2', '2:3', '4:3', '3:4', '4:5', '5:4'] as const;
const IDEOGRAM_SIZES = ['1024x1024', '1344x768', '768x1344', '1248x832', '832x1248'] as const;

/**
 * The model catalog. `local` renders offline with sharp and costs nothing. Vendor prices are
 * per image as published on the date given; check them before relying on a forecast.
 */
export const IMAGE_MODELS: Readonly<Record<string, ImageModelSpec>> = {
  local: {
    id: 'local', provider: 'local', vendorModel: 'local', label: 'Darkroom offline generator', tier: 'free',
    sizes: ['1024x1024', '1536x1024', '1024x1536'], maxLongSide: 2048,
    textRendering: 'none', photorealism: 'low', maxImagesPerCall: 1, maxReferenceImages: 4,
    priceUsdPerImage: 0, priceDate: '2026-11-21', typicalLatencyMs: 300,
  },
  'gpt-image-1.5': {
    id: 'gpt-image-1.5', provider: 'openai', vendorModel: 'gpt-image-1.5', label: 'OpenAI GPT Image 1.5', tier: 'standard',
    sizes: ['1024x1024', '1536x1024', '1024x1536'], maxLongSide: 1536,
    textRendering: 'excellent', photorealism: 'high', maxImagesPerCall: 10,
    // images.edit takes up to 16 input images for the gpt-image models (openai-node 6.49 ImageEditParams.image).
    maxReferenceImages: 16,
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
    maxReferenceImages: 16,
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
    maxReferenceImages: 16,
    // Token-priced by the vendor; these are per-image estimates for 1024x1024.
    priceUsdPerImage: 0.07, priceTable: { low: { '1024x1024': 0.02 }, medium: { '1024x1024': 0.07 }, high: { '1024x1024': 0.19 } },
    priceDate: '2026-05-01', typicalLatencyMs: 15_000,
  },
  'gemini-2.5-flash-image': {
    id: 'gemini-2.5-flash-image', provider: 'google', vendorModel: 'gemini-2.5-flash-image', label: 'Google Gemini 2.5 Flash Image (nano-banana)', tier: 'cheap',
    sizes: GEMINI_SIZES, aspectRatios: GEMINI_RATIOS,
    maxLongSide: 1536, textRendering: 'fair', photorealism: 'fair', maxImagesPerCall: 1,
    // Google's guide: the model works best with up to 3 input images.
    maxReferenceImages: 3,
    priceUsdPerImage: 0.039, priceDate: '2026-11-21', typicalLatencyMs: 6_000,
  },
  // Nano Banana 2 and Nano Banana Pro. The `-preview` ids were retired on 2026-07-17 in favour of
  // these GA ids (Google Cloud model pages for gemini-3.1-flash-image-preview / 3-pro-image-preview).
  // Both take up to 14 input images per prompt (same pages). Prices read 2026-12-02: $0.067 per 1K
  // image (1120 output tokens) for 3.1 Flash Image (Gemini API price as quoted by lumenfall.ai, "as of
  // 2026-02-26"); $0.134 per 1K/2K image for 3 Pro Image (inference.sh, updated 2026-05-29, matching
  // Google's per-token list). Input images add ~$0.0006 / $0.0011 each.
  'gemini-3.1-flash-image': {
    id: 'gemini-3.1-flash-image', provider: 'google', vendorModel: 'gemini-3.1-flash-image', label: 'Google Gemini 3.1 Flash Image (nano-banana 2)', tier: 'cheap',
    sizes: GEMINI_SIZES, aspectRatios: GEMINI_RATIOS,
    maxLongSide: 1536, textRendering: 'good', photorealism: 'high', maxImagesPerCall: 1, maxReferenceImages: 14,
    priceUsdPerImage: 0.067, priceUsdPerReferenceImage: 0.0006, priceDate: '2026-12-02', typicalLatencyMs: 8_000,
  },
  'gemini-3-pro-image': {
    id: 'gemini-3-pro-image', provider: 'google', vendorModel: 'gemini-3-pro-image', label: 'Google Gemini 3 Pro Image (nano-banana Pro)', tier: 'premium',
    sizes: GEMINI_SIZES, aspectRatios: GEMINI_RATIOS,
    maxLongSide: 1536, textRendering: 'excellent', photorealism: 'high', maxImagesPerCall: 1, maxReferenceImages: 14,
    priceUsdPerImage: 0.134, priceUsdPerReferenceImage: 0.0011, priceDate: '2026-12-02', typicalLatencyMs: 20_000,
  },
  // Imagen 4 runs through `models.generateImages` (`:predict`), which @google/genai 2.32 serves
  // only through Vertex AI: provider `vertex` (GOOGLE_GENAI_USE_VERTEXAI + GOOGLE_CLOUD_PROJECT, or
  // DARKROOM_VERTEX_API_KEY), text to image only. Prices checked 2026-12-02: $0.02 / $0.04 per image
  // for Fast / Standard ("official price (approx.)", codegateway.dev's Imagen 4 quickstart, citing
  // Google Cloud's Vertex AI docs of May 2026); Ultra is $0.08 there but $0.06 in Google's list as
  // remembered and at muapi.ai — kept at $0.06, an estimate until read on cloud.google.com/vertex-ai/generative-ai/pricing.
  'imagen-4': {
    id: 'imagen-4', provider: 'vertex', vendorModel: 'imagen-4.0-generate-001', label: 'Google Imagen 4 (Vertex AI)', tier: 'standard',
    sizes: IMAGEN_SIZES, aspectRatios: IMAGEN_RATIOS, maxLongSide: 1408,
    textRendering: 'good', photorealism: 'high', maxImagesPerCall: 4,
    priceUsdPerImage: 0.04, priceDate: '2026-12-02', typicalLatencyMs: 8_000,
  },
  'imagen-4-fast': {
    id: 'imagen-4-fast', provider: 'vertex', vendorModel: 'imagen-4.0-fast-generate-001', label: 'Google Imagen 4 Fast (Vertex AI)', tier: 'cheap',
    sizes: IMAGEN_SIZES, aspectRatios: IMAGEN_RATIOS, maxLongSide: 1408,
    textRendering: 'fair', photorealism: 'fair', maxImagesPerCall: 4,
    priceUsdPerImage: 0.02, priceDate: '2026-12-02', typicalLatencyMs: 4_000,
  },
  'imagen-4-ultra': {
    id: 'imagen-4-ultra', provider: 'vertex', vendorModel: 'imagen-4.0-ultra-generate-001', label: 'Google Imagen 4 Ultra (Vertex AI)', tier: 'premium',
    // 2K outputs per the Vertex model page for imagen-4.0-ultra-generate-001.
    sizes: ['2048x2048', '1792x2560', '2560x1792', '1536x2816', '2816x1536'], aspectRatios: IMAGEN_RATIOS, maxLongSide: 2816,
    textRendering: 'good', photorealism: 'high', maxImagesPerCall: 4,
    priceUsdPerImage: 0.06, priceDate: '2026-12-02', typicalLatencyMs: 12_000,
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
  // FLUX.1 Kontext: one input image (`input_image`), the edit model for a packshot placed in a scene.
  // $0.04 / $0.08 per image: docs.bfl.ml/quick_start/pricing, read 2026-12-02; Replicate runs BFL's
  // models at BFL's price (runflow.io lists the same, dated 2026-04-06).
  'flux-kontext-pro': {
    id: 'flux-kontext-pro', provider: 'replicate', vendorModel: 'black-forest-labs/flux-kontext-pro', label: 'FLUX.1 Kontext [pro] on Replicate', tier: 'standard',
    sizes: FLUX_SIZES, aspectRatios: FLUX_RATIOS, maxLongSide: 1440,
    textRendering: 'good', photorealism: 'high', maxImagesPerCall: 1, maxReferenceImages: 1,
    priceUsdPerImage: 0.04, priceDate: '2026-12-02', typicalLatencyMs: 8_000,
  },
  'flux-kontext-max': {
    id: 'flux-kontext-max', provider: 'replicate', vendorModel: 'black-forest-labs/flux-kontext-max', label: 'FLUX.1 Kontext [max] on Replicate', tier: 'premium',
    sizes: FLUX_SIZES, aspectRatios: FLUX_RATIOS, maxLongSide: 1440,
    textRendering: 'excellent', photorealism: 'high', maxImagesPerCall: 1, maxReferenceImages: 1,
    priceUsdPerImage: 0.08, priceDate: '2026-12-02', typicalLatencyMs: 10_000,
  },
  // FLUX.2 takes `input_images` (an array). flux-2-pro: "Maximum 8 images" on its Replicate API page
  // (version 285631b5, read 2026-12-02). Billed by the megapixel, output and each input image alike:
  // $0.015 per MP at 1 MP (lumenfall.ai's Replicate price, read 2026-12-02). dev and flex: the ids
  // are listed by cometapi.com's Replicate proxy; their prices and reference limits are estimates.
  'flux-2-pro': {
    id: 'flux-2-pro', provider: 'replicate', vendorModel: 'black-forest-labs/flux-2-pro', label: 'FLUX.2 [pro] on Replicate', tier: 'standard',
    sizes: FLUX2_SIZES, aspectRatios: FLUX2_RATIOS, maxLongSide: 2048,
    textRendering: 'excellent', photorealism: 'high', maxImagesPerCall: 1, maxReferenceImages: 8,
    priceUsdPerImage: 0.015, priceUsdPerReferenceImage: 0.015, priceDate: '2026-12-02', typicalLatencyMs: 15_000,
  },
  'flux-2-flex': {
    id: 'flux-2-flex', provider: 'replicate', vendorModel: 'black-forest-labs/flux-2-flex', label: 'FLUX.2 [flex] on Replicate', tier: 'premium',
    sizes: FLUX2_SIZES, aspectRatios: FLUX2_RATIOS, maxLongSide: 2048,
    textRendering: 'excellent', photorealism: 'high', maxImagesPerCall: 1, maxReferenceImages: 8,
    // Estimate: $0.05 per MP as runflow.io lists flex (read 2026-12-02).
    priceUsdPerImage: 0.05, priceUsdPerReferenceImage: 0.05, priceDate: '2026-12-02', typicalLatencyMs: 20_000,
  },
  'flux-2-dev': {
    id: 'flux-2-dev', provider: 'replicate', vendorModel: 'black-forest-labs/flux-2-dev', label: 'FLUX.2 [dev] on Replicate', tier: 'cheap',
    sizes: FLUX2_SIZES, aspectRatios: FLUX2_RATIOS, maxLongSide: 2048,
    textRendering: 'good', photorealism: 'high', maxImagesPerCall: 1, maxReferenceImages: 4,
    // Estimate: open weights, billed by GPU time; about $0.012 an image at 1 MP.
    priceUsdPerImage: 0.012, priceDate: '2026-12-02', typicalLatencyMs: 6_000,
  },
  // Ideogram v3 on Replicate: lettering specialists; text to image only here (its image input is for
  // inpainting with a mask, its style references are not a product). Turbo $0.03 (eachlabs.ai, updated
  // 2026-04-06, read 2026-12-02); balanced $0.06 and quality $0.09 are estimates.
  'ideogram-v3-turbo': {
    id: 'ideogram-v3-turbo', provider: 'replicate', vendorModel: 'ideogram-ai/ideogram-v3-turbo', label: 'Ideogram 3.0 Turbo on Replicate', tier: 'cheap',
    sizes: IDEOGRAM_SIZES, aspectRatios: IDEOGRAM_RATIOS, maxLongSide: 1536,
    textRendering: 'excellent', photorealism: 'fair', maxImagesPerCall: 1,
    priceUsdPerImage: 0.03, priceDate: '2026-12-02', typicalLatencyMs: 6_000,
  },
  'ideogram-v3-balanced': {
    id: 'ideogram-v3-balanced', provider: 'replicate', vendorModel: 'ideogram-ai/ideogram-v3-balanced', label: 'Ideogram 3.0 Balanced on Replicate', tier: 'standard',
    sizes: IDEOGRAM_SIZES, aspectRatios: IDEOGRAM_RATIOS, maxLongSide: 1536,
    textRendering: 'excellent', photorealism: 'high', maxImagesPerCall: 1,
    priceUsdPerImage: 0.06, priceDate: '2026-12-02', typicalLatencyMs: 10_000,
  },
  'ideogram-v3-quality': {
    id: 'ideogram-v3-quality', provider: 'replicate', vendorModel: 'ideogram-ai/ideogram-v3-quality', label: 'Ideogram 3.0 Quality on Replicate', tier: 'premium',
    sizes: IDEOGRAM_SIZES, aspectRatios: IDEOGRAM_RATIOS, maxLongSide: 1536,
    textRendering: 'excellent', photorealism: 'high', maxImagesPerCall: 1,
    priceUsdPerImage: 0.09, priceDate: '2026-12-02', typicalLatencyMs: 15_000,
  },
  // Seedream 4 on Replicate: `image_input` takes 1-10 images (its API page, read 2026-12-02); 2K by
  // default. $0.03 an image: BytePlus' list for seedream-4-0 as quoted by a rate card read 2026-12-02
  // (docs.dev.xavier.icvr.xyz); Replicate's own page was not in reach — an estimate until checked.
  'seedream-4': {
    id: 'seedream-4', provider: 'replicate', vendorModel: 'bytedance/seedream-4', label: 'ByteDance Seedream 4 on Replicate', tier: 'cheap',
    sizes: ['2048x2048', '2304x1728', '1728x2304', '2560x1440', '1440x2560', '2496x1664', '1664x2496', '3024x1296'],
    aspectRatios: ['1:1', '4:3', '3:4', '16:9', '9:16', '3:2', '2:3', '21:9'], maxLongSide: 4096,
    textRendering: 'good', photorealism: 'high', maxImagesPerCall: 1, maxReferenceImages: 10,
    priceUsdPerImage: 0.03, priceDate: '2026-12-02', typicalLatencyMs: 15_000,
  },
  // A team's own OpenAI-compatible image server (a FLUX.2 box): `/images/generations` and
  // `/images/edits` at DARKROOM_SELF_HOSTED_BASE_URL, serving DARKROOM_SELF_HOSTED_MODEL. It costs
  // what the team's hardware costs: 0 here; DARKROOM_SELF_HOSTED_USD_PER_IMAGE sets what calls report.
  'self-hosted': {
    id: 'self-hosted', provider: 'self-hosted', vendorModel: '(DARKROOM_SELF_HOSTED_MODEL)', label: 'Self-hosted OpenAI-compatible image server', tier: 'free',
    sizes: ['1024x1024', '1536x1024', '1024x1536'], maxLongSide: 1536,
    textRendering: 'good', photorealism: 'high', maxImagesPerCall: 1, maxReferenceImages: 4,
    priceUsdPerImage: 0, priceDate: '2026-12-02', typicalLatencyMs: 10_000,
  },
};

/** Vision models that judge candidates and write alt text, priced per image looked at. */
export const VISION_MODELS = {
  'local-judge': { provider: 'local', vendorModel: 'local', priceUsdPerImage: 0, priceDate: '2026-11-21' },
  'gpt-4.1-mini': { provider: 'openai', vendorModel: 'gpt-4.1-mini', priceUsdPerImage: 0.0015, priceDate: '2026-11-21' },
  'gemini-2.5-flash': { provider: 'google', vendorModel: 'gemini-2.5-flash', priceUsdPerImage: 0.0008, priceDate: '2026-11-21' },
} as const;

/** Model upscalers (Replicate, Vertex AI), priced per run. */
export const UPSCALE_MODELS = {
  'sharp-lanczos': { provider: 'local', vendorModel: 'sharp', priceUsdPerImage: 0, priceDate: '2026-11-21' },
  'real-esrgan': { provider: 'replicate', vendorModel: 'nightmareai/real-esrgan', priceUsdPerImage: 0.0025, priceDate: '2026-11-21' },
  'recraft-crisp-upscale': { provider: 'replicate', vendorModel: 'recraft-ai/recraft-crisp-upscale', priceUsdPerImage: 0.004, priceDate: '2026-11-21' },
  // Imagen upscale on Vertex AI (x2/x3/x4, one image per request, inputs up to 10 MB: its model page).
  // No published price found on 2026-12-02: an estimate at Imagen 4 Ultra's, so forecasts err high.
  'imagen-4-upscale': { provider: 'vertex', vendorModel: 'imagen-4.0-upscale-preview', priceUsdPerImage: 0.06, priceDate: '2026-12-02' },
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

export interface CostOptions {
  /** Generation size `WxH`, for vendors that price by size. */
  size?: string;
  /** @default medium */
  quality?: Quality;
  /** Reference images sent with each generation call (its edit path), billed at the model's `priceUsdPerReferenceImage`. @default 0 */
  referenceImages?: number;
  /** Judge price per image looked at. @default 0 */
  judgeUsdPerImage?: number;
  /** How many images will be upscaled, and the price of one. @default 0 */
  upscales?: number;
  upscaleUsd?: number;
  /** Alt text per kept image. @default 0 */
  altTexts?: number;
  altTextUsd?: number;
}

const roundUsd = (v: number) => Math.round(v * 1e6) / 1e6;

/** Forecast for `count` candidates on `model` at catalog prices, judge, upscale and alt text included. */
export function costForBatch(modelId: string, count: number, options: CostOptions = {}): BatchCost {
  const perReference = IMAGE_MODELS[modelId]?.priceUsdPerReferenceImage ?? 0;
  const generateUsd = roundUsd((imagePrice(modelId, options.size, options.quality) + perReference * (options.referenceImages ?? 0)) * count);
  const judgeUsd = roundUsd((options.judgeUsdPerImage ?? 0) * count + (options.altTextUsd ?? 0) * (options.altTexts ?? 0));
  const upscaleUsd = roundUsd((options.upscaleUsd ?? 0) * (options.upscales ?? 0));
  return { model: modelId, count, generateUsd, judgeUsd, upscaleUsd, totalUsd: roundUsd(generateUsd + judgeUsd + upscaleUsd) };
}

/** A routing decision: the model to use first, what to fall back to, and why. */
export interface Route {
  model: string;
  /** The model first, then fallbacks in order; all configured on this worker. */
  chain: string[];
  reason: string;
}

/** Why routing refused: the brief names a model this worker cannot call. */
export class RoutingError extends Error {
  override readonly name = 'RoutingError';
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

const PROVIDER_KEY: Record<Provider, string> = { local: '(none)', openai: 'OPENAI_API_KEY', google: 'GEMINI_API_KEY', replicate: 'REPLICATE_API_TOKEN', 'self-hosted': 'DARKROOM_SELF_HOSTED_BASE_URL', vertex: 'Vertex AI (GOOGLE_GENAI_USE_VERTEXAI=true with GOOGLE_CLOUD_PROJECT, or DARKROOM_VERTEX_API_KEY)' };

type RoutableBrief = Pick<Brief, 'model' | 'needs4k' | 'candidates' | 'budgetUsd' | 'styleHints' | 'subject' | 'mustInclude'> & {
  textInImage?: string;
  references?: { product?: string; style?: readonly string[] };
};

/** Whether a model takes reference images on its edit path. */
export function takesReferences(modelId: string): boolean {
  return (IMAGE_MODELS[modelId]?.maxReferenceImages ?? 0) > 0;
}

/** Text a brief wants rendered in the image: the explicit field, or quoted words in must-include. */
export function textInImage(brief: RoutableBrief): string | undefined {
  if (brief.textInImage) return brief.textInImage;
  const quoted = brief.mustInclude.map((m) => /["“”']([^"“”']{2,})["“”']/.exec(m)?.[1]).find(Boolean);
  return quoted;
}

/**
 * Picks the image model for a brief, with a fallback chain, among the models this worker
 * can call: text in the image → a gpt-image model; 4K → Flux Ultra natively (no upscale);
 * large cheap batches → nano-banana or flux-schnell; photoreal product shots → Flux pro.
 * A low-scoring prompt (`cheapOnly`) never goes above the cheap tier. `model` in the brief
 * overrides routing and gets no fallback: the user asked for that model.
 */
export function routeImageModel(brief: RoutableBrief, available: readonly string[], opts: { cheapOnly?: boolean } = {}): Route {
  const configured = (m: string) => available.includes(m) && IMAGE_MODELS[m] !== undefined && !IMAGE_MODELS[m].notRoutedYet;
  if (brief.model !== 'auto') {
    const spec = IMAGE_MODELS[brief.model];
    if (!spec) throw new RoutingError('model', `"${brief.model}" is not in the model catalog: use auto or one of ${Object.keys(IMAGE_MODELS).join(', ')}`);
    if (spec.notRoutedYet) throw new RoutingError('model', `"${brief.model}" is in the catalog for comparison but not routed yet: ${spec.notRoutedYet}`);
    if (!configured(brief.model)) throw new RoutingError('model', `"${brief.model}" needs ${PROVIDER_KEY[spec.provider]}, which this worker does not have: set it or use model "auto"`);
    if (opts.cheapOnly && (spec.tier === 'standard' || spec.tier === 'premium')) {
      throw new RoutingError('model', `"${brief.model}" is ${spec.tier} tier, and a prompt under minPromptScore only goes to cheap models`);
    }
    // A packshot must be placed, not described: a text-only model would silently make another product.
    if (brief.references?.product && !takesReferences(brief.model)) {
      throw new RoutingError('model', `"${brief.model}" takes no reference images, and this brief has a product packshot (references.product): use model "auto" or one of ${referenceModels(available).join(', ') || 'local'}`);
    }
    return { model: brief.model, chain: [brief.model], reason: 'chosen in the brief' };
  }
  const text = textInImage(brief);
  const look = `${brief.subject} ${brief.styleHints.join(' ')}`.toLowerCase();
  const photoreal = /\b(photo|photograph|photography|photoreal|product shot|packshot|studio shot)/.test(look);
  const perImageBudget = brief.budgetUsd / Math.max(1, brief.candidates);
  let chain: string[];
  let reason: string;
  if (opts.cheapOnly) {
    chain = ['flux-schnell', 'gemini-2.5-flash-image', 'gpt-image-1-mini'];
    reason = 'prompt under minPromptScore: cheap tier only';
  } else if (brief.needs4k) {
    chain = ['flux-1.1-pro-ultra', 'gpt-image-2', 'flux-1.1-pro', 'gpt-image-1.5'];
    reason = '4K: Flux Ultra makes 4 MP natively instead of generate-then-upscale';
  } else if (text) {
    chain = ['gpt-image-1.5', 'gpt-image-2', 'gpt-image-1-mini', 'gemini-2.5-flash-image'];
    reason = `text in the image ("${text}"): gpt-image renders lettering best`;
  } else if (brief.candidates >= 12 || perImageBudget < 0.03) {
    chain = ['gemini-2.5-flash-image', 'flux-schnell', 'gpt-image-1-mini', 'imagen-4-fast'];
    reason = `exploration batch (${brief.candidates} candidates at $${perImageBudget.toFixed(3)} each): cheap models`;
  } else if (photoreal) {
    chain = ['flux-1.1-pro', 'gpt-image-1.5', 'imagen-4', 'flux-dev', 'gemini-2.5-flash-image'];
    reason = 'photoreal product shot: Flux pro';
  } else {
    chain = ['gemini-2.5-flash-image', 'gpt-image-1.5', 'flux-1.1-pro', 'flux-dev'];
    reason = 'general brief: nano-banana first';
  }
  let usable = chain.filter(configured);
  if (brief.references?.product) {
    const vendors = usable;
    usable = usable.filter(takesReferences);
    if (usable.length === 0 && vendors.length > 0) {
      // Keys for vendors, none of which can place a packshot: the offline composite would look like a silent downgrade.
      throw new RoutingError('references.product', `is set, and none of the models this worker can call for this brief (${vendors.join(', ')}) takes reference images: configure a vendor whose model does, or remove references.product`);
    }
    if (usable.length > 0) reason = `${reason}; product packshot: reference-capable models only`;
  }
  if (usable.length === 0) {
    return { model: 'local', chain: ['local'], reason: `${reason}; no vendor model configured, so the offline local generator` };
  }
  return { model: usable[0]!, chain: usable, reason };
}

/** The models among `available` that take reference images. */
function referenceModels(available: readonly string[]): string[] {
  return available.filter((m) => IMAGE_MODELS[m] !== undefined && takesReferences(m));
}

/** The model routing picks for a brief (see {@link routeImageModel}). */
export function pickImageModel(brief: RoutableBrief, available: readonly string[] = ['local']): string {
  return routeImageModel(brief, available).model;
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

/** Which vendor keys a worker (or a shell) has. */
export interface ProviderKeys {
  openai: boolean;
  google: boolean;
  replicate: boolean;
  /** A self-hosted OpenAI-compatible image server is configured. @default false */
  selfHosted?: boolean;
  /** Vertex AI is configured (ADC with a project, or an express-mode key). @default false */
  vertex?: boolean;
}

/** Catalog prices of the judge, upscaler and alt-text writer a set of keys brings in, per image. */
export interface AuxiliaryPrices {
  judgeUsdPerImage: number;
  upscaleUsd: number;
  altTextUsd: number;
}

/**
 * The image models a set of keys makes callable, and the prices of the judge, upscaler and
 * alt-text writer it selects: OpenAI's judge when its key is there, else Gemini's; Replicate's
 * upscaler with its token, else Imagen's with Vertex AI. The provider registry builds adapters to match; the CLI forecasts
 * with it before any worker is involved.
 */
export function capabilitiesFor(keys: ProviderKeys): { imageModels: string[]; prices: AuxiliaryPrices } {
  const enabled = new Set<Provider>(['local']);
  if (keys.openai) enabled.add('openai');
  if (keys.google) enabled.add('google');
  if (keys.replicate) enabled.add('replicate');
  if (keys.selfHosted) enabled.add('self-hosted');
  if (keys.vertex) enabled.add('vertex');
  const judge = keys.openai ? VISION_MODELS['gpt-4.1-mini'].priceUsdPerImage : keys.google ? VISION_MODELS['gemini-2.5-flash'].priceUsdPerImage : 0;
  return {
    imageModels: Object.values(IMAGE_MODELS).filter((m) => enabled.has(m.provider) && !m.notRoutedYet).map((m) => m.id),
    prices: { judgeUsdPerImage: judge, altTextUsd: judge, upscaleUsd: keys.replicate ? UPSCALE_MODELS['real-esrgan'].priceUsdPerImage : keys.vertex ? UPSCALE_MODELS['imagen-4-upscale'].priceUsdPerImage : 0 },
  };
}

export interface BriefForecast {
  route: Route;
  /** The generation size, chosen to crop least across the brief's channels. */
  master: { width: number; height: number };
  /** Kept images that need upscaling (a channel wants more pixels than the master has). */
  upscales: number;
  forecast: BatchCost;
}

/** How many of the brief's reference images each generation call sends: product first, then style, up to the model's maximum. */
export function referencesSent(brief: Pick<RoutableBrief, 'references'>, modelId: string): number {
  const wanted = (brief.references?.product ? 1 : 0) + (brief.references?.style?.length ?? 0);
  return Math.min(wanted, IMAGE_MODELS[modelId]?.maxReferenceImages ?? 0);
}

/**
 * What one brief will cost on the models `available`: routing, master size, generation at
 * that size's price, judging every candidate, upscaling and alt text for the kept ones.
 * The one forecast the workflow's gate, catalog plans and the CLI all use.
 * @throws RoutingError when the brief names a model that is not available
 */
export function forecastBrief(brief: Brief, available: readonly string[], prices: AuxiliaryPrices, opts: { cheapOnly?: boolean } = {}): BriefForecast {
  const route = routeImageModel(brief, available, opts);
  const channels = brief.channels.map((c) => resolveChannel(c)!);
  const master = pickMasterSize(route.model, channels);
  const upscales = channels.some((c) => c.width > master.width || c.height > master.height) ? brief.topK : 0;
  const forecast = costForBatch(route.model, brief.candidates, {
    size: `${master.width}x${master.height}`,
    referenceImages: referencesSent(brief, route.model),
    judgeUsdPerImage: prices.judgeUsdPerImage,
    upscales,
    upscaleUsd: prices.upscaleUsd,
    altTexts: brief.topK,
    altTextUsd: prices.altTextUsd,
  });
  return { route, master, upscales, forecast };
}
