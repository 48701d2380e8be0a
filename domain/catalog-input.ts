/**
 * The checks a catalog's input passes before anything runs. A catalog can be started from the
 * CLI, the Temporal UI or `temporal workflow start`, so the workflow itself checks what it was
 * given and fails at once, naming each field, instead of failing its workflow task forever.
 * Pure: the workflow runs it.
 */
import type { CatalogCarry } from './catalog-state';
import { fairnessWeightProblem } from './fairness';
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

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function intIn(field: string, v: unknown, min: number, max: number): CatalogInputIssue | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    return { field, message: `must be a whole number from ${min} to ${max} (got ${preview(v, 40)})` };
  }
  return undefined;
}

/** Every problem with a raw catalog input; empty when it can run. */
export function catalogInputIssues(raw: unknown): CatalogInputIssue[] {
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
  if (raw.budgetUsd !== undefined && (typeof raw.budgetUsd !== 'number' || !Number.isFinite(raw.budgetUsd) || raw.budgetUsd < 0)) {
    add({ field: 'budgetUsd', message: `must be a number of dollars, 0 or more (got ${preview(raw.budgetUsd, 40)})` });
  }
  const weightProblem = raw.fairnessWeight === undefined ? undefined : fairnessWeightProblem(raw.fairnessWeight);
  if (weightProblem) add({ field: 'fairnessWeight', message: `${weightProblem} (got ${preview(raw.fairnessWeight, 40)})` });
  if (raw.carry !== undefined && !(isObject(raw.carry) && isObject(raw.carry.plan) && typeof raw.carry.cursor === 'number')) {
    add({ field: 'carry', message: 'is internal to continued runs; leave it out when starting a catalog' });
  }
  return issues;
}
