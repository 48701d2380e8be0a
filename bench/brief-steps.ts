/**
 * `npx tsx bench/brief-steps.ts [--briefs N] [--compare REF]`: what a brief's cheap steps cost in
 * orchestration. Runs N one-candidate briefs (offline, local generator) one after another on a
 * fresh dev server and reads each history:
 *
 *   first task          workflow started → its first workflow task started (the same either way)
 *   to first generate   first workflow task → first generateCandidate scheduled: checking the brief
 *                       (prepareBrief) and its prompt (moderatePrompt), one after the other
 *   per step            of that, the time outside the two steps' own run (their spans in the
 *                       manifest, by the worker's clock), halved: what orchestration costs a step
 *   publish             last format/alt-text activity closed → workflow closed (publishManifest)
 *   events              history events per brief
 *
 * `--compare REF` runs the same briefs on the workflow code of a git revision too (checked out
 * in a temporary worktree; the activities are this checkout's), so before and after share a
 * server, a worker and the minutes they ran in; the revisions take turns, one brief each.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, DefaultLogger, Runtime } from '@temporalio/worker';
import { parseConfig } from '../domain/config';
import type { Manifest } from '../domain/types';
import { startDevServer } from '../scripts/dev-server';
import { testBrief } from '../test/support/briefs';
import { activityAttempts } from '../test/support/history';
import { createDarkroomWorker, WORKFLOWS_PATH } from '../workers/worker';
import { checkArgs } from '../scripts/cli-args';
import { quantile, table, writeSection } from './support';

checkArgs(import.meta.filename, { values: ['--briefs', '--compare'] });

type Event = temporal.api.history.v1.IHistoryEvent;

const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const BRIEFS = Number(opt('--briefs') ?? 20);
const COMPARE = opt('--compare');

const ms = (t: Event['eventTime']) => (t ? Number(String(t.seconds ?? 0)) * 1000 + (t.nanos ?? 0) / 1e6 : 0);

interface Measured {
  /** Workflow started → its first workflow task started: the same for both ways. */
  firstTask: number;
  toGenerate: number;
  /** Of toGenerate, the time not spent running the two steps (their spans in the manifest), per step. */
  perStep: number;
  publish: number;
  events: number;
  local: string[];
}

function measure(events: Event[], manifest: Manifest): Measured {
  const started = ms(events[0]!.eventTime);
  const closed = ms(events.at(-1)!.eventTime);
  const types = new Map<string, string>();
  let firstGenerate = 0;
  let firstTask = 0;
  let lastImageWork = 0;
  for (const e of events) {
    if (e.workflowTaskStartedEventAttributes && !firstTask) firstTask = ms(e.eventTime);
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      types.set(String(e.eventId), s.activityType!.name!);
      if (s.activityType!.name === 'generateCandidate' && !firstGenerate) firstGenerate = ms(e.eventTime);
    }
    const done = e.activityTaskCompletedEventAttributes;
    if (done && ['formatCandidate', 'writeAltText'].includes(types.get(String(done.scheduledEventId)) ?? '')) lastImageWork = Math.max(lastImageWork, ms(e.eventTime));
  }
  const work = manifest.timings.filter((t) => t.stage === 'validate' || t.stage === 'moderate').reduce((sum, t) => sum + t.ms, 0);
  return { firstTask: firstTask - started, toGenerate: firstGenerate - firstTask, perStep: (firstGenerate - firstTask - work) / 2, publish: closed - lastImageWork, events: events.length, local: activityAttempts(events).filter((a) => a.local).map((a) => a.activity) };
}

async function workflowsOf(ref: string, dir: string): Promise<string> {
  const tree = path.join(dir, `worktree-${ref}`);
  execFileSync('git', ['worktree', 'add', '--detach', '--quiet', tree, ref]);
  await symlink(path.resolve('node_modules'), path.join(tree, 'node_modules'));
  return path.join(tree, 'workflows/index.ts');
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = await mkdtemp(path.join(os.tmpdir(), 'darkroom-steps-'));
  const revisions: Array<{ name: string; workflowsPath: string }> = [{ name: 'this checkout', workflowsPath: WORKFLOWS_PATH }];
  if (COMPARE) revisions.unshift({ name: COMPARE, workflowsPath: await workflowsOf(COMPARE, dir) });
  const server = await startDevServer({ dbFile: path.join(dir, 'temporal.sqlite'), uiPort: false });
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  const results = new Map<string, Measured[]>();
  try {
    const workers: Array<{ name: string; taskQueue: string } & Awaited<ReturnType<typeof createDarkroomWorker>>> = [];
    for (const [i, r] of revisions.entries()) {
      const workflowBundle = await bundleWorkflowCode({ workflowsPath: r.workflowsPath, logger: new DefaultLogger('WARN') });
      const config = parseConfig({ TEMPORAL_ADDRESS: server.address, DARKROOM_TASK_QUEUE: `bench-steps-${i}`, DARKROOM_DATA_DIR: path.join(dir, `data-${i}`) });
      workers.push({ name: r.name, taskQueue: config.DARKROOM_TASK_QUEUE, ...(await createDarkroomWorker({ config, workflowBundle })) });
    }
    const run = async (w: (typeof workers)[number], id: string) => {
      const handle = await client.workflow.start('briefWorkflow', { taskQueue: w.taskQueue, workflowId: id, args: [testBrief({ candidates: 1, topK: 1 })] });
      const manifest = (await handle.result()) as Manifest;
      return measure((await handle.fetchHistory()).events ?? [], manifest);
    };
    await Promise.all(workers.map((w) => w.worker.run()).concat([(async () => {
      try {
        for (const [i, w] of workers.entries()) await run(w, `brief-steps-warm-up-${i}`);
        for (let n = 0; n < BRIEFS; n++) {
          for (const [i, w] of workers.entries()) results.set(w.name, [...(results.get(w.name) ?? []), await run(w, `brief-steps-${i}-${n}`)]);
        }
      } finally {
        for (const w of workers) w.worker.shutdown();
      }
    })()]));
    for (const w of workers) await w.connection.close();
  } finally {
    await server.stop();
    if (COMPARE) execFileSync('git', ['worktree', 'remove', '--force', path.join(dir, `worktree-${COMPARE}`)]);
    await rm(dir, { recursive: true, force: true });
  }
  const rows = [...results].map(([name, m]) => {
    const p = (xs: number[], q: number) => quantile(xs, q).toFixed(1);
    const to = m.map((x) => x.toGenerate);
    const pub = m.map((x) => x.publish);
    const per = m.map((x) => x.perStep);
    const first = m.map((x) => x.firstTask);
    return [name, m[0]!.local.join(', ') || 'none', `${p(first, 0.5)} / ${p(first, 0.99)}`, `${p(to, 0.5)} / ${p(to, 0.99)}`, `${p(per, 0.5)} / ${p(per, 0.99)}`, `${p(pub, 0.5)} / ${p(pub, 0.99)}`, quantile(m.map((x) => x.events), 0.5)];
  });
  const command = `npx tsx bench/brief-steps.ts --briefs ${BRIEFS}${COMPARE ? ` --compare ${COMPARE}` : ''}`;
  writeSection('brief-steps', "A brief's cheap steps: activities or local activities", command, [
    `${BRIEFS} one-candidate briefs per revision on the local generator, one at a time, revisions taking turns on one dev server. Milliseconds, p50 / p99, from each history's event times (the server's clock). Orchestration per step is first workflow task → first generate less the two steps' own run time (the manifest's \`validate\` and \`moderate\` timings, by the worker's clock), halved.`,
    '',
    table(['workflow code', 'local activities', 'started → first workflow task', 'first workflow task → first generate (prepare + moderate)', 'of which orchestration, per step', 'last format → closed (publish manifest)', 'events a brief (median)'], rows),
  ].join('\n'));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
