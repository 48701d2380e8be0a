import { keyRedactor, type Redact } from '../scrub';
import { DEFAULT_TIMEOUT_MS, maxResponseBytes, parseRetryAfter, type ProviderClientOptions } from '../shared';

/**
 * What every Replicate adapter needs to reach the API and fetch its outputs. Its `timeoutMs`
 * covers the whole call: creating the prediction, waiting for it and downloading its output.
 */
export interface ReplicateClientOptions extends ProviderClientOptions {
  /** The Replicate API token. Handed to the SDK only; never logged, never put in an error message, never sent to output hosts. */
  apiToken: string;
  /** @default https://api.replicate.com/v1 */
  baseUrl?: string;
  /**
   * Hosts output files may be downloaded from. `replicate.delivery` matches that host,
   * `*.replicate.delivery` its subdomains, `127.0.0.1:8080` a host and port; all over HTTPS only.
   * Plain HTTP needs the scheme in the entry (`http://127.0.0.1:8080`), which only local fakes want.
   * @default ['replicate.delivery', '*.replicate.delivery']
   */
  outputHosts?: readonly string[];
  /** Wait between status checks of a prediction that outlived `Prefer: wait`. @default 1000 */
  pollIntervalMs?: number;
  /** The fetch used for the API and for downloads (tests wrap it to watch requests). @default globalThis.fetch */
  fetch?: typeof fetch;
}

export const DEFAULT_OUTPUT_HOSTS: readonly string[] = ['replicate.delivery', '*.replicate.delivery'];

/** Parses `REPLICATE_OUTPUT_HOSTS` (comma-separated). */
export function parseOutputHosts(value: string | undefined): string[] {
  return (value ?? '').split(',').map((h) => h.trim()).filter(Boolean);
}

/**
 * Whether an output URL may be fetched: HTTPS to a listed host, or plain HTTP to a host
 * listed with `http://` in front. Wildcards match subdomains only, never the bare domain.
 */
export function outputUrlAllowed(url: URL, patterns: readonly string[]): boolean {
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return false;
  if (url.username || url.password) return false;
  return patterns.some((raw) => {
    let p = raw.trim().toLowerCase();
    let scheme = 'https:';
    const m = /^(https?):\/\//.exec(p);
    if (m) {
      scheme = `${m[1]}:`;
      p = p.slice(m[0].length).replace(/\/+$/, '');
    }
    if (url.protocol !== scheme || !p) return false;
    if (p.startsWith('*.')) {
      const suffix = p.slice(1);
      const host = p.includes(':') ? url.host : url.hostname;
      return host.endsWith(suffix) && host.length > suffix.length;
    }
    return p.includes(':') ? url.host === p : url.hostname === p;
  });
}

/** Replicate token shapes (`r8_…`); a proxy or a log line might echo one. */
const TOKEN_PATTERN = /\br8_[A-Za-z0-9]{4,}/g;

/** Removes the token (and anything shaped like one) from a text. */
export function redactor(token: string): Redact {
  return keyRedactor(token, TOKEN_PATTERN, 'r8_[redacted]');
}

/** How long Replicate asked us to wait: `retry-after` (seconds or HTTP date), else "available in N seconds" in the body. */
export function retryAfterMs(headers: Pick<Headers, 'get'>, detail: string, now: number = Date.now()): number | undefined {
  const fromHeader = parseRetryAfter(headers, now);
  if (fromHeader !== undefined) return fromHeader;
  const m = /available in (\d+(?:\.\d+)?) seconds?/i.exec(detail);
  return m ? Math.round(Number(m[1]) * 1000) : undefined;
}

/** {@link ReplicateClientOptions} with the defaults filled in, the token's redactor made and the cap checked. */
export interface Resolved {
  apiToken: string;
  /** Removes the token from vendor text: what every adapter call's results and errors leave through. */
  redact: Redact;
  /** The response cap of each call, in bytes ({@link ProviderClientOptions.maxResponseBytes}). */
  maxResponseBytes: number;
  baseUrl?: string;
  timeoutMs: number;
  outputHosts: readonly string[];
  pollIntervalMs: number;
  fetch: typeof fetch;
}

/** @throws Error when the token is missing or `maxResponseBytes` is not a whole number of bytes */
export function resolveOptions(options: ReplicateClientOptions): Resolved {
  if (!options.apiToken) throw new Error('Replicate adapter: apiToken is required (set REPLICATE_API_TOKEN)');
  return {
    apiToken: options.apiToken,
    redact: redactor(options.apiToken),
    maxResponseBytes: maxResponseBytes(options),
    baseUrl: options.baseUrl,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    outputHosts: options.outputHosts ?? DEFAULT_OUTPUT_HOSTS,
    pollIntervalMs: options.pollIntervalMs ?? 1000,
    fetch: options.fetch ?? globalThis.fetch,
  };
}

/**
 * The Replicate model that runs a catalog model with a LoRA. Black Forest Labs' dev-family models
 * on Replicate take `lora_weights` (a Replicate model, a Hugging Face or CivitAI page, or any
 * .safetensors URL) and `lora_scale` (flux-fill-dev's published input schema lists both); FLUX.1
 * [dev] and [schnell] take them through their `-lora` variants. FLUX 1.1 [pro] and Ultra take
 * no LoRA (only Replicate's own fine-tunes), so a brand's LoRA is not sent to them.
 */
export const LORA_VENDOR_MODELS: Readonly<Record<string, `${string}/${string}`>> = Object.freeze({
  'flux-dev': 'black-forest-labs/flux-dev-lora',
  'flux-schnell': 'black-forest-labs/flux-schnell-lora',
});

/**
 * How a LoRA reaches a model: the model to run instead, the input fields to add, and the prompt
 * with the trigger word in front (LoRAs are trained to answer to it). Undefined when the model
 * takes no LoRA or none was given: the call goes on as without one.
 */
export function loraRequest(
  modelId: string,
  prompt: string,
  lora: { weightsUrl: string; triggerWord?: string; scale: number } | undefined,
): { vendorModel: `${string}/${string}`; input: { lora_weights: string; lora_scale: number }; prompt: string } | undefined {
  const vendorModel = LORA_VENDOR_MODELS[modelId];
  if (!lora || !vendorModel) return undefined;
  const trigger = lora.triggerWord?.trim();
  const withTrigger = trigger && !prompt.toLowerCase().includes(trigger.toLowerCase()) ? `${trigger}, ${prompt}` : prompt;
  return { vendorModel, input: { lora_weights: lora.weightsUrl, lora_scale: lora.scale }, prompt: withTrigger };
}
