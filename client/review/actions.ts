/**
 * What a reviewer can do, as plain functions over a Temporal {@link Client}: find the briefs
 * waiting for review, read one, decide, approve many at once. The reviewer web tool and the
 * `darkroom review`/`approve`/`reject`/`revise` commands both call these, so they find the same
 * briefs and report the same refusals.
 */
import {
  ServiceError, WorkflowFailedError, WorkflowNotFoundError, WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError, type Client,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ApproveDecision, ReviewDecision } from '../../domain/review';
import type { BriefStatus, Manifest, ReviewCandidate, ReviewStatus } from '../../domain/types';
import { clip, preview } from '../../domain/text';
import { AWAITING_REVIEW_QUERY, reviewUpdate, statusQuery, type ReviewAck } from '../../workflows/messages';
import { describeFailure } from '../briefs';

/** What the tool repeats of an error from elsewhere (Temporal, a worker, the workflow's validator): enough to act on, never a megabyte. */
const MAX_RELAYED = 1000;

/** A filter that cannot be part of a visibility query; says why in words a reviewer can act on. */
export class InvalidFilterError extends Error {
  override readonly name = 'InvalidFilterError';
  constructor(readonly filter: string, readonly reason: string) {
    super(`invalid filter ${preview(filter)}: ${reason}`);
  }
}

/** Temporal refused the visibility query (unknown attribute, bad syntax…); `message` is its own. */
export class VisibilityQueryError extends Error {
  override readonly name = 'VisibilityQueryError';
  constructor(readonly query: string, message: string, options?: { cause?: unknown }) {
    super(clip(message, MAX_RELAYED), options);
  }
}

/** The workflow refused a decision: `message` is the update validator's, meant for the reviewer. */
export class DecisionRefusedError extends Error {
  override readonly name = 'DecisionRefusedError';
  constructor(readonly workflowId: string, readonly decision: ReviewDecision, message: string, options?: { cause?: unknown }) {
    super(clip(message, MAX_RELAYED), options);
  }
}

/** No worker took the decision (or a query) in time: nothing was decided. */
export class NoWorkerError extends Error {
  override readonly name = 'NoWorkerError';
  constructor(readonly workflowId: string, what: string, options?: { cause?: unknown }) {
    super(`no worker answered ${what} for ${workflowId} in time: is a worker running on its task queue?`, options);
  }
}

const MAX_FILTER = 500;

/**
 * Checks an extra search-attribute clause before it is ANDed onto the awaiting-review query.
 * Catches what would change the query's meaning (`;`, unbalanced quotes or parentheses, a
 * dangling AND/OR, ORDER BY); Temporal judges everything else and its error is shown as is.
 * @returns the trimmed filter, or undefined for an empty one
 */
export function checkFilter(filter: string | undefined): string | undefined {
  const f = filter?.trim();
  if (!f) return undefined;
  const no = (reason: string): never => {
    throw new InvalidFilterError(f, reason);
  };
  if (f.length > MAX_FILTER) no(`at most ${MAX_FILTER} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(f)) no('control characters are not allowed');
  let quote: string | undefined;
  let depth = 0;
  let outside = '';
  for (const ch of f) {
    if (quote) {
      if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === "'" || ch === '"' || ch === '`') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth < 0) no('a ")" closes nothing');
    else if (ch === ';') no('";" is not allowed: write one search-attribute clause such as DarkroomCatalogId = \'spring\'');
    outside += quote ? ' ' : ch;
  }
  if (quote) no(`a ${quote} quote is not closed`);
  if (depth > 0) no('a "(" is not closed');
  if (/\border\s+by\b|\bgroup\s+by\b/i.test(outside)) no('ORDER BY and GROUP BY are not allowed in a filter');
  if (/^\s*(and|or)\b|\b(and|or|not)\s*$/i.test(outside)) no('it starts or ends with AND/OR/NOT');
  if (!/[=<>!]|\b(in|between|is|starts_with|like)\b/i.test(outside)) no("it compares nothing: write e.g. DarkroomCatalogId = 'spring' or DarkroomCostUsd < 1");
  return f;
}

/** The visibility query for briefs awaiting review, narrowed to one task queue and by a filter. */
export function awaitingQuery(filter?: string, taskQueue?: string): string {
  const f = checkFilter(filter);
  let q = AWAITING_REVIEW_QUERY;
  if (taskQueue) {
    if (/['"\\]/.test(taskQueue)) throw new InvalidFilterError(taskQueue, 'a task queue name may not contain quotes');
    q += ` AND TaskQueue = '${taskQueue}'`;
  }
  return f ? `${q} AND (${f})` : q;
}

/** Temporal's own words for a failed RPC (the gRPC details), without the SDK's wrapper text. */
export function temporalMessage(err: unknown): string {
  const e = err as { cause?: { details?: string; message?: string }; details?: string; message?: string };
  return e.cause?.details || e.details || e.cause?.message || e.message || String(err);
}

/** The latest round's candidates, best first. */
export function latestRoundCandidates(review: ReviewStatus): ReviewCandidate[] {
  return review.candidates
    .filter((c) => c.round === review.round)
    .sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity) || a.id.localeCompare(b.id));
}

/** Rank 1 of the latest round, when the judge scored it. */
export function topCandidate(review: ReviewStatus): ReviewCandidate | undefined {
  const [first] = latestRoundCandidates(review);
  return first && first.score !== undefined ? first : undefined;
}

/** The judge's suggestion for the latest round (its top K) that a decision may still name. */
export function suggestedCandidates(review: ReviewStatus): ReviewCandidate[] {
  return latestRoundCandidates(review)
    .filter((c) => c.suggested && review.reviewable.includes(c.id))
    .slice(0, review.maxApprovals);
}

/** A brief found waiting for review. */
export interface AwaitingBrief {
  workflowId: string;
  runId: string;
  startTime: string;
  taskQueue: string;
  /** Its `status`, unless the query failed (then `error` says why). */
  status?: BriefStatus;
  error?: string;
  /** Score of the latest round's rank-1 candidate. */
  topScore?: number;
}

export interface ListAwaitingOptions {
  /** Only briefs on this task queue. */
  taskQueue?: string;
  /** Stop after this many briefs. @default 200 */
  limit?: number;
  /** How long one `status` query may take. @default 5000 */
  queryTimeoutMs?: number;
}

/**
 * Briefs waiting for a reviewer: a visibility query for `DarkroomAwaitingReview = true`
 * (ANDed with `filter`), then each brief's `status`. Visibility trails the workflow by a moment,
 * so a brief whose status says it is no longer awaiting is left out.
 * @throws InvalidFilterError, VisibilityQueryError
 */
export async function listAwaiting(client: Client, filter?: string, opts: ListAwaitingOptions = {}): Promise<AwaitingBrief[]> {
  const query = awaitingQuery(filter, opts.taskQueue);
  const limit = opts.limit ?? 200;
  const found: AwaitingBrief[] = [];
  try {
    for await (const info of client.workflow.list({ query, pageSize: Math.min(limit, 100) })) {
      found.push({ workflowId: info.workflowId, runId: info.runId, startTime: info.startTime.toISOString(), taskQueue: info.taskQueue });
      if (found.length >= limit) break;
    }
  } catch (err) {
    if (err instanceof ServiceError) throw new VisibilityQueryError(query, temporalMessage(err), { cause: err });
    throw err;
  }
  await mapLimit(found, 8, async (b) => {
    try {
      b.status = await getStatus(client, b.workflowId, opts.queryTimeoutMs ?? 5000);
      if (b.status.review) b.topScore = topCandidate(b.status.review)?.score;
    } catch (err) {
      b.error = clip((err as Error).message, MAX_RELAYED);
    }
  });
  return found
    .filter((b) => !b.status || b.status.review?.awaiting !== false)
    .sort((a, b) => a.startTime.localeCompare(b.startTime));
}

/**
 * A brief's `status` query.
 * @throws WorkflowNotFoundError, NoWorkerError when no worker answers within `timeoutMs`
 */
export async function getStatus(client: Client, workflowId: string, timeoutMs = 5000): Promise<BriefStatus> {
  try {
    return await client.withDeadline(Date.now() + timeoutMs, () => client.workflow.getHandle(workflowId).query(statusQuery));
  } catch (err) {
    if (isDeadline(err)) throw new NoWorkerError(workflowId, 'the status query', { cause: err });
    throw err;
  }
}

/** Everything the brief page shows: Temporal's view of the run, the brief's status and, once done, its manifest. */
export interface BriefView {
  workflowId: string;
  runId: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, TERMINATED… */
  execution: string;
  startTime: string;
  closeTime?: string;
  status?: BriefStatus;
  /** Why `status` is missing (no worker answering…). */
  statusError?: string;
  /** The workflow's result, once it completed. */
  manifest?: Manifest;
  /** Why it failed, when it did. */
  failure?: string;
}

/**
 * Reads one brief for display. A running brief is queried; a finished one also yields its
 * manifest (from the workflow's result, which needs no worker).
 * @throws WorkflowNotFoundError
 */
export async function getBrief(client: Client, workflowId: string): Promise<BriefView> {
  const handle = client.workflow.getHandle(workflowId);
  const d = await handle.describe();
  const view: BriefView = {
    workflowId,
    runId: d.runId,
    execution: d.status.name,
    startTime: d.startTime.toISOString(),
    closeTime: d.closeTime?.toISOString(),
  };
  const running = d.status.name === 'RUNNING';
  const statusP = getStatus(client, workflowId, running ? 5000 : 2000).then(
    (s) => {
      view.status = s;
    },
    (err: unknown) => {
      view.statusError = clip((err as Error).message, MAX_RELAYED);
    },
  );
  const resultP = running
    ? Promise.resolve()
    : handle.result().then(
        (m) => {
          view.manifest = m as Manifest;
        },
        (err: unknown) => {
          view.failure = clip(err instanceof WorkflowFailedError ? describeFailure(err) : `${d.status.name.toLowerCase()}: ${(err as Error).message}`, 4 * MAX_RELAYED);
        },
      );
  await Promise.all([statusP, resultP]);
  return view;
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

function isDeadline(err: unknown): boolean {
  const code = (err as { code?: number; cause?: { code?: number } })?.code ?? (err as { cause?: { code?: number } })?.cause?.code;
  // gRPC DEADLINE_EXCEEDED (4) or CANCELLED (1)
  return code === 4 || code === 1;
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}
