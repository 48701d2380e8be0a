import type { ImageFormat } from './channels';
import type { BuiltPrompt, PromptScore } from './prompt';
import type { Brief } from './brief';
import type { DeadlinePolicy, IgnoredSignal, ReviewRecord } from './review';
import type { ChannelPreset } from './channels';
import type { RunSettings } from './config';
import type { BatchCost } from './models';
import type { ResolvedReferences } from './references';
import type { DeliveryRecord, WebhookFailureRecord } from './webhooks';
import type { LogoBox, Lora } from './brand';
import type { PromptBrand } from './brand-words';

/**
 * A pointer to bytes in the blob store. Images travel between activities as BlobRefs,
 * never as bytes, so a brief's workflow history stays in kilobytes.
 */
export interface BlobRef {
  key: string;
  sha256: string;
  bytes: number;
  width: number;
  height: number;
  mime: string;
}

/** Pipeline stages, in order; also the values of the `DarkroomStage` search attribute. */
export const STAGES = [
  'validating', 'prompting', 'budget', 'generating', 'judging', 'review', 'upscaling', 'formatting', 'publishing',
  'done', 'rejected', 'failed',
] as const;
export type Stage = (typeof STAGES)[number];

/** One generated image. */
export interface Candidate {
  /** `r<round>-c<NN>`, unique within a brief. */
  id: string;
  round: number;
  index: number;
  seed: number;
  model: string;
  promptVersion: string;
  blob: BlobRef;
  /** What this candidate cost when it was made (0 when an earlier attempt had already made it). */
  costUsd: number;
  /** True when a retried activity found the stored image and did not generate again. */
  reused: boolean;
  /** Wall time of the provider call, ms. */
  generateMs: number;
}

/** A candidate the provider refused to make (content policy…); the batch goes on without it. */
export interface RejectedCandidate {
  id: string;
  round: number;
  index: number;
  reason: string;
  type: string;
}

/** A region of an image as shares of its width and height, each 0–1 (top-left origin). */
export interface ImageRegion {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The judge's view of one candidate. */
export interface Judgement {
  candidateId: string;
  /** 0–100, higher is better. */
  score: number;
  /** 1 is best. */
  rank: number;
  /** Named sub-scores, each 0–100. */
  scores: Record<string, number>;
  /** Plain-language reasons for the score. */
  reasons: string[];
  judge: string;
  /**
   * The judge's safety verdict, from judges that can see (the vision models). Absent when the
   * judge cannot check safety (the offline judge): such a judgement never counts as confident.
   */
  verdict?: JudgeVerdict;
  /**
   * Where the brief's product (its packshot) is in the candidate, when the judge found it:
   * every channel's crop keeps it in frame. Absent without a packshot or when not found.
   */
  product?: ImageRegion;
}

/** Whether a candidate may ship at all, apart from how good it is. */
export interface JudgeVerdict {
  /** False when the image shows something unfit to publish (nudity, gore, hate symbols…). */
  safe: boolean;
  /** Must-avoid items of the brief the image shows; any one rejects the candidate. */
  mustAvoidHit?: string[];
  /** The judge is not sure of its own answer: with `approval: when-unsure` a person decides. */
  unsure?: boolean;
  /** Why, in plain words; empty when there is nothing to say. */
  reasons: string[];
}

export interface JudgeResult {
  judgements: Judgement[];
  /** Brief checks this judge could not perform (e.g. offline: must-include presence). */
  unchecked: string[];
  costUsd: number;
}

/** One delivered file. */
export interface Asset {
  candidateId: string;
  channel: string;
  format: ImageFormat;
  width: number;
  height: number;
  density: number;
  key: string;
  sha256: string;
  bytes: number;
  mime: string;
  /** Share of the master's area the smart crop kept, 0–1. */
  cropKept: number;
  /** Crop box in master pixels. */
  crop: { left: number; top: number; width: number; height: number };
  /** Share of the product's box (the judge's `product`) inside the crop, 0–1; absent when no product was located. */
  productKept?: number;
  /** Whether this file carries Darkroom's signed C2PA manifest, and what it says. Absent in histories recorded before C2PA. */
  provenance?: AssetProvenance;
  /** Where the brand's logo was composited, in this asset's pixels; absent without a brand kit. */
  logo?: LogoBox;
}

/** IPTC's digital source type for media made by a trained model (what C2PA calls AI-generated). */
export const TRAINED_ALGORITHMIC_MEDIA = 'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia';

/**
 * What C2PA says about a generated image as its vendor returned it (OpenAI and Google sign
 * theirs), read before Darkroom changes a pixel.
 * - `none`: the image carries no C2PA manifest.
 * - `unread`: it seems to carry one, but the C2PA SDK is not installed on the worker.
 * - `read`: the manifest's signer, generator and actions; `validation` is C2PA's verdict
 *   (`Trusted` only when its issuer chains to a configured trust anchor).
 */
export type SourceProvenance =
  | { state: 'none' }
  | { state: 'unread'; reason: string }
  | {
    state: 'read';
    validation: 'Trusted' | 'Valid' | 'Invalid';
    /** The signing certificate's issuer (organisation). */
    issuer?: string;
    /** The signing certificate's common name. */
    signer?: string;
    signedAt?: string;
    /** `name/version` of the software that made the claim, e.g. `ChatGPT` or `Google C2PA Core Generator Library`. */
    claimGenerator?: string;
    /** The manifest's actions in order, e.g. `c2pa.created`. */
    actions: string[];
    digitalSourceType?: string;
    /** C2PA validation failure codes, when there are any. */
    errors?: string[];
  };

/** One delivered file's C2PA signature (or why it has none). */
export interface AssetProvenance {
  signed: boolean;
  /** Why the file is unsigned, e.g. `no signing certificate configured`. */
  reason?: string;
  /** Who signed: the signing certificate's subject and issuer, never the key. */
  signer?: { subject: string; issuer: string; serial: string; notAfter: string; alg: string };
  /** `Darkroom/<version>`. */
  claimGenerator?: string;
  /** The actions the signed manifest records, in order (`c2pa.created` or `c2pa.opened`, `c2pa.cropped`…). */
  actions?: string[];
  /** True when the vendor's own manifest is embedded as this file's parent ingredient. */
  ingredient?: boolean;
  /**
   * Blob key of the file's sidecar manifest store (`<key>.c2pa`), for formats signed beside the
   * file rather than inside it (TIFF); absent when the manifest is embedded.
   */
  sidecar?: string;
  /** What the generated image carried: see {@link SourceProvenance}. */
  source: SourceProvenance['state'];
}

export interface StageTiming {
  stage: string;
  startedAt: string;
  finishedAt: string;
  ms: number;
}

/** Per-candidate record in the manifest. */
export interface ManifestCandidate {
  id: string;
  model: string;
  seed: number;
  promptVersion: string;
  prompt: string;
  master: BlobRef;
  upscaledFrom?: { width: number; height: number; factor: number };
  judge: Pick<Judgement, 'score' | 'rank' | 'scores' | 'reasons' | 'judge' | 'verdict' | 'product'>;
  altText: string;
  costUsd: number;
  /** The generated image's own C2PA manifest, as its vendor signed it. Absent in histories recorded before C2PA. */
  provenance?: SourceProvenance;
  /** Product fidelity (0–100) against `references.product`, when the brief has one and the judge scored it. */
  fidelity?: number;
  /** Blob keys of the reference images this candidate was made with, product first; absent without references. */
  referenceKeys?: string[];
}

export interface ManifestAsset extends Asset {
  model: string;
  prompt: string;
  promptVersion: string;
  seed: number;
  judgeScore: number;
  judgeReasons: string[];
  altText: string;
  /** Product fidelity (0–100) of the asset's candidate, when the brief has a product reference. */
  fidelity?: number;
  /** Blob keys of the reference images the asset's candidate was made with, product first. */
  referenceKeys?: string[];
  /** This asset's share of its candidate's generation cost. */
  costUsd: number;
  /**
   * Where to GET the asset over HTTP, in the stored manifest only (never in the workflow's
   * result): a presigned S3 URL, or DARKROOM_PUBLIC_BASE_URL + key. Absent on the filesystem store.
   */
  url?: string;
  /** When a presigned {@link url} stops working (ISO time); absent for a public URL. */
  urlExpiresAt?: string;
}

/** Everything about one brief's run: written to `<workflowId>/manifest.json` and returned. */
export interface Manifest {
  schema: 'darkroom.manifest/v1';
  workflowId: string;
  runId: string;
  outcome: 'published' | 'rejected';
  brief: Brief;
  prompt: BuiltPrompt;
  promptScore: PromptScore;
  rounds: number;
  /** Every candidate generated, kept or not, with its judgement. */
  candidates: Array<Pick<Candidate, 'id' | 'round' | 'seed' | 'model' | 'promptVersion' | 'costUsd' | 'reused'> & { key: string; score?: number; rank?: number; fidelity?: number; referenceKeys?: string[]; verdict?: JudgeVerdict }>;
  /** The brief's reference images as stored (content-addressed keys); absent when it has none. */
  references?: ResolvedReferences;
  rejectedCandidates: RejectedCandidate[];
  selected: ManifestCandidate[];
  assets: ManifestAsset[];
  judgeUnchecked: string[];
  /** Each prompt version's moderation check before it was used (absent in runs from before moderation). */
  moderation?: ModerationRecord[];
  /** With `approval: when-unsure`: whether the judge was confident enough to approve without a person, and why. */
  autoApproval?: { confident: boolean; reason: string; round: number };
  cost: { forecastUsd: number; actualUsd: number; budgetUsd: number; currency: 'USD' };
  /** The audit trail of human review: every decision, who made it and when. */
  review?: { decisions: ReviewRecord[]; ignoredSignals: IgnoredSignal[]; ignoredSignalsDropped?: number; remindersSent: number; outcome: NonNullable<ReviewStatus['outcome']> };
  /** Set when a reviewer rejected the brief. */
  rejection?: { reviewer: string; reason: string; at: string };
  timings: StageTiming[];
  manifestKey: string;
  /** Where the blob store keeps the assets (a folder path or an s3:// URL). */
  location: string;
  publishedAt: string;
  /**
   * In the workflow's result only (the file is written before delivery): what became of the
   * delivery webhook and any events-webhook calls given up on.
   */
  delivery?: DeliveryRecord;
  webhookFailures?: WebhookFailureRecord[];
}

/** That a prompt version was checked before anything was paid for it, and by which checker. */
export interface ModerationRecord {
  promptVersion: string;
  /** `openai:omni-moderation-latest`, `word-list`, or both joined by `+`. */
  checker: string;
  flagged: boolean;
  categories: string[];
  /** Free at OpenAI, and offline. */
  costUsd: number;
  /** When the check ran (worker clock). */
  at: string;
}

/** What the `status` query returns. */
export interface BriefStatus {
  workflowId: string;
  stage: Stage;
  round: number;
  promptVersion?: string;
  promptScore?: number;
  candidates: { total: number; generated: number; rejected: number; judged: number; selected: number };
  assets: { total: number; done: number };
  cost: { forecastUsd: number; actualUsd: number; budgetUsd: number };
  /** Set when the brief has finished. */
  manifestKey?: string;
  subject: string;
  channels: string[];
  approval: 'auto' | 'human' | 'when-unsure';
  /** The model in use, its fallbacks, and why routing chose them. */
  route?: { model: string; chain: string[]; reason: string; down: string[] };
  /** Set while the brief waits for a budget raise (approval `human`, forecast over budget). */
  awaitingBudget?: { forecastUsd: number; budgetUsd: number };
  /** Present once judging is done on a brief with human approval. */
  review?: ReviewStatus;
  /** The brief's stored brand kit, once prepared: the reviewer previews each channel's crop with its logo. Absent without a brand. */
  brand?: { name: string; key: string };
  /** The brief's stored product packshot (`references.product`), once prepared, shown beside the crop previews. */
  product?: BlobRef;
  error?: string;
  /** Set once the delivery webhook (DARKROOM_DELIVERY_WEBHOOK) was called or given up on. */
  delivery?: DeliveryRecord;
  /** Events-webhook calls given up on after their retries; the brief went on without them. */
  webhookFailures?: WebhookFailureRecord[];
}

/** A candidate as a reviewer sees it. */
export interface ReviewCandidate {
  id: string;
  round: number;
  promptVersion: string;
  /** Blob key of the full image; the reviewer tool makes thumbnails from it. */
  key: string;
  width: number;
  height: number;
  score?: number;
  /** Rank within its round, 1 is best. */
  rank?: number;
  reasons: string[];
  /** In its round's top K: the judge's suggestion. */
  suggested: boolean;
  /** The judge's safety verdict, when it gives one; a rejected candidate is not reviewable. */
  verdict?: JudgeVerdict;
  /** Where the judge found the product; the crop previews keep it in frame as the format stage will. */
  product?: ImageRegion;
}

/** The review part of `status`. */
export interface ReviewStatus {
  awaiting: boolean;
  round: number;
  maxRounds: number;
  /** At most this many candidates may be approved (the brief's topK). */
  maxApprovals: number;
  /** When the current wait ends (worker clock, ISO). */
  deadlineAt?: string;
  onDeadline: DeadlinePolicy;
  remindersSent: number;
  prompt: { version: string; text: string };
  /** Every round's candidates, newest round first within the list order of rounds. */
  candidates: ReviewCandidate[];
  /** Candidate ids a decision may name now. */
  reviewable: string[];
  decisions: ReviewRecord[];
  ignoredSignals: IgnoredSignal[];
  /** Ignored signals past the ones kept in {@link ignoredSignals}: counted, not stored. */
  ignoredSignalsDropped?: number;
  outcome?: 'approved' | 'rejected' | 'deadline-approved' | 'deadline-failed';
}

/** What a catalog's `status` query returns. */
export interface CatalogStatus {
  catalogId: string;
  state: 'planning' | 'running' | 'paused' | 'cancelling' | 'reporting' | 'done' | 'cancelled';
  /** Runs in the plan (rows × variants), and rows the feed could not turn into a brief. */
  total: number;
  invalidRows: number;
  duplicates: number;
  counts: { pending: number; running: number; awaitingReview: number; done: number; failed: number; rejected: number; skipped: number };
  costUsd: number;
  /** Cost so far plus the average cost of a finished row for each row still to go. */
  forecastUsd: number;
  budgetUsd?: number;
  rowsPerHour: number;
  /** Estimated time left at the current pace, seconds. */
  etaSeconds?: number;
  /** How many times this catalog has continued as new. */
  runs: number;
  reportKey?: string;
  /** `catalogRow` signals this run refused, with why (the first few; later ones only counted). */
  ignoredSignals?: IgnoredSignal[];
  ignoredSignalsDropped?: number;
}

/** When an activity ran, by the worker's clock: the workflow builds stage timings from these. */
export interface Span {
  startedAt: string;
  finishedAt: string;
}

/** A validated brief with everything the workflow needs to run it: route, prompt, forecast, settings. */
export interface PreparedBrief {
  brief: Brief;
  channels: ChannelPreset[];
  model: string;
  /** The model first, then its fallbacks, and why routing chose them. Absent in histories recorded before routing. */
  route?: { chain: string[]; reason: string; cheapOnly: boolean };
  master: { width: number; height: number };
  prompt: BuiltPrompt;
  promptScore: PromptScore;
  forecast: BatchCost;
  baseSeed: number;
  settings: RunSettings;
  /** The brief's reference images, fetched, checked and stored; absent when it has none (and in older histories). */
  references?: ResolvedReferences;
  /** The brief's brand kit as stored and placed; absent for briefs without `brand`. */
  brand?: PreparedBrand;
  timing: Span;
}

/**
 * A brand kit as the workflow carries it: keys into the blob store and small values only, so a
 * brief's history stays in kilobytes and every worker uses the same stored kit.
 */
export interface PreparedBrand {
  name: string;
  /** The stored kit, `brands/<name>/<sha256>.json`. */
  key: string;
  /** The logo file as stored (PNG or SVG). */
  logo: BlobRef;
  /** Where the logo goes on each of the brief's channels, computed before any spend. */
  placements: Record<string, LogoBox>;
  /** What the prompt builder takes from the kit: palette, approved and banned words. */
  prompt: PromptBrand;
  lora?: Lora;
  /** The kit's style reference images, as stored. */
  styleReferences: BlobRef[];
}
