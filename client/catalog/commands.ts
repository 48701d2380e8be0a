/**
 * The `darkroom catalog` commands: plan a product feed against a brief template and show what it
 * will run and cost, start it as one `catalogWorkflow`, follow it, steer it (pause, resume,
 * cancel, retry failed rows) and read its report. Scheduling is in ./schedule.ts.
 *
 * Everything a person has to fix in the feed is shown before anything starts, with its line.
 */
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { catalogKeys } from '../../activities/catalog';
import { createBlobStore, type BlobStore } from '../../activities/blob-store';
import { parseCsv } from '../../domain/csv';
import { catalogPriority } from '../../domain/fairness';
import type { CatalogStatus } from '../../domain/types';
import type { CatalogInput, catalogWorkflow } from '../../workflows/catalog';
import { cancelCatalogSignal, pauseSignal, resumeSignal, retryFailedSignal, SA } from '../../workflows/messages';
import { failingTaskNote } from '../briefs';
import type { Command, CommandContext } from '../commands';
import { CliError } from '../errors';
import { uploadFeedReferences } from '../references';
import { templateWithStoredBrand } from '../brands';
import { usd } from '../format';
import { uiQuery, uiWorkflow } from '../links';
import type { Io } from '../render';
import { CATALOG_ID, readCatalogFiles, requireTemplate, resolveCatalogId, runOptions } from './inputs';
import { assertRunnable, feedWideError, previewCatalog, previewJson, previewText } from './plan';
import { closedText, progressLine, statusText } from './render';
import { blobPath, catalogWorkflowId, closedCatalog, findCatalog, notFound, QueryTimeout, queryStatus, storeFeed, type FoundCatalog } from './temporal';
import { schedule, unschedule, upload } from './schedule';

async function start(ctx: CommandContext, feedFile: string): Promise<number> {
  const { config, values, io } = ctx;
  const json = values.json ?? false;
  const templateFile = requireTemplate(values, 'start');
  const opts = runOptions(values);
  const catalogId = resolveCatalogId(values.id, feedFile);
  const files = await readCatalogFiles(feedFile, templateFile);
  const preview = previewCatalog(files, catalogId, config, opts.budgetUsd);
  if (feedWideError(preview.plan)) assertRunnable(preview);
  if (!json) io.out(previewText(preview));
  assertRunnable(preview);
  if (values['dry-run']) {
    io.out(json ? JSON.stringify({ ...previewJson(preview), dryRun: true, started: false }, null, 2) : `\ndry run: nothing stored, nothing started (run it again without --dry-run to start catalog ${catalogId})`);
    return 0;
  }

  const client = await ctx.connect();
  const running = await findCatalog(client, catalogId);
  if (running?.running) {
    io.err(
      `darkroom: catalog ${catalogId} is already running (workflow ${running.workflowId}, started ${running.description.startTime.toISOString()}); nothing was started.\n` +
        `  see it:   darkroom catalog status ${catalogId}\n` +
        `  web UI:   ${uiWorkflow(config, running.workflowId)}\n` +
        `  cancel it first (darkroom catalog cancel ${catalogId}), or start this feed under another --id`,
    );
    return 1;
  }
  const blobs = createBlobStore(config);
  // Packshot paths in the feed are files on this disk: upload them, and store the feed with their blob: keys.
  const refs = await uploadFeedReferences(files, blobs);
  if (refs.uploaded.length && !json) io.err(`uploaded ${refs.uploaded.length} reference image${refs.uploaded.length === 1 ? '' : 's'} (${new Set(refs.uploaded.map((u) => u.key)).size} distinct) to the blob store`);
  const feedKey = await storeFeed(blobs, catalogId, refs.feedText, files.format);
  const workflowId = catalogWorkflowId(catalogId);
  // Stored only now (not on a dry run): every row's workers read the kit this start saw.
  const template = await templateWithStoredBrand(config, files.template, templateFile);
  const input: CatalogInput = { catalogId, feedKey, template, ...opts };
  try {
    await client.workflow.start<typeof catalogWorkflow>('catalogWorkflow', {
      taskQueue: config.DARKROOM_TASK_QUEUE,
      workflowId,
      args: [input],
      typedSearchAttributes: [{ key: SA.catalogId, value: catalogId }],
      // The catalog's own activities (planning, reports) in its fair share too; rows get it from the workflow.
      priority: catalogPriority(input),
    });
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      io.err(`darkroom: catalog ${catalogId} is already running (workflow ${workflowId}): see it with "darkroom catalog status ${catalogId}" or ${uiWorkflow(config, workflowId)}`);
      return 1;
    }
    throw err;
  }
  const rows = uiQuery(config, `${SA.catalogId.name} = '${catalogId}'`);
  if (json) {
    io.out(JSON.stringify({ ...previewJson(preview), started: true, workflowId, feedKey, taskQueue: config.DARKROOM_TASK_QUEUE, webUi: uiWorkflow(config, workflowId), rowsWebUi: rows }, null, 2));
    return 0;
  }
  io.out(
    [
      ``,
      `✔ started catalog ${catalogId}: workflow ${workflowId} on task queue "${config.DARKROOM_TASK_QUEUE}"`,
      `  feed:    ${blobPath(blobs, feedKey)}`,
      `  follow:  darkroom catalog status ${catalogId} --watch`,
      `  steer:   darkroom catalog pause|resume|cancel|retry-failed ${catalogId}`,
      `  report:  darkroom catalog report ${catalogId}  (once it finishes)`,
      `  web UI:  ${uiWorkflow(config, workflowId)}`,
      `  rows:    ${rows}`,
    ].join('\n'),
  );
  return 0;
}

async function status(ctx: CommandContext, catalogId: string): Promise<number> {
  const { config, values, io } = ctx;
  const json = values.json ?? false;
  const client = await ctx.connect();
  const found = await findCatalog(client, catalogId);
  if (!found) throw notFound(catalogId);
  const blobs = createBlobStore(config);
  const watch = !json && (values.watch || (io.interactive && io.live !== undefined));
  if (found.running && watch) return await watchCatalog(client, catalogId, found, blobs, io);
  if (found.running) {
    const stuck = await failingTaskNote(client.workflow.getHandle(found.workflowId), found.description);
    if (stuck) throw new CliError(`catalog ${catalogId} (workflow ${found.workflowId}): ${stuck}`, 1);
    let s: CatalogStatus;
    try {
      s = await queryStatus(client, found.workflowId);
    } catch (err) {
      if (err instanceof QueryTimeout) throw new CliError(err.message, 1);
      throw err;
    }
    io.out(json ? JSON.stringify({ catalogId, workflowId: found.workflowId, temporalStatus: 'RUNNING', status: s }, null, 2) : `${statusText(s, found)}\n           web UI: ${uiWorkflow(config, found.workflowId)}`);
    return 0;
  }
  const closed = await closedCatalog(client, catalogId, found, blobs);
  io.out(json ? JSON.stringify(closed, null, 2) : closedText(closed));
  return closed.result ? 0 : 1;
}

/** Redraws the progress line every second until the catalog closes, then prints its result. */
async function watchCatalog(client: Client, catalogId: string, found: FoundCatalog, blobs: BlobStore, io: Io, intervalMs = 1000): Promise<number> {
  const handle = client.workflow.getHandle<typeof catalogWorkflow>(found.workflowId);
  let closed = false;
  const ended = handle.result().then(
    () => undefined,
    () => undefined,
  ).finally(() => {
    closed = true;
  });
  let last = '';
  let stalled = 0;
  while (!closed) {
    try {
      const line = progressLine(await queryStatus(client, found.workflowId, 3000));
      stalled = 0;
      if (io.live) io.live(line);
      else if (line !== last) io.err(line);
      last = line;
    } catch (err) {
      // Between runs (continue-as-new) a query can miss; say so only when it keeps failing.
      if (!closed && ++stalled === 5) {
        const msg = `(no answer from a worker: ${(err as Error).message.split('\n')[0]} — is "npm run worker" running?)`;
        if (io.live) io.live(msg);
        else io.err(msg);
      }
    }
    await Promise.race([ended, new Promise((r) => setTimeout(r, intervalMs))]);
  }
  if (io.live) io.live('');
  const description = await handle.describe();
  const c = await closedCatalog(client, catalogId, { workflowId: found.workflowId, description, running: false }, blobs);
  io.out(closedText(c));
  return c.result ? 0 : 1;
}

const STEER = {
  pause: { signal: pauseSignal, done: (id: string) => `✔ pausing catalog ${id}: rows already running finish, no new rows start until "darkroom catalog resume ${id}"` },
  resume: { signal: resumeSignal, done: (id: string) => `✔ resumed catalog ${id}: new rows start again (darkroom catalog status ${id})` },
  'retry-failed': { signal: retryFailedSignal, done: (id: string) => `✔ retrying the failed rows of catalog ${id}: they go back into the queue (darkroom catalog status ${id})` },
} as const;

async function steer(ctx: CommandContext, command: 'pause' | 'resume' | 'cancel' | 'retry-failed', catalogId: string): Promise<number> {
  const { io, values } = ctx;
  const client = await ctx.connect();
  const found = await findCatalog(client, catalogId);
  if (!found) throw notFound(catalogId);
  if (!found.running) {
    io.err(`darkroom: catalog ${catalogId} is not running (${found.description.status.name.toLowerCase()}, workflow ${found.workflowId}): nothing to ${command === 'retry-failed' ? 'retry' : command}; see "darkroom catalog status ${catalogId}"`);
    return 1;
  }
  const handle = client.workflow.getHandle(found.workflowId);
  if (command === 'cancel') {
    const reason = values.reason?.trim() || 'cancelled from the darkroom CLI';
    await handle.signal(cancelCatalogSignal, { reason });
    io.out(`✔ cancelling catalog ${catalogId} (${reason}): no new rows start, running rows are cancelled, and the report is written with what was done (darkroom catalog report ${catalogId})`);
    return 0;
  }
  const { signal, done } = STEER[command];
  await handle.signal(signal);
  io.out(done(catalogId));
  return 0;
}

/** Counts of the report's `state` column. */
export function reportCounts(csv: string): Record<string, number> {
  const parsed = parseCsv(csv);
  const col = parsed.header.indexOf('state');
  const counts: Record<string, number> = {};
  if (col < 0) return counts;
  for (const r of parsed.records) {
    const state = r.fields[col] ?? '';
    counts[state] = (counts[state] ?? 0) + 1;
  }
  return counts;
}

async function report(ctx: CommandContext, catalogId: string): Promise<number> {
  const { config, values, io } = ctx;
  const blobs = createBlobStore(config);
  const keys = catalogKeys(catalogId);
  if (await blobs.head(keys.report)) {
    const csv = (await blobs.get(keys.report)).toString('utf8');
    if (values.csv) {
      io.out(csv.replace(/\n$/, ''));
      return 0;
    }
    const manifest = await blobs.get(keys.manifest).then(
      (b) => JSON.parse(b.toString('utf8')) as { outcome?: string; costUsd?: number; finishedAt?: string; workflowId?: string; runs?: number },
      () => undefined,
    );
    const counts = reportCounts(csv);
    const rows = Object.values(counts).reduce((a, b) => a + b, 0);
    const summary = {
      catalogId, outcome: manifest?.outcome, finishedAt: manifest?.finishedAt, workflowId: manifest?.workflowId, costUsd: manifest?.costUsd,
      rows, counts, reportKey: keys.report, reportPath: blobPath(blobs, keys.report), manifestPath: manifest ? blobPath(blobs, keys.manifest) : undefined,
    };
    if (values.json) {
      io.out(JSON.stringify(summary, null, 2));
      return 0;
    }
    const order = ['done', 'failed', 'rejected', 'cancelled', 'pending', 'skipped', 'invalid', 'duplicate'];
    const states = Object.keys(counts).sort((a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99));
    io.out(
      [
        `catalog    ${catalogId}  ${summary.outcome ?? 'finished'}${summary.finishedAt ? ` ${summary.finishedAt}` : ''}${summary.workflowId ? `  (workflow ${summary.workflowId})` : ''}`,
        `rows       ${rows}: ${states.map((s) => `${counts[s]} ${s}`).join(' · ')}`,
        `cost       ${summary.costUsd !== undefined ? usd(summary.costUsd) : '–'}`,
        `report     ${summary.reportPath}  (darkroom catalog report ${catalogId} --csv)`,
        ...(summary.manifestPath ? [`manifest   ${summary.manifestPath}`] : []),
      ].join('\n'),
    );
    return 0;
  }
  const client = await ctx.connect();
  const found = await findCatalog(client, catalogId);
  if (!found) throw notFound(catalogId);
  if (found.running) {
    io.err(`darkroom: catalog ${catalogId} is still running: its report is written when the last row finishes`);
    const s = await queryStatus(client, found.workflowId).catch(() => undefined);
    if (s) io.out(values.json ? JSON.stringify({ catalogId, workflowId: found.workflowId, temporalStatus: 'RUNNING', status: s }, null, 2) : statusText(s, found));
    return 1;
  }
  const closed = await closedCatalog(client, catalogId, found, blobs);
  io.err(`darkroom: catalog ${catalogId} has no report at ${blobPath(blobs, keys.report)}`);
  io.out(values.json ? JSON.stringify(closed, null, 2) : closedText(closed));
  return 1;
}

/** `<catalog id>` at `i`: an id that cannot be a catalog's is "no catalog", like one that is not there. */
function catalogIdArg(ctx: CommandContext, i: number): string {
  const v = ctx.need(i, '<catalog id>');
  if (!CATALOG_ID.test(v)) throw notFound(v);
  return v;
}

/** A command that takes one `<ID>` and nothing else. */
function onId(run: (ctx: CommandContext, catalogId: string) => Promise<number>): (ctx: CommandContext) => Promise<number> {
  return async (ctx) => {
    ctx.noMoreThan(1);
    return await run(ctx, catalogIdArg(ctx, 0));
  };
}

const steering = (command: 'pause' | 'resume' | 'cancel' | 'retry-failed') => onId((ctx, id) => steer(ctx, command, id));

export const CATALOG_COMMANDS: readonly Command[] = [
  {
    name: 'catalog start',
    args: '<feed.csv|.jsonl>',
    options: ['template', 'id', 'window', 'budget', 'rows-per-run', 'weight', 'dry-run', 'json'],
    required: ['template'],
    help: 'check every row, show runs, bad rows, duplicates and the forecast, then start',
    run: async (ctx) => {
      const feedFile = ctx.need(0, '<feed.csv|.jsonl>');
      ctx.noMoreThan(1);
      return await start(ctx, feedFile);
    },
  },
  { name: 'catalog status', args: '<ID>', options: ['watch', 'json'], help: 'totals by state, cost and forecast, rows/h, ETA; --watch follows it live', run: onId(status) },
  { name: 'catalog pause', args: '<ID>', options: [], help: 'rows already running finish; no new rows start', run: steering('pause') },
  { name: 'catalog resume', args: '<ID>', options: [], help: 'new rows start again', run: steering('resume') },
  { name: 'catalog retry-failed', args: '<ID>', options: [], help: 'put the failed rows back into the queue', run: steering('retry-failed') },
  { name: 'catalog cancel', args: '<ID>', options: ['reason'], help: 'stop starting rows, cancel running ones, write the report', run: steering('cancel') },
  { name: 'catalog report', args: '<ID>', options: ['csv', 'json'], help: 'counts by state and where the report is; --csv prints the report itself', run: onId(report) },
  {
    name: 'catalog schedule',
    args: '<feed>',
    options: ['template', 'cron', 'id', 'window', 'budget', 'rows-per-run', 'weight', 'json'],
    required: ['template', 'cron'],
    help: 'store the feed and run the catalog on a Temporal Schedule (catalog-<ID>-schedule)',
    run: async (ctx) => {
      const feedFile = ctx.need(0, '<feed.csv|.jsonl>');
      ctx.noMoreThan(1);
      return await schedule(ctx, feedFile);
    },
  },
  {
    name: 'catalog upload',
    args: '<ID> <feed>',
    options: ['template', 'json'],
    help: 'check and store a new feed for the next scheduled run',
    run: async (ctx) => {
      const feedFile = ctx.need(1, '<feed.csv|.jsonl>');
      ctx.noMoreThan(2);
      return await upload(ctx, resolveCatalogId(ctx.need(0, '<catalog id>'), feedFile), feedFile);
    },
  },
  { name: 'catalog unschedule', args: '<ID>', options: [], help: 'delete the schedule', run: onId(unschedule) },
];
