/**
 * Fair sharing of workers between catalogs, through Temporal's task-queue fairness: every task a
 * catalog causes (its rows' workflow and activity tasks) carries the catalog's fairness key, and
 * a server with fairness on dispatches backlogged tasks round-robin between keys (in proportion
 * to their weights) instead of first-in-first-out. Pure: the workflows use it.
 */
import { hash8 } from './hash';

/** Temporal refuses a longer fairness key (bytes; catalog ids are ASCII). */
export const MAX_FAIRNESS_KEY_LENGTH = 64;
/** Temporal clamps weights to this range; Darkroom refuses values outside it instead. */
export const FAIRNESS_WEIGHT_RANGE = { min: 0.001, max: 1000 } as const;

/**
 * The key briefs started on their own (`darkroom run`) share: together they get one catalog's
 * share, so a person's brief runs beside big catalogs instead of behind them, and a burst of
 * single briefs cannot crowd the catalogs out either.
 */
export const SINGLE_BRIEFS_FAIRNESS_KEY = 'briefs';

/** The part of Temporal's `Priority` Darkroom sets (structurally the SDK's type). */
export interface FairnessPriority {
  fairnessKey: string;
  /** Share of dispatch relative to other keys. @default 1 (the server's) */
  fairnessWeight?: number;
}

/** A catalog's fairness key: its id, or when longer than Temporal allows, a prefix and a hash of the whole. */
export function catalogFairnessKey(catalogId: string): string {
  if (catalogId.length <= MAX_FAIRNESS_KEY_LENGTH) return catalogId;
  return `${catalogId.slice(0, MAX_FAIRNESS_KEY_LENGTH - 9)}~${hash8(catalogId)}`;
}

/** The priority of everything one catalog runs. */
export function catalogPriority(input: { catalogId: string; fairnessWeight?: number }): FairnessPriority {
  return {
    fairnessKey: catalogFairnessKey(input.catalogId),
    ...(input.fairnessWeight !== undefined ? { fairnessWeight: input.fairnessWeight } : {}),
  };
}

/** Why `weight` cannot be a fairness weight, or undefined if it can. */
export function fairnessWeightProblem(weight: unknown): string | undefined {
  const { min, max } = FAIRNESS_WEIGHT_RANGE;
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight < min || weight > max) return `must be a number from ${min} to ${max}`;
  return undefined;
}
