import { hashInt, seededRandom } from '../../../domain/hash';
import { IMAGE_MODELS, imagePrice, type Provider } from '../../../domain/models';
import { RateLimitError } from '../errors';
import { LocalImageGenerator } from '../local';
import type { GenerateImageInput, GenerateImageResult, ImageGenerator } from '../types';

/** A vendor's limits as the simulation enforces them. */
export interface SimulatedLimits {
  /** Calls accepted in any 60-second window; the next one gets a 429 with a retry-after. */
  perMinute: number;
  /** Calls in flight at once; one more gets a 429. */
  concurrency: number;
}

export interface SimulatedProviderOptions {
  /** Seeds every latency draw: the same seed and calls give the same latencies. @default 1 */
  seed?: number;
  /** Spread of the log-normal latency (σ of its logarithm); the median is the model's `typicalLatencyMs`. @default 0.35 */
  sigma?: number;
  /** Multiplies every latency, so a benchmark can run a long catalog in less time. @default 1 */
  timeScale?: number;
  /** Each vendor's limits, by provider. */
  limits: (provider: Exclude<Provider, 'local'>) => SimulatedLimits;
  /** @default Date.now */
  now?: () => number;
  /** @default a setTimeout that honours the signal */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** One call the simulated vendor answered or refused. */
export interface SimulatedCall {
  model: string;
  seed: number;
  startedAt: number;
  /** The drawn latency (after `timeScale`); 0 for a refused call. */
  latencyMs: number;
  refused?: 'per-minute' | 'concurrency';
}

const sleepFor = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    signal?.throwIfAborted();
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });

/**
 * For benchmarks only (never in a production registry): a vendor image model that answers after a
 * seeded log-normal latency around its catalog `typicalLatencyMs` and refuses calls past its
 * per-minute and concurrency limits with a rate-limit failure, as a vendor's 429 would. The images
 * are real: the offline generator's, rendered once per size and a few seeds and then reused, so
 * judging, formatting and publishing downstream do their real work.
 */
export class SimulatedImageGenerator implements ImageGenerator {
  readonly name = 'simulated';
  readonly calls: SimulatedCall[] = [];
  private readonly seed: number;
  private readonly sigma: number;
  private readonly timeScale: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly inFlight = new Map<string, number>();
  /** Accepted call start times per provider, oldest first, pruned to the last minute. */
  private readonly window = new Map<string, number[]>();
  private readonly images = new Map<string, Promise<GenerateImageResult>>();
  private readonly painter = new LocalImageGenerator();

  constructor(private readonly opts: SimulatedProviderOptions) {
    this.seed = opts.seed ?? 1;
    this.sigma = opts.sigma ?? 0.35;
    this.timeScale = opts.timeScale ?? 1;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? sleepFor;
  }

  /** The latency this simulation gives a call: the same for the same model, seed and prompt, whatever the order of calls. */
  latencyMs(input: Pick<GenerateImageInput, 'model' | 'seed' | 'prompt'>): number {
    const spec = IMAGE_MODELS[input.model];
    if (!spec) throw new Error(`model ${input.model} is not in the model catalog`);
    const rand = seededRandom(hashInt(`${this.seed}|${input.model}|${input.seed}|${input.prompt}`));
    // Box–Muller: a standard normal from two uniforms (1 - u keeps the logarithm finite).
    const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    return Math.round(spec.typicalLatencyMs * Math.exp(this.sigma * z) * this.timeScale);
  }

  async generate(input: GenerateImageInput): Promise<GenerateImageResult> {
    const spec = IMAGE_MODELS[input.model];
    if (!spec || spec.provider === 'local') throw new Error(`model ${input.model} is not a vendor model in the catalog`);
    const provider = spec.provider;
    const limits = this.opts.limits(provider);
    const startedAt = this.now();
    const accepted = (this.window.get(provider) ?? []).filter((t) => t > startedAt - 60_000);
    this.window.set(provider, accepted);
    const busy = this.inFlight.get(provider) ?? 0;
    if (accepted.length >= limits.perMinute) {
      this.calls.push({ model: input.model, seed: input.seed, startedAt, latencyMs: 0, refused: 'per-minute' });
      throw new RateLimitError(`simulated ${provider}: over ${limits.perMinute} calls a minute`, provider, accepted[0]! + 60_000 - startedAt);
    }
    if (busy >= limits.concurrency) {
      this.calls.push({ model: input.model, seed: input.seed, startedAt, latencyMs: 0, refused: 'concurrency' });
      throw new RateLimitError(`simulated ${provider}: over ${limits.concurrency} calls at once`, provider, 1000);
    }
    accepted.push(startedAt);
    this.inFlight.set(provider, busy + 1);
    const latencyMs = this.latencyMs(input);
    this.calls.push({ model: input.model, seed: input.seed, startedAt, latencyMs });
    try {
      const [image] = await Promise.all([this.image(input), this.sleep(latencyMs, input.signal)]);
      return { ...image, model: input.model, costUsd: imagePrice(input.model, `${input.width}x${input.height}`) };
    } finally {
      this.inFlight.set(provider, (this.inFlight.get(provider) ?? 1) - 1);
    }
  }

  /** A real picture of the asked size: one of four per size, painted once by the offline generator. */
  private image(input: GenerateImageInput): Promise<GenerateImageResult> {
    const variant = input.seed % 4;
    const key = `${input.width}x${input.height}/${variant}`;
    let image = this.images.get(key);
    if (!image) {
      image = this.painter.generate({ ...input, seed: variant, references: undefined, signal: undefined });
      this.images.set(key, image);
      image.catch(() => this.images.delete(key));
    }
    return image;
  }
}

/** The routed vendor models (those the catalog can call), each served by `generator`: a registry's `imageGenerators` override. */
export function simulatedImageGenerators(generator: SimulatedImageGenerator): Record<string, ImageGenerator> {
  return Object.fromEntries(Object.values(IMAGE_MODELS).filter((m) => m.provider !== 'local' && m.provider !== 'self-hosted' && !m.notRoutedYet).map((m) => [m.id, generator]));
}
