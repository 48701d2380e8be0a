import { randomUUID } from 'node:crypto';
import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { parseBrief, type Brief } from '../domain/brief';
import { resolveChannel } from '../domain/channels';
import { runSettings, type Config } from '../domain/config';
import { hashInt, stableStringify } from '../domain/hash';
import { forecastBrief, imagePrice, RoutingError } from '../domain/models';
import { Failure } from '../domain/failures';
import { assetKey, candidateId, candidateKey, ledgerKey, manifestKey, upscaledKey, workflowIdProblem } from '../domain/naming';
import { buildPrompt, scorePrompt, type BuiltPrompt } from '../domain/prompt';
import type { ReviewRecord } from '../domain/review';
import type { Asset, BlobRef, Candidate, JudgeResult, Manifest, PreparedBrief, Span } from '../domain/types';
import { BlobTooLargeError, InvalidBlobKeyError, UnsafeBlobError, type BlobStore } from './blob-store';
import { formatForChannels } from './images/format';
import { ProviderError, type ProviderRegistry } from './providers';
import { postWebhook } from './webhook';
import { clip, preview } from '../domain/text';

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
}

export interface PrepareBriefInput {
  /** The brief as the workflow received it: from the CLI, the Temporal UI or `temporal workflow start`. */
  raw: unknown;
  workflowId: string;
}

export type { PreparedBrief, Span };

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
}

export interface JudgeCandidatesInput {
  workflowId: string;
  brief: Brief;
  candidates: Array<{ id: string; blob: BlobRef }>;
}

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
}

export interface NotifyReviewersInput {
  workflowId: string;
  kind: 'awaiting' | 'reminder';
  subject: string;
  round: number;
  candidates: number;
  deadlineAt: string;
}

export type ManifestDraft = Omit<Manifest, 'manifestKey' | 'location' | 'publishedAt' | 'schema'>;

/** Written beside each paid call: proof of what was spent, one entry per call. */
interface LedgerEntry {
  workflowId: string;
  candidateId: string;
  key: string;
  model: string;
  costUsd: number;
  at: string;
  attempt: number;
  ms: number;
  /**
   * Written by a retry that found the paid image stored but no entry for it (the worker died
   * between the two writes): the cost is the catalog price, the time unknown.
   */
  recovered?: boolean;
}

const INVALID_BRIEF = Failure.InvalidBrief;
/** Issues listed in an InvalidBrief failure; the rest are counted. */
const MAX_ISSUES = 20;

/**
 * Errors no retry can change are never retried: a blob key that cannot be stored (a workflow id
 * with a space, a `..`) fails the same way on every attempt, and so does a blob the store refuses
 * to read (a symlink or FIFO planted in the data folder) or one larger than a read may take.
 */
function inputFailure(err: unknown): unknown {
  if (err instanceof InvalidBlobKeyError) {
    return ApplicationFailure.create({ message: clip(err.message, 400), type: Failure.InvalidWorkflowId, nonRetryable: true });
  }
  if (err instanceof UnsafeBlobError || err instanceof BlobTooLargeError) {
    return ApplicationFailure.create({ message: clip(err.message, 400), type: Failure.UnsafeBlob, nonRetryable: true });
  }
  return err;
}

/** `activities` with every function's errors passed through {@link inputFailure}: no activity can forget to. */
function refusingInputErrors<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(activities)) {
    out[name] = async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (err) {
        throw inputFailure(err);
      }
    };
  }
  return out as T;
}

/** Maps a provider failure onto Temporal's retry semantics; anything unknown is retryable. */
function toFailure(err: unknown): unknown {
  if (err instanceof ProviderError) {
    return ApplicationFailure.create({
      message: `${err.provider}: ${err.message}`,
      type: err.type,
      nonRetryable: !err.retryable,
      nextRetryDelay: 'retryAfterMs' in err && typeof err.retryAfterMs === 'number' ? err.retryAfterMs : undefined,
      cause: err,
    });
  }
  return err;
}

/** Keeps the heartbeat going while a long call is in flight, so a dead worker is noticed quickly. */
async function withHeartbeat<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  ctx.heartbeat();
  const timer = setInterval(() => ctx.heartbeat(), 1000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

/**
 * The activity functions, closed over their dependencies. Workflows reach them with
 * `proxyActivities<ReturnType<typeof createActivities>>`.
 */
export function createActivities(deps: ActivityDeps) {
  const { blobs, providers, config, onPaidCall } = deps;
  const clock = deps.clock ?? (() => new Date());
  const now = () => clock().toISOString();

  async function timed<T extends object>(fn: () => Promise<T>): Promise<T & { timing: Span }> {
    const startedAt = now();
    const result = await fn();
    return { ...result, timing: { startedAt, finishedAt: now() } };
  }

  return refusingInputErrors({
    /**
     * Validates the brief (again: a brief started from the Temporal UI never passed the CLI),
     * routes it to a model, and builds and scores its prompt. Invalid input fails non-retryably
     * with every bad field listed.
     */
    async prepareBrief(input: PrepareBriefInput): Promise<PreparedBrief> {
      return timed(async () => {
        // The id names the brief's folder in the blob store: check it before anything is stored.
        const idProblem = workflowIdProblem(input.workflowId);
        if (idProblem) {
          throw ApplicationFailure.create({
            message: `invalid workflow id ${preview(input.workflowId, 80)}: it ${idProblem}. Start briefs with \`darkroom start\` (it makes the id), or pick an id like brief-my-launch.`,
            type: Failure.InvalidWorkflowId,
            nonRetryable: true,
          });
        }
        const parsed = parseBrief(input.raw);
        if (!parsed.ok) {
          // Bounded whatever the input: a failure larger than gRPC's 4 MB never reaches the server.
          const shown = parsed.issues.slice(0, MAX_ISSUES).map((i) => ({ field: clip(i.field, 120), message: clip(i.message, 300) }));
          const more = parsed.issues.length - shown.length;
          throw ApplicationFailure.create({
            message: `invalid brief: ${shown.map((i) => `${i.field} ${i.message}`).join('; ')}${more > 0 ? `; and ${more} more` : ''}`,
            type: INVALID_BRIEF,
            nonRetryable: true,
            details: [shown],
          });
        }
        const brief = parsed.brief;
        const prompt = buildPrompt(brief);
        const promptScore = scorePrompt(prompt.knobs);
        const cheapOnly = promptScore.score < brief.minPromptScore && brief.onLowPromptScore === 'cheap';
        let planned;
        try {
          planned = forecastBrief(brief, providers.imageModels, providers.prices, { cheapOnly });
        } catch (err) {
          if (!(err instanceof RoutingError)) throw err;
          throw ApplicationFailure.create({
            message: `invalid brief: ${err.field} ${err.message}`,
            type: INVALID_BRIEF,
            nonRetryable: true,
            details: [[{ field: err.field, message: err.message }]],
          });
        }
        const { route, master, forecast } = planned;
        return {
          brief,
          channels: brief.channels.map((c) => resolveChannel(c)!),
          model: route.model,
          route: { chain: route.chain, reason: route.reason, cheapOnly },
          master,
          prompt,
          promptScore,
          forecast,
          baseSeed: brief.seed ?? hashInt(stableStringify(brief)) % 1_000_000,
          settings: runSettings(config),
        };
      });
    },

    /**
     * Makes one candidate, exactly once. The blob key is derived from everything that
     * determines the image, so a retry (after a crash, a timeout, a replay) finds the stored
     * image and returns it without calling the provider again.
     */
    async generateCandidate(input: GenerateCandidateInput): Promise<Candidate & { timing: Span }> {
      return timed(async () => {
        const id = candidateId(input.round, input.index);
        const key = candidateKey(input.workflowId, input.round, input.index, input.prompt.version, input.seed);
        const base = { id, round: input.round, index: input.index, seed: input.seed, model: input.model, promptVersion: input.prompt.version };
        // The image is the proof of payment: found, it is never paid for again.
        const existing = await blobs.head(key);
        if (existing) {
          let spent = await ledgerFor(input.workflowId, id, key);
          if (spent.entries === 0) {
            // Paid and stored, but the worker died before the ledger entry: record the spend now, once.
            const costUsd = imagePrice(input.model, `${input.width}x${input.height}`);
            await writeLedger({ workflowId: input.workflowId, candidateId: id, key, model: input.model, costUsd, at: now(), attempt: Context.current().info.attempt, ms: 0, recovered: true });
            spent = { costUsd, ms: 0, entries: 1 };
          }
          return { ...base, blob: existing, costUsd: spent.costUsd, generateMs: spent.ms, reused: true };
        }
        const generator = providers.imageGenerator(input.model);
        const ctx = Context.current();
        const started = Date.now();
        let result;
        try {
          result = await withHeartbeat(() =>
            generator.generate({
              model: input.model,
              prompt: input.prompt.text,
              negativePrompt: input.prompt.negative,
              width: input.width,
              height: input.height,
              seed: input.seed,
              palette: input.palette,
              composition: input.prompt.knobs.composition,
              lighting: input.prompt.knobs.lighting,
              style: input.prompt.knobs.style,
              signal: ctx.cancellationSignal,
            }),
          );
        } catch (err) {
          throw toFailure(err);
        }
        const ms = Date.now() - started;
        // The image first: once it is stored, no retry pays for it again (see the check above,
        // which also writes a ledger entry the crash left out). Ledger first would leave a
        // window where the spend is recorded but the image is lost, and a retry pays twice.
        await onPaidCall?.('called', key);
        const blob = await blobs.put(key, result.image, { mime: result.mime, width: result.width, height: result.height });
        await onPaidCall?.('image-stored', key);
        await writeLedger({
          workflowId: input.workflowId, candidateId: id, key, model: result.model, costUsd: result.costUsd,
          at: now(), attempt: ctx.info.attempt, ms,
        });
        await onPaidCall?.('ledger-written', key);
        return { ...base, blob, costUsd: result.costUsd, generateMs: ms, reused: false };
      });
    },

    /** Scores every candidate against the brief and ranks them, best first. */
    async judgeCandidates(input: JudgeCandidatesInput): Promise<JudgeResult & { timing: Span }> {
      return timed(async () => {
        const images = await Promise.all(
          input.candidates.map(async (c) => ({ id: c.id, image: await blobs.get(c.blob.key), mime: c.blob.mime })),
        );
        let out;
        try {
          out = await withHeartbeat(() => providers.judge.judge({ brief: input.brief, candidates: images, signal: Context.current().cancellationSignal }));
        } catch (err) {
          throw toFailure(err);
        }
        const ranked = [...out.judgements].sort((a, b) => b.score - a.score || (a.candidateId < b.candidateId ? -1 : 1));
        return {
          judgements: ranked.map((j, i) => ({ ...j, rank: i + 1 })),
          unchecked: out.unchecked,
          costUsd: out.costUsd,
        };
      });
    },

    /** Enlarges a master that is smaller than some channel needs. Idempotent by key. */
    async upscaleCandidate(input: UpscaleCandidateInput): Promise<{ blob: BlobRef; costUsd: number; upscaler: string; timing: Span }> {
      return timed(async () => {
        const key = upscaledKey(input.workflowId, input.candidateId, input.minWidth, input.minHeight);
        const existing = await blobs.head(key);
        if (existing && existing.width > 0) return { blob: existing, costUsd: 0, upscaler: providers.upscaler.name };
        const image = await blobs.get(input.blob.key);
        let out;
        try {
          out = await withHeartbeat(() => providers.upscaler.upscale({ image, minWidth: input.minWidth, minHeight: input.minHeight }));
        } catch (err) {
          throw toFailure(err);
        }
        const blob = await blobs.put(key, out.image, { mime: out.mime, width: out.width, height: out.height });
        return { blob, costUsd: out.costUsd, upscaler: providers.upscaler.name };
      });
    },

    /**
     * Cuts every channel's exact size from one decoded master (attention crop), encodes each
     * of its formats with metadata stripped, and stores them under the naming convention.
     */
    async formatCandidate(input: FormatCandidateInput): Promise<{ assets: Asset[]; timing: Span }> {
      return timed(async () => {
        const master = await blobs.get(input.master.key);
        const channels = input.channels.map((c) => resolveChannel(c)!);
        const outputs = await withHeartbeat(() => formatForChannels(master, channels, { signal: Context.current().cancellationSignal }));
        const assets: Asset[] = [];
        for (const o of outputs) {
          const key = assetKey(input.workflowId, o.channel, input.candidateId, o.format);
          const ref = await blobs.put(key, o.data, { mime: o.mime, width: o.width, height: o.height });
          assets.push({
            candidateId: input.candidateId, channel: o.channel, format: o.format, width: o.width, height: o.height,
            density: o.density, key, sha256: ref.sha256, bytes: ref.bytes, mime: o.mime, cropKept: o.cropKept, crop: o.crop,
          });
        }
        return { assets };
      });
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
    async recordReviewDecision(input: { workflowId: string; sequence: number; record: Omit<ReviewRecord, 'at'> }): Promise<ReviewRecord> {
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

    /** Writes `<workflowId>/manifest.json` and returns the manifest as published. */
    async publishManifest(draft: ManifestDraft): Promise<Manifest> {
      const key = manifestKey(draft.workflowId);
      const manifest: Manifest = {
        schema: 'darkroom.manifest/v1',
        ...draft,
        manifestKey: key,
        location: blobs.location,
        publishedAt: now(),
      };
      await blobs.put(key, new TextEncoder().encode(JSON.stringify(manifest, null, 2)), { mime: 'application/json' });
      return manifest;
    },
  });

  /** What earlier attempts spent on a candidate, from its ledger entries. */
  async function ledgerFor(workflowId: string, id: string, key: string): Promise<{ costUsd: number; ms: number; entries: number }> {
    const entries = (await readLedger(blobs, workflowId, id)).filter((e) => e.key === key);
    return { costUsd: entries.reduce((sum, e) => sum + e.costUsd, 0), ms: Math.max(0, ...entries.map((e) => e.ms)), entries: entries.length };
  }

  async function writeLedger(entry: LedgerEntry): Promise<void> {
    const bytes = new TextEncoder().encode(JSON.stringify(entry));
    await blobs.put(ledgerKey(entry.workflowId, entry.candidateId, randomUUID().slice(0, 8)), bytes, { mime: 'application/json' });
  }
}

export type DarkroomActivities = ReturnType<typeof createActivities>;

/** Reads the spend ledger of one brief (or of one of its candidates): one entry per paid provider call. */
export async function readLedger(blobs: BlobStore, workflowId: string, candidate?: string): Promise<LedgerEntry[]> {
  const keys = await blobs.list(`${workflowId}/ledger/${candidate ? `${candidate}-` : ''}`);
  return Promise.all(keys.map(async (k) => JSON.parse((await blobs.get(k)).toString('utf8')) as LedgerEntry));
}
export type { LedgerEntry };
