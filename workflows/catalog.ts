import {
  ActivityFailure, ApplicationFailure, condition, continueAsNew, getExternalWorkflowHandle, isCancellation, ParentClosePolicy, proxyActivities,
  patched, setHandler, startChild, upsertSearchAttributes, workflowInfo, allHandlersFinished, CancellationScope,
} from '@temporalio/workflow';
import { catalogInputIssues } from '../domain/catalog-input';
import { Failure } from '../domain/failures';
import type { CatalogStatus } from '../domain/types';
import type { CatalogActivities, CatalogPlan, PlannedRun, RowResult, RowState } from '../activities/catalog';
import { briefWorkflow } from './brief';
import {
  cancelCatalogSignal, catalogRowSignal, catalogStatusQuery, pauseSignal, resumeSignal, retryFailedSignal, SA, type CatalogRowEvent,
} from './messages';

const acts = proxyActivities<CatalogActivities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', maximumAttempts: 10, nonRetryableErrorTypes: [Failure.InvalidCatalog] },
});

/** A catalog job: one brief workflow per feed row (and A/B variant). */
export interface CatalogInput {
  catalogId: string;
  /** Blob key of the feed (CSV or JSON lines), stored by `darkroom catalog start`. */
  feedKey: string;
  /** The brief template, with `{column}` placeholders (and optional `variants`). */
  template: unknown;
  /** Rows running at once. @default 8 */
  window?: number;
  /** Spend cap across all rows; rows that would pass it are not started. */
  budgetUsd?: number;
  /** Rows started per run before continuing as new (Temporal may suggest it sooner). @default 400 */
  rowsPerRun?: number;
  /** How often an idle catalog asks Temporal about rows it has not heard from (terminated rows cannot signal). @default 5 minutes */
  reconcileEveryMs?: number;
  /** Internal: what a continued run carries over. Never set this when starting a catalog. */
  carry?: CatalogCarry;
}

/** Only a cursor, counters and the rows still in flight travel from run to run. */
interface CatalogCarry {
  plan: CatalogPlan;
  cursor: number;
  counts: CatalogStatus['counts'];
  costUsd: number;
  /** Children started by earlier runs and not finished yet. */
  running: Record<string, { index: number; sku: string; state: 'running' | 'awaiting-review' }>;
  failed: number[];
  retryQueue: number[];
  paused: boolean;
  runs: number;
  batches: number;
  lastAt?: string;
  reviewNotified: boolean;
  /** Row results that arrived while the last run was saving: saved by the next run. */
  unsaved?: RowResult[];
}

const PAGE = 25;

/**
 * Runs a product feed as one brief per row in a sliding window, for as long as it takes:
 * the feed stays in the blob store and is read in pages, rows report back by signal, and the
 * workflow continues as new with only a cursor and counters, so any number of rows fits.
 */
export async function catalogWorkflow(input: CatalogInput): Promise<{ reportKey: string; counts: CatalogStatus['counts']; costUsd: number; outcome: 'completed' | 'cancelled' }> {
  // Input from the Temporal UI or `temporal workflow start` was never checked: a bad one fails
  // the run here, naming each field, rather than failing the workflow task on every retry.
  const issues = catalogInputIssues(input);
  if (issues.length > 0) {
    throw ApplicationFailure.create({
      message: `invalid catalog input: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`,
      type: Failure.InvalidCatalog,
      nonRetryable: true,
      details: [issues],
    });
  }
  const { catalogId } = input;
  const window = Math.max(1, Math.min(input.window ?? 8, 100));
  const rowsPerRun = Math.max(5, input.rowsPerRun ?? 400);
  const carry: CatalogCarry = input.carry ?? {
    plan: undefined as unknown as CatalogPlan,
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
  let state: CatalogStatus['state'] = input.carry ? (carry.paused ? 'paused' : 'running') : 'planning';
  let cancelled = false;
  let cancelReason = '';
  let startedThisRun = 0;
  /** Rows this run started: their results reach it directly. */
  const startedHere = new Set<string>();
  let changed = 0;
  const results: RowResult[] = [...(carry.unsaved ?? [])];
  carry.unsaved = [];
  const wake = () => changed++;

  const status = (): CatalogStatus => {
    const finished = carry.counts.done + carry.counts.failed + carry.counts.rejected;
    const remaining = carry.counts.pending + carry.counts.running + carry.counts.awaitingReview;
    const hours = carry.lastAt && carry.plan ? (Date.parse(carry.lastAt) - Date.parse(carry.plan.startedAt)) / 3_600_000 : 0;
    const rowsPerHour = hours > 0 ? Math.round((finished / hours) * 10) / 10 : 0;
    const avg = finished > 0 ? carry.costUsd / finished : 0;
    return {
      catalogId, state, total: carry.plan?.total ?? 0, invalidRows: carry.plan?.invalidRows ?? 0, duplicates: carry.plan?.duplicates ?? 0,
      counts: { ...carry.counts }, costUsd: round(carry.costUsd),
      forecastUsd: round(finished > 0 ? carry.costUsd + avg * remaining : (carry.plan?.forecastUsd ?? 0)),
      budgetUsd: input.budgetUsd, rowsPerHour,
      etaSeconds: rowsPerHour > 0 ? Math.round((remaining / rowsPerHour) * 3600) : undefined,
      runs: carry.runs,
    };
  };
  setHandler(catalogStatusQuery, status);
  setHandler(pauseSignal, () => {
    carry.paused = true;
    if (state === 'running') state = 'paused';
    wake();
  });
  setHandler(resumeSignal, () => {
    carry.paused = false;
    if (state === 'paused') state = 'running';
    wake();
  });
  setHandler(cancelCatalogSignal, (arg) => {
    cancelled = true;
    cancelReason = arg?.reason ?? 'cancelled';
    wake();
  });
  setHandler(retryFailedSignal, () => {
    carry.retryQueue.push(...carry.failed);
    carry.counts.pending += carry.failed.length;
    carry.counts.failed -= carry.failed.length;
    carry.failed = [];
    wake();
  });

  /** A row's news, from its own signal or (same run only) its result: the first one counts. */
  const settle = (ev: CatalogRowEvent) => {
    const row = carry.running[ev.workflowId];
    if (!row) return;
    if (ev.at) carry.lastAt = ev.at > (carry.lastAt ?? '') ? ev.at : carry.lastAt;
    if (ev.state === 'awaiting-review') {
      if (row.state === 'awaiting-review') return;
      row.state = 'awaiting-review';
      carry.counts.running--;
      carry.counts.awaitingReview++;
    } else {
      if (row.state === 'awaiting-review') carry.counts.awaitingReview--;
      else carry.counts.running--;
      delete carry.running[ev.workflowId];
      const key = ev.state === 'done' ? 'done' : ev.state === 'rejected' ? 'rejected' : 'failed';
      carry.counts[key]++;
      carry.costUsd += ev.costUsd;
      if (key === 'failed') carry.failed.push(row.index);
    }
    results.push({ index: row.index, workflowId: ev.workflowId, sku: row.sku, state: ev.state as RowState, reason: ev.reason, costUsd: ev.costUsd, at: ev.at ?? carry.lastAt ?? carry.plan.startedAt });
    wake();
  };
  setHandler(catalogRowSignal, settle);

  const flush = async () => {
    if (results.length === 0) return;
    const rows = results.splice(0);
    await acts.saveRowResults({ catalogId, batch: `${String(++carry.batches).padStart(5, '0')}`, rows });
  };

  try {
    if (!input.carry) {
      upsertSearchAttributes([{ key: SA.catalogId, value: catalogId }, { key: SA.stage, value: 'planning' }]);
      carry.plan = await acts.planCatalog({ catalogId, feedKey: input.feedKey, template: input.template });
      carry.counts.pending = carry.plan.total - carry.plan.shipped;
      carry.counts.skipped = carry.plan.shipped;
      state = carry.paused ? 'paused' : 'running';
      upsertSearchAttributes([{ key: SA.stage, value: 'running' }]);
    }
    let page: PlannedRun[] = [];
    let pageStart = -1;
    const runAt = async (index: number): Promise<PlannedRun> => {
      if (index < pageStart || index >= pageStart + page.length) {
        page = await acts.readPlanPage({ planKey: carry.plan.planKey, offset: index, limit: PAGE });
        pageStart = index;
      }
      return page[index - pageStart]!;
    };
    const averageRowUsd = () => {
      const finished = carry.counts.done + carry.counts.failed + carry.counts.rejected;
      return finished > 0 ? carry.costUsd / finished : carry.plan.total > 0 ? carry.plan.forecastUsd / carry.plan.total : 0;
    };

    for (;;) {
      // ── start rows while the window has room ─────────────────────────────────
      while (!cancelled && !carry.paused && carry.counts.running < window && startedThisRun < rowsPerRun
        && (carry.retryQueue.length > 0 || carry.cursor < carry.plan.total)) {
        if (input.budgetUsd !== undefined && carry.costUsd + (carry.counts.running + 1) * averageRowUsd() > input.budgetUsd + 1e-9) break;
        const index = carry.retryQueue.length > 0 ? carry.retryQueue.shift()! : carry.cursor++;
        const run = await runAt(index);
        if (run.shipped) continue;
        carry.counts.pending--;
        carry.counts.running++;
        carry.running[run.workflowId] = { index, sku: run.sku, state: 'running' };
        startedThisRun++;
        startedHere.add(run.workflowId);
        const child = await startChild(briefWorkflow, {
          workflowId: run.workflowId,
          args: [run.brief],
          // Rows outlive the run that started them: the catalog continues as new around them.
          parentClosePolicy: ParentClosePolicy.ABANDON,
          typedSearchAttributes: [
            { key: SA.catalogId, value: catalogId },
            { key: SA.stage, value: 'validating' },
            { key: SA.channel, value: run.brief.channels[0]! },
            { key: SA.awaitingReview, value: false },
          ],
        });
        // Backup for rows that end without signalling (terminated, timed out): their result.
        child.result().then(
          (m) => settle({ workflowId: run.workflowId, state: m.outcome === 'rejected' ? 'rejected' : 'done', costUsd: m.cost.actualUsd, at: m.publishedAt }),
          (err: Error) => settle({ workflowId: run.workflowId, state: 'failed', costUsd: 0, reason: (err.cause as Error | undefined)?.message ?? err.message }),
        );
      }
      if (carry.counts.awaitingReview > 0 && !carry.reviewNotified) {
        carry.reviewNotified = true;
        await acts.notifyCatalog({ catalogId, event: 'awaiting-review', counts: carry.counts, text: `Darkroom catalog ${catalogId}: rows are waiting for review (${carry.counts.awaitingReview} so far).` }).catch(() => undefined);
      }
      if (results.length >= PAGE) await flush();

      const allStarted = carry.retryQueue.length === 0 && carry.cursor >= carry.plan.total;
      const idle = Object.keys(carry.running).length === 0;
      if ((allStarted || cancelled) && idle) break;
      if (cancelled && !idle) {
        state = 'cancelling';
        // Running rows are asked to stop; each reports back as failed (cancelled).
        for (const id of Object.keys(carry.running)) await getExternalWorkflowHandle(id).cancel().catch(() => undefined);
        await condition(() => Object.keys(carry.running).length === 0, '5 minutes');
        break;
      }
      const budgetStop = input.budgetUsd !== undefined && carry.costUsd + averageRowUsd() > input.budgetUsd + 1e-9 && carry.counts.running === 0;
      if (budgetStop && !allStarted) {
        cancelled = true;
        cancelReason = `catalog budget of $${input.budgetUsd!.toFixed(2)} reached`;
        continue;
      }
      if (startedThisRun >= rowsPerRun || workflowInfo().continueAsNewSuggested) {
        await condition(allHandlersFinished);
        await flush();
        // Rows may have reported while that save ran: they travel with the carry.
        carry.unsaved = results.splice(0);
        carry.runs++;
        await continueAsNew<typeof catalogWorkflow>({ ...input, carry });
      }
      const seen = changed;
      // Catalogs started before reconciliation existed wait without a timer, as they did then.
      const woke = patched('catalog-reconcile')
        ? await condition(() => changed !== seen, input.reconcileEveryMs ?? 300_000)
        : await condition(() => changed !== seen).then(() => true);
      if (!woke) {
        // Quiet for a while: rows started by earlier runs may have ended without a word.
        const silent = Object.keys(carry.running).filter((id) => !startedHere.has(id));
        if (silent.length > 0) {
          for (const row of await acts.describeRows({ workflowIds: silent })) {
            if (row.closed) settle({ workflowId: row.workflowId, state: row.state!, costUsd: row.costUsd, reason: row.reason });
          }
        }
      }
    }

    // ── report ────────────────────────────────────────────────────────────────
    state = 'reporting';
    await flush();
    if (cancelled) {
      carry.counts.pending = 0;
    }
    const outcome = cancelled ? 'cancelled' : 'completed';
    const report = await acts.writeCatalogReport({
      catalogId, workflowId: workflowInfo().workflowId, plan: carry.plan, counts: carry.counts, costUsd: round(carry.costUsd), outcome, finishedRuns: carry.runs + 1,
    });
    await acts.notifyCatalog({
      catalogId, event: 'completed', counts: carry.counts,
      text: `Darkroom catalog ${catalogId} ${outcome}${cancelled ? ` (${cancelReason})` : ''}: ${carry.counts.done} done, ${carry.counts.failed} failed, ${carry.counts.rejected} rejected, ${carry.counts.skipped} skipped; $${carry.costUsd.toFixed(2)}. Report: ${report.reportKey}`,
    }).catch(() => undefined);
    state = cancelled ? 'cancelled' : 'done';
    upsertSearchAttributes([{ key: SA.stage, value: state }, { key: SA.costUsd, value: round(carry.costUsd) }]);
    return { reportKey: report.reportKey, counts: carry.counts, costUsd: round(carry.costUsd), outcome };
  } catch (err) {
    if (isCancellation(err)) {
      // Cancelled from Temporal itself: still leave a clean summary behind.
      return await CancellationScope.nonCancellable(async () => {
        await flush();
        const report = await acts.writeCatalogReport({ catalogId, workflowId: workflowInfo().workflowId, plan: carry.plan, counts: carry.counts, costUsd: round(carry.costUsd), outcome: 'cancelled', finishedRuns: carry.runs + 1 });
        state = 'cancelled';
        return { reportKey: report.reportKey, counts: carry.counts, costUsd: round(carry.costUsd), outcome: 'cancelled' as const };
      });
    }
    // A feed that cannot run fails the catalog itself with that reason, as a bad input does.
    if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === Failure.InvalidCatalog) {
      throw ApplicationFailure.create({ message: err.cause.message, type: Failure.InvalidCatalog, nonRetryable: true, details: err.cause.details ?? [] });
    }
    throw err;
  }
}

function round(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
