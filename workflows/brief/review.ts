import { ApplicationFailure, condition, upsertSearchAttributes } from '@temporalio/workflow';
import { formatDuration } from '../../domain/duration';
import { Failure } from '../../domain/failures';
import { buildPrompt, type BuiltPrompt } from '../../domain/prompt';
import type { ReviewChannel, ReviewDecision, ReviewRecord } from '../../domain/review';
import type { PreparedBrief, ReviewStatus } from '../../domain/types';
import { DEFAULT_CONFIDENT_SCORE, judgeConfidence } from '../../domain/verdict';
import { SA } from '../messages';
import { moderate } from './gates';
import { Generation } from './generate';
import { activitiesFor, briefPatched } from './proxies';
import type { BriefRun, Made } from './run';

/** What the rounds ended with: the approved candidates, or a reviewer's rejection. */
export interface Picked {
  gen: Generation;
  approved: Made[];
  rejection?: { reviewer: string; reason: string; at: string };
  /** The newest prompt, and every version used, by version. */
  prompt: BuiltPrompt;
  promptOf: Map<string, BuiltPrompt>;
}

const addMs = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();

/**
 * Rounds of generate → judge → decide. With `approval: auto` the judge's top K is approved
 * after the first round; with `human` a person approves, rejects, or asks for changes, which
 * folds their feedback into a new prompt version for the next round.
 */
export async function chooseCandidates(run: BriefRun, plan: PreparedBrief, budgetUsd: number): Promise<Picked> {
  const { brief } = plan;
  const gen = new Generation(run, plan, budgetUsd);
  let prompt = plan.prompt;
  const promptOf = new Map<string, BuiltPrompt>([[prompt.version, prompt]]);
  const feedback: string[] = [];
  let kept: string[] = [];
  for (let round = 1; ; round++) {
    run.status.round = round;
    run.enter('generating');
    const made = await gen.round(round, prompt);
    if (made.length === 0 && kept.length === 0) {
      throw ApplicationFailure.create({ message: `every candidate was refused by ${plan.model}: ${gen.rejected.at(-1)?.reason ?? ''}`, type: Failure.AllCandidatesRejected, nonRetryable: true });
    }
    const top = await gen.judge(made);
    // Only the judge's veto can empty a judged round: the same end as a round the provider refused.
    if (top.length === 0 && kept.length === 0) {
      throw ApplicationFailure.create({ message: `every candidate was rejected by the judge: ${gen.rejected.at(-1)?.reason ?? ''}`, type: Failure.AllCandidatesRejected, nonRetryable: true });
    }
    if (brief.approval === 'auto') return { gen, approved: top.map((id) => gen.byId(id)), prompt, promptOf };
    // A person who has started reviewing (round 2 on) sees the brief through.
    if (brief.approval === 'when-unsure' && round === 1 && briefPatched('review-when-unsure')) {
      const c = judgeConfidence(gen.judgementsOf(top), brief.review.confidentScore ?? DEFAULT_CONFIDENT_SCORE);
      run.autoApproval = { ...c, round };
      if (c.confident) return { gen, approved: top.map((id) => gen.byId(id)), prompt, promptOf };
    }

    const reviewable = [...kept, ...made.filter((c) => !gen.vetoed.has(c.id)).map((c) => c.id)];
    const { decision, entry } = await awaitDecision(run, plan, gen, { round, reviewable, top, prompt });
    const review = run.review!;
    if (decision.action === 'approve') {
      review.outcome = entry.via === 'deadline' ? 'deadline-approved' : 'approved';
      return { gen, approved: decision.candidateIds.map((id) => gen.byId(id)), prompt, promptOf };
    }
    if (decision.action === 'reject') {
      review.outcome = 'rejected';
      run.status.candidates.selected = 0;
      return { gen, approved: [], rejection: { reviewer: entry.reviewer, reason: decision.reason, at: entry.at }, prompt, promptOf };
    }
    feedback.push(decision.feedback);
    kept = decision.keep ?? [];
    prompt = buildPrompt(brief, feedback, run.brand?.prompt);
    promptOf.set(prompt.version, prompt);
    run.status.promptVersion = prompt.version;
    run.enter('prompting');
    // Feedback becomes prompt text the generators receive: checked like the first version.
    await moderate(run, plan, prompt);
  }
}

/**
 * Shows the round to reviewers and waits for a decision, acting on the deadline policy each
 * time the deadline passes. Returns the decision as recorded in the audit trail.
 */
async function awaitDecision(
  run: BriefRun,
  plan: PreparedBrief,
  gen: Generation,
  at: { round: number; reviewable: string[]; top: string[]; prompt: BuiltPrompt },
): Promise<{ decision: ReviewDecision; entry: ReviewRecord & { via: ReviewChannel } }> {
  const { brief } = plan;
  const { round, reviewable, top, prompt } = at;
  const acts = activitiesFor(plan.settings);
  const deadlineMs = brief.review.deadline;
  const review: ReviewStatus & { deadlineAt: string } = {
    awaiting: true,
    round,
    maxRounds: brief.review.maxRounds,
    maxApprovals: brief.topK,
    deadlineAt: addMs(gen.lastJudgedAt, deadlineMs),
    onDeadline: brief.review.onDeadline,
    remindersSent: run.review?.remindersSent ?? 0,
    prompt: { version: prompt.version, text: prompt.text },
    candidates: gen.all.map((c) => {
      const j = gen.judgementOf.get(c.id);
      return {
        id: c.id, round: c.round, promptVersion: c.promptVersion, key: c.blob.key, width: c.blob.width, height: c.blob.height,
        score: j?.score, rank: j?.rank, reasons: j?.reasons ?? [], suggested: c.round === round && top.includes(c.id),
        ...(j?.verdict ? { verdict: j.verdict } : {}),
        ...(j?.product ? { product: j.product } : {}),
      };
    }),
    reviewable,
    decisions: run.decisions,
    ignoredSignals: run.ignoredSignals,
    ...(run.ignoredSignalsDropped > 0 ? { ignoredSignalsDropped: run.ignoredSignalsDropped } : {}),
  };
  run.review = review;
  run.status.review = review;
  run.status.candidates.selected = top.length;
  run.enter('review');
  upsertSearchAttributes([{ key: SA.awaitingReview, value: true }]);
  if (round === 1) await run.tellCatalog({ state: 'awaiting-review', costUsd: run.status.cost.actualUsd });
  const notify = (kind: 'awaiting' | 'reminder') => {
    // Fire and forget: a broken webhook must not hold up the review.
    void acts.notifyReviewers({ workflowId: run.workflowId, kind, subject: brief.subject, round, candidates: reviewable.length, deadlineAt: review.deadlineAt }).catch(() => undefined);
  };
  notify('awaiting');
  // Not awaited: the review starts now, whatever the events receiver does; emit records its own failure.
  void run.emit('brief.review_needed', {
    round, candidates: reviewable.length, deadlineAt: review.deadlineAt, costUsd: run.status.cost.actualUsd,
  }, round);
  while (!(await condition(() => run.pending.length > 0, deadlineMs))) {
    if (brief.review.onDeadline === 'remind') {
      review.remindersSent++;
      review.deadlineAt = addMs(review.deadlineAt, deadlineMs);
      notify('reminder');
    } else if (brief.review.onDeadline === 'approveTop') {
      run.pending.push({ decision: { action: 'approve', candidateIds: top, reviewer: 'darkroom', comment: `review deadline of ${formatDuration(deadlineMs)} passed: approved the judge's top ${top.length}` }, via: 'deadline' });
    } else {
      review.awaiting = false;
      review.outcome = 'deadline-failed';
      upsertSearchAttributes([{ key: SA.awaitingReview, value: false }]);
      throw ApplicationFailure.create({ message: `no review decision within ${formatDuration(deadlineMs)} (review.onDeadline is "fail")`, type: Failure.ReviewDeadlineExceeded, nonRetryable: true });
    }
  }
  review.awaiting = false;
  upsertSearchAttributes([{ key: SA.awaitingReview, value: false }]);
  const { decision, via } = run.pending.shift()!;
  const entry = await acts.recordReviewDecision({
    workflowId: run.workflowId,
    sequence: run.decisions.length + 1,
    // The judging's end is when the round went up for review: the activity measures the wait to its own clock.
    requestedAt: gen.lastJudgedAt,
    record: {
      action: decision.action, reviewer: decision.reviewer ?? 'unknown', round, via,
      ...(decision.action === 'approve' ? { candidateIds: decision.candidateIds, comment: decision.comment } : {}),
      ...(decision.action === 'reject' ? { reason: decision.reason } : {}),
      ...(decision.action === 'requestChanges' ? { feedback: decision.feedback, keep: decision.keep } : {}),
    },
  });
  run.decisions.push(entry);
  return { decision, entry: { ...entry, via } };
}
