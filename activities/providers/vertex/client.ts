import { GoogleGenAI } from '@google/genai';
import { z } from 'zod';
import { AuthenticationError, ContentPolicyError } from '../errors';
import { cappedCall, GoogleConnection, redactor as geminiRedactor } from '../gemini/client';
import { ResponseCap } from '../response-cap';
import { keyRedactor, vendorText, type Redact } from '../scrub';
import { DEFAULT_TIMEOUT_MS, type ProviderClientOptions } from '../shared';
import { malformedResponse } from '../vendor-failure';

/**
 * What every Vertex AI adapter needs: either a project (with Application Default Credentials,
 * or the credentials file given) or an express-mode API key. Its `timeoutMs` covers the whole
 * call, response body included.
 */
export interface VertexClientOptions extends ProviderClientOptions {
  /** The Google Cloud project calls bill to (ADC). Needed unless `apiKey` is given. */
  project?: string;
  /** The region. @default us-central1 */
  location?: string;
  /** A credentials file for ADC (service account key, workload identity federation). @default ADC's own search */
  credentialsFile?: string;
  /** An express-mode API key instead of a project and ADC. Handed to the SDK only; never logged. */
  apiKey?: string;
  /** Base URL of Vertex AI (tests point it at a local server). @default the SDK's, https://<location>-aiplatform.googleapis.com */
  baseUrl?: string;
}

/** What to check when Vertex AI refuses the credentials, for error messages. */
const CREDENTIALS_HINT = 'DARKROOM_VERTEX_API_KEY, or the Application Default Credentials and their access to GOOGLE_CLOUD_PROJECT (roles/aiplatform.user)';

/**
 * One SDK client in Vertex AI mode. Everything is passed explicitly, so that the SDK's own
 * environment lookups (GOOGLE_API_KEY, GEMINI_API_KEY, GOOGLE_CLOUD_PROJECT) cannot change
 * where a call goes or which credential it carries: with a project, the SDK drops any key it
 * found in the environment; with a key, any project. SDK retries are off, as for Gemini
 * (`retryOptions.attempts: 1`): Temporal owns retries.
 */
export function createVertexClient(options: VertexClientOptions): GoogleGenAI {
  if (!options.apiKey && !options.project) {
    throw new Error('Vertex AI adapter: a project (GOOGLE_CLOUD_PROJECT, with GOOGLE_GENAI_USE_VERTEXAI=true) or an express-mode key (DARKROOM_VERTEX_API_KEY) is required');
  }
  return new GoogleGenAI({
    vertexai: true,
    // The GA API the Imagen reference documents (the SDK's default for Vertex is v1beta1).
    apiVersion: 'v1',
    ...(options.apiKey
      ? { apiKey: options.apiKey }
      : {
          project: options.project,
          location: options.location ?? 'us-central1',
          ...(options.credentialsFile ? { googleAuthOptions: { keyFilename: options.credentialsFile } } : {}),
        }),
    httpOptions: {
      ...(options.baseUrl ? { baseUrl: options.baseUrl } : {}),
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      retryOptions: { attempts: 1 },
    },
  });
}

/** An OAuth access token (what ADC puts in `Authorization: Bearer`); a proxy might echo one. */
const ACCESS_TOKEN_PATTERN = /\bya29\.[0-9A-Za-z_.-]+/g;

/** Removes the express-mode key (any spelling), anything shaped like a Google API key, and OAuth access tokens. */
export function vertexRedactor(apiKey: string | undefined): Redact {
  const keys = geminiRedactor(apiKey ?? '');
  const tokens = keyRedactor('', ACCESS_TOKEN_PATTERN, 'ya29.[redacted]');
  return (text) => tokens(keys(text));
}

/**
 * The errors google-auth-library throws while getting an access token (ADC not found, a refused
 * credential): the call never reached Vertex AI, and another attempt will not fix it.
 */
function credentialFailure(err: unknown, redact: Redact, provider: string, what: string): AuthenticationError | undefined {
  if (!(err instanceof Error)) return undefined;
  const status = (err as { response?: { status?: unknown } }).response?.status;
  // A token server that refused (4xx) or no credentials to be found; one that is down or out of
  // reach is worth another attempt, and is left to the general mapping.
  const refused = err.name === 'GaxiosError' && typeof status === 'number' && status >= 400 && status < 500;
  if (!refused && !/Could not load the default credentials|The file at .* does not exist|invalid_grant/i.test(err.message)) return undefined;
  return new AuthenticationError(`Vertex AI ${what}: no access token (${vendorText(err.message, redact, 200)}) — check ${CREDENTIALS_HINT}`, provider, { cause: err });
}

/**
 * A Vertex AI adapter's connection: the Vertex client and a redactor of the key and access
 * tokens; every request goes through {@link request}.
 */
export class VertexConnection extends GoogleConnection {
  constructor(options: VertexClientOptions) {
    super(createVertexClient(options), vertexRedactor(options.apiKey), options);
  }

  /**
   * One SDK request for the adapter `provider` (exactly one HTTP request, capped, its failure
   * mapped as Gemini's are: 429 → RateLimitError with retry-after, 400 → InvalidRequestError,
   * 401/403 → AuthenticationError, 5xx and timeouts → ProviderUnavailableError). `run` gets the
   * fetch to hand the SDK in `httpOptions.fetch`.
   */
  request<T>(call: { provider: string; what: string; signal?: AbortSignal }, run: (ai: GoogleGenAI, fetch: typeof globalThis.fetch) => Promise<T>): Promise<T> {
    const cap = new ResponseCap(this.maxBytes, 'Vertex AI', call.provider, call.what);
    const ctx = { ...call, redact: this.redact, timeoutMs: this.timeoutMs, cap, vendor: 'Vertex AI', credentialsHint: CREDENTIALS_HINT };
    return cappedCall(ctx, async (fetch) => {
      try {
        return await run(this.ai, fetch);
      } catch (err) {
        throw credentialFailure(err, this.redact, call.provider, call.what) ?? err;
      }
    });
  }

  /** A response that failed its schema check: retried. */
  malformed(what: string, provider: string, detail: string, cause?: unknown) {
    return malformedResponse('Vertex AI', what, provider, this.text(detail), cause);
  }

  /**
   * The first image of a `:predict` answer (generate or upscale). An answer whose images were
   * all held back by Responsible AI filtering (HTTP 200, no bytes, a `raiFilteredReason`, or
   * nothing at all, which is how Imagen answers when it drops them without a reason) is a
   * ContentPolicyError: the same request would be refused again.
   */
  image(raw: unknown, call: { provider: string; what: string }): { bytes: Buffer; enhancedPrompt?: string } {
    const parsed = PredictResponseSchema.safeParse(raw);
    if (!parsed.success) throw this.malformed(call.what, call.provider, z.prettifyError(parsed.error).replace(/\s+/g, ' '), parsed.error);
    const images = parsed.data.generatedImages ?? [];
    const first = images.find((g) => g.image?.imageBytes);
    if (first?.image?.imageBytes) return { bytes: Buffer.from(first.image.imageBytes, 'base64'), ...(first.enhancedPrompt ? { enhancedPrompt: first.enhancedPrompt } : {}) };
    const reasons = images.map((g) => g.raiFilteredReason).filter((r): r is string => Boolean(r));
    throw new ContentPolicyError(
      reasons.length
        ? `Vertex AI ${call.what}: Imagen filtered the image (${this.text(reasons.join('; '), 300)})`
        : `Vertex AI ${call.what}: Imagen returned no image and no reason (usually its safety filters; includeRaiReason was on)`,
      call.provider,
    );
  }
}

/*
 * The `:predict` answer as the SDK hands it back (GenerateImagesResponse / UpscaleImageResponse):
 * deliberately small, only what the adapters read.
 */
const GeneratedImage = z.looseObject({
  image: z.looseObject({ imageBytes: z.string().optional(), mimeType: z.string().optional() }).optional(),
  raiFilteredReason: z.string().optional(),
  enhancedPrompt: z.string().optional(),
});
const PredictResponseSchema = z.looseObject({ generatedImages: z.array(GeneratedImage).optional() });
