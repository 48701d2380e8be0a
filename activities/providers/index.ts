import { readFileSync } from 'node:fs';
import { providerKeys, vertexMode, type Config } from '../../domain/config';
import { DEFAULT_MODERATION_WORDS, mergeModerationWords, parseModerationWords } from '../../domain/moderation';
import { capabilitiesFor, IMAGE_MODELS } from '../../domain/models';
import { GeminiAltTextWriter, GeminiImageGenerator, GeminiVisionJudge } from './gemini';
import { ChainModerator, LocalAltTextWriter, LocalImageGenerator, LocalVisionJudge, SharpUpscaler, WordListModerator } from './local';
import { OpenAIAltTextWriter, OpenAIImageGenerator, OpenAIPromptModerator, OpenAIVisionJudge } from './openai';
import { parseOutputHosts, ReplicateImageGenerator, ReplicateUpscaler } from './replicate';
import type { AltTextWriter, ImageGenerator, PromptModerator, Upscaler, VisionJudge } from './types';
import { ImagenImageGenerator, ImagenUpscaler, type VertexClientOptions } from './vertex';

export * from './types';
export * from './errors';

/** The providers a worker has: which image models it can call, and its judge, upscaler and alt-text writer. */
export interface ProviderRegistry {
  /** Catalog ids of the image models this worker can call. */
  readonly imageModels: readonly string[];
  /** @throws Error when the model is not configured on this worker */
  imageGenerator(model: string): ImageGenerator;
  readonly judge: VisionJudge;
  readonly upscaler: Upscaler;
  readonly altText: AltTextWriter;
  /** Checks prompts before any spend: OpenAI's moderation model with a key, the word list without. */
  readonly moderator: PromptModerator;
  /** Catalog prices of the judge, upscaler and alt-text writer in use, for forecasts. */
  readonly prices: { judgeUsdPerImage: number; upscaleUsd: number; altTextUsd: number };
}

/** Overrides for tests and embedding: any capability not given comes from the configuration. */
export interface ProviderOverrides {
  imageGenerators?: Record<string, ImageGenerator>;
  judge?: VisionJudge;
  upscaler?: Upscaler;
  altText?: AltTextWriter;
  moderator?: PromptModerator;
  prices?: Partial<ProviderRegistry['prices']>;
}

/**
 * What goes as the bearer key to a self-hosted server that wants none. Adapters scrub their key
 * from every message, so it must be a string no message would otherwise contain.
 */
const SELF_HOSTED_NO_KEY = 'darkroom-no-key-configured';

/** The catalog models of a provider that Darkroom can call (those `notRoutedYet` are left out). */
const modelsOf = (provider: string) => Object.values(IMAGE_MODELS).filter((m) => m.provider === provider && !m.notRoutedYet).map((m) => m.id);

/**
 * Builds the registry from configuration. Each API key present enables its vendor's models;
 * with none, every capability is the offline implementation and Darkroom needs no network.
 * Keys go to the adapters' constructors and nowhere else.
 */
export function createProviderRegistry(config: Config, overrides: ProviderOverrides = {}): ProviderRegistry {
  const timeoutMs = config.DARKROOM_PROVIDER_TIMEOUT;
  const maxResponseBytes = config.DARKROOM_MAX_DOWNLOAD_BYTES;
  const generators: Record<string, ImageGenerator> = { local: new LocalImageGenerator() };
  let judge: VisionJudge = new LocalVisionJudge();
  let altText: AltTextWriter = new LocalAltTextWriter();
  let upscaler: Upscaler = new SharpUpscaler();

  if (config.REPLICATE_API_TOKEN) {
    const opts = { apiToken: config.REPLICATE_API_TOKEN, baseUrl: config.REPLICATE_BASE_URL, timeoutMs, maxResponseBytes, outputHosts: parseOutputHosts(config.REPLICATE_OUTPUT_HOSTS) };
    const flux = new ReplicateImageGenerator(opts);
    for (const m of modelsOf('replicate')) generators[m] = flux;
    upscaler = new ReplicateUpscaler({ ...opts, model: 'real-esrgan' });
  }
  if (config.GEMINI_API_KEY) {
    const opts = { apiKey: config.GEMINI_API_KEY, baseUrl: config.GEMINI_BASE_URL, timeoutMs, maxResponseBytes };
    const gemini = new GeminiImageGenerator(opts);
    for (const m of modelsOf('google')) generators[m] = gemini;
    judge = new GeminiVisionJudge(opts);
    altText = new GeminiAltTextWriter(opts);
  }
  const vertex = vertexClientOptions(config);
  if (vertex) {
    const opts = { ...vertex, timeoutMs, maxResponseBytes };
    const imagen = new ImagenImageGenerator({ ...opts, addWatermark: config.DARKROOM_VERTEX_WATERMARK });
    for (const m of modelsOf('vertex')) generators[m] = imagen;
    // Real-ESRGAN on Replicate costs a fraction of Imagen upscale: Imagen's only without a Replicate token.
    if (!config.REPLICATE_API_TOKEN) upscaler = new ImagenUpscaler(opts);
  }
  if (config.OPENAI_API_KEY) {
    const opts = { apiKey: config.OPENAI_API_KEY, baseURL: config.OPENAI_BASE_URL, timeoutMs, maxResponseBytes };
    const openai = new OpenAIImageGenerator(opts);
    for (const m of modelsOf('openai')) generators[m] = openai;
    // The OpenAI judge is preferred when both keys exist: structured outputs are strict.
    judge = new OpenAIVisionJudge(opts);
    altText = new OpenAIAltTextWriter(opts);
  }
  if (config.DARKROOM_SELF_HOSTED_BASE_URL) {
    // Many self-hosted servers want no key; the SDK insists on one, so a placeholder goes instead.
    const selfHosted = new OpenAIImageGenerator({
      apiKey: config.DARKROOM_SELF_HOSTED_API_KEY ?? SELF_HOSTED_NO_KEY,
      baseURL: config.DARKROOM_SELF_HOSTED_BASE_URL,
      timeoutMs,
      maxResponseBytes,
      selfHosted: { model: config.DARKROOM_SELF_HOSTED_MODEL, usdPerImage: config.DARKROOM_SELF_HOSTED_USD_PER_IMAGE },
    });
    for (const m of modelsOf('self-hosted')) generators[m] = selfHosted;
  }
  Object.assign(generators, overrides.imageGenerators);
  const moderator = overrides.moderator ?? createModerator(config);
  return {
    imageModels: Object.keys(generators).filter((m) => IMAGE_MODELS[m]),
    imageGenerator(model: string): ImageGenerator {
      const g = generators[model];
      if (!g) throw new Error(`image model ${model} is not configured on this worker (configured: ${Object.keys(generators).join(', ')})`);
      return g;
    },
    judge: overrides.judge ?? judge,
    upscaler: overrides.upscaler ?? upscaler,
    altText: overrides.altText ?? altText,
    moderator,
    // The same choice of judge and upscaler that capabilitiesFor prices, so forecasts match.
    prices: { ...capabilitiesFor(providerKeys(config)).prices, ...overrides.prices },
  };
}

/**
 * How this configuration reaches Vertex AI, or undefined when it does not: the express-mode key
 * alone, or the project with ADC (and the credentials file, when one is given).
 */
export function vertexClientOptions(config: Config): VertexClientOptions | undefined {
  const mode = vertexMode(config);
  if (!mode) return undefined;
  return {
    ...(mode === 'express'
      ? { apiKey: config.DARKROOM_VERTEX_API_KEY }
      : { project: config.GOOGLE_CLOUD_PROJECT, location: config.GOOGLE_CLOUD_LOCATION, credentialsFile: config.GOOGLE_APPLICATION_CREDENTIALS }),
    baseUrl: config.DARKROOM_VERTEX_BASE_URL,
  };
}

/** Reads DARKROOM_MODERATION_WORDS_FILE, naming the variable when it cannot. */
function extraWords(config: Config): Record<string, string[]> {
  const file = config.DARKROOM_MODERATION_WORDS_FILE;
  if (!file) return {};
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`DARKROOM_MODERATION_WORDS_FILE ${file}: cannot read it (${(err as Error).message})`, { cause: err });
  }
  return parseModerationWords(text);
}

/**
 * OpenAI's moderation model when there is a key (plus the team's own words, if any); the
 * built-in word list and the team's words otherwise.
 */
function createModerator(config: Config): PromptModerator {
  const extra = extraWords(config);
  if (!config.OPENAI_API_KEY) return new WordListModerator(mergeModerationWords(DEFAULT_MODERATION_WORDS, extra));
  const openai = new OpenAIPromptModerator({ apiKey: config.OPENAI_API_KEY, baseURL: config.OPENAI_BASE_URL, timeoutMs: config.DARKROOM_PROVIDER_TIMEOUT, maxResponseBytes: config.DARKROOM_MAX_DOWNLOAD_BYTES });
  return Object.keys(extra).length ? new ChainModerator([openai, new WordListModerator(extra)]) : openai;
}
