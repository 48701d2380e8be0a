/**
 * What the fault-injection tests (test/faults/, in `npm test`, and test/chaos/, in `npm run chaos`)
 * share: a seeded fault schedule, and the line each test leaves for the results page
 * (bench/results/chaos.md, written by test/chaos/reporter.ts).
 */
import { createHash } from 'node:crypto';
import type { TestContext } from 'vitest';

declare module 'vitest' {
  interface TaskMeta {
    /** What the test proved, with its counts: a row of bench/results/chaos.md. */
    chaos?: string;
  }
}

/** Leaves `proved` (with the counts the test checked) for the results page, and prints it. */
export function recordProof(task: TestContext['task'], proved: string): void {
  task.meta.chaos = proved;
  console.info(`[chaos] ${task.name}: ${proved}`);
}

/** A number in [0, 1) fixed by `seed` and `index`: the same on every run. */
export function seededUnit(seed: string, index: number): number {
  return createHash('sha256').update(`${seed}:${index}`).digest().readUInt32BE(0) / 2 ** 32;
}

/**
 * A seeded fault schedule that fails exactly one call of each pair (0–1, 2–3, …; which one is
 * seeded), so any stretch of calls fails half of them, each failure drawn from `kinds` by weight.
 */
export function halfFailing<T>(seed: string, kinds: ReadonlyArray<readonly [T, number]>): (index: number) => T | undefined {
  const total = kinds.reduce((a, [, w]) => a + w, 0);
  return (index) => {
    const failsFirst = seededUnit(`${seed}/pair`, Math.floor(index / 2)) < 0.5;
    if (failsFirst !== (index % 2 === 0)) return undefined;
    let at = seededUnit(`${seed}/kind`, index) * total;
    for (const [kind, weight] of kinds) {
      at -= weight;
      if (at < 0) return kind;
    }
    return kinds.at(-1)![0];
  };
}
