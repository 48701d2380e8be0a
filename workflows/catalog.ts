import { isCancellation } from '@temporalio/workflow';
import type { CatalogInput } from '../domain/catalog-input';
import { allStarted, budgetStop, type CatalogResult } from '../domain/catalog-state';
import { asCatalogFailure, CatalogRun, planPages, refuseBadInput } from './catalog/run';

export type { CatalogInput } from '../domain/catalog-input';

/**
 * Runs a product feed as one brief per row in a sliding window, for as long as it takes:
 * the feed stays in the blob store and is read in pages, rows report back by signal, and the
 * workflow continues as new with only a cursor and counters, so any number of rows fits.
 * The counting is in domain/catalog-state.ts, the Temporal calls in catalog/run.ts; this is the loop.
 */
export async function catalogWorkflow(input: CatalogInput): Promise<CatalogResult> {
  refuseBadInput(input);
  const run = new CatalogRun(input); // progress and the message handlers that change it
  try {
    const plan = run.plan ?? await run.makePlan();
    const runAt = planPages(plan);
    for (;;) {
      while (run.hasRoom(plan)) {
        const index = run.nextIndex();
        await run.startRow(index, await runAt(index));
      }
      await run.tellReviewersOnce();
      await run.saveIfPageFull();
      if (run.idle() && (run.cancelled || allStarted(run.progress, plan))) break;
      if (run.cancelled) {
        await run.cancelRows();
        break;
      }
      const overBudget = budgetStop(run.progress, plan, input.budgetUsd);
      if (overBudget) {
        run.cancel(overBudget);
        continue;
      }
      if (run.dueToContinue()) await run.continueAsNew(plan);
      await run.waitForNews();
    }
    return await run.report(plan);
  } catch (err) {
    // Cancelled from Temporal itself: still leave a clean summary behind.
    if (isCancellation(err) && run.plan) return await run.reportCancelled(run.plan);
    throw asCatalogFailure(err);
  }
}
