/**
 * `npm run demo`: runs every brief in examples/briefs/ offline on the embedded defaults.
 * Starts a Temporal dev server (SQLite in the data dir) and a worker when none is running,
 * stops what it started when done, and prints where every asset landed.
 *
 *   npm run demo -- --keep-server   leave the dev server up to browse the runs in the Web UI
 *   npm run demo -- --briefs DIR    run the briefs in DIR instead (default examples/briefs)
 */
import { mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { connectClient } from '../client/connect';
import { parseConfig } from '../domain/config';
import type { Manifest } from '../domain/types';
import { readBriefFile } from '../client/brief-file';
import { describeFailure, followBrief, startBrief } from '../client/briefs';
import { manifestSummary, statusLine } from '../client/render';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createDarkroomWorker } from '../workers/worker';
import { isServerReachable, splitAddress, startDevServer, type DevServer } from './dev-server';
import { checkArgs } from './cli-args';

checkArgs(import.meta.filename, { values: ['--briefs'], switches: ['--keep-server'] });

const { values } = parseArgs({
  options: { 'keep-server': { type: 'boolean', default: false }, briefs: { type: 'string', default: 'examples/briefs' } },
});
const config = parseConfig(process.env);
const say = (s: string) => process.stderr.write(`${s}\n`);

async function hasLiveWorker(client: Client, taskQueue: string): Promise<boolean> {
  const res = await client.workflowService.describeTaskQueue({
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: { name: taskQueue },
    taskQueueType: 1, // workflow tasks
  });
  const freshMs = 20_000;
  return (res.pollers ?? []).some((p) => {
    const secs = Number(p.lastAccessTime?.seconds ?? 0);
    return Date.now() - secs * 1000 < freshMs;
  });
}

async function main(): Promise<number> {
  const started = Date.now();
  // The demo prints its own progress; the worker speaks up only for warnings.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dataDir = path.resolve(config.DARKROOM_DATA_DIR);
  await mkdir(dataDir, { recursive: true });

  let server: DevServer | undefined;
  if (!(await isServerReachable(config.TEMPORAL_ADDRESS))) {
    const { port } = splitAddress(config.TEMPORAL_ADDRESS);
    say(`No Temporal server at ${config.TEMPORAL_ADDRESS}: starting a dev server (state in ${path.join(dataDir, 'temporal.sqlite')})…`);
    server = await startDevServer({
      dbFile: path.join(dataDir, 'temporal.sqlite'),
      port,
      uiPort: port + 1000,
      logFile: path.join(dataDir, 'temporal-server.log'),
      keepAlive: values['keep-server'],
      log: say,
    });
    say(`Temporal dev server ready at ${server.address}; Web UI ${server.uiUrl?.replace('127.0.0.1', 'localhost')}`);
  }

  // The address the started server reports (127.0.0.1:PORT), not a name that may resolve to ::1
  // first; a server that has only just started gets a bounded number of seconds to take connections.
  const address = server?.address ?? config.TEMPORAL_ADDRESS;
  const client = await connectClient({ ...config, TEMPORAL_ADDRESS: address }, 20_000);
  const connection = client.connection;
  let workerRun: Promise<void> | undefined;
  let stopWorker: (() => void) | undefined;
  if (!(await hasLiveWorker(client, config.DARKROOM_TASK_QUEUE))) {
    say(`Starting a worker on task queue "${config.DARKROOM_TASK_QUEUE}" (bundling workflows)…`);
    const { worker } = await createDarkroomWorker({ config: { ...config, TEMPORAL_ADDRESS: address } });
    workerRun = worker.run();
    stopWorker = () => worker.shutdown();
  } else {
    say(`Using the worker already polling "${config.DARKROOM_TASK_QUEUE}".`);
  }

  const files = (await readdir(values.briefs)).filter((f) => f.endsWith('.json')).sort();
  say(`Running ${files.length} briefs from ${values.briefs}/ offline with the local generator and judge…\n`);
  const results = await Promise.all(
    files.map(async (f): Promise<Manifest | undefined> => {
      const file = path.join(values.briefs, f);
      const brief = await readBriefFile(file);
      const { handle, workflowId } = await startBrief(client, brief, config.DARKROOM_TASK_QUEUE);
      let lastStage = '';
      try {
        let toldReviewer = false;
        return await followBrief(handle, (s) => {
          if (s.stage !== lastStage) say(`  ${workflowId}  ${statusLine(s)}`);
          lastStage = s.stage;
          // A brief with "approval": "human" waits for a person: say how to decide, once.
          if (s.review?.awaiting && !toldReviewer) {
            toldReviewer = true;
            say(`  ${workflowId}  waiting for your decision: npx darkroom review show ${workflowId}, then npx darkroom approve ${workflowId} <candidate> (or npx darkroom review for the web page)`);
          }
        });
      } catch (err) {
        say(`✘ ${workflowId} failed: ${describeFailure(err)}`);
        return undefined;
      }
    }),
  );

  say('');
  for (const m of results) if (m) console.log(`${manifestSummary(m)}\n`);
  const ok = results.every(Boolean);
  const assets = results.reduce((n, m) => n + (m?.assets.length ?? 0), 0);
  say(`${ok ? 'Done' : 'Finished with failures'}: ${assets} assets from ${results.filter(Boolean).length}/${files.length} briefs in ${((Date.now() - started) / 1000).toFixed(1)} s.`);

  stopWorker?.();
  await workerRun;
  await connection.close();
  if (server && !values['keep-server']) {
    await server.stop();
    say(`Stopped the dev server it started. To browse these runs in the Web UI: npm run server, then open ${server.uiUrl?.replace('127.0.0.1', 'localhost')}`);
  } else if (server) {
    say(`Dev server left running (pid ${server.pid}); Web UI ${server.uiUrl?.replace('127.0.0.1', 'localhost')}. Stop it with: kill ${server.pid}`);
  }
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
