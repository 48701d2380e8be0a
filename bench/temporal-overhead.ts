/**
 * `npm run bench:overhead`: what Temporal adds to each step, on a throwaway dev server (SQLite
 * file, scripts/dev-server.ts) and a worker in this process, before and after Darkroom's
 * dispatch settings (PROMPT_DISPATCH, SQLITE_PRAGMAS), in one run.
 *
 *   no-op steps       a workflow runs N no-op activities in 1, 4 or 16 chains side by side; a
 *                     step is the time from one activity's start to the next one's in its chain
 *   where it goes     the sequential run's steps split by its history's event times and the
 *                     worker's own marks (same machine, same clock)
 *   simulated work    every step sleeps a log-normal ~50 ms; the same steps as activities, as
 *                     local activities and as a plain Promise.all script with the same chains;
 *                     the overhead of a step is the gap from one step's end to the next one's start
 *
 * `--variants` also measures one setting at a time (how the cause was found); `--only TEXT`
 * measures just the variants whose name contains TEXT (and skips the before/after run);
 * `--rounds R` measures the variants R times, interleaved, and pools their steps. `--steps N`
 * changes N (default 100; chains run 2N). `--address host:port` measures a server that is
 * already running instead (no before/after then).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker, type InjectedSinks, type WorkerOptions } from '@temporalio/worker';
import { EAGER_ACTIVITIES, ONE_PARTITION, PROMPT_DISPATCH, SQLITE_PRAGMAS, startDevServer } from '../scripts/dev-server';
import type { OverheadActivities, OverheadInput, OverheadSinks } from './overhead-workflow';
import { checkArgs } from '../scripts/cli-args';
import { quantile, table, writeSection } from './support';

checkArgs(import.meta.filename, { values: ['--steps', '--address', '--only', '--rounds'], switches: ['--variants'] });

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const STEPS = args.includes('--steps') ? Number(args[args.indexOf('--steps') + 1]) : 100;
const ADDRESS = args.includes('--address') ? args[args.indexOf('--address') + 1] : undefined;
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const ROUNDS = args.includes('--rounds') ? Number(args[args.indexOf('--rounds') + 1]) : 1;
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds must be a whole number of at least 1 (got ${args[args.indexOf('--rounds') + 1]})`);
if (!Number.isInteger(STEPS) || STEPS < 10) throw new Error(`--steps must be a whole number of at least 10 (got ${args[args.indexOf('--steps') + 1]})`);
if (args.includes('--address') && !ADDRESS) throw new Error('--address needs host:port');

/** A server and worker configuration to measure. */
interface Variant {
  name: string;
  /** `--dynamic-config-value` settings after the dev server's own (a later one wins). */
  dynamicConfig?: string[];
  sqlitePragmas?: string[];
  fairness?: boolean;
  worker?: Partial<WorkerOptions>;
}

/** Temporal's defaults for what Darkroom now sets: 20 transfer-queue reads a second, no eager activities, SQLite's rollback journal. */
const NO_EAGER = 'system.enableActivityEagerExecution=false';
const TEMPORAL_DEFAULTS = { dynamicConfig: ['history.transferProcessorMaxPollRPS=20', NO_EAGER], sqlitePragmas: [] };
const BEFORE: Variant = { name: 'before', ...TEMPORAL_DEFAULTS };
const AFTER: Variant = { name: 'after' };

const autoscaling: Partial<WorkerOptions> = { workflowTaskPollerBehavior: { type: 'autoscaling' }, activityTaskPollerBehavior: { type: 'autoscaling' } };
const eager = EAGER_ACTIVITIES[0]!;

/** One setting changed at a time, from before and from after. */
const VARIANTS: Variant[] = [
  BEFORE,
  { name: 'before, fairness off', ...TEMPORAL_DEFAULTS, fairness: false },
  { name: 'before, one task queue partition', ...TEMPORAL_DEFAULTS, dynamicConfig: [...TEMPORAL_DEFAULTS.dynamicConfig, ...ONE_PARTITION] },
  { name: 'before, eager activities', ...TEMPORAL_DEFAULTS, dynamicConfig: [...TEMPORAL_DEFAULTS.dynamicConfig, eager] },
  { name: 'before, autoscaling pollers', ...TEMPORAL_DEFAULTS, worker: autoscaling },
  { name: 'before, WAL synced at commit', ...TEMPORAL_DEFAULTS, sqlitePragmas: SQLITE_PRAGMAS },
  { name: 'before, 1000 transfer reads/s', ...TEMPORAL_DEFAULTS, dynamicConfig: [...PROMPT_DISPATCH, NO_EAGER] },
  AFTER,
  { name: 'after, fairness off', fairness: false },
  { name: 'after, one task queue partition', dynamicConfig: ONE_PARTITION },
  { name: 'after, eager activities off', dynamicConfig: [NO_EAGER] },
  { name: 'after, autoscaling pollers', worker: autoscaling },
  { name: 'after, WAL synchronous=normal (not durable)', sqlitePragmas: ['journal_mode=wal', 'synchronous=normal'] },
  // Diagnosis only: debugMode runs workflow code on the main thread without its deadlock detector.
  { name: 'after, workflows on the main thread (debugMode)', worker: { debugMode: true } },
];

interface Span {
  start: number;
  end: number;
}

/** Epoch milliseconds with sub-millisecond resolution (history event times are epoch too). */
const now = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Per run: when each step ran, and when the activation that scheduled it was done. */
const spans = new Map<string, Span[]>();
const marks = new Map<string, number[]>();
function put<T>(map: Map<string, T[]>, run: string, index: number, value: T): void {
  let list = map.get(run);
  if (!list) map.set(run, (list = []));
  list[index] = value;
}

/** The step every mode runs: the activity, the local activity and the plain script. */
async function step(run: string, index: number, ms: number): Promise<void> {
  const start = now();
  if (ms > 0) await sleep(ms);
  put(spans, run, index, { start, end: now() });
}

const activities: OverheadActivities = { step };
const sinks: InjectedSinks<OverheadSinks> = { bench: { mark: { fn: (_info, run, index) => put(marks, run, index, now()) } } };

/** The same shape as overheadWorkflow, without Temporal. */
async function plainScript(input: OverheadInput): Promise<void> {
  await Promise.all(
    Array.from({ length: input.chains }, async (_, chain) => {
      for (let i = chain; i < input.sleeps.length; i += input.chains) await step(input.run, i, input.sleeps[i]!);
    }),
  );
}

/** Log-normal sleeps around `medianMs` from a fixed seed, so every mode sleeps the same. */
function logNormalSleeps(n: number, medianMs: number, sigma: number, seed: number): number[] {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  return Array.from({ length: n }, () => {
    const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
    return Math.round(Math.min(medianMs * 4, Math.max(medianMs / 4, medianMs * Math.exp(sigma * z))));
  });
}

interface RunResult {
  spans: Span[];
  marks: number[];
  /** Start-to-start time of consecutive steps in a chain (ms). */
  steps: number[];
  /** End of one step to the start of the next in its chain (ms): what the runner adds. */
  gaps: number[];
  wallMs: number;
  workflowId?: string;
}

function analyse(run: string, n: number, chains: number, wallMs: number): RunResult {
  const list = spans.get(run) ?? [];
  const steps: number[] = [];
  const gaps: number[] = [];
  for (let i = chains; i < n; i++) {
    const prev = list[i - chains];
    const cur = list[i];
    if (!prev || !cur) throw new Error(`${run}: step ${i} did not run`);
    steps.push(cur.start - prev.start);
    gaps.push(cur.start - prev.end);
  }
  const result = { spans: list, marks: marks.get(run) ?? [], steps, gaps, wallMs };
  spans.delete(run);
  marks.delete(run);
  return result;
}

const ms = (x: number) => (Number.isNaN(x) ? '–' : x < 10 ? x.toFixed(1) : x.toFixed(0));
const p = (xs: number[], q: number) => ms(quantile(xs, q));
const p50p99 = (xs: number[]) => `${p(xs, 0.5)} / ${p(xs, 0.99)}`;

interface Bench {
  client: Client;
  taskQueue: string;
  stop(): Promise<void>;
}

let runNo = 0;
async function runWorkflow(bench: Bench, sleeps: number[], chains: number, local: boolean): Promise<RunResult> {
  const run = `r${++runNo}`;
  const workflowId = `overhead-${process.pid}-${run}`;
  const t = performance.now();
  await bench.client.workflow.execute('overheadWorkflow', { taskQueue: bench.taskQueue, workflowId, args: [{ run, sleeps, chains, local } satisfies OverheadInput] });
  return { ...analyse(run, sleeps.length, chains, performance.now() - t), workflowId };
}

async function runPlain(sleeps: number[], chains: number): Promise<RunResult> {
  const run = `r${++runNo}`;
  const t = performance.now();
  await plainScript({ run, sleeps, chains, local: false });
  return analyse(run, sleeps.length, chains, performance.now() - t);
}

/** The legs of one sequential step, in the order a step travels. */
const LEGS = [
  ['activity completed → workflow task started', 'server: commit, transfer-queue read, matching'],
  ['workflow task started → activation done', 'server commit, delivery, workflow code'],
  ['activation done → workflow task completed', 'worker → server'],
  ['activity scheduled → activity task started', 'server: commit, transfer-queue read, matching'],
  ['activity task started → activity runs', 'server commit, delivery'],
  ['activity returns → activity completed', 'worker → server'],
] as const;

/**
 * Splits a sequential run's steps into {@link LEGS} from the history's event times (server) and
 * the worker's marks: when the activation scheduling step i was done, and when step i ran.
 */
async function legs(bench: Bench, run: RunResult): Promise<number[][]> {
  const history = await bench.client.workflow.getHandle(run.workflowId!).fetchHistory();
  const events = history.events ?? [];
  const time = (e: (typeof events)[number]) => Number(e.eventTime!.seconds) * 1000 + (e.eventTime!.nanos ?? 0) / 1e6;
  const byId = new Map(events.map((e) => [Number(e.eventId), e]));
  const completedBySchedule = new Map(
    events.filter((e) => e.activityTaskCompletedEventAttributes).map((e) => [Number(e.activityTaskCompletedEventAttributes!.scheduledEventId), e]),
  );
  const out: number[][] = LEGS.map(() => []);
  let previousDone: number | undefined;
  // In a one-chain run the activities, in the order they were scheduled, are steps 0, 1, 2, …
  events.filter((e) => e.activityTaskScheduledEventAttributes).forEach((scheduled, i) => {
    const completed = completedBySchedule.get(Number(scheduled.eventId));
    const span = run.spans[i];
    const mark = run.marks[i];
    if (!completed || !span || mark === undefined) throw new Error(`${run.workflowId}: step ${i} has no completion or no marks`);
    const started = byId.get(Number(completed.activityTaskCompletedEventAttributes!.startedEventId))!;
    const wftCompleted = byId.get(Number(scheduled.activityTaskScheduledEventAttributes!.workflowTaskCompletedEventId))!;
    const wftStarted = byId.get(Number(wftCompleted.workflowTaskCompletedEventAttributes!.startedEventId))!;
    if (previousDone !== undefined) {
      [time(wftStarted) - previousDone, mark - time(wftStarted), time(wftCompleted) - mark, time(started) - time(scheduled), span.start - time(started), time(completed) - span.end]
        .forEach((v, leg) => out[leg]!.push(v));
    }
    previousDone = time(completed);
  });
  return out;
}

async function startBench(variant: Variant, workflowBundle: { code: string }, dir: string): Promise<Bench> {
  const server = ADDRESS
    ? undefined
    : await startDevServer({
        dbFile: path.join(dir, `temporal-${++runNo}.sqlite`),
        uiPort: false,
        fairness: variant.fairness,
        dynamicConfig: variant.dynamicConfig,
        sqlitePragmas: variant.sqlitePragmas,
      });
  const address = server?.address ?? ADDRESS!;
  const nativeConnection = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const taskQueue = `overhead-${process.pid}-${runNo}`;
  const worker = await Worker.create({ connection: nativeConnection, taskQueue, workflowBundle, activities, sinks, ...variant.worker });
  const running = worker.run();
  return {
    client: new Client({ connection }),
    taskQueue,
    async stop() {
      worker.shutdown();
      await running;
      await nativeConnection.close();
      await connection.close();
      await server?.stop();
    },
  };
}

const zeros = (n: number) => Array.from({ length: n }, () => 0);
const stepsFor = (chains: number) => (chains === 1 ? STEPS : STEPS * 2);

interface Measured {
  noop: Map<number, RunResult>;
  legs: number[][];
  /** Per chains: the plain script, activities, local activities. */
  work: Map<number, { plain: RunResult; activities: RunResult; local: RunResult }>;
}

async function measure(variant: Variant, workflowBundle: { code: string }, dir: string, opts: { chains: number[]; work: boolean }): Promise<Measured> {
  console.log(`measuring: ${variant.name}`);
  const bench = await startBench(variant, workflowBundle, dir);
  try {
    await runWorkflow(bench, zeros(5), 1, false); // warm-up: workflow bundle loaded, sticky queue known
    const noop = new Map<number, RunResult>();
    for (const chains of opts.chains) noop.set(chains, await runWorkflow(bench, zeros(stepsFor(chains)), chains, false));
    const work = new Map<number, { plain: RunResult; activities: RunResult; local: RunResult }>();
    for (const chains of opts.work ? [1, 4, 16] : []) {
      const sleeps = logNormalSleeps(stepsFor(chains), 50, 0.35, 12 + chains);
      work.set(chains, { plain: await runPlain(sleeps, chains), activities: await runWorkflow(bench, sleeps, chains, false), local: await runWorkflow(bench, sleeps, chains, true) });
    }
    const seq = noop.get(1)!;
    console.log(`  sequential no-op step p50/p99 ${p50p99(seq.steps)} ms`);
    return { noop, legs: await legs(bench, seq), work };
  } finally {
    await bench.stop();
  }
}

/** Each variant's sequential and 4-chain steps and legs, pooled over ROUNDS interleaved rounds. */
async function measureVariants(variants: Variant[], workflowBundle: { code: string }, dir: string): Promise<Array<[Variant, { sequential: number[]; fourChains: number[]; legs: number[][] }]>> {
  const pooled = variants.map(() => ({ sequential: [] as number[], fourChains: [] as number[], legs: LEGS.map(() => [] as number[]) }));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, v] of variants.entries()) {
      const r = await measure(v, workflowBundle, dir, { chains: [1, 4], work: false });
      pooled[i]!.sequential.push(...r.noop.get(1)!.steps);
      pooled[i]!.fourChains.push(...r.noop.get(4)!.steps);
      r.legs.forEach((l, leg) => pooled[i]!.legs[leg]!.push(...l));
    }
  }
  return variants.map((v, i) => [v, pooled[i]!]);
}

function describe(v: Variant): string {
  const config = [...(v.fairness === false ? [] : ['matching.enableFairness=true']), ...(v.dynamicConfig ?? [...PROMPT_DISPATCH, ...EAGER_ACTIVITIES])].join(', ');
  const pragmas = v.sqlitePragmas ?? SQLITE_PRAGMAS;
  return `dynamic config ${config}; SQLite ${pragmas.length ? pragmas.join(', ') : 'defaults (rollback journal, synchronous=full)'}`;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'darkroom-overhead-'));
  const quiet = () => undefined;
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: path.resolve(import.meta.dirname, 'overhead-workflow.ts'),
    logger: { info: quiet, warn: console.warn, error: console.error, debug: quiet, trace: quiet, log: quiet },
  });
  const out: string[] = [];
  try {
    if (ONLY !== undefined) {
      // A quick look at some variants: printed, not written to the results.
      for (const [v, r] of await measureVariants(VARIANTS.filter((x) => x.name.includes(ONLY)), workflowBundle, dir)) {
        console.log(`${v.name}: sequential ${p50p99(r.sequential)}, 4 chains ${p50p99(r.fourChains)}; legs p50 ${r.legs.map((l) => p(l, 0.5)).join(' / ')}`);
      }
      return;
    }
    const compared = ADDRESS ? [{ ...AFTER, name: `server at ${ADDRESS}` }] : [BEFORE, AFTER];
    const results: Measured[] = [];
    for (const v of compared) results.push(await measure(v, workflowBundle, dir, { chains: [1, 4, 16], work: true }));
    const names = compared.map((v) => v.name);

    out.push(
      ADDRESS ? `Against the server at ${ADDRESS} (its own settings).` : compared.map((v) => `- **${v.name}**: ${describe(v)}`).join('\n'),
      '',
      ...(ADDRESS
        ? []
        : [
            "Why: History reads its transfer queue (the tasks that become workflow and activity tasks) at most `history.transferProcessorMaxPollRPS` times a second per shard, 20 by default with a burst of 20, and the dev server has one shard. A sequential step needs two reads (its workflow task, then its activity task), so once the burst is spent a step takes 100 ms whatever the storage; activities scheduled together share the reads. With the reads free, SQLite's rollback journal (four fsyncs a commit, counted with strace) is the next cost; a write-ahead log synced at every commit needs one and is as durable. Eager activity execution then saves an activity's own dispatch: the server hands it back in its answer to the workflow task that scheduled it. What remains is the workflow task's round trip (two commits, a dispatch, a delivery, the worker's activation), which only a local activity skips.",
            '',
          ]),
      '### No-op activities',
      '',
      `A step: from one activity's start to the next one's start in the same chain; ${STEPS} steps in one chain, ${STEPS * 2} in 4 or 16. Milliseconds, p50 / p99.`,
      '',
      table(
        ['chains', ...names.flatMap((n) => [`step ${n}`, `wall ÷ activities ${n}`])],
        [1, 4, 16].map((c) => [c, ...results.flatMap((r) => [p50p99(r.noop.get(c)!.steps), ms(r.noop.get(c)!.wallMs / stepsFor(c))])]),
      ),
      '',
      '### Where a sequential step goes',
      '',
      'The sequential run\'s steps split by its history\'s event times (server) and the worker\'s marks (same clock). An event\'s time is taken before the server commits it, so a leg that ends at an event excludes that commit and the next leg carries it. Milliseconds, p50 / p99.',
      '',
      table(['leg', 'what is in it', ...names], LEGS.map(([leg, what], i) => [leg, what, ...results.map((r) => p50p99(r.legs[i]!))])),
      '',
      '### Simulated work: activities vs a plain Promise.all script',
      '',
      `Each step sleeps a log-normal time (median 50 ms, σ 0.35, clipped to 12–200 ms), the same sleeps in every mode, in that many chains side by side. Overhead of a step: the gap from one step's end to the next one's start in its chain. Milliseconds; overhead p50 / p99.`,
      '',
      table(
        ['chains', 'mode', ...names.flatMap((n) => [`wall ${n}`, `overhead ${n}`])],
        [1, 4, 16].flatMap((c) =>
          (['plain', 'activities', 'local'] as const).map((mode) => [
            c,
            { plain: 'Promise.all script', activities: 'activities', local: 'local activities' }[mode],
            ...results.flatMap((r) => [Math.round(r.work.get(c)![mode].wallMs), p50p99(r.work.get(c)![mode].gaps)]),
          ]),
        ),
      ),
    );

    if (flag('--variants') && !ADDRESS) {
      const rows: Array<Array<string | number>> = [];
      for (const [v, r] of await measureVariants(VARIANTS, workflowBundle, dir)) {
        rows.push([v.name, p50p99(r.sequential), p50p99(r.fourChains), ...r.legs.map((l) => p(l, 0.5))]);
      }
      out.push(
        '',
        '### One setting at a time',
        '',
        `No-op steps (${STEPS} in one chain, ${STEPS * 2} in 4 chains), step p50 / p99, and the p50 of each leg of a sequential step (same order as above). Milliseconds. The variants ran in ${ROUNDS} interleaved round${ROUNDS > 1 ? 's' : ''} (every variant once a round, each on a new server), their steps pooled, so a drift of the machine's speed during the run falls on every variant alike.`,
        '',
        table(['variant', 'sequential', '4 chains', 'wft dispatch', 'wft commit+worker', 'wft → server', 'activity dispatch', 'activity commit+delivery', 'activity → server'], rows),
      );
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  writeSection('temporal-overhead', "Temporal's overhead per step", `npm run bench:overhead${args.length ? ` -- ${args.join(' ')}` : ''}`, out.join('\n'));
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
