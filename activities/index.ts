import { Context, log } from '@temporalio/activity';
import type { Brief } from '../domain/brief';
import type { LogoBox, Lora } from '../domain/brand';
import { resolveChannel } from '../domain/channels';
import type { Config } from '../domain/config';
import { assetKey, manifestKey, upscaledKey } from '../domain/naming';
import type { BuiltPrompt } from '../domain/prompt';
import type { ResolvedReferences } from '../domain/references';
import type { ReviewRecord } from '../domain/review';
import { moderationParts } from '../domain/moderation';
import type { Asset, BlobRef, Candidate, ImageRegion, JudgeResult, Manifest, ModerationRecord, PreparedBrief, SourceProvenance, Span } from '../domain/types';
import type { BlobStore } from './blob-store';
import { assetUrls } from './asset-urls';
import { refusingInputErrors, toFailure, withHeartbeat } from './failures';
import { generateOnce } from './generate';
import { formatForChannels } from './images/format';
import { instrumentActivities, Metrics } from './metrics';
import { prepareBrief, resolveBriefReferences, type PrepareBriefInput } from './prepare';
import { C2PA_MIME, noProvenance, renditionEdits, sidecarKey, type Provenance } from './provenance';
import { ReferenceFetcher } from './references';
import type { ProviderRegistry } from './providers';
import { postWebhook } from './webhook';
import { createWebhookActivities } from './events';

export interface ActivityDeps {
  blobs: BlobStore;
  providers: ProviderRegistry;
  config: Config;
  /** @default () => new Date() */
  clock?: () => Date;
  /**
   * Called at each step between a paid call's answer and its records being stored. Crash tests
   * kill the worker here to prove that a retry after any of these points never pays twice.
   */
  onPaidCall?: (point: 'called' | 'image-stored' | 'ledger-written', key: string) => void | Promise<void>;
  /** Where stage durations, images, spend and review waits are counted. @default a Metrics nobody serves */
  metrics?: Metrics;
  /**
   * Reads vendors' C2PA manifests and signs every published file (see `createProvenance`).
   * @default neither: files are published unsigned and generated images are not read
   */
  provenance?: Provenance;
}


export type { PreparedBrief, PrepareBriefInput, Span };

export interface GenerateCandidateInput {
  workflowId: string;
  round: number;
  index: number;
  model: string;
  seed: number;
  prompt: Pick<BuiltPrompt, 'text' | 'negative' | 'version' | 'knobs'>;
  palette: string[];
  width: number;
  height: number;
  /** The brief's stored reference images; sent (product first) to models that take them. */
  references?: ResolvedReferences;
  /** The brand kit's LoRA, for models that take one; absent without a kit or a LoRA. */
  lora?: Lora;
}

export interface JudgeCandidatesInput {
  workflowId: string;
  brief: Brief;
  candidates: Array<{ id: string; blob: BlobRef }>;
  /** The product packshot, stored: judges score `fidelity` against it. */
  reference?: BlobRef;
  /** The colours the images were made in when a brand kit adds its own to the brief's; judges score palette fit against these. */
  palette?: string[];
}

export interface ModeratePromptInput {
  workflowId: string;
  brief: Pick<Brief, 'subject' | 'mustInclude' | 'textInImage'>;
  prompt: Pick<BuiltPrompt, 'version' | 'text' | 'negative'>;
}

export type ModeratePromptResult = ModerationRecord & { fields: string[]; timing: Span };

export interface UpscaleCandidateInput {
  workflowId: string;
  candidateId: string;
  blob: BlobRef;
  minWidth: number;
  minHeight: number;
}

export interface FormatCandidateInput {
  workflowId: string;
  candidateId: string;
  master: BlobRef;
  channels: string[];
  /**
   * The image as the model returned it, when `master` is an upscaled copy: its C2PA manifest
   * (if the vendor signed it) is read from here. Absent in histories recorded before C2PA.
   * @default master
   */
  generated?: BlobRef;
  /** The brand's stored logo and its box on each channel; absent without a brand kit. */
  logo?: { blob: BlobRef; placements: Record<string, LogoBox> };
  /** Where the product is in the master (the judge's `product`): each channel's crop keeps it in frame. */
  focus?: ImageRegion;
}

export interface NotifyReviewersInput {
  workflowId: string;
  kind: 'awaiting' | 'reminder';
  subject: string;
  round: number;
  candidates: number;
  deadlineAt: string;
}

/**
 * An asset's bytes never change under its key (candidate ids are not reused), so caches and
 * CDNs may keep it as long as they like.
 */
const ASSET_CACHE_CONTROL = 'public, max-age=31536000, immutable';
/** A manifest is rewritten when a publish is retried: caches ask again each time. */
const MANIFEST_CACHE_CONTROL = 'no-cache';

export interface RecordReviewDecisionInput {
  workflowId: string;
  sequence: number;
  record: Omit<ReviewRecord, 'at'>;
  /** When the round was put up for review (its judging's end), for the review-wait metric; absent in older histories. */
  requestedAt?: string;
}

export type ManifestDraft = Omit<Manifest, 'manifestKey' | 'location' | 'publishedAt' | 'schema'>;


/**
 * The activity functions, closed over their dependencies. Workflows reach them with
 * `proxyActivities<ReturnType<typeof createActivities>>`.
 */
export function createActivities(deps: ActivityDeps) {
  const { blobs, providers, config, onPaidCall } = deps;
  const provenance = deps.provenance ?? noProvenance();
  const clock = deps.clock ?? (() => new Date());
  const now = () => clock().toISOString();
  const fetcher = new ReferenceFetcher(config);

  async function timed<T extends object>(fn: () => Promise<T>): Promise<T & { timing: Span }> {
    const startedAt = now();
    const result = await fn();
    return { ...result, timing: { startedAt, finishedAt: now() } };
  }

  return instrumentActivities(refusingInputErrors({
    /**
     * Validates the brief (again: a brief started from the Temporal UI never passed the CLI),
     * routes it to a model, and builds and scores its prompt. Invalid input fails non-retryably
     * with every bad field listed.
     */
    async prepareBrief(input: PrepareBriefInput): Promise<PreparedBrief> {
      return timed(async () => {
        const prepared = await prepareBrief(input, providers, config, blobs);
        // Before any spend: a reference that cannot be used fails the brief now, naming its field.
        const references = await resolveBriefReferences(prepared.brief, { blobs, fetcher, signal: Context.current().cancellationSignal });
        return references ? { ...prepared, references } : prepared;
      });
    },

    /**
     * Makes one candidate, exactly once. The blob key is derived from everything that
     * determines the image, so a retry (after a crash, a timeout, a replay) finds the stored
     * image and returns it without calling the provider again.
     */
    async generateCandidate(input: GenerateCandidateInput): Promise<Candidate & { timing: Span }> {
      return timed(async () => generateOnce(input, { blobs, providers, onPaidCall, now }));
    },

    /**
     * Checks a prompt before anything is paid for it: OpenAI's moderation model (free) when the
     * worker has a key, the word list otherwise. Returns the verdict; the workflow refuses a
     * flagged prompt, so the refusal is the brief's own failure, not an activity's.
     */
    async moderatePrompt(input: ModeratePromptInput): Promise<ModeratePromptResult> {
      return timed(async () => {
        const parts = moderationParts(input.brief, input.prompt);
        let out;
        try {
          out = await withHeartbeat(() => providers.moderator.moderate({ parts, signal: Context.current().cancellationSignal }));
        } catch (err) {
          throw toFailure(err);
        }
        return {
          promptVersion: input.prompt.version, checker: providers.moderator.name, flagged: out.flagged,
          categories: out.categories, fields: out.fields, costUsd: out.costUsd, at: now(),
        };
      });
    },

    /** Scores every candidate against the brief and ranks them, best first. */
    async judgeCandidates(input: JudgeCandidatesInput): Promise<JudgeResult & { timing: Span }> {
      return timed(() => withHeartbeat(async () => {
        const images = await Promise.all(
          input.candidates.map(async (c) => ({ id: c.id, image: await blobs.get(c.blob.key), mime: c.blob.mime })),
        );
        const reference = input.reference ? { role: 'product' as const, image: await blobs.get(input.reference.key), mime: input.reference.mime } : undefined;
        let out;
        try {
          const brief = input.palette ? { ...input.brief, brandColors: input.palette } : input.brief;
          out = await providers.judge.judge({ brief, candidates: images, ...(reference ? { reference } : {}), signal: Context.current().cancellationSignal });
        } catch (err) {
          throw toFailure(err);
        }
        const ranked = [...out.judgements].sort((a, b) => b.score - a.score || (a.candidateId < b.candidateId ? -1 : 1));
        return {
          judgements: ranked.map((j, i) => ({ ...j, rank: i + 1 })),
          unchecked: out.unchecked,
          costUsd: out.costUsd,
        };
      }));
    },

    /** Enlarges a master that is smaller than some channel needs. Idempotent by key. */
    async upscaleCandidate(input: UpscaleCandidateInput): Promise<{ blob: BlobRef; costUsd: number; upscaler: string; timing: Span }> {
      return timed(() => withHeartbeat(async () => {
        const key = upscaledKey(input.workflowId, input.candidateId, input.minWidth, input.minHeight);
        const existing = await blobs.head(key);
        if (existing && existing.width > 0) return { blob: existing, costUsd: 0, upscaler: providers.upscaler.name };
        const image = await blobs.get(input.blob.key);
        let out;
        try {
          out = await providers.upscaler.upscale({ image, minWidth: input.minWidth, minHeight: input.minHeight });
        } catch (err) {
          throw toFailure(err);
        }
        const blob = await blobs.put(key, out.image, { mime: out.mime, width: out.width, height: out.height });
        return { blob, costUsd: out.costUsd, upscaler: providers.upscaler.name };
      }));
    },

    /**
     * Cuts every channel's exact size from one decoded master (attention crop), encodes each
     * of its formats with metadata stripped, signs each file with C2PA (when configured) as the
     * very last change to its bytes, and stores them under the naming convention. The vendor's
     * own C2PA manifest on the generated image, if any, is read first and kept as an ingredient.
     */
    async formatCandidate(input: FormatCandidateInput): Promise<{ assets: Asset[]; source: SourceProvenance; timing: Span }> {
      // Heartbeats from the first read to the last write: sealing and storing a print channel's
      // files can take longer than a short heartbeat timeout on a busy worker.
      return timed(() => withHeartbeat(async () => {
        const master = await blobs.get(input.master.key);
        const generatedRef = input.generated ?? input.master;
        const generated = generatedRef.key === input.master.key ? master : await blobs.get(generatedRef.key);
        const source = await provenance.inspect(generated, generatedRef.mime);
        const channels = input.channels.map((c) => resolveChannel(c)!);
        const logo = input.logo ? { image: await blobs.get(input.logo.blob.key), placements: input.logo.placements } : undefined;
        const outputs = await formatForChannels(master, channels, { signal: Context.current().cancellationSignal, ...(logo ? { logo } : {}), ...(input.focus ? { focus: input.focus } : {}) });
        const assets: Asset[] = [];
        for (const o of outputs) {
          const key = assetKey(input.workflowId, o.channel, input.candidateId, o.format);
          const sealed = await provenance.seal({
            bytes: o.data, mime: o.mime, title: key.slice(key.lastIndexOf('/') + 1),
            edits: renditionEdits(o, input.master, generatedRef),
            source: { provenance: source, bytes: generated, mime: generatedRef.mime, title: generatedRef.key.slice(generatedRef.key.lastIndexOf('/') + 1) },
          });
          const ref = await blobs.put(key, sealed.bytes, { mime: o.mime, width: o.width, height: o.height, cacheControl: ASSET_CACHE_CONTROL });
          // The manifest store of a file signed beside it, under the file's name + .c2pa (C2PA's sidecar convention).
          if (sealed.sidecar) await blobs.put(sidecarKey(key), sealed.sidecar, { mime: C2PA_MIME, cacheControl: ASSET_CACHE_CONTROL });
          assets.push({
            candidateId: input.candidateId, channel: o.channel, format: o.format, width: o.width, height: o.height,
            density: o.density, key, sha256: ref.sha256, bytes: ref.bytes, mime: o.mime, cropKept: o.cropKept, crop: o.crop,
            ...(o.productKept !== undefined ? { productKept: o.productKept } : {}),
            provenance: sealed.sidecar ? { ...sealed.provenance, sidecar: sidecarKey(key) } : sealed.provenance,
            ...(o.logo ? { logo: o.logo } : {}),
          });
        }
        return { assets, source };
      }));
    },

    /** One sentence for a reader who cannot see the image. */
    async writeAltText(input: { brief: Brief; blob: BlobRef }): Promise<{ text: string; costUsd: number; timing: Span }> {
      return timed(async () => {
        const image = await blobs.get(input.blob.key);
        try {
          return await providers.altText.write({ brief: input.brief, image, mime: input.blob.mime });
        } catch (err) {
          throw toFailure(err);
        }
      });
    },

    /**
     * Stamps a review decision with the worker's clock and keeps it in the blob store's audit
     * log (`<workflowId>/audit/`), beside the manifest that will list it.
     */
    async recordReviewDecision(input: RecordReviewDecisionInput): Promise<ReviewRecord> {
      const record: ReviewRecord = { ...input.record, at: now() };
      const key = `${input.workflowId}/audit/${String(input.sequence).padStart(3, '0')}-${record.action}.json`;
      await blobs.put(key, new TextEncoder().encode(JSON.stringify(record, null, 2)), { mime: 'application/json' });
      return record;
    },

    /**
     * Tells reviewers a brief is waiting (or still waiting): a Slack-compatible webhook when one
     * is configured, signed with HMAC-SHA256; otherwise a line in the worker's log.
     */
    async notifyReviewers(input: NotifyReviewersInput): Promise<{ delivered: boolean; channel: 'webhook' | 'log' }> {
      const link = config.DARKROOM_REVIEW_URL ? `${config.DARKROOM_REVIEW_URL.replace(/\/$/, '')}/briefs/${encodeURIComponent(input.workflowId)}` : undefined;
      const verb = input.kind === 'reminder' ? 'is still waiting for review' : 'is ready for review';
      const text = `Darkroom: "${input.subject}" (${input.workflowId}) ${verb}: round ${input.round}, ${input.candidates} candidates, decide by ${input.deadlineAt}.${link ? ` ${link}` : ''}`;
      const delivered = await postWebhook(config, { text, darkroom: { event: `review.${input.kind}`, ...input, link } });
      if (!delivered) {
        log.info(text, { workflowId: input.workflowId, kind: input.kind });
        return { delivered: false, channel: 'log' };
      }
      return { delivered: true, channel: 'webhook' };
    },

    /**
     * Writes `<workflowId>/manifest.json` and returns the manifest as published. The stored one
     * also gives each asset its URL (presigned on S3, or under DARKROOM_PUBLIC_BASE_URL); the
     * returned one leaves URLs out, as they would only swell the workflow's history and expire.
     */
    async publishManifest(draft: ManifestDraft): Promise<Manifest> {
      const key = manifestKey(draft.workflowId);
      const publishedAt = clock();
      const manifest: Manifest = {
        schema: 'darkroom.manifest/v1',
        ...draft,
        manifestKey: key,
        location: blobs.location,
        publishedAt: publishedAt.toISOString(),
      };
      const urlOf = assetUrls(blobs, config, publishedAt);
      const assets = await Promise.all(manifest.assets.map(async (a) => ({ ...a, ...(await urlOf(a.key)) })));
      const stored: Manifest = { ...manifest, assets };
      await blobs.put(key, new TextEncoder().encode(JSON.stringify(stored, null, 2)), { mime: 'application/json', cacheControl: MANIFEST_CACHE_CONTROL });
      return manifest;
    },

    ...createWebhookActivities({ blobs, config }),
  }), deps.metrics ?? new Metrics(), providers);
}

export type DarkroomActivities = ReturnType<typeof createActivities>;

export { readLedger, type LedgerEntry } from './ledger';
export type { DeliverAssetsInput, SendBriefEventInput } from './events';
