/**
 * The workflow bench/temporal-overhead.ts measures (its own workflowsPath, so Darkroom's bundle
 * is untouched): `chains` sequences of steps run side by side with Promise.all, each step one
 * `step` activity (or local activity) that sleeps the given milliseconds in the worker.
 * The bench's plain script runs the very same shape without Temporal.
 */
import { proxyActivities, proxyLocalActivities, proxySinks, type Sinks } from '@temporalio/workflow';

export interface OverheadActivities {
  /** Sleeps `ms` (0: returns at once) and records when it started and ended under `run`/`index`. */
  step(run: string, index: number, ms: number): Promise<void>;
}

/** Called just before step `index` is scheduled; the worker runs it when the activation is done. */
export interface OverheadSinks extends Sinks {
  bench: { mark(run: string, index: number): void };
}

export interface OverheadInput {
  run: string;
  /** Milliseconds each step sleeps, in order; step i belongs to chain i % chains. */
  sleeps: number[];
  chains: number;
  local: boolean;
}

const remote = proxyActivities<OverheadActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 1 } });
const { bench } = proxySinks<OverheadSinks>();
const local = proxyLocalActivities<OverheadActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 1 } });

export async function overheadWorkflow(input: OverheadInput): Promise<void> {
  const { step } = input.local ? local : remote;
  await Promise.all(
    Array.from({ length: input.chains }, async (_, chain) => {
      for (let i = chain; i < input.sleeps.length; i += input.chains) {
        bench.mark(input.run, i);
        await step(input.run, i, input.sleeps[i]!);
      }
    }),
  );
}
