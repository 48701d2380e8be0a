import type { Config } from '../../domain/config';
import { IMAGE_MODELS } from '../../domain/models';
import { LocalAltTextWriter, LocalImageGenerator, LocalVisionJudge, SharpUpscaler } from './local';
import type { AltTextWriter, ImageGenerator, Upscaler, VisionJudge } from './types';

export * from './types';
export * from './errors';

/** The providers a worker has: which image models it can call, and its judge, upscaler and alt-text writer. */
export interface ProviderRegistry {
  /** Catalog ids of the image models this worker can call, preferred first. */
  readonly imageModels: readonly string[];
  /** @throws Error when the model is not configured on this worker */
  imageGenerator(model: string): ImageGenerator;
  readonly judge: VisionJudge;
  readonly upscaler: Upscaler;
  readonly altText: AltTextWriter;
  /** Catalog prices of the judge, upscaler and alt-text writer in use, for forecasts. */
  readonly prices: { judgeUsdPerImage: number; upscaleUsd: number; altTextUsd: number };
}

/** Overrides for tests and embedding: any capability not given uses the offline default. */
export interface ProviderOverrides {
  imageGenerators?: Record<string, ImageGenerator>;
  judge?: VisionJudge;
  upscaler?: Upscaler;
  altText?: AltTextWriter;
  prices?: Partial<ProviderRegistry['prices']>;
}

/**
 * Builds the registry from configuration. With no API keys configured every capability
 * is the offline `local` implementation, so Darkroom runs with no network at all.
 */
export function createProviderRegistry(_config: Config, overrides: ProviderOverrides = {}): ProviderRegistry {
  const generators: Record<string, ImageGenerator> = { local: new LocalImageGenerator(), ...overrides.imageGenerators };
  return {
    imageModels: Object.keys(generators).filter((m) => IMAGE_MODELS[m]),
    imageGenerator(model: string): ImageGenerator {
      const g = generators[model];
      if (!g) throw new Error(`image model ${model} is not configured on this worker (configured: ${Object.keys(generators).join(', ')})`);
      return g;
    },
    judge: overrides.judge ?? new LocalVisionJudge(),
    upscaler: overrides.upscaler ?? new SharpUpscaler(),
    altText: overrides.altText ?? new LocalAltTextWriter(),
    prices: { judgeUsdPerImage: 0, upscaleUsd: 0, altTextUsd: 0, ...overrides.prices },
  };
}
