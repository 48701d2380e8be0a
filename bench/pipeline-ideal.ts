/**
 * `npm run bench:ideal -- [--candidates 25] [--rows 100]`: the pipeline against its ideal, on the
 * simulated vendor (activities/providers/simulated: seeded log-normal latency around each model's
 * `typicalLatencyMs`, the configured per-minute and concurrency limits). Runs one brief of
 * `candidates` (auto approval) and one catalog of `rows`, on a throwaway dev server with the
 * production worker in this process, then rebuilds from the histories and the vendor's call log
 * what the same work would take with zero orchestration cost:
 *
 * - brief: the non-provider activities as they ran (each workflow task's batch of activities
 *   counts once, for its longest member), plus the vendor calls with the latencies actually
 *   drawn, list-scheduled in order onto min(DARKROOM_GENERATE_CONCURRENCY, vendor concurrency)
 *   slots under the vendor's per-minute window.
 * - catalog: a lower bound, the largest of (a) the vendor bound: every row's call list-scheduled
 *   onto the vendor's slots under its per-minute window, plus the shortest row's stages before and
 *   after its call; (b) the window bound: each row's own ideal (its stages' execution plus its
 *   call), summed and divided by the window; (c) the activity-slot bound: all non-provider
 *   activity execution divided by DARKROOM_MAX_CONCURRENT_ACTIVITIES. The catalog's own
 *   bookkeeping activities are left out of the ideal (reported separately).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import type { temporal } from '@temporalio/proto';
import { parseConfig } from '../domain/config';
import { IMAGE_MODELS } from '../domain/models';
import { startDevServer } from '../scripts/dev-server';
import { ensureTemporalCli } from '../scripts/temporal-cli';
import { createDarkroomWorker, providerLimits, WORKFLOWS_PATH } from '../workers/worker';
import { productFeed, startCatalog } from '../test/support/catalog';
import { testBrief } from '../test/support/briefs';
import type { SimulatedCall } from '../activities/providers/simulated';
import { simulatedProviders } from './sim-worker';
import { checkArgs } from '../scripts/cli-args';
import { median, quantile, table, writeSection } from './support';

checkArgs(import.meta.filename, { values: ['--candidates', '--rows', '--partitions', '--generate-concurrency'] });

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const CANDIDATES = arg('candidates', 25);
const ROWS = arg('rows', 100);
/** DARKROOM_GENERATE_CONCURRENCY values to run the brief with, each on its own worker (the catalog runs with the first). */
/** Task-queue partitions of the dev server to run on: 0 for Darkroom's dev-server setting (1, ONE_PARTITION), else every queue in that many (Temporal's default is 4). */
const PARTITIONS = process.argv.includes('--partitions') ? process.argv[process.argv.indexOf('--partitions') + 1]!.split(',').map(Number) : [0];
const GENERATE_CONCURRENCY = (process.argv[process.argv.indexOf('--generate-concurrency') + 1] && process.argv.includes('--generate-concurrency')
  ? process.argv[process.argv.indexOf('--generate-concurrency') + 1]!.split(',').map(Number) : [4]);

type Event = temporal.api.history.v1.IHistoryEvent;
const ms = (t: Event['eventTime']) => Number(t?.seconds?.toString() ?? 0) * 1000 + Math.round((t?.nanos ?? 0) / 1e6);

/** One activity as its history tells it: when scheduled, started (last attempt) and closed, and in which workflow task's batch. */
interface ActivityRun { type: string; queue: string; batch: string; scheduled: number; started: number; closed: number; attempt: number }

/** The activities, the start and the close of one workflow execution (one run). */
function readHistory(events: readonly Event[]): { activities: ActivityRun[]; startedAt: number; closedAt: number } {
  const byScheduled = new Map<string, ActivityRun>();
  for (const e of events) {
    const id = String(e.eventId);
    if (e.activityTaskScheduledEventAttributes) {
      const a = e.activityTaskScheduledEventAttributes;
      byScheduled.set(id, { type: a.activityType!.name!, queue: a.taskQueue!.name!, batch: String(a.workflowTaskCompletedEventId), scheduled: ms(e.eventTime), started: 0, closed: 0, attempt: 0 });
    } else if (e.activityTaskStartedEventAttributes) {
      const a = byScheduled.get(String(e.activityTaskStartedEventAttributes.scheduledEventId))!;
      a.started = ms(e.eventTime);
      a.attempt = e.activityTaskStartedEventAttributes.attempt ?? 1;
    } else {
      const done = e.activityTaskCompletedEventAttributes ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
      if (done) byScheduled.get(String(done.scheduledEventId))!.closed = ms(e.eventTime);
    }
  }
  return { activities: [...byScheduled.values()], startedAt: ms(events[0]!.eventTime), closedAt: ms(events.at(-1)!.eventTime) };
}

/**
 * Start times of calls of the given latencies, issued in order onto `slots` slots, with at most
 * `perMinute` starts in any 60 s (or, with `spacingMs`, one start every `spacingMs`): the end of the last.
 */
export function listSchedule(latencies: readonly number[], slots: number, perMinute: number, spacingMs = 0): number {
  const free = Array.from({ length: slots }, () => 0);
  const starts: number[] = [];
  let end = 0;
  for (const [i, l] of latencies.entries()) {
    const slot = free.indexOf(Math.min(...free));
    let t = free[slot]!;
    if (i >= perMinute) t = Math.max(t, starts[i - perMinute]! + 60_000);
    if (spacingMs && i > 0) t = Math.max(t, starts[i - 1]! + spacingMs);
    starts.push(t);
    free[slot] = t + l;
    end = Math.max(end, t + l);
  }
  return end;
}

/** Execution time of the non-provider stages, each workflow task's batch counted once for its longest member. */
function stagesMs(activities: readonly ActivityRun[]): number {
  const batches = new Map<string, number>();
  for (const a of activities) batches.set(a.batch, Math.max(batches.get(a.batch) ?? 0, a.closed - a.started));
  return [...batches.values()].reduce((s, x) => s + x, 0);
}

const isCall = (a: ActivityRun) => a.type === 'generateCandidate';

/**
 * Where a brief's time outside activity execution goes, per slot of the critical path:
 * `turnaround` (an activity closed → the workflow scheduled what follows: one workflow task),
 * `dispatch` (scheduled → started: the matching service and the worker's poll), both summed over
 * the stage batches, and for the calls averaged over the slots.
 */
export function gaps(activities: readonly ActivityRun[], slots: number): { turnaround: number; dispatch: number; callTurnaround: number; callDispatch: number } {
  const calls = activities.filter(isCall);
  const batches = new Map<string, ActivityRun[]>();
  for (const a of activities.filter((x) => !isCall(x))) batches.set(a.batch, [...(batches.get(a.batch) ?? []), a]);
  // Stages in order, the call phase as one stage.
  const stages: Array<{ scheduled: number; started: number; closed: number }> = [...batches.values()].map((b) => ({
    scheduled: Math.min(...b.map((a) => a.scheduled)), started: Math.max(...b.map((a) => a.started)), closed: Math.max(...b.map((a) => a.closed)),
  }));
  if (calls.length) stages.push({ scheduled: Math.min(...calls.map((a) => a.scheduled)), started: Math.min(...calls.map((a) => a.started)), closed: Math.max(...calls.map((a) => a.closed)) });
  stages.sort((a, b) => a.scheduled - b.scheduled);
  let turnaround = 0;
  let dispatch = 0;
  for (const [i, st] of stages.entries()) {
    if (i > 0) turnaround += Math.max(0, st.scheduled - stages[i - 1]!.closed);
    dispatch += st.started - st.scheduled;
  }
  // Within the call phase: each call after the first wave takes the slot the k-th close freed; it
  // waits for the workflow to schedule it (turnaround) and then for the server to hand it over.
  const byStart = [...calls].sort((a, b) => a.started - b.started);
  const closes = calls.map((a) => a.closed).sort((a, b) => a - b);
  let callTurnaround = 0;
  let callDispatch = 0;
  for (let k = 0; k + slots < byStart.length; k++) {
    const call = byStart[k + slots]!;
    callTurnaround += Math.max(0, call.scheduled - closes[k]!);
    callDispatch += Math.max(0, call.started - Math.max(call.scheduled, closes[k]!));
  }
  return { turnaround, dispatch, callTurnaround: callTurnaround / slots, callDispatch: callDispatch / slots };
}
const s1 = (x: number) => (x / 1000).toFixed(1);
const load = () => os.loadavg()[0]!.toFixed(2);

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const workflowBundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('WARN') });
  const sections: string[] = [];
  for (const partitions of PARTITIONS) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'darkroom-ideal-'));
    const cli = partitions ? await partitionedCli(dir, partitions) : undefined;
    const server = await startDevServer({ dbFile: path.join(dir, 'temporal.sqlite'), uiPort: false, ...(cli ? { cli } : {}) });
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection });
    sections.push(partitions ? `### Every task queue in ${partitions} partition${partitions > 1 ? 's' : ''} (matching.numTaskqueueRead/WritePartitions=${partitions})` : '### Task queues as Darkroom\'s dev server sets them (one partition, ONE_PARTITION in scripts/dev-server.ts)');
    try {
      for (const [variant, generateConcurrency] of GENERATE_CONCURRENCY.entries()) {
        const taskQueue = `bench-ideal-g${generateConcurrency}`;
        // Provider limits (DARKROOM_<VENDOR>_RPM, _CONCURRENCY) may come from the environment, as for a worker.
        const config = parseConfig({ ...process.env, TEMPORAL_ADDRESS: server.address, DARKROOM_TASK_QUEUE: taskQueue, DARKROOM_DATA_DIR: dir, DARKROOM_GENERATE_CONCURRENCY: String(generateConcurrency) });
        const { generator, overrides } = simulatedProviders(config, { seed: 1 });
        const { worker, connection: workerConnection } = await createDarkroomWorker({ config, providers: overrides, workflowBundle });
        await worker.runUntil(async () => {
          // Warm-up (not measured): bundle loaded, sharp and the simulated images' first paint done.
          await client.workflow.execute('briefWorkflow', { taskQueue, workflowId: `brief-warm-up-g${generateConcurrency}`, args: [testBrief({ candidates: 12, styleHints: ['clean studio look'] })] });

          // 1. One brief of CANDIDATES candidates, auto approval.
          const callsBefore = generator.calls.length;
          const handle = await client.workflow.start('briefWorkflow', { taskQueue, workflowId: `brief-ideal-${CANDIDATES}-g${generateConcurrency}`, args: [testBrief({ candidates: CANDIDATES, styleHints: ['clean studio look'], budgetUsd: 20 })] });
          await handle.result();
          const loadBrief = load();
          const h = readHistory((await handle.fetchHistory()).events ?? []);
          const calls = generator.calls.slice(callsBefore);
          const answered = calls.filter((c) => !c.refused);
          const model = answered[0]?.model ?? 'none';
          const provider = IMAGE_MODELS[model]!.provider as Exclude<ReturnType<typeof providerOf>, 'local'>;
          const limits = providerLimits(config, provider);
          const slots = Math.min(config.DARKROOM_GENERATE_CONCURRENCY, limits.concurrency);
          const latencies = answered.sort((a, b) => a.seed - b.seed).map((c) => c.latencyMs);
          // The calls in the order the workflow issues them (index order: seeds follow the index).
          const gIdeal = listSchedule(latencies, slots, limits.perMinute);
          const gSmooth = listSchedule(latencies, slots, limits.perMinute, 60_000 / limits.perMinute);
          const callRuns = h.activities.filter(isCall);
          const others = h.activities.filter((a) => !isCall(a));
          const stages = stagesMs(others);
          const ideal = stages + gIdeal;
          const makespan = h.closedAt - h.startedAt;
          const gActual = Math.max(...callRuns.map((a) => a.closed)) - Math.min(...callRuns.map((a) => a.scheduled));
          const callOverhead = callRuns.reduce((s, a) => s + (a.closed - a.started), 0) - latencies.reduce((s, x) => s + x, 0);
          const dispatchOthers = others.map((a) => a.started - a.scheduled);
          const nonCallSpan = makespan - gActual;
          const gap = gaps(h.activities, slots);
          const byType = new Map<string, number[]>();
          for (const a of others) byType.set(a.type, [...(byType.get(a.type) ?? []), a.closed - a.started]);
          sections.push([
            `#### One brief, ${CANDIDATES} candidates, auto approval, DARKROOM_GENERATE_CONCURRENCY=${generateConcurrency} (${model}: median ${IMAGE_MODELS[model]!.typicalLatencyMs} ms, ${limits.perMinute}/min, ${slots} slots = min(generate concurrency ${config.DARKROOM_GENERATE_CONCURRENCY}, ${provider} concurrency ${limits.concurrency}))`,
            '',
            table(['', 'seconds'], [
              ['measured makespan (workflow started → closed)', s1(makespan)],
              ['ideal = non-provider stages + scheduled calls', s1(ideal)],
              ['  non-provider stages, execution only', s1(stages)],
              ['  calls list-scheduled under the vendor\'s per-minute window', s1(gIdeal)],
              [`  (same, with the worker's smooth ${(limits.perMinute / 60).toFixed(2)}/s task-queue rate)`, s1(gSmooth)],
              ['generate phase as run (first call scheduled → last closed)', s1(gActual)],
              ['  of which time in generate activities beyond the vendor latency (store, ledger), summed', s1(callOverhead)],
              ['everything outside the generate phase', s1(nonCallSpan)],
              ['where the gap goes (measured − ideal)', s1(makespan - ideal)],
              ['  workflow-task turnarounds between stages (close → next scheduled)', s1(gap.turnaround)],
              ['  dispatch of each stage (scheduled → started), summed', s1(gap.dispatch)],
              [`  calls after the first wave: close → next call scheduled, per slot (÷${slots})`, s1(gap.callTurnaround)],
              [`  calls after the first wave: slot free and call scheduled → started, per slot (÷${slots})`, s1(gap.callDispatch)],
              [`  time in calls beyond the drawn latency, per slot (÷${slots})`, s1(callOverhead / slots)],
              ['  calls: the worker\'s smooth rate against the per-minute window', s1(gSmooth - gIdeal)],
            ]),
            '',
            `**Ratio measured / ideal: ${(makespan / ideal).toFixed(3)}** (target ≤ 1.05); load average ${loadBrief}. ` +
              `Vendor calls: ${answered.length} answered, ${calls.length - answered.length} refused by the simulated vendor's limits; drawn latencies median ${median(latencies)} ms, p90 ${Math.round(quantile(latencies, 0.9))} ms. ` +
              `Non-provider activity dispatch median ${median(dispatchOthers)} ms, max ${Math.max(...dispatchOthers)} ms.`,
            '',
            table(['non-provider activity', 'runs', 'median exec ms'], [...byType].map(([t, xs]) => [t, xs.length, Math.round(median(xs))])),
          ].join('\n'));

          // 2. A catalog of ROWS rows, one candidate each (with the first setting only).
          if (variant > 0 || ROWS === 0) return;
          const catalogCallsBefore = generator.calls.length;
          const window = 8;
          const catalog = await startCatalog(client, { dataDir: dir, taskQueue, catalogId: `ideal-${ROWS}`, feed: productFeed(ROWS), window });
          const result = await catalog.result();
          const loadCatalog = load();
          const catalogRuns: ReturnType<typeof readHistory>[] = [];
          for await (const w of client.workflow.list({ query: `WorkflowId = 'catalog-ideal-${ROWS}'` })) {
            catalogRuns.push(readHistory((await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory()).events ?? []));
          }
          const rowRuns: ReturnType<typeof readHistory>[] = [];
          for await (const w of client.workflow.list({ query: `WorkflowId STARTS_WITH 'catalog-ideal-${ROWS}/'` })) {
            rowRuns.push(readHistory((await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory()).events ?? []));
          }
          const cCalls = generator.calls.slice(catalogCallsBefore);
          const cAnswered = cCalls.filter((c) => !c.refused).sort((a, b) => a.startedAt - b.startedAt);
          const cModel = cAnswered[0]?.model ?? 'none';
          const cProvider = providerOf(cModel) as Exclude<ReturnType<typeof providerOf>, 'local'>;
          const cLimits = providerLimits(config, cProvider);
          const cStart = Math.min(...catalogRuns.map((r) => r.startedAt));
          const cEnd = Math.max(...catalogRuns.map((r) => r.closedAt));
          const cMakespan = cEnd - cStart;
          const pre = rowRuns.map((r) => stagesMs(r.activities.filter((a) => !isCall(a) && a.closed <= Math.min(...r.activities.filter(isCall).map((c) => c.scheduled)))));
          const post = rowRuns.map((r, i) => stagesMs(r.activities.filter((a) => !isCall(a))) - pre[i]!);
          const cLat = cAnswered.map((c: SimulatedCall) => c.latencyMs);
          const vendorBound = Math.min(...pre) + listSchedule(cLat, cLimits.concurrency, cLimits.perMinute) + Math.min(...post);
          const rowIdeal = rowRuns.map((r, i) => pre[i]! + post[i]!).reduce((s, x) => s + x, 0) + cLat.reduce((s, x) => s + x, 0);
          const windowBound = rowIdeal / window;
          const nonProviderExec = rowRuns.flatMap((r) => r.activities.filter((a) => !isCall(a))).reduce((s, a) => s + a.closed - a.started, 0);
          const slotBound = nonProviderExec / config.DARKROOM_MAX_CONCURRENT_ACTIVITIES;
          const cIdeal = Math.max(vendorBound, windowBound, slotBound);
          const bookkeeping = catalogRuns.flatMap((r) => r.activities).reduce((s, a) => s + a.closed - a.started, 0);
          const rowDispatch = rowRuns.flatMap((r) => r.activities.filter((a) => !isCall(a)).map((a) => a.started - a.scheduled));
          const rowSpan = rowRuns.map((r) => r.closedAt - r.startedAt);
          sections.push([
            `#### A catalog of ${ROWS} rows, window ${window}, one candidate a row (${cModel}: median ${IMAGE_MODELS[cModel]?.typicalLatencyMs} ms, ${cLimits.perMinute}/min, ${cLimits.concurrency} at once)`,
            '',
            table(['', 'seconds'], [
              ['measured makespan (catalog started → last run closed)', s1(cMakespan)],
              ['ideal = the largest of the three bounds below', s1(cIdeal)],
              ['  vendor bound: calls list-scheduled + shortest head and tail', s1(vendorBound)],
              [`  window bound: Σ row ideals / ${window}`, s1(windowBound)],
              [`  activity-slot bound: non-provider execution / ${config.DARKROOM_MAX_CONCURRENT_ACTIVITIES}`, s1(slotBound)],
              ['catalog bookkeeping activities, execution summed (not in the ideal)', s1(bookkeeping)],
            ]),
            '',
            `**Ratio measured / ideal: ${(cMakespan / cIdeal).toFixed(3)}**; load average ${loadCatalog}. ${result.counts.done} rows done, ${result.counts.failed} failed; ` +
              `${cAnswered.length} calls answered, ${cCalls.length - cAnswered.length} refused. Row makespan median ${s1(median(rowSpan))} s against a median row ideal of ${s1(median(rowRuns.map((_, i) => pre[i]! + post[i]! + (cLat[i] ?? 0))))} s; ` +
              `non-provider activity dispatch (scheduled → started) median ${median(rowDispatch)} ms, p90 ${Math.round(quantile(rowDispatch, 0.9))} ms over ${rowDispatch.length} activities.`,
          ].join('\n'));
        });
        await workerConnection.close();
      }
    } finally {
      await connection.close();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  }
  const preface = [
    'The ideal is the same work with zero orchestration cost: the non-provider activities as they ran (each workflow task\'s batch counted once, for its longest member) plus the vendor calls with the latencies the simulated vendor drew, list-scheduled in order onto min(DARKROOM_GENERATE_CONCURRENCY, vendor concurrency) slots under the vendor\'s per-minute window. For the catalog it is the largest of the vendor, window and activity-slot bounds. The gap rows split measured − ideal into workflow-task turnarounds, dispatch (scheduled → started) and time in the call activities beyond the drawn latency. The brief\'s cheap steps (checking the brief, moderating the prompt, writing the manifest) are local activities, which the tables do not list: their milliseconds count against the measured makespan and not in the ideal, which can only raise the ratio.',
    'Temporal splits a task queue\'s rate limit (maxTaskQueueActivitiesPerSecond, set from DARKROOM_<VENDOR>_RPM / 60) between the queue\'s partitions; compare the dispatch rows of the partition settings below.',
  ].join('\n\n');
  writeSection('pipeline-ideal', 'Pipeline against its ideal (simulated vendor)', `npx tsx bench/pipeline-ideal.ts --candidates ${CANDIDATES} --rows ${ROWS} --generate-concurrency ${GENERATE_CONCURRENCY.join(',')} --partitions ${PARTITIONS.join(',')}`, [preface, ...sections].join('\n\n'));
}

/**
 * A `temporal` that starts its dev server with every task queue in `n` partitions. The server splits
 * a queue's rate limit (maxTaskQueueActivitiesPerSecond) between its partitions, so a vendor queue's
 * 1 call/s is 0.25/s per partition with the default 4.
 */
async function partitionedCli(dir: string, n: number): Promise<string> {
  const real = await ensureTemporalCli();
  const file = path.join(dir, 'temporal-partitioned.sh');
  const extra = ['Read', 'Write'].map((rw) => `--dynamic-config-value matching.numTaskqueue${rw}Partitions=${n}`).join(' ');
  await writeFile(file, `#!/bin/sh\nif [ "$1" = server ]; then exec '${real}' "$@" ${extra}; fi\nexec '${real}' "$@"\n`, { mode: 0o755 });
  return file;
}

function providerOf(model: string) {
  return IMAGE_MODELS[model]?.provider ?? 'local';
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
