/**
 * Reading briefs for review: the ones waiting for a reviewer, one brief's status and view, and
 * the errors these report.
 */
import { ServiceError, WorkflowFailedError, type Client } from '@temporalio/client';
import type { BriefStatus, Manifest, ReviewCandidate, ReviewStatus } from '../../domain/types';
import { clip } from '../../domain/text';
import { statusQuery } from '../../workflows/messages';
import { describeFailure } from '../briefs';
import { awaitingQuery } from './filter';

/** What the tool repeats of an error from elsewhere (Temporal, a worker, the workflow's validator): enough to act on, never a megabyte. */
export const MAX_RELAYED = 1000;

/** Temporal refused the visibility query (unknown attribute, bad syntax…); `message` is its own. */
export class VisibilityQueryError extends Error {
  override readonly name = 'VisibilityQueryError';
  constructor(readonly query: string, message: string, options?: { cause?: unknown }) {
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

/** A gRPC DEADLINE_EXCEEDED (4) or CANCELLED (1): no worker answered in time. */
export function isDeadline(err: unknown): boolean {
  const code = (err as { code?: number; cause?: { code?: number } })?.code ?? (err as { cause?: { code?: number } })?.cause?.code;
  return code === 4 || code === 1;
}

async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}
