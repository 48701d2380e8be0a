import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import {
  ActivityFailure, ApplicationFailure, condition, continueAsNew, getExternalWorkflowHandle, ParentClosePolicy, proxyActivities,
  patched, setHandler, startChild, upsertSearchAttributes, workflowInfo, allHandlersFinished, CancellationScope,
} from '@temporalio/workflow';
import type { CatalogActivities } from '../../activities/catalog';
import { catalogInputIssues, runLimits, type CatalogInput } from '../../domain/catalog-input';
import {
  cancelledCounts, cancelReason, carryOver, catalogStatus, checkRowEvent, completionText, freshProgress, inFlight, mayStartRow, nextBatch, planned,
  retryFailed, reviewNoticeDue, reviewNoticeText, roundUsd, rowSettled, rowStarted, setPaused, takeNext,
  type CatalogPhase, type CatalogPlan, type CatalogProgress, type CatalogResult, type PlannedRun, type RowEvent, type RowResult,
} from '../../domain/catalog-state';
import { catalogPriority } from '../../domain/fairness';
import { Failure } from '../../domain/failures';
import { recordIgnoredSignal, type IgnoredSignal } from '../../domain/review';
import { briefDetails, briefSummary } from '../../domain/webhooks';
import { briefWorkflow } from '../brief';
import type { catalogWorkflow } from '../catalog';
import { cancelCatalogSignal, catalogRowSignal, catalogStatusQuery, pauseSignal, resumeSignal, retryFailedSignal, SA } from '../messages';

const CATALOG_RETRY = { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: [Failure.InvalidCatalog] };
/**
 * Whole-feed and whole-catalog steps may take minutes; they heartbeat, so a worker that dies
 * holding one is noticed within {@link CATALOG_HEARTBEAT} and the step retried, rather than the
 * catalog waiting out the ten minutes.
 */
const CATALOG_HEARTBEAT = '30 seconds';
const acts = proxyActivities<CatalogActivities>({ startToCloseTimeout: '10 minutes', heartbeatTimeout: CATALOG_HEARTBEAT, retry: CATALOG_RETRY });
/**
 * Page-sized steps (read a page of the plan, save a batch of results) take well under a second,
 * and the whole catalog waits on them: an attempt lost on its way to a worker, or a worker that
 * died holding one, is retried after a minute rather than the ten a whole-feed step may need
 * (bench:catalog saw a lost readPlanPage hold a 1,000-row catalog up for ten minutes).
 */
const pageActs = proxyActivities<CatalogActivities>({ startToCloseTimeout: '1 minute', retry: CATALOG_RETRY });

/** Plan runs read per page, and row results saved per batch. */
const PAGE = 25;

/**
 * Input from the Temporal UI or `temporal workflow start` was never checked: a bad one fails
 * the run here, naming each field, rather than failing the workflow task on every retry.
 */
export function refuseBadInput(input: CatalogInput): void {
  const issues = catalogInputIssues(input);
  if (issues.length === 0) return;
  throw ApplicationFailure.create({
    message: `invalid catalog input: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`,
    type: Failure.InvalidCatalog,
    nonRetryable: true,
    details: [issues],
  });
}

/** A feed that cannot run fails the catalog itself with that reason, as a bad input does. */
export function asCatalogFailure(err: unknown): unknown {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === Failure.InvalidCatalog) {
    return ApplicationFailure.create({ message: err.cause.message, type: Failure.InvalidCatalog, nonRetryable: true, details: err.cause.details ?? [] });
  }
  return err;
}

/** The plan's runs by index, read a page at a time from the blob store. */
export function planPages(plan: CatalogPlan): (index: number) => Promise<PlannedRun> {
  let page: PlannedRun[] = [];
  let pageStart = -1;
  return async (index) => {
    if (index < pageStart || index >= pageStart + page.length) {
      page = await pageActs.readPlanPage({ planKey: plan.planKey, offset: index, limit: PAGE });
      pageStart = index;
    }
    const run = page[index - pageStart];
    if (!run) throw new Error(`plan ${plan.planKey} has no run ${index}`);
    return run;
  };
}

/** The reason a failed row gives: its cause's (a child's failure wraps the brief's), else its own. */
const failureReason = (err: Error): string => (err.cause instanceof Error ? err.cause.message : err.message);

/** One run of a catalog: its progress, what the `status` query shows, and the messages that change them. */
export class CatalogRun {
  readonly catalogId: string;
  /** Set once planned (or carried over): no row runs before it. */
  plan?: CatalogPlan;
  progress: CatalogProgress;
  private phase: CatalogPhase;
  cancelled = false;
  private cancelReason = '';
  /** Row results not saved yet. */
  private readonly unsaved: RowResult[];
  private readonly limits: ReturnType<typeof runLimits>;
  private startedThisRun = 0;
  /** Rows this run started: their results reach it directly. */
  private readonly startedHere = new Set<string>();
  /** Counts the messages that may let the loop move on. */
  private changed = 0;
  /** Row events this run refused (bounded), shown by the `status` query. */
  private readonly ignoredSignals: IgnoredSignal[] = [];
  private ignoredSignalsDropped = 0;

  constructor(private readonly input: CatalogInput) {
    this.catalogId = input.catalogId;
    this.limits = runLimits(input);
    if (input.carry) {
      const { plan, unsaved, ...progress } = input.carry;
      this.plan = plan;
      this.progress = progress;
      this.unsaved = [...(unsaved ?? [])];
      this.phase = 'running';
    } else {
      this.progress = freshProgress();
      this.unsaved = [];
      this.phase = 'planning';
    }
    setHandler(catalogStatusQuery, () => ({
      ...catalogStatus({ catalogId: this.catalogId, phase: this.phase, progress: this.progress, plan: this.plan, budgetUsd: input.budgetUsd }),
      ...(this.ignoredSignals.length ? { ignoredSignals: this.ignoredSignals, ignoredSignalsDropped: this.ignoredSignalsDropped } : {}),
    }));
    setHandler(pauseSignal, () => this.update(setPaused(this.progress, true)));
    setHandler(resumeSignal, () => this.update(setPaused(this.progress, false)));
    // Signals cannot answer back: anything may arrive, so each is checked before it counts.
    setHandler(cancelCatalogSignal, (arg: unknown) => this.cancel(cancelReason(arg)));
    setHandler(retryFailedSignal, () => this.update(retryFailed(this.progress)));
    setHandler(catalogRowSignal, (raw: unknown) => {
      const r = checkRowEvent(raw);
      if (r.ok) this.settle(r.event);
      else this.ignoredSignalsDropped += recordIgnoredSignal(this.ignoredSignals, { signal: 'catalogRow', reason: r.reason, round: this.progress.runs + 1, payload: raw }).dropped;
    });
  }

  private update(progress: CatalogProgress): void {
    this.progress = progress;
    this.changed++;
  }

  cancel(reason: string): void {
    this.cancelled = true;
    this.cancelReason = reason;
    this.changed++;
  }

  /** A row's news, from its own signal or (same run only) its result: the first one counts. */
  private settle(ev: RowEvent): void {
    if (!this.plan) return;
    const { progress, result } = rowSettled(this.progress, ev, this.plan.startedAt);
    this.progress = progress;
    if (!result) return;
    this.unsaved.push(result);
    this.changed++;
  }

  async makePlan(): Promise<CatalogPlan> {
    const { catalogId, feedKey, template } = this.input;
    upsertSearchAttributes([{ key: SA.catalogId, value: catalogId }, { key: SA.stage, value: 'planning' }]);
    const plan = await acts.planCatalog({ catalogId, feedKey, template });
    this.plan = plan;
    this.progress = planned(this.progress, plan);
    this.phase = 'running';
    upsertSearchAttributes([{ key: SA.stage, value: 'running' }]);
    return plan;
  }

  hasRoom(plan: CatalogPlan): boolean {
    const { window, rowsPerRun } = this.limits;
    return mayStartRow(this.progress, plan, { window, rowsPerRun, startedThisRun: this.startedThisRun, budgetUsd: this.input.budgetUsd, cancelled: this.cancelled });
  }

  nextIndex(): number {
    const { progress, index } = takeNext(this.progress);
    this.progress = progress;
    return index;
  }

  async startRow(index: number, run: PlannedRun): Promise<void> {
    if (run.shipped) return;
    this.progress = rowStarted(this.progress, index, run);
    this.startedThisRun++;
    this.startedHere.add(run.workflowId);
    let child;
    try {
      child = await startChild(briefWorkflow, {
        workflowId: run.workflowId,
        args: [run.brief],
        // Rows outlive the run that started them: the catalog continues as new around them.
        parentClosePolicy: ParentClosePolicy.ABANDON,
        // The Temporal UI's summary and details for the row, as the CLI gives a brief it starts.
        ...(patched('catalog-child-summary') ? { staticSummary: briefSummary(run.brief), staticDetails: briefDetails(run.brief) } : {}),
        typedSearchAttributes: [
          { key: SA.catalogId, value: this.catalogId },
          { key: SA.stage, value: 'validating' },
          { key: SA.channel, value: run.brief.channels[0]! },
          { key: SA.awaitingReview, value: false },
        ],
        // Rows and their activities share the workers fairly with other catalogs' rows (the
        // activities inherit it). Rows started before this existed carried no fairness key.
        ...(patched('catalog-fairness') ? { priority: catalogPriority(this.input) } : {}),
      });
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      // The row's brief is still running (a row event said it ended when it had not): it stays
      // in flight, and its own signal, or the check on silent rows, says how it ends.
      this.startedHere.delete(run.workflowId);
      return;
    }
    // Backup for rows that end without signalling (terminated, timed out): their result.
    child.result().then(
      (m) => this.settle({ workflowId: run.workflowId, state: m.outcome === 'rejected' ? 'rejected' : 'done', costUsd: m.cost.actualUsd, at: m.publishedAt }),
      (err: Error) => this.settle({ workflowId: run.workflowId, state: 'failed', costUsd: 0, reason: failureReason(err) }),
    );
  }

  async tellReviewersOnce(): Promise<void> {
    if (!reviewNoticeDue(this.progress)) return;
    this.progress = { ...this.progress, reviewNotified: true };
    const { counts } = this.progress;
    await acts.notifyCatalog({ catalogId: this.catalogId, event: 'awaiting-review', counts, text: reviewNoticeText(this.catalogId, counts) }).catch(() => undefined);
  }

  async saveIfPageFull(): Promise<void> {
    if (this.unsaved.length >= PAGE) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.unsaved.length === 0) return;
    const rows = this.unsaved.splice(0);
    const { progress, batch } = nextBatch(this.progress);
    this.progress = progress;
    await pageActs.saveRowResults({ catalogId: this.catalogId, batch, rows, counts: progress.counts });
  }

  idle(): boolean {
    return inFlight(this.progress).length === 0;
  }

  /** Running rows are asked to stop; each reports back as failed (cancelled). */
  async cancelRows(): Promise<void> {
    this.phase = 'cancelling';
    for (const id of inFlight(this.progress)) await getExternalWorkflowHandle(id).cancel().catch(() => undefined);
    await condition(() => this.idle(), '5 minutes');
  }

  dueToContinue(): boolean {
    return this.startedThisRun >= this.limits.rowsPerRun || workflowInfo().continueAsNewSuggested;
  }

  async continueAsNew(plan: CatalogPlan): Promise<never> {
    await condition(allHandlersFinished);
    await this.flush();
    // Rows may have reported while that save ran: they travel with the carry.
    return continueAsNew<typeof catalogWorkflow>({ ...this.input, carry: carryOver(this.progress, plan, this.unsaved.splice(0)) });
  }

  /** Until a message changes something, or (when quiet for a while) a check on silent rows. */
  async waitForNews(): Promise<void> {
    const seen = this.changed;
    // Catalogs started before reconciliation existed wait without a timer, as they did then.
    const woke = patched('catalog-reconcile')
      ? await condition(() => this.changed !== seen, this.limits.reconcileEveryMs)
      : await condition(() => this.changed !== seen).then(() => true);
    if (!woke) await this.reconcile();
  }

  /** Rows started by earlier runs may have ended without a word (terminated rows cannot signal). */
  private async reconcile(): Promise<void> {
    const silent = inFlight(this.progress).filter((id) => !this.startedHere.has(id));
    if (silent.length === 0) return;
    for (const row of await acts.describeRows({ workflowIds: silent })) {
      if (row.closed && row.state) this.settle({ workflowId: row.workflowId, state: row.state, costUsd: row.costUsd, reason: row.reason });
    }
  }

  async report(plan: CatalogPlan): Promise<CatalogResult> {
    this.phase = 'reporting';
    await this.flush();
    if (this.cancelled) this.progress = cancelledCounts(this.progress);
    const outcome = this.cancelled ? 'cancelled' : 'completed';
    const { reportKey } = await this.writeReport(plan, outcome);
    const text = completionText(this.catalogId, outcome, this.cancelReason, this.progress, reportKey);
    await acts.notifyCatalog({ catalogId: this.catalogId, event: 'completed', counts: this.progress.counts, text }).catch(() => undefined);
    this.phase = this.cancelled ? 'cancelled' : 'done';
    upsertSearchAttributes([{ key: SA.stage, value: this.phase }, { key: SA.costUsd, value: roundUsd(this.progress.costUsd) }]);
    return this.result(reportKey, outcome);
  }

  /** The report after a cancellation from Temporal itself, which this scope is shielded from. */
  reportCancelled(plan: CatalogPlan): Promise<CatalogResult> {
    return CancellationScope.nonCancellable(async () => {
      await this.flush();
      const { reportKey } = await this.writeReport(plan, 'cancelled');
      this.phase = 'cancelled';
      return this.result(reportKey, 'cancelled');
    });
  }

  private writeReport(plan: CatalogPlan, outcome: CatalogResult['outcome']) {
    const { counts, costUsd, runs } = this.progress;
    return acts.writeCatalogReport({
      catalogId: this.catalogId, workflowId: workflowInfo().workflowId, plan, counts, costUsd: roundUsd(costUsd), outcome, finishedRuns: runs + 1,
    });
  }

  private result(reportKey: string, outcome: CatalogResult['outcome']): CatalogResult {
    return { reportKey, counts: this.progress.counts, costUsd: roundUsd(this.progress.costUsd), outcome };
  }
}
