import {
  ActivityFailure, ApplicationFailure, CancellationScope, getExternalWorkflowHandle, log, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo,
} from '@temporalio/workflow';
import { Failure } from '../../domain/failures';
import { isObject, unreadableReason } from '../../domain/json';
import { hasControlChars, jsonBytes } from '../../domain/text';
import {
  checkDecision, MAX_DECISION_BYTES, MAX_RAISED_BUDGET_USD, recordIgnoredSignal, type IgnoredSignal, type ReviewChannel, type ReviewContext, type ReviewDecision, type ReviewRecord,
} from '../../domain/review';
import type { BriefStatus, Candidate, ModerationRecord, PreparedBrand, PreparedBrief, ReviewStatus, Span, Stage } from '../../domain/types';
import { briefCurrentDetails, briefEventId, briefRef, deliveryRecordKey, type BriefEventType, type DeliveryRecord } from '../../domain/webhooks';
import { briefPatched, webhookActivitiesFor } from './proxies';
import {
  approveSignal, catalogRowSignal, raiseBudgetUpdate, rejectSignal, requestChangesSignal, reviewUpdate, SA, statusQuery, type CatalogRowEvent,
} from '../messages';

/** A candidate as the workflow holds it: with the worker-clock span of the call that made it. */
export type Made = Candidate & { timing: Span };


/**
 * One brief's run state in one holder: what the `status` query shows, the stage and spend kept
 * in search attributes, the spans the manifest's timings come from, and the review inbox that
 * the message handlers fill.
 */
export class BriefRun {
  readonly workflowId: string;
  readonly runId: string;
  readonly status: BriefStatus;
  readonly spans: Record<string, Span[]> = {};
  /** Accepted review decisions not yet acted on. */
  readonly pending: Array<{ decision: ReviewDecision; via: ReviewChannel }> = [];
  readonly decisions: ReviewRecord[] = [];
  readonly ignoredSignals: IgnoredSignal[] = [];
  ignoredSignalsDropped = 0;
  /** The review as shown in status; set when the first review starts. */
  review?: ReviewStatus;
  /** Limits a decision is checked against; set once the brief is validated. */
  reviewLimits?: Pick<ReviewContext, 'maxApprovals' | 'maxRounds' | 'nextRoundUsd' | 'budgetUsd'>;
  /** The budget a person raised the brief to, while it waited for one. */
  raisedBudgetUsd?: number;
  /** Every prompt version's moderation check, for the manifest. */
  readonly moderation: ModerationRecord[] = [];
  /** With `approval: when-unsure`: whether the judge was confident, and why (for the manifest). */
  autoApproval?: { confident: boolean; reason: string; round: number };
  /** The validated brief; set once the first activity has checked it. */
  plan?: PreparedBrief;
  /** The brief's brand kit (prompt, LoRA, logo), once validated; see {@link useBrand}. */
  brand?: PreparedBrand;

  constructor() {
    const { workflowId, runId } = workflowInfo();
    this.workflowId = workflowId;
    this.runId = runId;
    this.status = {
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
  }

  enter(stage: Stage): void {
    this.status.stage = stage;
    upsertSearchAttributes([{ key: SA.stage, value: stage }]);
    this.touch();
  }

  spend(usd: number): void {
    if (usd <= 0) return;
    this.status.cost.actualUsd = Math.round((this.status.cost.actualUsd + usd) * 1e6) / 1e6;
    upsertSearchAttributes([{ key: SA.costUsd, value: this.status.cost.actualUsd }]);
    this.touch();
  }

  /**
   * Refreshes the Temporal UI's current details (stage, counts, spend). Workflow state only:
   * no command, so it changes no history.
   */
  touch(): void {
    setCurrentDetails(briefCurrentDetails(this.status));
  }

  /**
   * Whether this run calls the events (or delivery) webhook: the worker that validated the brief
   * had one configured, and the run is not replaying a history from before webhooks existed.
   */
  private webhookOn(which: 'events' | 'delivery'): boolean {
    return Boolean(this.plan?.settings.webhooks?.[which]) && briefPatched('brief-webhooks');
  }

  /**
   * Sends a brief event, when an events webhook is configured. Never throws: a receiver that is
   * down or refuses the call is recorded in status and the result, and the brief goes on.
   */
  async emit(type: BriefEventType, data: Record<string, unknown>, round?: number): Promise<void> {
    if (!this.plan || !this.webhookOn('events')) return;
    const acts = webhookActivitiesFor(this.plan.settings);
    try {
      // Not cancellable: a cancelled brief still reports that it failed.
      await CancellationScope.nonCancellable(() => acts.sendBriefEvent({
        type, workflowId: this.workflowId, runId: this.runId, brief: briefRef(this.plan!.brief), data, ...(round === undefined ? {} : { round }),
      }));
    } catch (err) {
      const error = failureMessage(err);
      log.warn('events webhook given up on', { type, error });
      (this.status.webhookFailures ??= []).push({ type, eventId: briefEventId(this.workflowId, this.runId, type, round), error });
      this.touch();
    }
  }

  /**
   * Announces the published assets to the delivery webhook, when one is configured. Never
   * throws: when its retries run out, the failure is kept in status, the result and
   * `<workflowId>/delivery.json`, and the published assets stay where they are.
   */
  async deliver(): Promise<DeliveryRecord | undefined> {
    if (!this.plan || !this.webhookOn('delivery')) return undefined;
    const acts = webhookActivitiesFor(this.plan.settings);
    let record: DeliveryRecord;
    try {
      record = await acts.deliverAssets({ workflowId: this.workflowId, runId: this.runId });
    } catch (err) {
      record = {
        state: 'failed', eventId: briefEventId(this.workflowId, this.runId, 'brief.delivered'), assets: this.status.assets.total,
        recordKey: deliveryRecordKey(this.workflowId), error: failureMessage(err),
      };
      log.warn('delivery webhook given up on', { error: record.error });
      await acts.recordDelivery({ ...record, workflowId: this.workflowId }).catch(() => undefined);
    }
    this.status.delivery = record;
    this.touch();
    return record;
  }

  /**
   * Takes the brand kit the first activity prepared. Behind the `brand-kit` patch: a run
   * recorded before brand kits never has one, and this keeps that promise visible in history.
   */
  useBrand(plan: PreparedBrief): void {
    if (plan.brand && briefPatched('brand-kit')) {
      this.brand = plan.brand;
      // Status only (a query's answer, not history), for the reviewer's crop previews.
      this.status.brand = { name: plan.brand.name, key: plan.brand.key };
    }
  }

  record(stage: string, span: Span): void {
    (this.spans[stage] ??= []).push(span);
  }

  /** Whether a decision can be taken now, by the same rules for the update, the signals and the reviewer tool. */
  check(raw: unknown): ReturnType<typeof checkDecision> {
    if (this.pending.length > 0) return { ok: false, reason: `a decision for round ${this.status.round} has already been made` };
    return checkDecision(raw, {
      awaiting: this.review?.awaiting ?? false,
      reviewable: this.review?.reviewable ?? [],
      round: this.status.round,
      spentUsd: this.status.cost.actualUsd,
      maxApprovals: this.reviewLimits?.maxApprovals ?? 0,
      maxRounds: this.reviewLimits?.maxRounds ?? 1,
      nextRoundUsd: this.reviewLimits?.nextRoundUsd ?? 0,
      budgetUsd: this.reviewLimits?.budgetUsd ?? 0,
    });
  }

  /**
   * Tells the catalog that started this brief (if one did) how its row stands. Only briefs with
   * a parent send anything, so standalone briefs' histories are unchanged.
   */
  async tellCatalog(event: Omit<CatalogRowEvent, 'workflowId'>): Promise<void> {
    const { parent } = workflowInfo();
    if (!parent) return;
    // By workflow id, not run id: the catalog may have continued as new since it started us.
    // Not cancellable: a row the catalog cancelled still reports that it ended.
    await CancellationScope.nonCancellable(() => getExternalWorkflowHandle(parent.workflowId).signal(catalogRowSignal, { ...event, workflowId: this.workflowId })).catch(() => undefined);
  }

  /** Marks the run failed, in status, search attributes, the events webhook and the parent catalog. */
  async fail(err: unknown): Promise<void> {
    this.status.error = err instanceof Error ? err.message : String(err);
    this.enter('failed');
    await this.emit('brief.failed', { error: this.status.error.slice(0, 2000), costUsd: this.status.cost.actualUsd });
    await this.tellCatalog({ state: 'failed', costUsd: this.status.cost.actualUsd, reason: this.status.error.slice(0, 500) });
  }
}

/** What went wrong with a webhook activity, in words: the receiver's answer when there was one. */
function failureMessage(err: unknown): string {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return (cause instanceof Error ? cause.message : String(cause)).slice(0, 500);
}

/**
 * Starts a brief's run and registers every message handler first, so nothing that arrives
 * early is lost: the `status` query, the `review` update, the decision signals and `raiseBudget`.
 */
export function startRun(): BriefRun {
  const run = new BriefRun();
  setHandler(statusQuery, () => run.status);
  setHandler(
    reviewUpdate,
    (decision) => {
      const r = run.check(decision);
      if (!r.ok) throw ApplicationFailure.create({ message: r.reason, type: Failure.ReviewRefused, nonRetryable: true });
      run.pending.push({ decision: r.decision, via: 'update' });
      return { accepted: true, action: r.decision.action, round: run.status.round };
    },
    {
      validator: (decision) => {
        const r = run.check(decision);
        if (!r.ok) throw new Error(r.reason);
      },
    },
  );
  // Signals cannot answer back: a bad one is recorded in status and the manifest, then ignored.
  const onSignal = (name: ReviewDecision['action']) => (payload: unknown) => {
    // An unreadable payload stays the converter's marker, so the check says why.
    const raw = isObject(payload) && unreadableReason(payload) === undefined ? { ...payload, action: name } : payload;
    const r = run.check(raw);
    if (r.ok) {
      run.pending.push({ decision: r.decision, via: 'signal' });
      return;
    }
    // Bounded: a flood of bad signals must not grow the status query or the manifest past gRPC's limits.
    run.ignoredSignalsDropped += recordIgnoredSignal(run.ignoredSignals, { signal: name, reason: r.reason, round: run.status.round, payload }).dropped;
    if (run.review && run.ignoredSignalsDropped > 0) run.review.ignoredSignalsDropped = run.ignoredSignalsDropped;
  };
  setHandler(approveSignal, onSignal('approve'));
  setHandler(rejectSignal, onSignal('reject'));
  setHandler(requestChangesSignal, onSignal('requestChanges'));
  setHandler(raiseBudgetUpdate, ({ budgetUsd }) => {
    run.raisedBudgetUsd = budgetUsd;
    return { budgetUsd };
  }, {
    // Untrusted like a review decision: what it accepts goes into history (and must fit there).
    validator: (req: unknown) => {
      const waiting = run.status.awaitingBudget;
      if (!waiting) throw new Error('this brief is not waiting for a budget');
      const unreadable = unreadableReason(req);
      if (unreadable) throw new Error(`the budget raise could not be read: ${unreadable}`);
      if (!isObject(req)) throw new Error('a budget raise must be an object such as {"budgetUsd": 5}');
      const { budgetUsd, reviewer } = req as { budgetUsd?: unknown; reviewer?: unknown };
      if (typeof budgetUsd !== 'number' || !(budgetUsd >= waiting.forecastUsd) || budgetUsd > MAX_RAISED_BUDGET_USD) {
        throw new Error(`budgetUsd must be a number covering the forecast of $${waiting.forecastUsd.toFixed(2)}`);
      }
      if (reviewer !== undefined && (typeof reviewer !== 'string' || reviewer.length > 200 || hasControlChars(reviewer))) {
        throw new Error('reviewer must be a name of at most 200 characters, without control characters');
      }
      if (jsonBytes(req, MAX_DECISION_BYTES) > MAX_DECISION_BYTES) throw new Error(`a budget raise may be at most ${MAX_DECISION_BYTES / 1024} KiB of JSON; this one is larger`);
    },
  });
  return run;
}
