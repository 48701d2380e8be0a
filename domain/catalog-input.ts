/**
 * The checks a catalog's input passes before anything runs. A catalog can be started from the
 * CLI, the Temporal UI or `temporal workflow start`, so the workflow itself checks what it was
 * given and fails at once, naming each field, instead of failing its workflow task forever.
 * Pure: the workflow runs it.
 */
import { freshProgress, isDateTime, ROW_STATES, type CatalogCarry } from './catalog-state';
import { fairnessWeightProblem } from './fairness';
import { isObject, unreadableReason } from './json';
import { blobKeyProblem } from './naming';
import { jsonBytes, preview } from './text';

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
  /**
   * This catalog's share of the workers relative to other catalogs (and to single briefs) when
   * their tasks queue up: 2 gets twice the dispatches of a catalog with 1. Needs fairness on in
   * the Temporal server (`matching.enableFairness`). @default 1
   */
  fairnessWeight?: number;
  /** Internal: what a continued run carries over. Never set this when starting a catalog. */
  carry?: CatalogCarry;
}

/** The window and run length a catalog keeps to: its input's, within bounds, or the defaults. */
export function runLimits(input: CatalogInput): { window: number; rowsPerRun: number; reconcileEveryMs: number } {
  return {
    window: Math.max(1, Math.min(input.window ?? 8, 100)),
    rowsPerRun: Math.max(5, input.rowsPerRun ?? 400),
    reconcileEveryMs: input.reconcileEveryMs ?? 300_000,
  };
}

export interface CatalogInputIssue {
  field: string;
  message: string;
}

/** A catalog id names a folder and a workflow id prefix: one plain segment. */
const CATALOG_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/;
/** The template travels in every run's input; a few KB is plenty. */
export const MAX_TEMPLATE_BYTES = 64 * 1024;

/** A whole number from `min` to `max`; absent is fine unless `required`. */
function intIn(field: string, v: unknown, min: number, max: number, required = false): CatalogInputIssue | undefined {
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    return { field, message: `must be a whole number from ${min} to ${max} (got ${preview(v, 40)})` };
  }
  return undefined;
}

/** A number of dollars, 0 or more; absent is fine unless `required`. */
function dollarsIn(field: string, v: unknown, required = false): CatalogInputIssue | undefined {
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return { field, message: `must be a number of dollars, 0 or more (got ${preview(v, 40)})` };
  return undefined;
}

/** Every problem with a raw catalog input; empty when it can run. */
export function catalogInputIssues(raw: unknown): CatalogInputIssue[] {
  const unreadable = unreadableReason(raw);
  if (unreadable) return [{ field: '(input)', message: `could not be read: ${unreadable}` }];
  if (!isObject(raw)) {
    return [{ field: '(input)', message: `must be an object such as {"catalogId":"spring","feedKey":"catalogs/spring/feed.csv","template":{…}} (got ${preview(raw, 60)})` }];
  }
  const issues: CatalogInputIssue[] = [];
  const add = (i: CatalogInputIssue | undefined) => i && issues.push(i);
  if (typeof raw.catalogId !== 'string' || !CATALOG_ID.test(raw.catalogId)) {
    add({ field: 'catalogId', message: `must be letters, digits, ".", "_" and "-" (at most 80, starting with a letter or digit) (got ${preview(raw.catalogId, 60)})` });
  }
  const keyProblem = blobKeyProblem(raw.feedKey);
  if (keyProblem) add({ field: 'feedKey', message: `must be the blob key of a stored feed, such as catalogs/<id>/feed.csv: it ${keyProblem} (got ${preview(raw.feedKey, 60)})` });
  if (!isObject(raw.template)) add({ field: 'template', message: `must be a brief template object (got ${preview(raw.template, 60)})` });
  else if (jsonBytes(raw.template, MAX_TEMPLATE_BYTES) > MAX_TEMPLATE_BYTES) add({ field: 'template', message: `must be at most ${MAX_TEMPLATE_BYTES / 1024} KiB of JSON` });
  add(intIn('window', raw.window, 1, 100));
  add(intIn('rowsPerRun', raw.rowsPerRun, 5, 100_000));
  add(intIn('reconcileEveryMs', raw.reconcileEveryMs, 1000, 7 * 24 * 3_600_000));
  add(dollarsIn('budgetUsd', raw.budgetUsd));
  const weightProblem = raw.fairnessWeight === undefined ? undefined : fairnessWeightProblem(raw.fairnessWeight);
  if (weightProblem) add({ field: 'fairnessWeight', message: `${weightProblem} (got ${preview(raw.fairnessWeight, 40)})` });
  if (raw.carry !== undefined) {
    const problem = carryProblem(raw.carry);
    if (problem) add({ field: problem.field, message: `${problem.message}: carry is internal to continued runs; leave it out when starting a catalog` });
  }
  return issues;
}

const COUNT_KEYS = Object.keys(freshProgress().counts);
const MAX_ROWS = 10_000_000;

/**
 * The first thing wrong with a carry, checked as closely as the run reads it: a continued run
 * takes its counters, plan and rows in flight from here, so a hand-made one that is only
 * nearly right would fail its workflow task forever rather than the catalog once.
 */
function carryProblem(carry: unknown): CatalogInputIssue | undefined {
  const at = (field: string, message: string): CatalogInputIssue => ({ field: `carry${field}`, message });
  if (!isObject(carry)) return at('', `must be an object (got ${preview(carry, 40)})`);
  const whole = (field: string, v: unknown) => intIn(`carry${field}`, v, 0, MAX_ROWS, true);
  const dollars = (field: string, v: unknown) => dollarsIn(`carry${field}`, v, true);
  const text = (field: string, v: unknown, max = 1000) => (typeof v === 'string' && v.length <= max ? undefined : at(field, `must be text of at most ${max} characters (got ${preview(v, 40)})`));
  const date = (field: string, v: unknown) => (isDateTime(v) ? undefined : at(field, `must be an ISO date-time (got ${preview(v, 40)})`));
  const flag = (field: string, v: unknown) => (typeof v === 'boolean' ? undefined : at(field, `must be true or false (got ${preview(v, 40)})`));
  const indexes = (field: string, v: unknown) => {
    if (!Array.isArray(v) || v.length > MAX_ROWS) return at(field, `must be a list of plan indexes (got ${preview(v, 40)})`);
    for (const [i, x] of v.entries()) {
      const p = whole(`${field}[${i}]`, x);
      if (p) return p;
    }
    return undefined;
  };
  const { plan } = carry;
  if (!isObject(plan)) return at('.plan', `must be an object (got ${preview(plan, 40)})`);
  const keyProblem = blobKeyProblem(plan.planKey);
  const found = (keyProblem ? at('.plan.planKey', `must be a blob key: it ${keyProblem}`) : undefined)
    ?? whole('.plan.total', plan.total) ?? whole('.plan.invalidRows', plan.invalidRows) ?? whole('.plan.duplicates', plan.duplicates)
    ?? whole('.plan.shipped', plan.shipped) ?? dollars('.plan.forecastUsd', plan.forecastUsd) ?? date('.plan.startedAt', plan.startedAt)
    ?? whole('.cursor', carry.cursor) ?? dollars('.costUsd', carry.costUsd) ?? whole('.runs', carry.runs) ?? whole('.batches', carry.batches)
    ?? flag('.paused', carry.paused) ?? flag('.reviewNotified', carry.reviewNotified)
    ?? (carry.lastAt === undefined ? undefined : date('.lastAt', carry.lastAt))
    ?? indexes('.failed', carry.failed) ?? indexes('.retryQueue', carry.retryQueue);
  if (found) return found;
  const { counts, running, unsaved } = carry;
  if (!isObject(counts)) return at('.counts', `must be an object of ${COUNT_KEYS.join(', ')} (got ${preview(counts, 40)})`);
  for (const k of COUNT_KEYS) {
    const p = whole(`.counts.${k}`, counts[k]);
    if (p) return p;
  }
  if (!isObject(running)) return at('.running', `must be an object of rows in flight by workflow id (got ${preview(running, 40)})`);
  for (const [id, row] of Object.entries(running)) {
    const field = `.running[${preview(id, 60)}]`;
    if (!isObject(row)) return at(field, `must be a row in flight {index, sku, state} (got ${preview(row, 40)})`);
    const p = whole(`${field}.index`, row.index) ?? text(`${field}.sku`, row.sku)
      ?? (row.state === 'running' || row.state === 'awaiting-review' ? undefined : at(`${field}.state`, `must be running or awaiting-review (got ${preview(row.state, 40)})`));
    if (p) return p;
  }
  if (unsaved === undefined) return undefined;
  if (!Array.isArray(unsaved) || unsaved.length > MAX_ROWS) return at('.unsaved', `must be a list of row results (got ${preview(unsaved, 40)})`);
  for (const [i, r] of unsaved.entries()) {
    const field = `.unsaved[${i}]`;
    if (!isObject(r)) return at(field, `must be a row result (got ${preview(r, 40)})`);
    const p = whole(`${field}.index`, r.index) ?? text(`${field}.workflowId`, r.workflowId) ?? text(`${field}.sku`, r.sku)
      ?? (typeof r.state === 'string' && (ROW_STATES as readonly string[]).includes(r.state) ? undefined : at(`${field}.state`, `must be one of ${ROW_STATES.join(', ')} (got ${preview(r.state, 40)})`))
      ?? dollars(`${field}.costUsd`, r.costUsd) ?? date(`${field}.at`, r.at)
      ?? (r.reason === undefined ? undefined : text(`${field}.reason`, r.reason, 2000));
    if (p) return p;
  }
  return undefined;
}
