/** Deciding: one decision through the workflow's validated `review` update, or many at once (bulk approve). */
import {
  WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError, type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ApproveDecision, ReviewDecision } from '../../domain/review';
import { clip } from '../../domain/text';
import { reviewUpdate, type ReviewAck } from '../../workflows/messages';
import { awaitingQuery } from './filter';
import { isDeadline, listAwaiting, MAX_RELAYED, NoWorkerError, suggestedCandidates } from './queries';

/** The workflow refused a decision: `message` is the update validator's, meant for the reviewer. */
export class DecisionRefusedError extends Error {
  override readonly name = 'DecisionRefusedError';
  constructor(readonly workflowId: string, readonly decision: ReviewDecision, message: string, options?: { cause?: unknown }) {
    super(clip(message, MAX_RELAYED), options);
  }
}

export interface DecideOptions {
  /** How long to wait for a worker to accept or refuse the decision. @default 30000 */
  timeoutMs?: number;
}

/**
 * Sends a decision through the validated `review` update and waits for the workflow's answer.
 * @throws DecisionRefusedError with the validator's message when the workflow refuses it;
 *   WorkflowNotFoundError; NoWorkerError when no worker answers in time
 */
export async function decide(client: Client, workflowId: string, decision: ReviewDecision, opts: DecideOptions = {}): Promise<ReviewAck> {
  const handle = client.workflow.getHandle(workflowId);
  try {
    return await client.withDeadline(Date.now() + (opts.timeoutMs ?? 30_000), () => handle.executeUpdate(reviewUpdate, { args: [decision] }));
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = err.cause;
      throw new DecisionRefusedError(workflowId, decision, cause instanceof ApplicationFailure || cause ? cause.message : err.message, { cause: err });
    }
    if (err instanceof WorkflowUpdateRPCTimeoutOrCancelledError || isDeadline(err)) throw new NoWorkerError(workflowId, 'the decision', { cause: err });
    if (err instanceof WorkflowNotFoundError && /complete|closed|finished/i.test(err.message)) {
      throw new DecisionRefusedError(workflowId, decision, 'this brief has already finished', { cause: err });
    }
    throw err;
  }
}

export interface BulkApproveInput {
  /** Extra search-attribute clause, ANDed onto the awaiting-review query. */
  filter?: string;
  /** Approve a brief when its latest round's rank-1 candidate scores at least this (0–100). */
  minScore: number;
  reviewer?: string;
  /** Report what would be approved without deciding anything. @default false */
  dryRun?: boolean;
  /** Only briefs on this task queue. */
  taskQueue?: string;
}

export interface BulkApproveItem {
  workflowId: string;
  subject?: string;
  round?: number;
  topScore?: number;
  /** `approved`, `would-approve` (dry run), or `skipped` with the reason. */
  result: 'approved' | 'would-approve' | 'skipped';
  candidateIds?: string[];
  reason?: string;
}

export interface BulkApproveResult {
  query: string;
  minScore: number;
  dryRun: boolean;
  approved: number;
  skipped: number;
  items: BulkApproveItem[];
}

/**
 * Approves, in every brief awaiting review whose best candidate of the latest round scores at
 * least `minScore`, the judge's suggestion (that round's top K). Each brief is decided on its
 * own: one refusal skips that brief and the rest go on.
 * @throws InvalidFilterError, VisibilityQueryError, RangeError for a bad minScore
 */
export async function bulkApprove(client: Client, input: BulkApproveInput): Promise<BulkApproveResult> {
  if (typeof input.minScore !== 'number' || !Number.isFinite(input.minScore) || input.minScore < 0 || input.minScore > 100) {
    throw new RangeError('minScore must be a number from 0 to 100');
  }
  const query = awaitingQuery(input.filter, input.taskQueue);
  const briefs = await listAwaiting(client, input.filter, { taskQueue: input.taskQueue });
  const items: BulkApproveItem[] = [];
  for (const b of briefs) {
    const review = b.status?.review;
    const item: BulkApproveItem = { workflowId: b.workflowId, subject: b.status?.subject, round: review?.round, topScore: b.topScore, result: 'skipped' };
    items.push(item);
    if (!review) {
      item.reason = b.error ?? 'no review status';
      continue;
    }
    if (b.topScore === undefined) {
      item.reason = `round ${review.round} has no judge score`;
      continue;
    }
    if (b.topScore < input.minScore) {
      item.reason = `top score ${fmtScore(b.topScore)} is below ${fmtScore(input.minScore)}`;
      continue;
    }
    const ids = suggestedCandidates(review).map((c) => c.id);
    if (ids.length === 0) {
      item.reason = `round ${review.round} has no suggested candidate left to approve`;
      continue;
    }
    item.candidateIds = ids;
    if (input.dryRun) {
      item.result = 'would-approve';
      continue;
    }
    const decision: ApproveDecision = {
      action: 'approve',
      candidateIds: ids,
      reviewer: input.reviewer,
      comment: `bulk approve: top score ${fmtScore(b.topScore)} ≥ ${fmtScore(input.minScore)}`,
    };
    try {
      await decide(client, b.workflowId, decision);
      item.result = 'approved';
    } catch (err) {
      if (!(err instanceof DecisionRefusedError || err instanceof NoWorkerError || err instanceof WorkflowNotFoundError)) throw err;
      item.reason = clip(err.message, MAX_RELAYED);
    }
  }
  return {
    query,
    minScore: input.minScore,
    dryRun: input.dryRun ?? false,
    approved: items.filter((i) => i.result !== 'skipped').length,
    skipped: items.filter((i) => i.result === 'skipped').length,
    items,
  };
}

const fmtScore = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(1));
