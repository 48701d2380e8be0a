import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ApproveDecision, RejectDecision, RequestChangesDecision, ReviewDecision } from '../domain/review';
import type { BriefStatus, CatalogStatus } from '../domain/types';

/** `status`: where a brief is, its progress counts, its cost so far and, under review, its candidates. */
export const statusQuery = defineQuery<BriefStatus>('status');

/** What the `review` update returns once the decision is accepted. */
export interface ReviewAck {
  accepted: true;
  action: ReviewDecision['action'];
  round: number;
}

/**
 * `review`: approve, reject or request changes. Validated before it is accepted, so a caller
 * learns at once (and nothing is written to history) when a decision cannot be taken.
 */
export const reviewUpdate = defineUpdate<ReviewAck, [ReviewDecision]>('review');

/** The same decisions as signals, for tools that can only signal (the Temporal UI, `temporal workflow signal`). */
export const approveSignal = defineSignal<[Omit<ApproveDecision, 'action'>]>('approve');
export const rejectSignal = defineSignal<[Omit<RejectDecision, 'action'>]>('reject');
export const requestChangesSignal = defineSignal<[Omit<RequestChangesDecision, 'action'>]>('requestChanges');

/**
 * `raiseBudget`: for a brief with human approval whose forecast is over its budget, the
 * budget it may spend instead. Refused unless the brief is waiting for one and the new
 * budget covers the forecast.
 */
export const raiseBudgetUpdate = defineUpdate<{ budgetUsd: number }, [{ budgetUsd: number; reviewer?: string }]>('raiseBudget');

/** A catalog row's news, sent by its brief workflow to the catalog (which may have continued as new since). */
export interface CatalogRowEvent {
  workflowId: string;
  state: 'awaiting-review' | 'done' | 'failed' | 'rejected';
  costUsd: number;
  reason?: string;
  /** Worker-clock time of the event, when the brief knows it. */
  at?: string;
}
export const catalogRowSignal = defineSignal<[CatalogRowEvent]>('catalogRow');

/** `status` of a catalog: totals by state, cost and forecast, pace and time left. */
export const catalogStatusQuery = defineQuery<CatalogStatus>('status');
/** Running rows finish; no new ones start until `resume`. */
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** Stops starting rows, cancels running ones, and writes the report with what was done. */
export const cancelCatalogSignal = defineSignal<[{ reason?: string }?]>('cancel');
/** Runs the failed rows again (their stored candidates are reused). */
export const retryFailedSignal = defineSignal('retryFailed');

/** Search attributes Darkroom keeps current (registered by `npm run server`). */
export const SA = {
  stage: defineSearchAttributeKey('DarkroomStage', SearchAttributeType.KEYWORD),
  channel: defineSearchAttributeKey('DarkroomChannel', SearchAttributeType.KEYWORD),
  catalogId: defineSearchAttributeKey('DarkroomCatalogId', SearchAttributeType.KEYWORD),
  costUsd: defineSearchAttributeKey('DarkroomCostUsd', SearchAttributeType.DOUBLE),
  awaitingReview: defineSearchAttributeKey('DarkroomAwaitingReview', SearchAttributeType.BOOL),
} as const;

/** The visibility query for briefs waiting for a reviewer. */
export const AWAITING_REVIEW_QUERY = `WorkflowType = 'briefWorkflow' AND DarkroomAwaitingReview = true AND ExecutionStatus = 'Running'`;

export const TASK_QUEUE = 'darkroom';
