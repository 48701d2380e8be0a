/** `darkroom catalog schedule|upload|unschedule`: a catalog on a Temporal Schedule, re-reading its stored feed each run. */
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleOptionsStartWorkflowAction } from '@temporalio/client';
import { createBlobStore } from '../../activities/blob-store';
import { clip, preview } from '../../domain/text';
import type { CatalogInput, catalogWorkflow } from '../../workflows/catalog';
import { SA } from '../../workflows/messages';
import type { CommandContext } from '../commands';
import { CliError } from '../errors';
import { uploadFeedReferences } from '../references';
import { temporalUi } from '../links';
import { readCatalogFiles, readFeedFile, requireTemplate, resolveCatalogId, runOptions } from './inputs';
import { assertRunnable, feedWideError, previewCatalog, previewJson, previewText } from './plan';
import { blobPath, catalogScheduleId, catalogWorkflowId, storeFeed } from './temporal';

/** Turns Temporal's refusal of the cron expression into a usage error. */
function cronError(err: unknown, cron: string): CliError | undefined {
  // The SDK turns the server's "Invalid schedule spec" (INVALID_ARGUMENT) into a TypeError.
  if (err instanceof TypeError) return new CliError(`Temporal refused --cron ${preview(cron)}: ${clip(err.message, 500)}`, 2, { cause: err });
  const e = err as { cause?: { code?: number; details?: string } };
  if (e.cause?.code === 3) return new CliError(`Temporal refused --cron ${preview(cron)}: ${clip(e.cause.details ?? '', 500)}`, 2, { cause: err });
  return undefined;
}

export async function schedule(ctx: CommandContext, feedFile: string): Promise<number> {
  const { config, values, io } = ctx;
  const templateFile = requireTemplate(values, 'schedule');
  const cron = values.cron?.trim();
  if (!cron) throw new CliError(`darkroom catalog schedule: missing --cron "<minute hour day month weekday>", e.g. --cron "0 2 * * *" for every night at 02:00 UTC`);
  const opts = runOptions(values);
  const catalogId = resolveCatalogId(values.id, feedFile);
  const files = await readCatalogFiles(feedFile, templateFile);
  const preview = previewCatalog(files, catalogId, config, opts.budgetUsd);
  if (feedWideError(preview.plan)) assertRunnable(preview);
  if (!values.json) io.out(previewText(preview));
  assertRunnable(preview);

  const client = await ctx.connect();
  const blobs = createBlobStore(config);
  const feedKey = await storeFeed(blobs, catalogId, (await uploadFeedReferences(files, blobs)).feedText, files.format);
  const scheduleId = catalogScheduleId(catalogId);
  const input: CatalogInput = { catalogId, feedKey, template: files.template, ...opts };
  const action: ScheduleOptionsStartWorkflowAction<typeof catalogWorkflow> = {
    type: 'startWorkflow',
    workflowType: 'catalogWorkflow',
    taskQueue: config.DARKROOM_TASK_QUEUE,
    workflowId: catalogWorkflowId(catalogId),
    args: [input],
    typedSearchAttributes: [{ key: SA.catalogId, value: catalogId }],
    staticSummary: `Darkroom catalog ${catalogId} on cron "${cron}"`,
  };
  let created = true;
  try {
    await client.schedule.create({
      scheduleId,
      spec: { cronExpressions: [cron] },
      action,
      policies: { overlap: ScheduleOverlapPolicy.SKIP },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw cronError(err, cron) ?? err;
    created = false;
    try {
      await client.schedule.getHandle(scheduleId).update((prev) => ({ ...prev, spec: { cronExpressions: [cron] }, action, policies: { ...prev.policies, overlap: ScheduleOverlapPolicy.SKIP } }));
    } catch (err2) {
      throw cronError(err2, cron) ?? err2;
    }
  }
  const described = await client.schedule.getHandle(scheduleId).describe();
  const next = described.info.nextActionTimes.slice(0, 3).map((d) => d.toISOString());
  if (values.json) {
    io.out(JSON.stringify({ ...previewJson(preview), scheduleId, created, cron, feedKey, nextActionTimes: next, taskQueue: config.DARKROOM_TASK_QUEUE }, null, 2));
    return 0;
  }
  io.out(
    [
      ``,
      `✔ ${created ? 'created' : 'updated'} schedule ${scheduleId}: cron "${cron}" (UTC unless it starts with CRON_TZ=…) starts catalogWorkflow for catalog ${catalogId} on task queue "${config.DARKROOM_TASK_QUEUE}"`,
      `  next runs: ${next.length ? next.join(', ') : '(none)'}`,
      `  feed:      ${blobPath(blobs, feedKey)} — each run re-reads this stored feed; update it with "darkroom catalog upload ${catalogId} <feed>"`,
      `  skipping:  rows already shipped with an unchanged brief are skipped by the workflow; new and changed rows run`,
      `  overlap:   a run still going when the next one is due makes that one skip (overlap policy SKIP)`,
      `  follow:    darkroom catalog status ${catalogId} (scheduled runs are workflows ${catalogWorkflowId(catalogId)}-<time>)`,
      `  web UI:    ${temporalUi(config)}/schedules/${encodeURIComponent(scheduleId)}`,
      `  stop:      darkroom catalog unschedule ${catalogId}`,
    ].join('\n'),
  );
  return 0;
}

export async function upload(ctx: CommandContext, catalogId: string, feedFile: string): Promise<number> {
  const { config, values, io } = ctx;
  const feed = await readFeedFile(feedFile);
  const client = await ctx.connect();
  const scheduleHandle = client.schedule.getHandle(catalogScheduleId(catalogId));
  const scheduled = await scheduleHandle.describe().catch((err) => {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  });
  const scheduledInput = scheduled?.action.args?.[0] as CatalogInput | undefined;
  let template: unknown;
  let templateFile: string;
  if (values.template) {
    templateFile = values.template;
    template = (await readCatalogFiles(feedFile, values.template)).template;
  } else if (scheduledInput?.template !== undefined) {
    templateFile = `the template of schedule ${catalogScheduleId(catalogId)}`;
    template = scheduledInput.template;
  } else {
    throw new CliError(`darkroom catalog upload: catalog ${catalogId} has no schedule to take the template from: name it with --template <brief-template.json>`);
  }
  const preview = previewCatalog({ feedFile, ...feed, templateFile, template }, catalogId, config, scheduledInput?.budgetUsd);
  if (feedWideError(preview.plan)) assertRunnable(preview);
  if (!values.json) io.out(previewText(preview));
  assertRunnable(preview);
  const blobs = createBlobStore(config);
  const uploaded = await uploadFeedReferences({ feedFile, ...feed, template }, blobs);
  const feedKey = await storeFeed(blobs, catalogId, uploaded.feedText, feed.format);
  let scheduleUpdated = false;
  if (scheduled && scheduledInput && scheduledInput.feedKey !== feedKey) {
    // A CSV replaced by JSON lines (or back) lives at another key: the schedule must read the new one.
    await scheduleHandle.update((prev) => ({ ...prev, action: { ...prev.action, args: [{ ...scheduledInput, feedKey }] } }));
    scheduleUpdated = true;
  }
  if (values.json) {
    io.out(JSON.stringify({ ...previewJson(preview), stored: true, feedKey, scheduleId: scheduled ? catalogScheduleId(catalogId) : undefined, scheduleUpdated }, null, 2));
    return 0;
  }
  const next = scheduled?.info.nextActionTimes[0];
  io.out(
    [
      ``,
      `✔ stored the feed of catalog ${catalogId} at ${blobPath(blobs, feedKey)}`,
      scheduled
        ? `  the next scheduled run${next ? ` (${next.toISOString()})` : ''} reads it${scheduleUpdated ? ` (schedule ${catalogScheduleId(catalogId)} now points at ${feedKey})` : ''}; rows shipped before with an unchanged brief are skipped`
        : `  no schedule for catalog ${catalogId}: set one up with "darkroom catalog schedule", or run it now with "darkroom catalog start"`,
    ].join('\n'),
  );
  return 0;
}

export async function unschedule(ctx: CommandContext, catalogId: string): Promise<number> {
  const { io } = ctx;
  const scheduleId = catalogScheduleId(catalogId);
  const client = await ctx.connect();
  try {
    await client.schedule.getHandle(scheduleId).delete();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new CliError(`no schedule ${scheduleId}: catalog ${catalogId} is not scheduled`);
    throw err;
  }
  io.out(`✔ deleted schedule ${scheduleId}: no more runs of catalog ${catalogId} start; a run in progress goes on (darkroom catalog status ${catalogId}), and the stored feed stays`);
  return 0;
}
