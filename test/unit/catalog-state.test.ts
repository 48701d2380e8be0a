import { describe, expect, it } from 'vitest';
import { catalogInputIssues, runLimits } from '../../domain/catalog-input';
import {
  allStarted, averageRowUsd, budgetStop, cancelledCounts, cancelReason, carryOver, checkRowEvent, catalogStatus, completionText, freshProgress, mayStartRow, nextBatch,
  planned, retryFailed, reviewNoticeDue, rowSettled, rowStarted, setPaused, takeNext, wouldPassBudget,
  type CatalogPlan, type CatalogProgress, type StartLimits,
} from '../../domain/catalog-state';

const plan: CatalogPlan = { planKey: 'catalogs/t/plan.jsonl', total: 10, invalidRows: 1, duplicates: 2, shipped: 2, forecastUsd: 1, startedAt: '2026-01-01T00:00:00.000Z' };
const limits: StartLimits = { window: 2, rowsPerRun: 400, startedThisRun: 0, cancelled: false };
const at = (minutes: number) => new Date(Date.parse(plan.startedAt) + minutes * 60_000).toISOString();

/** A planned catalog with rows 0 and 1 started. */
function twoRunning(): CatalogProgress {
  let p = planned(freshProgress(), plan);
  for (const sku of ['A', 'B']) {
    const next = takeNext(p);
    p = rowStarted(next.progress, next.index, { workflowId: `catalog-t/${sku}`, sku });
  }
  return p;
}

describe('catalog progress', () => {
  it('counts a plan: shipped rows are skipped, the rest pending', () => {
    expect(planned(freshProgress(), plan).counts).toEqual({ pending: 8, running: 0, awaitingReview: 0, done: 0, failed: 0, rejected: 0, skipped: 2 });
  });

  it('starts rows from the cursor, retried rows first, without touching the progress it was given', () => {
    const p = twoRunning();
    expect(p.cursor).toBe(2);
    expect(p.counts).toMatchObject({ pending: 6, running: 2 });
    expect(p.running['catalog-t/B']).toEqual({ index: 1, sku: 'B', state: 'running' });
    const queued = { ...p, retryQueue: [7, 8] };
    const next = takeNext(queued);
    expect(next).toMatchObject({ index: 7, progress: { cursor: 2, retryQueue: [8] } });
    expect(queued.retryQueue).toEqual([7, 8]);
  });

  it('settles a row once: review, then its end; repeats and strangers change nothing', () => {
    let p = twoRunning();
    const review = rowSettled(p, { workflowId: 'catalog-t/A', state: 'awaiting-review', costUsd: 0, at: at(5) }, plan.startedAt);
    expect(review.result).toMatchObject({ index: 0, sku: 'A', state: 'awaiting-review', at: at(5) });
    p = review.progress;
    expect(p.counts).toMatchObject({ running: 1, awaitingReview: 1 });
    const again = rowSettled(p, { workflowId: 'catalog-t/A', state: 'awaiting-review', costUsd: 0, at: at(6) }, plan.startedAt);
    expect(again.result).toBeUndefined();
    expect(again.progress.counts).toEqual(p.counts);
    expect(again.progress.lastAt).toBe(at(6)); // the clock still moves
    expect(rowSettled(p, { workflowId: 'catalog-t/Z', state: 'done', costUsd: 1 }, plan.startedAt)).toEqual({ progress: p });

    const done = rowSettled(p, { workflowId: 'catalog-t/A', state: 'done', costUsd: 0.25 }, plan.startedAt);
    expect(done.result).toMatchObject({ state: 'done', costUsd: 0.25, at: at(5) }); // undated: the latest clock it knows
    p = done.progress;
    expect(p.counts).toMatchObject({ running: 1, awaitingReview: 0, done: 1 });
    expect(p.costUsd).toBe(0.25);
    expect(p.running['catalog-t/A']).toBeUndefined();
    expect(rowSettled(p, { workflowId: 'catalog-t/A', state: 'failed', costUsd: 0 }, plan.startedAt).result).toBeUndefined();
  });

  it('keeps the latest clock, and dates an undated first result by the plan', () => {
    const p = twoRunning();
    const first = rowSettled(p, { workflowId: 'catalog-t/A', state: 'rejected', costUsd: 0 }, plan.startedAt);
    expect(first.result!.at).toBe(plan.startedAt);
    expect(first.progress.lastAt).toBeUndefined();
    const late = rowSettled(first.progress, { workflowId: 'catalog-t/B', state: 'done', costUsd: 0, at: at(9) }, plan.startedAt).progress;
    expect(late.counts).toMatchObject({ rejected: 1, done: 1, running: 0 });
    expect(late.lastAt).toBe(at(9));
  });

  it('retries failed rows: back to pending, ahead of the cursor', () => {
    let p = twoRunning();
    p = rowSettled(p, { workflowId: 'catalog-t/B', state: 'failed', costUsd: 0, reason: 'down' }, plan.startedAt).progress;
    expect(p.failed).toEqual([1]);
    expect(p.counts).toMatchObject({ failed: 1, pending: 6 });
    p = retryFailed(p);
    expect(p).toMatchObject({ failed: [], retryQueue: [1], counts: { failed: 0, pending: 7 } });
    expect(takeNext(p).index).toBe(1);
  });

  it('counts anything else a row says it ended as as failed', () => {
    const hostile = { workflowId: 'catalog-t/A', state: 'bogus', costUsd: 0 } as unknown as Parameters<typeof rowSettled>[1];
    const p = rowSettled(twoRunning(), hostile, plan.startedAt).progress;
    expect(p.counts).toMatchObject({ failed: 1, running: 1 });
    expect(p.failed).toEqual([0]);
  });
});

describe('starting rows', () => {
  it('starts while the window has room, and not when paused, cancelled, at the run limit or out of rows', () => {
    const p = planned(freshProgress(), plan);
    expect(mayStartRow(p, plan, limits)).toBe(true);
    expect(mayStartRow(twoRunning(), plan, limits)).toBe(false);
    expect(mayStartRow(setPaused(p, true), plan, limits)).toBe(false);
    expect(mayStartRow(setPaused(setPaused(p, true), false), plan, limits)).toBe(true);
    expect(mayStartRow(p, plan, { ...limits, cancelled: true })).toBe(false);
    expect(mayStartRow(p, plan, { ...limits, startedThisRun: 400 })).toBe(false);
    expect(mayStartRow({ ...p, cursor: 10 }, plan, limits)).toBe(false);
    expect(allStarted({ ...p, cursor: 10, retryQueue: [3] }, plan)).toBe(false);
  });

  it('prices the next row at the plan forecast until rows finish, then at their average', () => {
    const p = planned(freshProgress(), plan);
    expect(averageRowUsd(p, plan)).toBeCloseTo(0.1);
    expect(averageRowUsd({ ...p, costUsd: 0.9, counts: { ...p.counts, done: 2, failed: 1 } }, plan)).toBeCloseTo(0.3);
    expect(averageRowUsd(p, { ...plan, total: 0 })).toBe(0);
    expect(wouldPassBudget(p, plan, undefined)).toBe(false);
    expect(wouldPassBudget(p, plan, 0.1)).toBe(false);
    expect(wouldPassBudget(twoRunning(), plan, 0.25)).toBe(true);
    expect(mayStartRow(p, plan, { ...limits, budgetUsd: 0.05 })).toBe(false);
  });

  it('stops at the budget only with nothing running and rows left, and says why', () => {
    const p = planned(freshProgress(), plan);
    expect(budgetStop(p, plan, 0.05)).toBe('catalog budget of $0.05 reached');
    expect(budgetStop(p, plan, 5)).toBeUndefined();
    expect(budgetStop(p, plan, undefined)).toBeUndefined();
    expect(budgetStop(twoRunning(), plan, 0.05)).toBeUndefined();
    expect(budgetStop({ ...p, cursor: 10 }, plan, 0.05)).toBeUndefined();
  });

  it('clamps the window and run length', () => {
    const base = { catalogId: 'c', feedKey: 'catalogs/c/feed.csv', template: {} };
    expect(runLimits(base)).toEqual({ window: 8, rowsPerRun: 400, reconcileEveryMs: 300_000 });
    expect(runLimits({ ...base, window: 500, rowsPerRun: 1, reconcileEveryMs: 1000 })).toEqual({ window: 100, rowsPerRun: 5, reconcileEveryMs: 1000 });
  });
});

describe('between runs and at the end', () => {
  it('names result batches in order and tells reviewers once', () => {
    const first = nextBatch(freshProgress());
    expect(first.batch).toBe('00001');
    expect(nextBatch(first.progress).batch).toBe('00002');
    const waiting = rowSettled(twoRunning(), { workflowId: 'catalog-t/A', state: 'awaiting-review', costUsd: 0 }, plan.startedAt).progress;
    expect(reviewNoticeDue(twoRunning())).toBe(false);
    expect(reviewNoticeDue(waiting)).toBe(true);
    expect(reviewNoticeDue({ ...waiting, reviewNotified: true })).toBe(false);
  });

  it('carries the plan, the progress and unsaved results to the next run, counting the run', () => {
    const p = twoRunning();
    const unsaved = [{ index: 0, workflowId: 'catalog-t/A', sku: 'A', state: 'done' as const, costUsd: 0, at: at(1) }];
    const carry = carryOver(p, plan, unsaved);
    expect(carry).toEqual({ ...p, plan, runs: 1, unsaved });
    expect(Object.keys(carry).sort()).toEqual(['batches', 'costUsd', 'counts', 'cursor', 'failed', 'paused', 'plan', 'retryQueue', 'reviewNotified', 'running', 'runs', 'unsaved']);
  });

  it('a cancelled catalog has nothing pending, and says why in its notice', () => {
    const p = cancelledCounts(twoRunning());
    expect(p.counts.pending).toBe(0);
    expect(completionText('t', 'cancelled', 'catalog budget of $1.00 reached', { ...p, costUsd: 0.5 }, 'catalogs/t/report.csv'))
      .toBe('Darkroom catalog t cancelled (catalog budget of $1.00 reached): 0 done, 0 failed, 0 rejected, 2 skipped; $0.50. Report: catalogs/t/report.csv');
    expect(completionText('t', 'completed', '', p, 'r.csv')).toMatch(/^Darkroom catalog t completed: /);
  });
});

describe('catalog status', () => {
  it('shows paused only while running, and nothing of a plan before there is one', () => {
    const p = setPaused(freshProgress(), true);
    expect(catalogStatus({ catalogId: 't', phase: 'planning', progress: p })).toMatchObject({ state: 'planning', total: 0, forecastUsd: 0, rowsPerHour: 0, runs: 0 });
    expect(catalogStatus({ catalogId: 't', phase: 'running', progress: p, plan }).state).toBe('paused');
    expect(catalogStatus({ catalogId: 't', phase: 'cancelling', progress: p, plan }).state).toBe('cancelling');
    expect(catalogStatus({ catalogId: 't', phase: 'running', progress: setPaused(p, false), plan }).state).toBe('running');
  });

  it('forecasts from finished rows and paces by the latest report', () => {
    let p = twoRunning();
    p = rowSettled(p, { workflowId: 'catalog-t/A', state: 'done', costUsd: 0.2, at: at(30) }, plan.startedAt).progress;
    const s = catalogStatus({ catalogId: 't', phase: 'running', progress: p, plan, budgetUsd: 3 });
    expect(s).toMatchObject({ total: 10, invalidRows: 1, duplicates: 2, costUsd: 0.2, budgetUsd: 3, rowsPerHour: 2 });
    expect(s.forecastUsd).toBeCloseTo(0.2 + 0.2 * 7); // 6 pending + 1 running
    expect(s.etaSeconds).toBe(Math.round((7 / 2) * 3600));
    s.counts.done = 99;
    expect(p.counts.done).toBe(1);
  });
});

describe('what a signal or a raw start may carry in', () => {
  it('takes a row event only when every field is what a brief sends', () => {
    const ok = { workflowId: 'catalog-t/A', state: 'done', costUsd: 0.04, at: at(1) };
    expect(checkRowEvent(ok)).toEqual({ ok: true, event: ok });
    expect(checkRowEvent({ ...ok, reason: 'x'.repeat(5000) })).toMatchObject({ ok: true, event: { reason: expect.stringMatching(/^x{500}… \(5000 chars\)$/) } });
    for (const [raw, field] of [
      [null, 'object'], [[ok], 'object'], ['done', 'object'],
      [{ ...ok, workflowId: 7 }, 'workflowId'], [{ ...ok, state: 'shipped' }, 'state'],
      [{ ...ok, costUsd: 'abc' }, 'costUsd'], [{ ...ok, costUsd: -5 }, 'costUsd'], [{ ...ok, costUsd: 1e9 }, 'costUsd'],
      [{ ...ok, reason: { x: 1 } }, 'reason'], [{ ...ok, at: 'yesterday' }, 'at'],
    ] as const) {
      const r = checkRowEvent(raw);
      expect(r.ok, JSON.stringify(raw)).toBe(false);
      if (!r.ok) expect(r.reason).toContain(field);
    }
  });

  it('a cancel reason is one bounded line, or "cancelled"', () => {
    expect(cancelReason({ reason: 'spring is off' })).toBe('spring is off');
    expect(cancelReason({ reason: 'r'.repeat(524_200) })).toMatch(/^r{500}… \(524200 chars\)$/);
    expect(cancelReason({ reason: 'a\u001b[2Jb\nc' })).toBe('a\\u001b[2Jb\\nc');
    for (const raw of [undefined, null, 'stop', { reason: 42 }, { reason: '  ' }]) expect(cancelReason(raw)).toBe('cancelled');
  });

  it('a continued run\'s carry is checked field by field, and a real one passes', () => {
    const base = { catalogId: 't', feedKey: 'catalogs/t/feed.csv', template: { subject: 'x' } };
    const carry = carryOver(twoRunning(), plan, [{ index: 0, workflowId: 'catalog-t/A', sku: 'A', state: 'done', costUsd: 0, at: at(1) }]);
    expect(catalogInputIssues({ ...base, carry })).toEqual([]);
    expect(catalogInputIssues({ ...base, carry: { ...carry, lastAt: at(2), unsaved: undefined } })).toEqual([]);
    const fields = (c: unknown) => catalogInputIssues({ ...base, carry: c }).map((i) => i.field);
    expect(fields({ plan: {}, cursor: 0 })).toEqual(['carry.plan.planKey']);
    expect(fields('x')).toEqual(['carry']);
    expect(fields({ ...carry, counts: { ...carry.counts, running: -1 } })).toEqual(['carry.counts.running']);
    expect(fields({ ...carry, running: { 'catalog-t/A': { index: 0, sku: 'A', state: 'paused' } } })).toEqual(['carry.running["catalog-t/A"].state']);
    expect(fields({ ...carry, running: undefined })).toEqual(['carry.running']);
    expect(fields({ ...carry, failed: [1, 'two'] })).toEqual(['carry.failed[1]']);
    expect(fields({ ...carry, costUsd: Number.NaN })).toEqual(['carry.costUsd']);
    expect(fields({ ...carry, unsaved: [{ ...carry.unsaved![0], at: 5 }] })).toEqual(['carry.unsaved[0].at']);
    expect(catalogInputIssues({ ...base, carry: { plan: {}, cursor: 0 } })[0]!.message).toContain('leave it out when starting a catalog');
  });
});
