import { ApplicationFailure, condition, upsertSearchAttributes, type ActivityFailure } from '@temporalio/workflow';
import type { BriefInput } from '../../domain/brief';
import { formatDuration } from '../../domain/duration';
import { Failure } from '../../domain/failures';
import { markUnreadable } from '../../domain/json';
import type { BuiltPrompt } from '../../domain/prompt';
import type { PreparedBrief } from '../../domain/types';
import { SA } from '../messages';
import { briefPatched, cheapStepsFor, failureType, prepareBriefStep } from './proxies';
import type { BriefRun } from './run';

/**
 * Validates the brief in the first activity (a brief started from the Temporal UI never passed
 * the CLI), and fills the run's status from what it learns: subject, channels, forecast.
 */
export async function validate(run: BriefRun, input: BriefInput): Promise<PreparedBrief> {
  upsertSearchAttributes([{ key: SA.stage, value: 'validating' }, { key: SA.awaitingReview, value: false }]);
  let plan: PreparedBrief;
  try {
    plan = await prepareBriefStep()({ raw: markUnreadable(input), workflowId: run.workflowId });
  } catch (err) {
    // Bad input fails the brief itself, with the fields named, not as an activity that gave up.
    const type = failureType(err);
    if (type === Failure.InvalidBrief || type === Failure.InvalidWorkflowId) {
      const cause = (err as ActivityFailure).cause as ApplicationFailure;
      throw ApplicationFailure.create({ message: cause.message, type, nonRetryable: true, details: cause.details ?? [] });
    }
    throw err;
  }
  run.record('validate', plan.timing);
  run.plan = plan;
  run.useBrand(plan);
  const { brief, forecast } = plan;
  const channelIds = plan.channels.map((c) => c.id);
  upsertSearchAttributes([{ key: SA.channel, value: channelIds[0]! }]);
  const { status } = run;
  status.cost = { forecastUsd: forecast.totalUsd, actualUsd: 0, budgetUsd: brief.budgetUsd };
  status.promptVersion = plan.prompt.version;
  status.promptScore = plan.promptScore.score;
  Object.assign(status, { subject: brief.subject, channels: channelIds, approval: brief.approval });
  run.reviewLimits = { maxApprovals: brief.topK, maxRounds: brief.review.maxRounds, nextRoundUsd: forecast.totalUsd, budgetUsd: brief.budgetUsd };
  return plan;
}

/**
 * The gates before any money is spent: the prompt's score, then the forecast against the
 * budget — which, for a brief a person approves, they may raise. Returns the budget in force.
 */
export async function passGates(run: BriefRun, plan: PreparedBrief): Promise<number> {
  const { brief, promptScore, forecast } = plan;
  run.enter('prompting');
  if (promptScore.score < brief.minPromptScore && !plan.route?.cheapOnly) {
    throw ApplicationFailure.create({
      message: `prompt scores ${promptScore.score}/8, below this brief's minimum of ${brief.minPromptScore}: missing ${promptScore.missing.join(', ')}. Set them in the brief (composition, lighting, camera, lens, styleHints, brandColors, mustAvoid) or lower minPromptScore.`,
      type: Failure.PromptScoreTooLow,
      nonRetryable: true,
      details: [promptScore],
    });
  }
  await moderate(run, plan, plan.prompt);
  if (plan.route) run.status.route = { model: plan.model, chain: plan.route.chain, reason: plan.route.reason, down: [] };
  let budgetUsd = brief.budgetUsd;
  if (forecast.totalUsd > budgetUsd && brief.approval === 'human') budgetUsd = await waitForBudget(run, plan);
  if (forecast.totalUsd > budgetUsd) {
    throw ApplicationFailure.create({
      message: `forecast cost $${forecast.totalUsd.toFixed(2)} for ${brief.candidates} candidates on ${plan.model} exceeds the budget of $${budgetUsd.toFixed(2)}: raise budgetUsd or lower candidates.`,
      type: Failure.OverBudget,
      nonRetryable: true,
      details: [forecast],
    });
  }
  return budgetUsd;
}

/** A person can raise the budget (`raiseBudget` update); the brief waits for them as it would for a review. */
async function waitForBudget(run: BriefRun, plan: PreparedBrief): Promise<number> {
  const { brief, forecast } = plan;
  run.status.awaitingBudget = { forecastUsd: forecast.totalUsd, budgetUsd: brief.budgetUsd };
  run.enter('budget');
  if (!(await condition(() => run.raisedBudgetUsd !== undefined, brief.review.deadline))) {
    throw ApplicationFailure.create({ message: `forecast cost $${forecast.totalUsd.toFixed(2)} exceeds the budget of $${brief.budgetUsd.toFixed(2)}, and nobody raised it within ${formatDuration(brief.review.deadline)}`, type: Failure.OverBudget, nonRetryable: true, details: [forecast] });
  }
  const budgetUsd = run.raisedBudgetUsd!;
  run.status.awaitingBudget = undefined;
  run.status.cost.budgetUsd = budgetUsd;
  if (run.reviewLimits) run.reviewLimits.budgetUsd = budgetUsd;
  return budgetUsd;
}

/**
 * The moderation gate, before any prompt version is paid for: a flagged prompt refuses the brief
 * (`PromptRefused`, not retried) naming the categories and the fields. Runs recorded before the
 * gate existed replay without it.
 */
export async function moderate(run: BriefRun, plan: PreparedBrief, prompt: BuiltPrompt): Promise<void> {
  if (!briefPatched('prompt-moderation')) return;
  const { brief } = plan;
  const checked = await cheapStepsFor(plan.settings).moderatePrompt({
    workflowId: run.workflowId,
    brief: { subject: brief.subject, mustInclude: brief.mustInclude, textInImage: brief.textInImage },
    prompt: { version: prompt.version, text: prompt.text, negative: prompt.negative },
  });
  run.record('moderate', checked.timing);
  const { timing: _timing, fields, ...record } = checked;
  run.moderation.push(record);
  if (checked.flagged) {
    const categories = checked.categories.length ? checked.categories.join(', ') : 'unspecified';
    throw ApplicationFailure.create({
      message: `prompt refused by moderation (${checked.checker}): ${categories} in ${fields.join(', ') || 'the prompt'}. Nothing was generated or paid for; change the brief's ${fields.filter((f) => f !== 'prompt').join(', ') || 'wording'} and start it again.`,
      type: Failure.PromptRefused,
      nonRetryable: true,
      details: [{ checker: checked.checker, categories: checked.categories, fields, promptVersion: prompt.version }],
    });
  }
}
