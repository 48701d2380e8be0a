/** `darkroom run|start|status|result`: one brief from a file to its published assets. */
import { statusQuery } from '../workflows/messages';
import type { BriefStatus } from '../domain/types';
import { createBlobStore } from '../activities/blob-store';
import { localReferencePaths } from '../activities/references';
import { readBriefFile } from './brief-file';
import { uploadBriefReferences } from './references';
import { withStoredBrand } from './brands';
import { describeFailure, failingTaskNote, followBrief, startBrief, type BriefHandle } from './briefs';
import type { Command, CommandContext } from './commands';
import { uiWorkflow } from './links';
import { manifestSummary, statusBlock, statusLine, type Io } from './render';

async function follow(handle: BriefHandle, io: Io, json: boolean): Promise<number> {
  const show = (s: BriefStatus) => {
    if (json) return;
    if (io.live) io.live(statusLine(s));
    else io.err(statusLine(s));
  };
  try {
    const manifest = await followBrief(handle, show, (why) =>
      io.err(`  (waiting for a worker: ${why.split('\n')[0]} — is "npm run worker" running?)`),
    );
    if (io.live) io.live('');
    io.out(json ? JSON.stringify(manifest, null, 2) : manifestSummary(manifest));
    return 0;
  } catch (err) {
    if (io.live) io.live('');
    io.err(`✘ ${handle.workflowId} failed: ${describeFailure(err)}`);
    return 1;
  }
}

async function start(ctx: CommandContext, followIt: boolean): Promise<number> {
  const { config, io, json } = ctx;
  const file = ctx.need(0, '<brief.json>');
  let brief = await withStoredBrand(config, await readBriefFile(file), file);
  // Packshots on this disk go to the blob store first: the worker reads only blob: keys and https URLs.
  if (localReferencePaths(brief).length) {
    const up = await uploadBriefReferences(brief, file, createBlobStore(config));
    brief = up.brief;
    for (const u of up.uploaded) io.err(`uploaded ${u.field}: ${u.file} → blob:${u.key}`);
  }
  const client = await ctx.connect();
  const { handle, workflowId, started } = await startBrief(client, brief, config.DARKROOM_TASK_QUEUE);
  if (!followIt) {
    io.out(json ? JSON.stringify({ workflowId, started }) : `${started ? 'started' : 'already running'}: ${workflowId}\n  follow: darkroom status ${workflowId}\n  web UI: ${uiWorkflow(config, workflowId)}`);
    return 0;
  }
  if (!json) io.err(`${started ? 'started' : 'attached to running'} ${workflowId}  (${uiWorkflow(config, workflowId)})`);
  return await follow(handle, io, json);
}

async function status(ctx: CommandContext): Promise<number> {
  const { io, json } = ctx;
  const id = ctx.need(0, '<workflowId>');
  const client = await ctx.connect();
  const handle = client.workflow.getHandle(id);
  const d = await handle.describe();
  const ended = !['RUNNING', 'CONTINUED_AS_NEW'].includes(d.status.name);
  const stuck = await failingTaskNote(handle, d);
  // A closed workflow answers a query only through a worker replaying it, and a stuck one not at all: don't wait long.
  const s = await client.withDeadline(Date.now() + (ended || stuck ? 3000 : 15_000), () => handle.query(statusQuery)).catch(() => undefined);
  const failure = ended && d.status.name !== 'COMPLETED' ? await handle.result().then(() => undefined, (err: unknown) => describeFailure(err)) : undefined;
  if (json) io.out(JSON.stringify({ workflowId: id, temporalStatus: d.status.name, ...(failure ? { failure } : {}), ...(stuck ? { stuck } : {}), status: s }, null, 2));
  else io.out(`temporal   ${d.status.name} (started ${d.startTime.toISOString()})${failure ? `\nfailure    ${failure}` : ''}${stuck ? `\nstuck      ${stuck}` : ''}\n${s ? statusBlock(s) : ''}`);
  return 0;
}

export const BRIEF_COMMANDS: readonly Command[] = [
  { name: 'run', args: '<brief.json>', options: ['json'], help: 'start a brief, follow it live, print where its assets are', run: (ctx) => start(ctx, true) },
  { name: 'start', args: '<brief.json>', options: ['json'], help: 'start a brief and print its workflow id', run: (ctx) => start(ctx, false) },
  { name: 'status', args: '<workflowId>', options: ['json'], help: 'where a brief is: stage, counts, cost', run: status },
  {
    name: 'result',
    args: '<workflowId>',
    options: ['json'],
    help: 'wait for a brief to finish and print its assets',
    run: async (ctx) => {
      const id = ctx.need(0, '<workflowId>');
      const client = await ctx.connect();
      const handle = client.workflow.getHandle(id) as BriefHandle;
      // An unknown id is bad input (exit 2, as `status` says it), not a brief that failed.
      await handle.describe();
      return await follow(handle, ctx.io, ctx.json);
    },
  },
];
