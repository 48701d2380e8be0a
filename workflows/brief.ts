import {
  ActivityFailure, ApplicationFailure, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo,
} from '@temporalio/workflow';
import type { BriefInput } from '../domain/brief';
import type {
  Asset, BriefStatus, Candidate, Manifest, ManifestAsset, ManifestCandidate, RejectedCandidate, Stage, StageTiming,
} from '../domain/types';
import type { DarkroomActivities, PreparedBrief, Span } from '../activities';
import { SA, statusQuery } from './messages';
import { mapPool } from './pool';

/** Only the first step has fixed options: every later one takes its timeouts from the worker's config. */
const { prepareBrief } = proxyActivities<DarkroomActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: ['InvalidBrief'] },
});

function activitiesFor(s: PreparedBrief['settings']) {
  return proxyActivities<DarkroomActivities>({
    startToCloseTimeout: s.activityTimeoutMs,
    heartbeatTimeout: s.heartbeatTimeoutMs,
    retry: {
      initialInterval: s.retryInitialMs,
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: s.retryMaxAttempts,
    },
  });
}

/** The failure's own type when an activity failed with an ApplicationFailure. */
function failureType(err: unknown): string | undefined {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? (err.cause.type ?? undefined) : undefined;
}

/**
 * One brief, end to end:
 * validate → prompt (score gate, cost gate) → generate N → judge → keep top K → approve →
 * upscale if needed → format → publish. Returns the published manifest.
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
      if (failureType(err) === 'InvalidBrief') {
        const cause = (err as ActivityFailure).cause as ApplicationFailure;
        throw ApplicationFailure.create({ message: cause.message, type: 'InvalidBrief', nonRetryable: true, details: cause.details ?? [] });
      }
      throw err;
    }
    record('validate', prep.timing);
    const { brief, prompt, promptScore, forecast, settings } = prep;
    const channelIds = prep.channels.map((c) => c.id);
    upsertSearchAttributes([{ key: SA.channel, value: channelIds[0]! }]);
    status.cost = { forecastUsd: forecast.totalUsd, actualUsd: 0, budgetUsd: brief.budgetUsd };
    status.promptVersion = prompt.version;
    Object.assign(status, { subject: brief.subject, channels: channelIds, approval: brief.approval });
    status.promptScore = promptScore.score;

    // ── prompt: the gates that stand before any money is spent ──────────────
    enter('prompting');
    if (promptScore.score < brief.minPromptScore) {
      throw ApplicationFailure.create({
        message: `prompt scores ${promptScore.score}/8, below this brief's minimum of ${brief.minPromptScore}: missing ${promptScore.missing.join(', ')}. Set them in the brief (composition, lighting, camera, lens, styleHints, brandColors, mustAvoid) or lower minPromptScore.`,
        type: 'PromptScoreTooLow',
        nonRetryable: true,
        details: [promptScore],
      });
    }
    if (forecast.totalUsd > brief.budgetUsd) {
      throw ApplicationFailure.create({
        message: `forecast cost $${forecast.totalUsd.toFixed(2)} for ${brief.candidates} candidates on ${prep.model} exceeds the budget of $${brief.budgetUsd.toFixed(2)}: raise budgetUsd or lower candidates.`,
        type: 'OverBudget',
        nonRetryable: true,
        details: [forecast],
      });
    }
    const acts = activitiesFor(settings);

    // ── generate N, a few at a time ─────────────────────────────────────────
    enter('generating');
    const round = 1;
    status.candidates.total = brief.candidates;
    const rejected: RejectedCandidate[] = [];
    const made = await mapPool(Array.from({ length: brief.candidates }, (_, i) => i), settings.generateConcurrency, async (index) => {
      try {
        const c = await acts.generateCandidate({
          workflowId, round, index, model: prep.model,
          seed: (prep.baseSeed + index) % 2_147_483_647,
          prompt, palette: brief.brandColors, width: prep.master.width, height: prep.master.height,
        });
        record('generate', c.timing);
        status.candidates.generated++;
        spend(c.costUsd);
        return c;
      } catch (err) {
        // A refused candidate is recorded and the batch goes on with the rest.
        if (failureType(err) !== 'ContentPolicy') throw err;
        rejected.push({ id: `r${round}-c${String(index + 1).padStart(2, '0')}`, round, index, reason: (err as ActivityFailure).cause!.message, type: 'ContentPolicy' });
        status.candidates.rejected++;
        return undefined;
      }
    });
    const candidates = made.filter((c): c is Candidate & { timing: Span } => c !== undefined);
    if (candidates.length === 0) {
      throw ApplicationFailure.create({ message: `every candidate was refused by ${prep.model}: ${rejected[0]?.reason ?? ''}`, type: 'AllCandidatesRejected', nonRetryable: true });
    }

    // ── judge, keep top K ───────────────────────────────────────────────────
    enter('judging');
    const judged = await acts.judgeCandidates({ workflowId, brief, candidates: candidates.map((c) => ({ id: c.id, blob: c.blob })) });
    record('judge', judged.timing);
    spend(judged.costUsd);
    status.candidates.judged = judged.judgements.length;
    const top = judged.judgements.slice(0, brief.topK);
    const selected = top.map((j) => candidates.find((c) => c.id === j.candidateId)!);
    status.candidates.selected = selected.length;

    // ── approve ─────────────────────────────────────────────────────────────
    if (brief.approval === 'human') {
      throw ApplicationFailure.create({ message: 'approval "human" needs the review step, which this version of Darkroom does not have yet: use approval "auto"', type: 'InvalidBrief', nonRetryable: true });
    }

    // ── upscale where a channel needs more pixels than the master has ───────
    const need = Math.max(...prep.channels.map((c) => Math.max(c.width / prep.master.width, c.height / prep.master.height)));
    const masters = new Map(selected.map((c) => [c.id, { blob: c.blob, upscaledFrom: undefined as ManifestCandidate['upscaledFrom'] }]));
    if (need > 1) {
      enter('upscaling');
      const minWidth = Math.ceil(prep.master.width * need);
      const minHeight = Math.ceil(prep.master.height * need);
      await Promise.all(selected.map(async (c) => {
        const up = await acts.upscaleCandidate({ workflowId, candidateId: c.id, blob: c.blob, minWidth, minHeight });
        record('upscale', up.timing);
        spend(up.costUsd);
        masters.set(c.id, { blob: up.blob, upscaledFrom: { width: c.blob.width, height: c.blob.height, factor: Math.round((up.blob.width / c.blob.width) * 1000) / 1000 } });
      }));
    }

    // ── format every channel, write alt text ────────────────────────────────
    enter('formatting');
    status.assets.total = selected.length * prep.channels.reduce((n, c) => n + c.formats.length, 0);
    const formatted = await Promise.all(selected.map(async (c) => {
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
    const judgementOf = new Map(judged.judgements.map((j) => [j.candidateId, j]));
    const selectedOut: ManifestCandidate[] = formatted.map(({ candidate: c, altText }) => {
      const j = judgementOf.get(c.id)!;
      return {
        id: c.id, model: c.model, seed: c.seed, promptVersion: c.promptVersion, prompt: prompt.text,
        master: masters.get(c.id)!.blob, upscaledFrom: masters.get(c.id)!.upscaledFrom,
        judge: { score: j.score, rank: j.rank, scores: j.scores, reasons: j.reasons, judge: j.judge },
        altText, costUsd: c.costUsd,
      };
    });
    const assets: ManifestAsset[] = formatted.flatMap(({ candidate: c, assets: list, altText }) =>
      list.map((a: Asset) => ({
        ...a, model: c.model, prompt: prompt.text, promptVersion: c.promptVersion, seed: c.seed,
        judgeScore: judgementOf.get(c.id)!.score, judgeReasons: judgementOf.get(c.id)!.reasons, altText,
        costUsd: Math.round((c.costUsd / list.length) * 1e6) / 1e6,
      })),
    );
    const manifest = await acts.publishManifest({
      workflowId, runId, outcome: 'published', brief, prompt, promptScore, rounds: round,
      candidates: candidates.map((c) => ({
        id: c.id, round: c.round, seed: c.seed, model: c.model, promptVersion: c.promptVersion, costUsd: c.costUsd,
        reused: c.reused, key: c.blob.key, score: judgementOf.get(c.id)?.score, rank: judgementOf.get(c.id)?.rank,
      })),
      rejectedCandidates: rejected,
      selected: selectedOut,
      assets,
      judgeUnchecked: judged.unchecked,
      cost: { forecastUsd: forecast.totalUsd, actualUsd: status.cost.actualUsd, budgetUsd: brief.budgetUsd, currency: 'USD' },
      timings: stageTimings(spans),
    });
    status.manifestKey = manifest.manifestKey;
    enter('done');
    return manifest;
  } catch (err) {
    status.error = err instanceof Error ? err.message : String(err);
    enter('failed');
    throw err;
  }
}

/** A stage's wall time runs from its first activity's start to its last one's end. */
function stageTimings(spans: Record<string, Span[]>): StageTiming[] {
  return Object.entries(spans).map(([stage, list]) => {
    const startedAt = list.map((s) => s.startedAt).sort()[0]!;
    const finishedAt = list.map((s) => s.finishedAt).sort().at(-1)!;
    return { stage, startedAt, finishedAt, ms: Date.parse(finishedAt) - Date.parse(startedAt) };
  });
}
