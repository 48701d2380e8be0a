import {
  ActivityFailure, ApplicationFailure, CancellationScope, condition, getExternalWorkflowHandle, proxyActivities, setHandler, upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { BriefInput } from '../domain/brief';
import { formatDuration } from '../domain/duration';
import { IMAGE_MODELS, imagePrice } from '../domain/models';
import { candidateId, candidateSeed } from '../domain/naming';
import { Failure } from '../domain/failures';
import { buildPrompt, type BuiltPrompt } from '../domain/prompt';
import { clip } from '../domain/text';
import { checkDecision, recordIgnoredSignal, type IgnoredSignal, type ReviewChannel, type ReviewContext, type ReviewDecision, type ReviewRecord } from '../domain/review';
import type {
  Asset, BriefStatus, Candidate, Judgement, Manifest, ManifestAsset, ManifestCandidate, RejectedCandidate, ReviewStatus,
  Stage, StageTiming,
} from '../domain/types';
import type { DarkroomActivities, PreparedBrief, Span } from '../activities';
import { approveSignal, catalogRowSignal, raiseBudgetUpdate, rejectSignal, requestChangesSignal, reviewUpdate, SA, statusQuery } from './messages';
import { mapPool } from './pool';
import type { CatalogRowEvent } from './messages';

/**
 * Tells the catalog that started this brief (if one did) how its row stands. Only briefs with
 * a parent send anything, so standalone briefs' histories are unchanged.
 */
async function tellCatalog(event: Omit<CatalogRowEvent, 'workflowId'>): Promise<void> {
  const { parent, workflowId } = workflowInfo();
  if (!parent) return;
  // By workflow id, not run id: the catalog may have continued as new since it started us.
  // Not cancellable: a row the catalog cancelled still reports that it ended.
  await CancellationScope.nonCancellable(() => getExternalWorkflowHandle(parent.workflowId).signal(catalogRowSignal, { ...event, workflowId })).catch(() => undefined);
}

/** Only the first step has fixed options: every later one takes its timeouts from the worker's config. */
const { prepareBrief } = proxyActivities<DarkroomActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: ['InvalidBrief'] },
});

function activitiesFor(s: PreparedBrief['settings'], taskQueue?: string) {
  return proxyActivities<DarkroomActivities>({
    // A vendor's own queue: fewer attempts, so a provider that is down hands over to the next model sooner.
    ...(taskQueue ? { taskQueue } : {}),
    startToCloseTimeout: s.activityTimeoutMs,
    heartbeatTimeout: s.heartbeatTimeoutMs,
    retry: {
      initialInterval: s.retryInitialMs,
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: taskQueue ? (s.providerAttempts ?? s.retryMaxAttempts) : s.retryMaxAttempts,
    },
  });
}

/** Failures that mean "this provider cannot serve us now": try the next model in the chain. */
const FALL_BACK_ON = new Set(['Authentication', 'ProviderUnavailable', 'RateLimited']);

/** The failure's own type when an activity failed with an ApplicationFailure. */
function failureType(err: unknown): string | undefined {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? (err.cause.type ?? undefined) : undefined;
}

const addMs = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();

type Made = Candidate & { timing: Span };

/**
 * One brief, end to end:
 * validate → prompt (score gate, cost gate) → generate N → judge → keep top K →
 * approve (auto, or a person: approve / reject / request changes → next round) →
 * upscale if needed → format → publish. Returns the published (or rejected) manifest.
 */
export async function briefWorkflow(input: BriefInput): Promise<Manifest> {
  const { workflowId, runId } = workflowInfo();
  const spans: Record<string, Span[]> = {};
  const status: BriefStatus = {
    workflowId,
    stage: 'validating',
    round: 1,
    candidates: { total: 0, generated: 0, rejected: 0, judged: 0, selected: 0 },
    assets: { total: 0, done: 0 },
    cost: { forecastUsd: 0, actualUsd: 0, budgetUsd: 0 },
    subject: '',
    channels: [],
    approval: 'auto',
  };
  setHandler(statusQuery, () => status);

  // ── review messages: registered first, so nothing that arrives early is lost ──
  let review: ReviewStatus | undefined;
  let reviewCtx: Omit<ReviewContext, 'awaiting' | 'reviewable' | 'round' | 'spentUsd'> | undefined;
  const pending: Array<{ decision: ReviewDecision; via: ReviewChannel }> = [];
  const ignoredSignals: IgnoredSignal[] = [];
  let ignoredSignalsDropped = 0;
  const check = (raw: unknown) => {
    if (pending.length > 0) return { ok: false as const, reason: `a decision for round ${status.round} has already been made` };
    return checkDecision(raw, {
      awaiting: review?.awaiting ?? false,
      reviewable: review?.reviewable ?? [],
      round: status.round,
      spentUsd: status.cost.actualUsd,
      maxApprovals: reviewCtx?.maxApprovals ?? 0,
      maxRounds: reviewCtx?.maxRounds ?? 1,
      nextRoundUsd: reviewCtx?.nextRoundUsd ?? 0,
      budgetUsd: reviewCtx?.budgetUsd ?? 0,
    });
  };
  setHandler(
    reviewUpdate,
    (decision) => {
      const r = check(decision);
      if (!r.ok) throw ApplicationFailure.create({ message: r.reason, type: 'ReviewRefused', nonRetryable: true });
      pending.push({ decision: r.decision, via: 'update' });
      return { accepted: true, action: r.decision.action, round: status.round };
    },
    {
      validator: (decision) => {
        const r = check(decision);
        if (!r.ok) throw new Error(r.reason);
      },
    },
  );
  // Signals cannot answer back: a bad one is recorded in status and the manifest, then ignored.
  const onSignal = (name: ReviewDecision['action']) => (payload: unknown) => {
    const raw = payload && typeof payload === 'object' && !Array.isArray(payload) ? { ...payload, action: name } : payload;
    const r = check(raw);
    if (r.ok) {
      pending.push({ decision: r.decision, via: 'signal' });
      return;
    }
    // Bounded: a flood of bad signals must not grow the status query or the manifest past gRPC's limits.
    ignoredSignalsDropped += recordIgnoredSignal(ignoredSignals, { signal: name, reason: r.reason, round: status.round, payload }).dropped;
    if (review && ignoredSignalsDropped > 0) review.ignoredSignalsDropped = ignoredSignalsDropped;
  };
  setHandler(approveSignal, onSignal('approve'));
  setHandler(rejectSignal, onSignal('reject'));
  setHandler(requestChangesSignal, onSignal('requestChanges'));

  const enter = (stage: Stage) => {
    status.stage = stage;
    upsertSearchAttributes([{ key: SA.stage, value: stage }]);
  };
  const spend = (usd: number) => {
    if (usd <= 0) return;
    status.cost.actualUsd = Math.round((status.cost.actualUsd + usd) * 1e6) / 1e6;
    upsertSearchAttributes([{ key: SA.costUsd, value: status.cost.actualUsd }]);
  };
  const record = (stage: string, span: Span) => (spans[stage] ??= []).push(span);

  try {
    // ── validate ────────────────────────────────────────────────────────────
    upsertSearchAttributes([{ key: SA.stage, value: 'validating' }, { key: SA.awaitingReview, value: false }]);
    let prep: PreparedBrief;
    try {
      prep = await prepareBrief({ raw: input, workflowId });
    } catch (err) {
      const type = failureType(err);
      if (type === Failure.InvalidBrief || type === Failure.InvalidWorkflowId) {
        const cause = (err as ActivityFailure).cause as ApplicationFailure;
        throw ApplicationFailure.create({ message: cause.message, type, nonRetryable: true, details: cause.details ?? [] });
      }
      throw err;
    }
    record('validate', prep.timing);
    const { brief, promptScore, forecast, settings } = prep;
    const channelIds = prep.channels.map((c) => c.id);
    upsertSearchAttributes([{ key: SA.channel, value: channelIds[0]! }]);
    status.cost = { forecastUsd: forecast.totalUsd, actualUsd: 0, budgetUsd: brief.budgetUsd };
    status.promptVersion = prep.prompt.version;
    status.promptScore = promptScore.score;
    Object.assign(status, { subject: brief.subject, channels: channelIds, approval: brief.approval });
    reviewCtx = { maxApprovals: brief.topK, maxRounds: brief.review.maxRounds, nextRoundUsd: forecast.totalUsd, budgetUsd: brief.budgetUsd };

    // ── prompt: the gates that stand before any money is spent ──────────────
    enter('prompting');
    if (promptScore.score < brief.minPromptScore && !prep.route?.cheapOnly) {
      throw ApplicationFailure.create({
        message: `prompt scores ${promptScore.score}/8, below this brief's minimum of ${brief.minPromptScore}: missing ${promptScore.missing.join(', ')}. Set them in the brief (composition, lighting, camera, lens, styleHints, brandColors, mustAvoid) or lower minPromptScore.`,
        type: 'PromptScoreTooLow',
        nonRetryable: true,
        details: [promptScore],
      });
    }
    const chain = prep.route?.chain ?? [prep.model];
    if (prep.route) status.route = { model: prep.model, chain, reason: prep.route.reason, down: [] };
    let budgetUsd = brief.budgetUsd;
    if (forecast.totalUsd > budgetUsd && brief.approval === 'human') {
      // A person can raise the budget; the brief waits for them as it would for a review.
      let raised: number | undefined;
      setHandler(raiseBudgetUpdate, ({ budgetUsd: b }) => {
        raised = b;
        return { budgetUsd: b };
      }, {
        validator: (req) => {
          if (!status.awaitingBudget) throw new Error('this brief is not waiting for a budget');
          if (typeof req?.budgetUsd !== 'number' || !(req.budgetUsd >= forecast.totalUsd) || req.budgetUsd > 100_000) {
            throw new Error(`budgetUsd must be a number covering the forecast of $${forecast.totalUsd.toFixed(2)}`);
          }
        },
      });
      status.awaitingBudget = { forecastUsd: forecast.totalUsd, budgetUsd };
      enter('budget');
      if (!(await condition(() => raised !== undefined, brief.review.deadline))) {
        throw ApplicationFailure.create({ message: `forecast cost $${forecast.totalUsd.toFixed(2)} exceeds the budget of $${budgetUsd.toFixed(2)}, and nobody raised it within ${formatDuration(brief.review.deadline)}`, type: 'OverBudget', nonRetryable: true, details: [forecast] });
      }
      budgetUsd = raised!;
      status.awaitingBudget = undefined;
      status.cost.budgetUsd = budgetUsd;
      if (reviewCtx) reviewCtx.budgetUsd = budgetUsd;
    }
    if (forecast.totalUsd > budgetUsd) {
      throw ApplicationFailure.create({
        message: `forecast cost $${forecast.totalUsd.toFixed(2)} for ${brief.candidates} candidates on ${prep.model} exceeds the budget of $${budgetUsd.toFixed(2)}: raise budgetUsd or lower candidates.`,
        type: 'OverBudget',
        nonRetryable: true,
        details: [forecast],
      });
    }
    const acts = activitiesFor(settings);
    // Vendor calls go through one task queue per provider, where the worker enforces that
    // provider's rate limit; the offline generator stays on the brief's own queue.
    const { taskQueue } = workflowInfo();
    const generatorFor = (model: string) => {
      const provider = IMAGE_MODELS[model]?.provider ?? 'local';
      return provider === 'local' ? acts : activitiesFor(settings, `${taskQueue}-${provider}`);
    };
    const down = new Set<string>();
    /** Why each model that went down failed last, for a ProvidersDown message a person can act on. */
    const downBecause = new Map<string, string>();
    // Generation may spend what the forecast leaves after judging, upscaling and alt text.
    const generationBudget = budgetUsd - (forecast.judgeUsd + forecast.upscaleUsd);
    let generationSpent = 0;
    let inFlightUsd = 0;

    const all: Made[] = [];
    const judgementOf = new Map<string, Judgement>();
    const promptOf = new Map<string, BuiltPrompt>([[prep.prompt.version, prep.prompt]]);
    const rejected: RejectedCandidate[] = [];
    const decisions: ReviewRecord[] = [];
    let unchecked: string[] = [];
    let prompt = prep.prompt;
    let kept: string[] = [];
    const feedback: string[] = [];
    let approved: Made[];

    /** Generates one round's batch, a few at a time; refused candidates are set aside. */
    const generateRound = async (round: number): Promise<Made[]> => {
      status.candidates.total += brief.candidates;
      const made = await mapPool(Array.from({ length: brief.candidates }, (_, i) => i), settings.generateConcurrency, async (index) => {
        for (;;) {
          const model = chain.find((m) => !down.has(m));
          if (!model) {
            const why = chain.map((m) => `${m} (${downBecause.get(m) ?? 'failed'})`).join('; ');
            throw ApplicationFailure.create({ message: `no image model could serve this brief: ${why}`, type: Failure.ProvidersDown, nonRetryable: true });
          }
          // Reserve the price before paying, so concurrent calls cannot overspend together.
          const price = imagePrice(model, `${prep.master.width}x${prep.master.height}`);
          if (price > 0 && generationSpent + inFlightUsd + price > generationBudget + 1e-9) {
            rejected.push({ id: candidateId(round, index), round, index, reason: `not generated: it would take spend past the budget of $${budgetUsd.toFixed(2)}`, type: 'OverBudget' });
            status.candidates.rejected++;
            return undefined;
          }
          inFlightUsd += price;
          try {
            const c = await generatorFor(model).generateCandidate({
              workflowId, round, index, model,
              seed: candidateSeed(prep.baseSeed, round, index),
              prompt, palette: brief.brandColors, width: prep.master.width, height: prep.master.height,
            });
            record('generate', c.timing);
            status.candidates.generated++;
            generationSpent += c.costUsd;
            spend(c.costUsd);
            return c;
          } catch (err) {
            const type = failureType(err);
            // A refused candidate is recorded and the batch goes on with the rest.
            if (type === 'ContentPolicy') {
              rejected.push({ id: candidateId(round, index), round, index, reason: (err as ActivityFailure).cause!.message, type: 'ContentPolicy' });
              status.candidates.rejected++;
              return undefined;
            }
            // The provider is down (retries exhausted) or refuses our key: next model in the chain.
            if (type && FALL_BACK_ON.has(type) && chain.length > 1) {
              if (!down.has(model)) status.route?.down.push(model);
              down.add(model);
              downBecause.set(model, `${type}: ${clip((err as ActivityFailure).cause?.message ?? '', 300)}`);
              continue;
            }
            throw err;
          } finally {
            inFlightUsd -= price;
          }
        }
      });
      return made.filter((c): c is Made => c !== undefined);
    };

    for (let round = 1; ; round++) {
      status.round = round;
      // ── generate N ──────────────────────────────────────────────────────────
      enter('generating');
      const made = await generateRound(round);
      all.push(...made);
      if (made.length === 0 && kept.length === 0) {
        throw ApplicationFailure.create({ message: `every candidate was refused by ${prep.model}: ${rejected.at(-1)?.reason ?? ''}`, type: 'AllCandidatesRejected', nonRetryable: true });
      }

      // ── judge, keep top K ───────────────────────────────────────────────────
      enter('judging');
      const judged = await acts.judgeCandidates({ workflowId, brief, candidates: made.map((c) => ({ id: c.id, blob: c.blob })) });
      record('judge', judged.timing);
      spend(judged.costUsd);
      for (const j of judged.judgements) judgementOf.set(j.candidateId, j);
      unchecked = judged.unchecked;
      status.candidates.judged += judged.judgements.length;
      const top = judged.judgements.slice(0, brief.topK).map((j) => j.candidateId);
      const byId = (id: string) => all.find((c) => c.id === id)!;

      if (brief.approval === 'auto') {
        approved = top.map(byId);
        break;
      }

      // ── review: a person decides ────────────────────────────────────────────
      const reviewable = [...kept, ...made.map((c) => c.id)];
      const deadlineMs = brief.review.deadline;
      review = {
        awaiting: true,
        round,
        maxRounds: brief.review.maxRounds,
        maxApprovals: brief.topK,
        deadlineAt: addMs(judged.timing.finishedAt, deadlineMs),
        onDeadline: brief.review.onDeadline,
        remindersSent: review?.remindersSent ?? 0,
        prompt: { version: prompt.version, text: prompt.text },
        candidates: all.map((c) => {
          const j = judgementOf.get(c.id);
          return {
            id: c.id, round: c.round, promptVersion: c.promptVersion, key: c.blob.key, width: c.blob.width, height: c.blob.height,
            score: j?.score, rank: j?.rank, reasons: j?.reasons ?? [], suggested: c.round === round && top.includes(c.id),
          };
        }),
        reviewable,
        decisions,
        ignoredSignals,
        ...(ignoredSignalsDropped > 0 ? { ignoredSignalsDropped } : {}),
      };
      status.review = review;
      status.candidates.selected = top.length;
      enter('review');
      upsertSearchAttributes([{ key: SA.awaitingReview, value: true }]);
      if (round === 1) await tellCatalog({ state: 'awaiting-review', costUsd: status.cost.actualUsd });
      const notify = (kind: 'awaiting' | 'reminder') => {
        // Fire and forget: a broken webhook must not hold up the review.
        void acts.notifyReviewers({ workflowId, kind, subject: brief.subject, round, candidates: reviewable.length, deadlineAt: review!.deadlineAt! }).catch(() => undefined);
      };
      notify('awaiting');
      while (!(await condition(() => pending.length > 0, deadlineMs))) {
        if (brief.review.onDeadline === 'remind') {
          review.remindersSent++;
          review.deadlineAt = addMs(review.deadlineAt!, deadlineMs);
          notify('reminder');
        } else if (brief.review.onDeadline === 'approveTop') {
          pending.push({ decision: { action: 'approve', candidateIds: top, reviewer: 'darkroom', comment: `review deadline of ${formatDuration(deadlineMs)} passed: approved the judge's top ${top.length}` }, via: 'deadline' });
        } else {
          review.awaiting = false;
          review.outcome = 'deadline-failed';
          upsertSearchAttributes([{ key: SA.awaitingReview, value: false }]);
          throw ApplicationFailure.create({ message: `no review decision within ${formatDuration(deadlineMs)} (review.onDeadline is "fail")`, type: 'ReviewDeadlineExceeded', nonRetryable: true });
        }
      }
      review.awaiting = false;
      upsertSearchAttributes([{ key: SA.awaitingReview, value: false }]);
      const { decision, via } = pending.shift()!;
      const entry = await acts.recordReviewDecision({
        workflowId,
        sequence: decisions.length + 1,
        record: {
          action: decision.action, reviewer: decision.reviewer ?? 'unknown', round, via,
          ...(decision.action === 'approve' ? { candidateIds: decision.candidateIds, comment: decision.comment } : {}),
          ...(decision.action === 'reject' ? { reason: decision.reason } : {}),
          ...(decision.action === 'requestChanges' ? { feedback: decision.feedback, keep: decision.keep } : {}),
        },
      });
      decisions.push(entry);

      if (decision.action === 'approve') {
        review.outcome = via === 'deadline' ? 'deadline-approved' : 'approved';
        approved = decision.candidateIds.map(byId);
        break;
      }
      if (decision.action === 'reject') {
        review.outcome = 'rejected';
        status.candidates.selected = 0;
        enter('publishing');
        const manifest = await acts.publishManifest({
          workflowId, runId, outcome: 'rejected', brief, prompt, promptScore, rounds: round,
          candidates: candidateRows(all, judgementOf), rejectedCandidates: rejected, selected: [], assets: [],
          judgeUnchecked: unchecked,
          cost: { forecastUsd: forecast.totalUsd, actualUsd: status.cost.actualUsd, budgetUsd: status.cost.budgetUsd, currency: 'USD' },
          review: { decisions, ignoredSignals, ...(ignoredSignalsDropped > 0 ? { ignoredSignalsDropped } : {}), remindersSent: review.remindersSent, outcome: 'rejected' },
          rejection: { reviewer: entry.reviewer, reason: decision.reason, at: entry.at },
          timings: stageTimings(spans),
        });
        status.manifestKey = manifest.manifestKey;
        enter('rejected');
        await tellCatalog({ state: 'rejected', costUsd: status.cost.actualUsd, reason: decision.reason, at: manifest.publishedAt });
        return manifest;
      }
      // requestChanges: fold the feedback into a new prompt version and go round again.
      feedback.push(decision.feedback);
      kept = decision.keep ?? [];
      prompt = buildPrompt(brief, feedback);
      promptOf.set(prompt.version, prompt);
      status.promptVersion = prompt.version;
      enter('prompting');
    }
    status.candidates.selected = approved.length;

    // ── upscale where a channel needs more pixels than the master has ───────
    const need = Math.max(...prep.channels.map((c) => Math.max(c.width / prep.master.width, c.height / prep.master.height)));
    const masters = new Map(approved.map((c) => [c.id, { blob: c.blob, upscaledFrom: undefined as ManifestCandidate['upscaledFrom'] }]));
    if (need > 1) {
      enter('upscaling');
      const minWidth = Math.ceil(prep.master.width * need);
      const minHeight = Math.ceil(prep.master.height * need);
      await Promise.all(approved.map(async (c) => {
        const up = await acts.upscaleCandidate({ workflowId, candidateId: c.id, blob: c.blob, minWidth, minHeight });
        record('upscale', up.timing);
        spend(up.costUsd);
        masters.set(c.id, { blob: up.blob, upscaledFrom: { width: c.blob.width, height: c.blob.height, factor: Math.round((up.blob.width / c.blob.width) * 1000) / 1000 } });
      }));
    }

    // ── format every channel, write alt text ────────────────────────────────
    enter('formatting');
    status.assets.total = approved.length * prep.channels.reduce((n, c) => n + c.formats.length, 0);
    const formatted = await Promise.all(approved.map(async (c) => {
      const [f, alt] = await Promise.all([
        acts.formatCandidate({ workflowId, candidateId: c.id, master: masters.get(c.id)!.blob, channels: channelIds }),
        acts.writeAltText({ brief, blob: c.blob }),
      ]);
      record('format', f.timing);
      record('alt-text', alt.timing);
      spend(alt.costUsd);
      status.assets.done += f.assets.length;
      return { candidate: c, assets: f.assets, altText: alt.text };
    }));

    // ── publish ─────────────────────────────────────────────────────────────
    enter('publishing');
    const textOf = (c: Candidate) => promptOf.get(c.promptVersion)?.text ?? prompt.text;
    const selectedOut: ManifestCandidate[] = formatted.map(({ candidate: c, altText }) => {
      const j = judgementOf.get(c.id)!;
      return {
        id: c.id, model: c.model, seed: c.seed, promptVersion: c.promptVersion, prompt: textOf(c),
        master: masters.get(c.id)!.blob, upscaledFrom: masters.get(c.id)!.upscaledFrom,
        judge: { score: j.score, rank: j.rank, scores: j.scores, reasons: j.reasons, judge: j.judge },
        altText, costUsd: c.costUsd,
      };
    });
    const assets: ManifestAsset[] = formatted.flatMap(({ candidate: c, assets: list, altText }) =>
      list.map((a: Asset) => ({
        ...a, model: c.model, prompt: textOf(c), promptVersion: c.promptVersion, seed: c.seed,
        judgeScore: judgementOf.get(c.id)!.score, judgeReasons: judgementOf.get(c.id)!.reasons, altText,
        costUsd: Math.round((c.costUsd / list.length) * 1e6) / 1e6,
      })),
    );
    const manifest = await acts.publishManifest({
      workflowId, runId, outcome: 'published', brief, prompt, promptScore, rounds: status.round,
      candidates: candidateRows(all, judgementOf),
      rejectedCandidates: rejected,
      selected: selectedOut,
      assets,
      judgeUnchecked: unchecked,
      cost: { forecastUsd: forecast.totalUsd, actualUsd: status.cost.actualUsd, budgetUsd: status.cost.budgetUsd, currency: 'USD' },
      ...(review ? { review: { decisions, ignoredSignals, ...(ignoredSignalsDropped > 0 ? { ignoredSignalsDropped } : {}), remindersSent: review.remindersSent, outcome: review.outcome ?? 'approved' } } : {}),
      timings: stageTimings(spans),
    });
    status.manifestKey = manifest.manifestKey;
    enter('done');
    await tellCatalog({ state: 'done', costUsd: status.cost.actualUsd, at: manifest.publishedAt });
    return manifest;
  } catch (err) {
    status.error = err instanceof Error ? err.message : String(err);
    enter('failed');
    await tellCatalog({ state: 'failed', costUsd: status.cost.actualUsd, reason: status.error.slice(0, 500) });
    throw err;
  }
}

function candidateRows(all: readonly Made[], judgementOf: ReadonlyMap<string, Judgement>): Manifest['candidates'] {
  return all.map((c) => ({
    id: c.id, round: c.round, seed: c.seed, model: c.model, promptVersion: c.promptVersion, costUsd: c.costUsd,
    reused: c.reused, key: c.blob.key, score: judgementOf.get(c.id)?.score, rank: judgementOf.get(c.id)?.rank,
  }));
}

/** A stage's wall time runs from its first activity's start to its last one's end. */
function stageTimings(spans: Record<string, Span[]>): StageTiming[] {
  return Object.entries(spans).map(([stage, list]) => {
    const startedAt = list.map((s) => s.startedAt).sort()[0]!;
    const finishedAt = list.map((s) => s.finishedAt).sort().at(-1)!;
    return { stage, startedAt, finishedAt, ms: Date.parse(finishedAt) - Date.parse(startedAt) };
  });
}
