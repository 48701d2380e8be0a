/**
 * A catalog's bookkeeping as pure functions: each takes what the catalog knows and returns
 * what it knows next. The workflow owns the loop and the Temporal calls; these own the
 * counters, so they can be read, and tested, without a server.
 */
import type { FeedRun } from './feed';
import { isObject, unreadableReason } from './json';
import { MAX_RAISED_BUDGET_USD } from './review';
import { clip, terminalSafe } from './text';
import type { CatalogStatus } from './types';

/** Every state a row's result may record. */
export const ROW_STATES = ['done', 'failed', 'rejected', 'awaiting-review', 'skipped', 'cancelled'] as const;
export type RowState = (typeof ROW_STATES)[number];

/** What the catalog learned about one row; flushed to the blob store in batches. */
export interface RowResult {
  index: number;
  workflowId: string;
  sku: string;
  state: RowState;
  reason?: string;
  costUsd: number;
  at: string;
}

/** One row of the stored plan. */
export interface PlannedRun extends FeedRun {
  index: number;
  /** Shipped before with the same brief hash (a scheduled rerun): not run again. */
  shipped: boolean;
}

/** The feed turned into runs, stored as `planKey`; made once, by the catalog's first run. */
export interface CatalogPlan {
  planKey: string;
  total: number;
  invalidRows: number;
  duplicates: number;
  shipped: number;
  forecastUsd: number;
  startedAt: string;
}

export type CatalogCounts = CatalogStatus['counts'];

/** A row started and not finished yet. */
export interface RowInFlight {
  index: number;
  sku: string;
  state: 'running' | 'awaiting-review';
}

/** A row's news, from its own signal, its result, or Temporal's word on it. */
export interface RowEvent {
  workflowId: string;
  state: 'awaiting-review' | 'done' | 'failed' | 'rejected';
  costUsd: number;
  reason?: string;
  /** Worker-clock time of the event, when known. */
  at?: string;
}

const ROW_EVENT_STATES: readonly RowEvent['state'][] = ['awaiting-review', 'done', 'failed', 'rejected'];
/** A row's reason is shown in the report and the status; longer ones are cut. */
const MAX_ROW_REASON = 500;

/** A worker-clock time as rows and plans record it: an ISO date-time, in a bounded string. */
export function isDateTime(v: unknown): v is string {
  return typeof v === 'string' && v.length <= 40 && !Number.isNaN(Date.parse(v));
}

/**
 * A `catalogRow` signal as the catalog may take it, or why not. Briefs send these, but anyone
 * with access to Temporal can send one (`temporal workflow signal`), so the catalog checks it
 * like any other input: a bad one is recorded and ignored, never let into the counts.
 */
export function checkRowEvent(raw: unknown): { ok: true; event: RowEvent } | { ok: false; reason: string } {
  const no = (reason: string) => ({ ok: false as const, reason });
  const unreadable = unreadableReason(raw);
  if (unreadable) return no(`the row event could not be read: ${unreadable}`);
  if (!isObject(raw)) return no('a row event must be an object such as {"workflowId":"catalog-spring/SKU-1","state":"done","costUsd":0.04}');
  const { workflowId, state, costUsd, reason, at } = raw;
  if (typeof workflowId !== 'string' || workflowId.length === 0 || workflowId.length > 1000) return no('workflowId must be the row\'s workflow id');
  if (typeof state !== 'string' || !(ROW_EVENT_STATES as readonly string[]).includes(state)) return no(`state must be one of ${ROW_EVENT_STATES.join(', ')}`);
  if (typeof costUsd !== 'number' || !Number.isFinite(costUsd) || costUsd < 0 || costUsd > MAX_RAISED_BUDGET_USD) return no(`costUsd must be a number of dollars from 0 to ${MAX_RAISED_BUDGET_USD}`);
  if (reason !== undefined && typeof reason !== 'string') return no('reason must be text');
  if (at !== undefined && !isDateTime(at)) return no('at must be an ISO date-time');
  const event: RowEvent = { workflowId, state: state as RowEvent['state'], costUsd };
  if (reason !== undefined) event.reason = clip(reason, MAX_ROW_REASON);
  if (at !== undefined) event.at = at;
  return { ok: true, event };
}

/** The reason a `cancel` signal gives, as the report and the notice show it: one bounded line. */
export function cancelReason(raw: unknown): string {
  const reason = isObject(raw) && typeof raw.reason === 'string' ? terminalSafe(raw.reason, { singleLine: true }).trim() : '';
  return reason ? clip(reason, MAX_ROW_REASON) : 'cancelled';
}

/** Everything a catalog counts. */
export interface CatalogProgress {
  /** The next plan index to start. */
  cursor: number;
  counts: CatalogCounts;
  costUsd: number;
  /** Rows in flight by workflow id, whichever run started them. */
  running: Record<string, RowInFlight>;
  /** Plan indexes of failed rows, for `retryFailed`. */
  failed: number[];
  /** Failed rows to start again before the cursor moves on. */
  retryQueue: number[];
  /** The one record of whether the catalog is paused. */
  paused: boolean;
  /** Runs before this one (continues as new so far). */
  runs: number;
  /** Result batches saved so far: names the next one. */
  batches: number;
  /** Latest worker-clock time a row reported. */
  lastAt?: string;
  reviewNotified: boolean;
}

/** Only the plan, a cursor, counters and the rows still in flight travel from run to run. */
export interface CatalogCarry extends CatalogProgress {
  plan: CatalogPlan;
  /** Row results that arrived while the last run was saving: saved by the next run. */
  unsaved?: RowResult[];
}

/** Where the workflow is; `paused` is not one of these, it is {@link CatalogProgress.paused}. */
export type CatalogPhase = Exclude<CatalogStatus['state'], 'paused'>;

/** What a catalog returns when it ends. */
export interface CatalogResult {
  reportKey: string;
  counts: CatalogCounts;
  costUsd: number;
  outcome: 'completed' | 'cancelled';
}

export const roundUsd = (v: number): number => Math.round(v * 1e6) / 1e6;

export function freshProgress(): CatalogProgress {
  return {
    cursor: 0,
    counts: { pending: 0, running: 0, awaitingReview: 0, done: 0, failed: 0, rejected: 0, skipped: 0 },
    costUsd: 0,
    running: {},
    failed: [],
    retryQueue: [],
    paused: false,
    runs: 0,
    batches: 0,
    reviewNotified: false,
  };
}

/** Every run is pending but those shipped before, which are skipped. */
export function planned(p: CatalogProgress, plan: CatalogPlan): CatalogProgress {
  return { ...p, counts: { ...p.counts, pending: plan.total - plan.shipped, skipped: plan.shipped } };
}

export function setPaused(p: CatalogProgress, paused: boolean): CatalogProgress {
  return { ...p, paused };
}

/** Failed rows go back to pending, ahead of the cursor. */
export function retryFailed(p: CatalogProgress): CatalogProgress {
  const n = p.failed.length;
  return { ...p, retryQueue: [...p.retryQueue, ...p.failed], failed: [], counts: { ...p.counts, pending: p.counts.pending + n, failed: p.counts.failed - n } };
}

/** The plan index to start next (a retried row first, then the cursor), and the progress past it. */
export function takeNext(p: CatalogProgress): { progress: CatalogProgress; index: number } {
  const [retry, ...rest] = p.retryQueue;
  if (retry !== undefined) return { progress: { ...p, retryQueue: rest }, index: retry };
  return { progress: { ...p, cursor: p.cursor + 1 }, index: p.cursor };
}

export function rowStarted(p: CatalogProgress, index: number, run: { workflowId: string; sku: string }): CatalogProgress {
  return {
    ...p,
    counts: { ...p.counts, pending: p.counts.pending - 1, running: p.counts.running + 1 },
    running: { ...p.running, [run.workflowId]: { index, sku: run.sku, state: 'running' } },
  };
}

/**
 * A row's news: the first word of each kind counts, later ones (and news of rows not in
 * flight) change nothing but the clock. `result` is what to save, when something changed.
 * `startedAt` (the plan's) dates a result nothing else dates.
 */
export function rowSettled(p: CatalogProgress, ev: RowEvent, startedAt: string): { progress: CatalogProgress; result?: RowResult } {
  const row = p.running[ev.workflowId];
  if (!row) return { progress: p };
  const lastAt = ev.at && ev.at > (p.lastAt ?? '') ? ev.at : p.lastAt;
  const clocked: CatalogProgress = lastAt === undefined ? p : { ...p, lastAt };
  const counts = { ...p.counts };
  const running = { ...p.running };
  let { costUsd, failed } = p;
  if (ev.state === 'awaiting-review') {
    if (row.state === 'awaiting-review') return { progress: clocked };
    running[ev.workflowId] = { ...row, state: 'awaiting-review' };
    counts.running--;
    counts.awaitingReview++;
  } else {
    if (row.state === 'awaiting-review') counts.awaitingReview--;
    else counts.running--;
    delete running[ev.workflowId];
    // Whatever else a row says it ended as counts as failed.
    const ended = ev.state === 'done' || ev.state === 'rejected' ? ev.state : 'failed';
    counts[ended]++;
    costUsd += ev.costUsd;
    if (ended === 'failed') failed = [...failed, row.index];
  }
  const result: RowResult = { index: row.index, workflowId: ev.workflowId, sku: row.sku, state: ev.state, reason: ev.reason, costUsd: ev.costUsd, at: ev.at ?? lastAt ?? startedAt };
  return { progress: { ...clocked, counts, running, costUsd, failed }, result };
}

/** Cost of a finished row so far, or the plan's forecast per run before any has finished. */
export function averageRowUsd(p: CatalogProgress, plan: CatalogPlan): number {
  const finished = p.counts.done + p.counts.failed + p.counts.rejected;
  return finished > 0 ? p.costUsd / finished : plan.total > 0 ? plan.forecastUsd / plan.total : 0;
}

/** Whether one more row (on top of those running, at the average cost) could pass the budget. */
export function wouldPassBudget(p: CatalogProgress, plan: CatalogPlan, budgetUsd: number | undefined): boolean {
  return budgetUsd !== undefined && p.costUsd + (p.counts.running + 1) * averageRowUsd(p, plan) > budgetUsd + 1e-9;
}

/** Why the catalog stops short, when nothing is running, rows are left, and the next one would pass the budget. */
export function budgetStop(p: CatalogProgress, plan: CatalogPlan, budgetUsd: number | undefined): string | undefined {
  if (budgetUsd === undefined || p.counts.running > 0 || allStarted(p, plan) || !wouldPassBudget(p, plan, budgetUsd)) return undefined;
  return `catalog budget of $${budgetUsd.toFixed(2)} reached`;
}

/** Every run of the plan (and every retry) has been started. */
export function allStarted(p: CatalogProgress, plan: CatalogPlan): boolean {
  return p.retryQueue.length === 0 && p.cursor >= plan.total;
}

export function inFlight(p: CatalogProgress): string[] {
  return Object.keys(p.running);
}

/** Limits on starting rows that are the run's, not the progress's. */
export interface StartLimits {
  window: number;
  rowsPerRun: number;
  startedThisRun: number;
  budgetUsd?: number;
  cancelled: boolean;
}

/** Whether the window has room for another row now. */
export function mayStartRow(p: CatalogProgress, plan: CatalogPlan, l: StartLimits): boolean {
  return !l.cancelled && !p.paused && p.counts.running < l.window && l.startedThisRun < l.rowsPerRun
    && !allStarted(p, plan) && !wouldPassBudget(p, plan, l.budgetUsd);
}

/** The name of the next result batch (`00001`, …). */
export function nextBatch(p: CatalogProgress): { progress: CatalogProgress; batch: string } {
  const batches = p.batches + 1;
  return { progress: { ...p, batches }, batch: String(batches).padStart(5, '0') };
}

/** Reviewers hear once per run chain that rows are waiting for them. */
export function reviewNoticeDue(p: CatalogProgress): boolean {
  return p.counts.awaitingReview > 0 && !p.reviewNotified;
}

/** What the next run starts from. */
export function carryOver(p: CatalogProgress, plan: CatalogPlan, unsaved: RowResult[]): CatalogCarry {
  return { ...p, plan, runs: p.runs + 1, unsaved };
}

/** A cancelled catalog starts nothing more: no row is pending. */
export function cancelledCounts(p: CatalogProgress): CatalogProgress {
  return { ...p, counts: { ...p.counts, pending: 0 } };
}

/** The `status` query's answer. */
export function catalogStatus(s: { catalogId: string; phase: CatalogPhase; progress: CatalogProgress; plan?: CatalogPlan; budgetUsd?: number }): CatalogStatus {
  const { counts, costUsd, lastAt } = s.progress;
  const finished = counts.done + counts.failed + counts.rejected;
  const remaining = counts.pending + counts.running + counts.awaitingReview;
  const hours = lastAt && s.plan ? (Date.parse(lastAt) - Date.parse(s.plan.startedAt)) / 3_600_000 : 0;
  const rowsPerHour = hours > 0 ? Math.round((finished / hours) * 10) / 10 : 0;
  const avg = finished > 0 ? costUsd / finished : 0;
  return {
    catalogId: s.catalogId,
    state: s.phase === 'running' && s.progress.paused ? 'paused' : s.phase,
    total: s.plan?.total ?? 0, invalidRows: s.plan?.invalidRows ?? 0, duplicates: s.plan?.duplicates ?? 0,
    counts: { ...counts }, costUsd: roundUsd(costUsd),
    forecastUsd: roundUsd(finished > 0 ? costUsd + avg * remaining : (s.plan?.forecastUsd ?? 0)),
    budgetUsd: s.budgetUsd, rowsPerHour,
    etaSeconds: rowsPerHour > 0 ? Math.round((remaining / rowsPerHour) * 3600) : undefined,
    runs: s.progress.runs,
  };
}

export const reviewNoticeText = (catalogId: string, counts: CatalogCounts): string =>
  `Darkroom catalog ${catalogId}: rows are waiting for review (${counts.awaitingReview} so far).`;

export function completionText(catalogId: string, outcome: CatalogResult['outcome'], cancelReason: string, p: CatalogProgress, reportKey: string): string {
  const { counts } = p;
  return `Darkroom catalog ${catalogId} ${outcome}${outcome === 'cancelled' ? ` (${cancelReason})` : ''}: ${counts.done} done, ${counts.failed} failed, ${counts.rejected} rejected, ${counts.skipped} skipped; $${p.costUsd.toFixed(2)}. Report: ${reportKey}`;
}
