import { z } from 'zod';
import { parseDuration } from './duration';
import type { ProviderKeys } from './models';
import { codecKeysProblem } from './codec-keys';

const durationMs = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration such as 500ms, 30s, 5m or 2h' });
    return z.NEVER;
  }
  return ms;
});

/** 4 or 6 for an IP address literal, 0 otherwise (a light check: the worker parses it again). */
function ipFamily(s: string): 0 | 4 | 6 {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4) return v4.slice(1).every((o) => Number(o) <= 255) ? 4 : 0;
  return /^[0-9a-f:.]+$/i.test(s) && s.includes(':') && (s.match(/::/g) ?? []).length <= 1 ? 6 : 0;
}

/** S3's longest presigned URL (SigV4): 7 days. */
export const MAX_PRESIGN_TTL_MS = 7 * 86_400_000;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/**
 * A listening address as `host:port` (IPv6 in brackets). A bare port means 127.0.0.1: a metrics
 * endpoint is private unless someone chooses to expose it.
 */
const bindAddress = z.string().transform((v, ctx) => {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):)?(\d{1,5})$/.exec(v.trim());
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) {
    ctx.addIssue({ code: 'custom', message: 'must be host:port or a port, such as 0.0.0.0:9464 or 9464' });
    return z.NEVER;
  }
  return `${m[1] ?? '127.0.0.1'}:${port}`;
});

/** `host:port` (as {@link ConfigSchema} normalises bind addresses) split for `server.listen`. */
export function splitBindAddress(address: string): { host: string; port: number } {
  const at = address.lastIndexOf(':');
  return { host: address.slice(0, at).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(at + 1)) };
}

/**
 * Darkroom's configuration, read once from the environment at each entry point
 * (worker, CLI, scripts) and passed down. Secrets (API keys) are read here too and only
 * ever handed to provider constructors.
 */
export const ConfigSchema = z.object({
  /** host:port of the Temporal frontend. @default localhost:7233 */
  TEMPORAL_ADDRESS: z.string().default('localhost:7233'),
  /** @default default */
  TEMPORAL_NAMESPACE: z.string().default('default'),
  /**
   * Base URL of the Temporal Web UI, for the links the CLI prints (e.g. https://temporal.example.com).
   * @default the frontend's host on its port + 1000 (http://localhost:8233 for localhost:7233)
   */
  TEMPORAL_UI_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** @default darkroom */
  DARKROOM_TASK_QUEUE: z.string().default('darkroom'),
  /** Where the filesystem blob store and the dev server's SQLite file live. @default ./.darkroom */
  DARKROOM_DATA_DIR: z.string().default('./.darkroom'),
  /** Candidates generated at once within one brief. @default 4 */
  DARKROOM_GENERATE_CONCURRENCY: int(1, 64).default(4),
  /** Activities one worker runs at once (image work is CPU-bound: about 2 per core). @default 4 */
  DARKROOM_MAX_CONCURRENT_ACTIVITIES: int(1, 256).default(4),
  /** Workflow tasks one worker runs at once. @default 20 */
  DARKROOM_MAX_CONCURRENT_WORKFLOW_TASKS: int(2, 256).default(20),
  /**
   * A workflow bundle built ahead (`npx tsx scripts/bundle-workflows.ts <file>`): the worker loads it
   * instead of running webpack at start, which costs a few hundred MiB of peak memory and seconds
   * of CPU in every worker process. Unset: the worker bundles the workflows itself.
   */
  DARKROOM_WORKFLOW_BUNDLE: z.string().min(1).optional(),
  /** How soon a crashed worker's activity is retried elsewhere. @default 30s */
  DARKROOM_HEARTBEAT_TIMEOUT: durationMs.default(30_000),
  /** Longest one image activity may take. @default 10m */
  DARKROOM_ACTIVITY_TIMEOUT: durationMs.default(600_000),
  /** First retry delay for a failed activity (doubles each time, up to a minute). @default 1s */
  DARKROOM_RETRY_INITIAL: durationMs.default(1000),
  /** Attempts before an activity failure fails the brief. @default 8 */
  DARKROOM_RETRY_MAX_ATTEMPTS: int(1, 1000).default(8),
  /** Where review notifications go: a Slack-compatible incoming-webhook URL. Unset: the worker logs them. */
  DARKROOM_NOTIFY_WEBHOOK: z.url({ protocol: /^https?$/ }).optional(),
  /** Key for the `X-Darkroom-Signature: sha256=<hmac>` header on webhook calls. */
  DARKROOM_NOTIFY_SECRET: z.string().min(16).optional(),
  /**
   * Base URL of the reviewer tool as people reach it, e.g. https://review.example.com (behind a TLS
   * proxy): links in notifications, and the one origin besides its own address the tool accepts
   * decisions from. An https URL makes its login cookie `Secure`.
   */
  DARKROOM_REVIEW_URL: z.url().optional(),
  /** OpenAI API key: enables gpt-image models and the OpenAI judge and alt-text writer. Never logged or stored. */
  OPENAI_API_KEY: z.string().min(1).optional(),
  /** OpenAI-compatible base URL (tests point it at a local server). @default the SDK's */
  OPENAI_BASE_URL: z.url().optional(),
  /** Google AI Studio key: enables Gemini image (nano-banana) and the Gemini judge. */
  GEMINI_API_KEY: z.string().min(1).optional(),
  /** @default the SDK's */
  GEMINI_BASE_URL: z.url().optional(),
  /**
   * `true` turns on Vertex AI (Imagen 4 and its upscaler) with Application Default Credentials
   * for GOOGLE_CLOUD_PROJECT: the SDK's own switch, so that a project id alone (Cloud Shell and
   * GCE set one) never starts paid calls. @default false
   */
  GOOGLE_GENAI_USE_VERTEXAI: z.stringbool({ error: 'must be true or false' }).default(false),
  /** The Google Cloud project Vertex AI calls bill to (with GOOGLE_GENAI_USE_VERTEXAI=true). */
  GOOGLE_CLOUD_PROJECT: z.string().min(1).optional(),
  /** The Vertex AI region, e.g. us-central1, europe-west4, or `global`. @default us-central1 */
  GOOGLE_CLOUD_LOCATION: z.string().regex(/^[a-z0-9-]+$/, { error: 'must be a region name such as us-central1' }).default('us-central1'),
  /**
   * A credentials file for Vertex AI (service account key, workload identity federation
   * config). @default Application Default Credentials' own search (gcloud auth application-default login, the metadata server)
   */
  GOOGLE_APPLICATION_CREDENTIALS: z.string().min(1).optional(),
  /** A Vertex AI express-mode API key: Vertex AI without a project or ADC. Never logged or stored. */
  DARKROOM_VERTEX_API_KEY: z.string().min(1).optional(),
  /** Vertex AI's base URL (tests point it at a local server). @default the SDK's, https://<location>-aiplatform.googleapis.com */
  DARKROOM_VERTEX_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * Imagen's invisible SynthID watermark: true or false. Imagen takes a seed only without it, so
   * false makes generations repeatable. @default true (Google's default)
   */
  DARKROOM_VERTEX_WATERMARK: z.stringbool({ error: 'must be true or false' }).default(true),
  /** Replicate token: enables Flux models and the Replicate upscalers. */
  REPLICATE_API_TOKEN: z.string().min(1).optional(),
  /** @default https://api.replicate.com/v1 */
  REPLICATE_BASE_URL: z.url().optional(),
  /** Hosts Replicate output URLs may be fetched from, comma-separated. @default replicate.delivery,*.replicate.delivery */
  REPLICATE_OUTPUT_HOSTS: z.string().default('replicate.delivery,*.replicate.delivery'),
  /** OpenAI image calls a minute, across all workers. @default 50 */
  DARKROOM_OPENAI_RPM: int(1, 100_000).default(50),
  /** OpenAI image calls at once, per worker. @default 4 */
  DARKROOM_OPENAI_CONCURRENCY: int(1, 256).default(4),
  /** Gemini image calls a minute, across all workers. @default 60 */
  DARKROOM_GEMINI_RPM: int(1, 100_000).default(60),
  /** @default 4 */
  DARKROOM_GEMINI_CONCURRENCY: int(1, 256).default(4),
  /** Vertex AI (Imagen) calls a minute, across all workers. @default 60 */
  DARKROOM_VERTEX_RPM: int(1, 100_000).default(60),
  /** @default 4 */
  DARKROOM_VERTEX_CONCURRENCY: int(1, 256).default(4),
  /** Replicate predictions a minute, across all workers. @default 300 */
  DARKROOM_REPLICATE_RPM: int(1, 100_000).default(300),
  /** @default 6 */
  DARKROOM_REPLICATE_CONCURRENCY: int(1, 256).default(6),
  /** Attempts at one provider call before the brief falls back to the next model. @default 4 */
  DARKROOM_PROVIDER_ATTEMPTS: int(1, 100).default(4),
  /** One provider call may take this long before it counts as a timeout (retried). @default 120s */
  DARKROOM_PROVIDER_TIMEOUT: durationMs.default(120_000),
  /**
   * Largest response body, in bytes, a worker reads from a vendor: API answers and output files
   * alike, counted as the bytes arrive (with or without a Content-Length). A larger one is refused,
   * its connection dropped, and the call fails with ResponseTooLarge (not retried). @default 104857600 (100 MiB)
   */
  DARKROOM_MAX_DOWNLOAD_BYTES: z.coerce
    .number({ error: 'must be a whole number of bytes, such as 104857600 for 100 MiB' })
    .int({ error: 'must be a whole number of bytes, such as 104857600 for 100 MiB' })
    .min(1024, { error: 'must be at least 1024 bytes' })
    .max(2 ** 40, { error: 'must be at most 1099511627776 bytes (1 TiB)' })
    .default(100 * 1024 * 1024),
  /** The reviewer tool's login token (16+ characters); a random one each start when unset. */
  DARKROOM_REVIEW_TOKEN: z.string().min(16, { error: 'must be at least 16 characters (or unset it for a random one)' }).optional(),
  /** How long a reviewer's login lasts before the login link is needed again. @default 12h */
  DARKROOM_REVIEW_SESSION_TTL: durationMs.default(12 * 3_600_000),
  /** Largest blob, in bytes, read whole into memory (images, feeds); bigger ones are refused. @default 268435456 (256 MiB) */
  DARKROOM_BLOB_MAX_READ: int(1024, 2 ** 40).default(256 * 1024 * 1024),
  /** Where blobs live: `fs` (files under DARKROOM_DATA_DIR/blobs) or `s3` (a bucket, DARKROOM_S3_*). @default fs */
  DARKROOM_BLOB_STORE: z.enum(['fs', 's3'], { error: 'must be fs or s3' }).default('fs'),
  /** The bucket, when DARKROOM_BLOB_STORE=s3. Credentials come from the AWS SDK's default chain (AWS_ACCESS_KEY_ID…). */
  DARKROOM_S3_BUCKET: z.string().optional(),
  /** Key prefix inside the bucket, e.g. `darkroom/`. @default none */
  DARKROOM_S3_PREFIX: z.string().optional(),
  /** @default AWS_REGION / AWS_DEFAULT_REGION */
  DARKROOM_S3_REGION: z.string().optional(),
  /** An S3-compatible server's URL (MinIO, versitygw, R2…). @default AWS S3 */
  DARKROOM_S3_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  /** Path-style URLs (endpoint/bucket/key), which most S3-compatible servers need: true or false. @default false */
  DARKROOM_S3_FORCE_PATH_STYLE: z.stringbool({ error: 'must be true or false' }).default(false),
  /** Path to a `temporal` CLI binary. */
  TEMPORAL_CLI: z.string().optional(),
  /**
   * How long the presigned GET URLs in a manifest stay valid, when DARKROOM_BLOB_STORE=s3: at most
   * 7d, S3's limit for a SigV4 signature (URLs signed with temporary credentials, such as an
   * instance role's, die with those credentials, whichever is sooner). @default 7d
   */
  DARKROOM_S3_PRESIGN_TTL: durationMs
    .pipe(z.number()
      .min(1000, { error: 'must be at least 1s' })
      .max(MAX_PRESIGN_TTL_MS, { error: 'must be at most 7d (604800s): S3 refuses presigned URLs that live longer' }))
    .default(MAX_PRESIGN_TTL_MS),
  /**
   * Where published assets are served from, e.g. a CDN in front of the bucket
   * (https://cdn.example.com/darkroom): the manifest gives each asset `<this URL>/<key>`, which
   * never expires, instead of a presigned URL. It must serve the store's keys at that path
   * (for S3, the bucket under DARKROOM_S3_PREFIX). @default none: presigned URLs on S3, no URL on fs
   */
  DARKROOM_PUBLIC_BASE_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. https://cdn.example.com/darkroom' })
    .refine((u) => !/[?#]/.test(u), { error: 'must not have a query or fragment: asset keys are appended to its path' })
    .optional(),
  /**
   * The S3 server's URL as the people and programs that follow presigned URLs reach it, when that
   * is not DARKROOM_S3_ENDPOINT (workers reach it by an internal name, e.g. `http://s3:7070` in
   * Docker Compose): presigned URLs are signed for this host. @default DARKROOM_S3_ENDPOINT
   */
  DARKROOM_S3_PRESIGN_ENDPOINT: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL, e.g. http://127.0.0.1:7070' }).optional(),
  /**
   * Where the worker serves Darkroom's own Prometheus metrics (`/metrics`): `host:port`, or a
   * port alone for 127.0.0.1. Unset: no metrics server.
   */
  DARKROOM_METRICS_ADDRESS: bindAddress.optional(),
  /**
   * Where the Temporal SDK's own Prometheus exporter listens (worker and connection metrics,
   * `temporal_*`): `host:port`, or a port alone for 127.0.0.1. Unset: off.
   */
  TEMPORAL_METRICS_ADDRESS: bindAddress.optional(),
  /**
   * Where brief events go (`brief.review_needed`, `brief.completed`, `brief.failed`): a URL that
   * takes signed JSON events. Separate from DARKROOM_NOTIFY_WEBHOOK, which gets Slack-shaped text.
   * Needs DARKROOM_WEBHOOK_SECRET. @default none (no events are sent)
   */
  DARKROOM_EVENTS_WEBHOOK: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * Where each published brief's assets are announced (one signed POST per brief, after publish):
   * a CMS, DAM or shop import. Needs DARKROOM_WEBHOOK_SECRET. @default none
   */
  DARKROOM_DELIVERY_WEBHOOK: z.url({ protocol: /^https?$/ }).optional(),
  /** Key for the `X-Darkroom-Signature: t=…,v1=…` header on events and delivery webhook calls (16+ characters). */
  DARKROOM_WEBHOOK_SECRET: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  /**
   * Connect to Temporal over TLS: true or false. The same name as the temporal CLI's.
   * @default true when TEMPORAL_API_KEY or any TEMPORAL_TLS_* file is set, else false
   */
  TEMPORAL_TLS: z.stringbool({ error: 'must be true or false' }).optional(),
  /** PEM file of the CA that signed the server's certificate. @default the system's trusted CAs */
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: z.string().optional(),
  /** PEM file of this client's certificate, for mTLS; needs TEMPORAL_TLS_CLIENT_KEY_PATH. */
  TEMPORAL_TLS_CLIENT_CERT_PATH: z.string().optional(),
  /** PEM file of this client's private key, for mTLS; needs TEMPORAL_TLS_CLIENT_CERT_PATH. */
  TEMPORAL_TLS_CLIENT_KEY_PATH: z.string().optional(),
  /** The name the server's certificate is checked against (SNI). @default the host of TEMPORAL_ADDRESS */
  TEMPORAL_TLS_SERVER_NAME: z.string().optional(),
  /** A Temporal Cloud API key (implies TLS). A secret: never logged. */
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  /**
   * Payload encryption keys, `id:<base64 of 32 bytes>` separated by commas, current first
   * (`k2:…,k1:…`): the first encrypts, every one decrypts. Unset: payloads are stored as they are.
   * Secrets: never logged.
   */
  DARKROOM_CODEC_KEYS: z.string().superRefine((v, ctx) => {
    const problem = codecKeysProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }).optional(),
  /** The server CA's PEM text itself, instead of TEMPORAL_TLS_SERVER_CA_CERT_PATH (for secret stores that hand out values, not files). */
  TEMPORAL_TLS_SERVER_CA_CERT_DATA: z.string().optional(),
  /** This client's certificate as PEM text, instead of TEMPORAL_TLS_CLIENT_CERT_PATH. */
  TEMPORAL_TLS_CLIENT_CERT_DATA: z.string().optional(),
  /** This client's private key as PEM text, instead of TEMPORAL_TLS_CLIENT_KEY_PATH. A secret: never logged. */
  TEMPORAL_TLS_CLIENT_KEY_DATA: z.string().optional(),
  /** The bearer token `darkroom codec-server` requires (16+ characters); a random one each start when unset. */
  DARKROOM_CODEC_TOKEN: z.string().min(16, { error: 'must be at least 16 characters (or unset it for a random one)' }).optional(),
  /**
   * Base URL of a self-hosted OpenAI-compatible image server (a team's own FLUX.2 box), e.g.
   * http://flux.internal:8000/v1: enables the `self-hosted` model, its `/images/generations` and
   * `/images/edits`. Unset: no self-hosted model.
   */
  DARKROOM_SELF_HOSTED_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** The model name that server serves. @default flux.2-dev */
  DARKROOM_SELF_HOSTED_MODEL: z.string().min(1).default('flux.2-dev'),
  /** Its bearer key, when it wants one. Never logged or stored. @default none (a placeholder is sent) */
  DARKROOM_SELF_HOSTED_API_KEY: z.string().min(1).optional(),
  /** What one image costs the team (power, hardware), reported as each call's cost. @default 0 */
  DARKROOM_SELF_HOSTED_USD_PER_IMAGE: z.coerce.number({ error: 'must be a number of US dollars, such as 0.002' }).min(0, { error: 'must be at least 0' }).default(0),
  /** Self-hosted image calls a minute, across all workers. @default 60 */
  DARKROOM_SELF_HOSTED_RPM: int(1, 100_000).default(60),
  /** Self-hosted image calls at once, per worker (one GPU: 1). @default 1 */
  DARKROOM_SELF_HOSTED_CONCURRENCY: int(1, 256).default(1),
  /**
   * Where the C2PA SDK and its Node 22 are installed (`npx tsx scripts/c2pa.ts` prints it).
   * @default ~/.cache/darkroom/c2pa-0.8.0
   */
  DARKROOM_C2PA_DIR: z.string().optional(),
  /**
   * PEM file with the C2PA signing certificate, then its intermediates (not the root): every
   * published file is signed with it. Needs DARKROOM_C2PA_KEY. @default none (assets are published unsigned)
   */
  DARKROOM_C2PA_CERT: z.string().optional(),
  /** PEM file with the signing certificate's private key (PKCS#8). Read once at worker start; never logged or stored. */
  DARKROOM_C2PA_KEY: z.string().optional(),
  /** The signing algorithm; it must match the key (es256 for a P-256 key). @default es256 */
  DARKROOM_C2PA_ALG: z.enum(['es256', 'es384', 'es512', 'ps256', 'ps384', 'ps512', 'ed25519'], { error: 'must be one of es256, es384, es512, ps256, ps384, ps512, ed25519' }).default('es256'),
  /** An RFC 3161 time-stamp authority for signatures, e.g. http://timestamp.digicert.com. @default none (no network call) */
  DARKROOM_C2PA_TSA_URL: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  /** PEM file of root certificates a vendor's C2PA signer must chain to for its manifest to count as `Trusted`. @default none */
  DARKROOM_C2PA_TRUST_ANCHORS: z.string().optional(),
  /**
   * Hosts a worker may fetch brief reference images from over https, comma-separated; `*.example.com`
   * matches any subdomain of example.com. Empty: https references are refused (blob: references
   * and files the CLI uploads still work). @default none
   */
  DARKROOM_REFERENCE_HOSTS: z
    .string()
    .transform((v, ctx) => {
      const hosts = v.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
      const bad = hosts.find((h) => !/^(?:\*\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::\d{1,5})?$/.test(h) && !/^\[[0-9a-f:.]+\](?::\d{1,5})?$/.test(h));
      if (bad !== undefined) {
        ctx.addIssue({ code: 'custom', message: `has ${JSON.stringify(bad.slice(0, 80))}, which is not a host name or *.domain pattern` });
        return z.NEVER;
      }
      return hosts;
    })
    .default([]),
  /**
   * Let reference fetches reach private, loopback and link-local addresses: `true` for all, or a
   * comma-separated list of addresses and CIDR ranges (`10.1.2.3,192.168.7.0/24`) for just those.
   * For tests and air-gapped setups whose image hosts are on a private network: it lets a brief
   * make the worker send requests into its own network. @default false
   */
  DARKROOM_REFERENCE_ALLOW_PRIVATE: z
    .string()
    .transform((v, ctx): boolean | string[] => {
      const t = v.trim().toLowerCase();
      if (t === 'true' || t === '1' || t === 'yes') return true;
      if (t === 'false' || t === '0' || t === 'no' || t === '') return false;
      const items = t.split(',').map((x) => x.trim()).filter(Boolean);
      const bad = items.find((x) => {
        const m = /^([0-9a-f:.]+)(?:\/(\d{1,3}))?$/.exec(x);
        const family = m ? ipFamily(m[1]!) : 0;
        if (family === 0) return true;
        return m![2] !== undefined && Number(m![2]) > (family === 4 ? 32 : 128);
      });
      if (bad !== undefined) {
        ctx.addIssue({ code: 'custom', message: `must be true, false, or a list of IP addresses and CIDR ranges such as 10.1.2.3,192.168.7.0/24; ${JSON.stringify(bad.slice(0, 60))} is none of these` });
        return z.NEVER;
      }
      return items;
    })
    .default(false),
  /** A PEM file of extra certificate authorities to trust for reference fetches (an internal CA). @default the system's */
  DARKROOM_REFERENCE_CA_FILE: z.string().optional(),
  /**
   * Folder of brand kits (`<name>.json` and their logos). The CLI stores a brief's kit in the blob
   * store when it starts the brief; a worker reads this folder only for briefs started without the
   * CLI (`temporal workflow start`, the Temporal UI). @default ./brands
   */
  DARKROOM_BRANDS_DIR: z.string().min(1).default('./brands'),
  /**
   * A file of extra words and phrases the prompt moderation refuses, one a line, as
   * `category: phrase` or a bare phrase (category `custom`); `#` starts a comment. Read once when
   * the worker starts. Checked with or without OPENAI_API_KEY (a team's own terms are not a
   * moderation model's). @default none: the short built-in list offline, OpenAI's model with a key
   */
  DARKROOM_MODERATION_WORDS_FILE: z.string().min(1).optional(),
});

export type Config = z.output<typeof ConfigSchema>;

/** Parses configuration from an environment-like record; errors name the variable. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  const picked: Record<string, string> = {};
  for (const key of Object.keys(ConfigSchema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== '') picked[key] = v;
  }
  const r = ConfigSchema.safeParse(picked);
  if (!r.success) {
    throw new Error(`invalid configuration: ${r.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
  }
  // A receiver must be able to tell Darkroom's calls from anyone's: no unsigned machine webhooks.
  for (const key of ['DARKROOM_EVENTS_WEBHOOK', 'DARKROOM_DELIVERY_WEBHOOK'] as const) {
    if (r.data[key] && !r.data.DARKROOM_WEBHOOK_SECRET) throw new Error(`invalid configuration: DARKROOM_WEBHOOK_SECRET is required when ${key} is set (it signs the calls)`);
  }
  if (r.data.GOOGLE_GENAI_USE_VERTEXAI && !r.data.GOOGLE_CLOUD_PROJECT && !r.data.DARKROOM_VERTEX_API_KEY) {
    throw new Error('invalid configuration: GOOGLE_CLOUD_PROJECT is required when GOOGLE_GENAI_USE_VERTEXAI is true (or set DARKROOM_VERTEX_API_KEY for Vertex AI express mode)');
  }
  // Half a signing identity is a mistake, not a choice to publish unsigned.
  if (Boolean(r.data.DARKROOM_C2PA_CERT) !== Boolean(r.data.DARKROOM_C2PA_KEY)) {
    throw new Error(`invalid configuration: ${r.data.DARKROOM_C2PA_CERT ? 'DARKROOM_C2PA_KEY is required when DARKROOM_C2PA_CERT is set' : 'DARKROOM_C2PA_CERT is required when DARKROOM_C2PA_KEY is set'} (C2PA signing needs both)`);
  }
  return r.data;
}

/** Settings the workflow needs from the worker's config, delivered through an activity result. */
export interface RunSettings {
  generateConcurrency: number;
  heartbeatTimeoutMs: number;
  activityTimeoutMs: number;
  retryInitialMs: number;
  retryMaxAttempts: number;
  /** Attempts at one vendor call before falling back; absent in histories recorded before vendors. */
  providerAttempts?: number;
  /** Which webhooks are configured (never their URLs or secret); absent in histories recorded before webhooks. */
  webhooks?: { events: boolean; delivery: boolean };
}

export function runSettings(config: Config): RunSettings {
  return {
    generateConcurrency: config.DARKROOM_GENERATE_CONCURRENCY,
    heartbeatTimeoutMs: config.DARKROOM_HEARTBEAT_TIMEOUT,
    activityTimeoutMs: config.DARKROOM_ACTIVITY_TIMEOUT,
    retryInitialMs: config.DARKROOM_RETRY_INITIAL,
    retryMaxAttempts: config.DARKROOM_RETRY_MAX_ATTEMPTS,
    providerAttempts: config.DARKROOM_PROVIDER_ATTEMPTS,
    webhooks: { events: Boolean(config.DARKROOM_EVENTS_WEBHOOK), delivery: Boolean(config.DARKROOM_DELIVERY_WEBHOOK) },
  };
}

/** Which vendor keys a configuration holds (never the keys themselves). */
export function providerKeys(config: Pick<Config, 'OPENAI_API_KEY' | 'GEMINI_API_KEY' | 'REPLICATE_API_TOKEN'> & Partial<Pick<Config, 'DARKROOM_SELF_HOSTED_BASE_URL' | VertexSetting>>): ProviderKeys {
  return {
    vertex: vertexMode(config) !== undefined,
    openai: Boolean(config.OPENAI_API_KEY),
    google: Boolean(config.GEMINI_API_KEY),
    replicate: Boolean(config.REPLICATE_API_TOKEN),
    selfHosted: Boolean(config.DARKROOM_SELF_HOSTED_BASE_URL),
  };
}

type VertexSetting = 'GOOGLE_GENAI_USE_VERTEXAI' | 'GOOGLE_CLOUD_PROJECT' | 'DARKROOM_VERTEX_API_KEY';

/**
 * How this configuration reaches Vertex AI, if at all: `express` with DARKROOM_VERTEX_API_KEY
 * (it wins when both are set: a key is the more deliberate setting), `adc` with
 * GOOGLE_GENAI_USE_VERTEXAI=true and GOOGLE_CLOUD_PROJECT. Undefined: Vertex AI is off.
 */
export function vertexMode(config: Partial<Pick<Config, VertexSetting>>): 'express' | 'adc' | undefined {
  if (config.DARKROOM_VERTEX_API_KEY) return 'express';
  if (config.GOOGLE_GENAI_USE_VERTEXAI && config.GOOGLE_CLOUD_PROJECT) return 'adc';
  return undefined;
}
