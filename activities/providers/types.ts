import type { Brief } from '../../domain/brief';
import type { Judgement } from '../../domain/types';

/**
 * An image a result must stay faithful to: the product's packshot (`product`, kept as it is:
 * same shape, label, colour) or a look to follow (`style`). Generators that take none ignore them;
 * routing sends references only to models whose catalog entry has `maxReferenceImages`.
 */
export interface ReferenceImage {
  role: 'product' | 'style';
  image: Uint8Array;
  mime: string;
}

/** Everything an image generator needs for one image. */
export interface GenerateImageInput {
  /** Catalog model id, e.g. `local`, `gpt-image-1.5`. */
  model: string;
  prompt: string;
  /** Things to keep out; sent separately only to models that take a negative prompt. */
  negativePrompt: string;
  width: number;
  height: number;
  seed: number;
  /** Brand colours as `#RRGGBB`; the offline generator paints with them. */
  palette: readonly string[];
  /** Knob values, for generators that render them directly (the offline one). */
  composition?: string;
  lighting?: string;
  style?: string;
  /** Reference images, product first; only for models that accept them (their edit path). */
  references?: readonly ReferenceImage[];
  /**
   * A brand's LoRA: weights URL (HTTPS), optional trigger word, scale 0–2. Only adapters whose
   * model takes LoRA weights use it (Replicate's Flux dev/schnell LoRA variants); the rest ignore it.
   */
  lora?: { weightsUrl: string; triggerWord?: string; scale: number };
  signal?: AbortSignal;
}

export interface GenerateImageResult {
  /** Encoded image bytes. */
  image: Uint8Array;
  mime: string;
  width: number;
  height: number;
  /** What this call cost, from the vendor's usage where it reports one. */
  costUsd: number;
  model: string;
  /** The prompt as the vendor rewrote it, when it does. */
  revisedPrompt?: string;
}

/** Makes one image from a prompt. One interface, one folder per vendor. */
export interface ImageGenerator {
  readonly name: string;
  generate(input: GenerateImageInput): Promise<GenerateImageResult>;
}

export interface JudgeInput {
  brief: Brief;
  candidates: ReadonlyArray<{ id: string; image: Uint8Array; mime: string }>;
  /** The product packshot, when the brief has one: judges score `fidelity` (same product, shape, label, colour) against it. */
  reference?: ReferenceImage;
  signal?: AbortSignal;
}

export interface JudgeOutput {
  /** One per candidate, in any order; ranks are assigned by the caller from `score`. */
  judgements: Array<Omit<Judgement, 'rank'>>;
  /** Checks from the brief this judge could not make, said plainly. */
  unchecked: string[];
  costUsd: number;
}

/** Scores candidates against a brief, with reasons. */
export interface VisionJudge {
  readonly name: string;
  judge(input: JudgeInput): Promise<JudgeOutput>;
}

export interface UpscaleInput {
  image: Uint8Array;
  /** The result must be at least this wide… */
  minWidth: number;
  /** …and at least this tall, keeping the aspect ratio. */
  minHeight: number;
  signal?: AbortSignal;
}

export interface UpscaleResult {
  image: Uint8Array;
  mime: string;
  width: number;
  height: number;
  costUsd: number;
}

export interface Upscaler {
  readonly name: string;
  upscale(input: UpscaleInput): Promise<UpscaleResult>;
}

export interface AltTextInput {
  brief: Brief;
  image: Uint8Array;
  mime: string;
  signal?: AbortSignal;
}

/** Writes one sentence describing an image for a reader who cannot see it. */
export interface AltTextWriter {
  readonly name: string;
  write(input: AltTextInput): Promise<{ text: string; costUsd: number }>;
}

export interface ModerateInput {
  /** The texts to check, each with the brief field it came from. */
  parts: ReadonlyArray<{ field: string; text: string }>;
  signal?: AbortSignal;
}

export interface ModerateResult {
  flagged: boolean;
  /** Categories flagged (OpenAI's names, e.g. `violence/graphic`); empty when nothing was. */
  categories: string[];
  /** The fields that were flagged. */
  fields: string[];
  /** What the check cost; OpenAI's moderation endpoint is free. */
  costUsd: number;
}

/** Checks a prompt before anything is paid for. One interface: OpenAI's moderation model, or the offline word list. */
export interface PromptModerator {
  /** Which checker ran, recorded in the manifest: `openai:omni-moderation-latest`, `word-list`. */
  readonly name: string;
  moderate(input: ModerateInput): Promise<ModerateResult>;
}
