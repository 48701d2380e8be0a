/**
 * The `darkroom catalog` commands: plan a product feed against a brief template and show what it
 * will run and cost, start it as one `catalogWorkflow`, follow it, steer it (pause, resume,
 * cancel, retry failed rows), read its report, and run it on a Temporal Schedule.
 *
 * Everything a person has to fix in the feed is shown before anything starts, with its line.
 */
import { temporalUi, uiQuery, uiWorkflow } from './links';
import path from 'node:path';
import {
  ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, ServiceError, WorkflowExecutionAlreadyStartedError,
  WorkflowFailedError, WorkflowNotFoundError, type Client, type ScheduleOptionsStartWorkflowAction, type WorkflowExecutionDescription,
} from '@temporalio/client';
import { catalogKeys } from '../activities/catalog';
import { createBlobStore, type BlobStore } from '../activities/blob-store';
import { providerKeys, type Config } from '../domain/config';
import { clip, preview } from '../domain/text';
import { parseCsv } from '../domain/csv';
import { briefsFromFeed, catalogIdFor, parseFeed, type FeedError, type FeedPlan } from '../domain/feed';
import { capabilitiesFor, forecastBrief } from '../domain/models';
import type { CatalogStatus } from '../domain/types';
import type { CatalogInput, catalogWorkflow } from '../workflows/catalog';
import { cancelCatalogSignal, catalogStatusQuery, pauseSignal, resumeSignal, retryFailedSignal, SA } from '../workflows/messages';
import { parseJsonText } from './brief-file';
import { describeFailure } from './briefs';
import { CliError } from './errors';
import { FEED_FILE, readInputFile, TEMPLATE_FILE } from './files';

type CatalogResult = Awaited<ReturnType<typeof catalogWorkflow>>;

/** Where the CLI writes; `live` rewrites the current terminal line. */
export interface CatalogIo {
  out: (s: string) => void;
  err: (s: string) => void;
  live?: (s: string) => void;
  /** stdout and stderr are a terminal: `catalog status` of a running catalog follows it live. */
  interactive?: boolean;
}

/** The parsed command-line options the catalog commands read. */
export interface CatalogOptions {
  json?: boolean;
  template?: string;
  id?: string;
  window?: string;
  budget?: string;
  'rows-per-run'?: string;
  'dry-run'?: boolean;
  watch?: boolean;
  csv?: boolean;
  cron?: string;
  reason?: string;
}

export const catalogWorkflowId = (catalogId: string) => `catalog-${catalogId}`;
export const catalogScheduleId = (catalogId: string) => `catalog-${catalogId}-schedule`;
/** The visibility query for a catalog's own runs (scheduled runs carry a time suffix in their id). */
export const catalogQuery = (catalogId: string) => `WorkflowType = 'catalogWorkflow' AND ${SA.catalogId.name} = '${catalogId}'`;


// ---------------------------------------------------------------------------------------------
// Inputs

export interface CatalogFiles {
  feedFile: string;
  feedText: string;
  format: 'csv' | 'jsonl';
  templateFile: string;
  template: unknown;
}

/** CSV or JSON lines, by the file's extension, else by its first character. */
function feedFormat(file: string, text: string): 'csv' | 'jsonl' {
  if (/\.(jsonl|ndjson)$/i.test(file)) return 'jsonl';
  if (/\.(csv|tsv|txt)$/i.test(file)) return 'csv';
  return parseFeed(text.slice(0, 4096).split(/\r?\n/)[0] ?? '', 'auto').format;
}

export async function readFeedFile(feedFile: string): Promise<{ feedText: string; format: 'csv' | 'jsonl' }> {
  const feedText = await readInputFile(feedFile, FEED_FILE);
  return { feedText, format: feedFormat(feedFile, feedText) };
}

/** Reads the feed and the template; a missing file or bad JSON names the file. */
export async function readCatalogFiles(feedFile: string, templateFile: string): Promise<CatalogFiles> {
  const [feed, templateText] = await Promise.all([readFeedFile(feedFile), readInputFile(templateFile, TEMPLATE_FILE)]);
  return { feedFile, ...feed, templateFile, template: parseJsonText(templateText, templateFile) };
}

const CATALOG_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$/;

/** `--id`, checked (it names blobs, workflow ids and a search-attribute value), or one from the feed's file name. */
export function resolveCatalogId(id: string | undefined, feedFile: string): string {
  if (id === undefined) return catalogIdFor(path.basename(feedFile));
  if (!CATALOG_ID.test(id)) throw new CliError(`--id must be 1 to 60 characters of A-Z, a-z, 0-9, ".", "_" or "-", starting with a letter or digit, not ${preview(id)}`);
  return id;
}

/** The knobs of a run, from --window, --budget and --rows-per-run. */
export function runOptions(values: CatalogOptions): Pick<CatalogInput, 'window' | 'budgetUsd' | 'rowsPerRun'> {
  const out: Pick<CatalogInput, 'window' | 'budgetUsd' | 'rowsPerRun'> = {};
  const whole = (name: string, raw: string, min: number, max: number): number => {
    const n = Number(raw);
    if (!raw.trim() || !Number.isInteger(n) || n < min || n > max) throw new CliError(`--${name} must be a whole number from ${min} to ${max}, not ${preview(raw)}`);
    return n;
  };
  if (values.window !== undefined) out.window = whole('window', values.window, 1, 100);
  if (values['rows-per-run'] !== undefined) out.rowsPerRun = whole('rows-per-run', values['rows-per-run'], 5, 100_000);
  if (values.budget !== undefined) {
    const raw = values.budget.replace(/^\$/, '');
    const n = Number(raw);
    if (!raw.trim() || !Number.isFinite(n) || n <= 0) throw new CliError(`--budget must be an amount in US dollars above 0, such as 25 or 7.50, not ${preview(values.budget)}`);
    out.budgetUsd = n;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The plan and its forecast

export interface CatalogForecast {
  usd: number;
  /** No provider key in this shell: every run forecast on the free offline generator. */
  offline: boolean;
  /** Runs per routed model. */
  models: Record<string, number>;
  /** Runs naming a model this shell has no key for: left out of the forecast. */
  unroutable: number;
}

export function forecastRuns(plan: FeedPlan, config: Config): CatalogForecast {
  // The worker's registry makes the same choice from the same keys (capabilitiesFor).
  const { imageModels, prices } = capabilitiesFor(providerKeys(config));
  const f: CatalogForecast = { usd: 0, offline: imageModels.length === 1, models: {}, unroutable: 0 };
  for (const run of plan.runs) {
    try {
      const { route, forecast } = forecastBrief(run.brief, imageModels, prices);
      f.usd += forecast.totalUsd;
      f.models[route.model] = (f.models[route.model] ?? 0) + 1;
    } catch {
      f.unroutable++;
    }
  }
  f.usd = Math.round(f.usd * 1e6) / 1e6;
  return f;
}

export interface CatalogPreview {
  catalogId: string;
  feedFile: string;
  templateFile: string;
  format: 'csv' | 'jsonl';
  plan: FeedPlan;
  forecast: CatalogForecast;
  budgetUsd?: number;
}

/** Validates the whole feed against the template, and forecasts its cost. Pure but for nothing. */
export function previewCatalog(files: CatalogFiles, catalogId: string, config: Config, budgetUsd?: number): CatalogPreview {
  const plan = briefsFromFeed(files.feedText, files.template, { catalogId, format: files.format });
  return { catalogId, feedFile: files.feedFile, templateFile: files.templateFile, format: files.format, plan, forecast: forecastRuns(plan, config), budgetUsd };
}

/**
 * A problem with the feed or template as a whole (a missing column, no SKU column, an empty
 * feed) — the same test the workflow's planning activity makes before it refuses a feed.
 */
export function feedWideError(plan: FeedPlan): FeedError | undefined {
  if (plan.runs.length > 0) return undefined;
  return plan.errors.find((e) => !e.warning && e.sku === undefined && e.line <= 1 && ['template', 'sku', 'feed'].includes(e.field));
}

/** Refuses (exit 2) a feed that cannot run at all: a feed-wide problem, or not one valid row. */
export function assertRunnable(p: CatalogPreview): void {
  const wide = feedWideError(p.plan);
  if (wide) {
    const who = wide.field === 'template' ? `template ${p.templateFile}` : wide.field === 'sku' ? `${p.feedFile}:` : `feed ${p.feedFile}`;
    throw new CliError(`${who} ${wide.message}`);
  }
  if (p.plan.runs.length === 0) {
    const bad = p.plan.errors.filter((e) => !e.warning);
    const fields = [...new Set(bad.map((e) => e.field))];
    const hint = p.plan.rows > 1 && fields.length === 1 && bad.length >= p.plan.rows ? ` — every row has the same problem with ${fields[0]}: check the template ${p.templateFile}` : '';
    throw new CliError(`${p.feedFile}: none of its ${p.plan.rows} rows makes a valid brief, so there is nothing to run${hint}`);
  }
}

const usd = (v: number) => `$${v.toFixed(v > 0 && v < 0.1 ? 3 : 2)}`;
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const MAX_LISTED = 50;

function errorLine(e: FeedError): string {
  const who = e.sku ? `${e.sku}${e.variant ? `~${e.variant}` : ''}` : '(no sku)';
  return `    line ${String(e.line).padEnd(5)} ${who.padEnd(16)} ${e.field}: ${e.message}${e.warning ? '  (warning: the row still runs)' : ''}`;
}

function listed<T>(items: T[], line: (t: T) => string): string[] {
  const shown = items.slice(0, MAX_LISTED).map(line);
  if (items.length > MAX_LISTED) shown.push(`    … and ${items.length - MAX_LISTED} more (all of them with --json, and in the report)`);
  return shown;
}

function forecastText(p: CatalogPreview): string {
  const f = p.forecast;
  const runs = plural(p.plan.runs.length, 'run');
  const lines: string[] = [];
  if (f.offline) {
    lines.push(`forecast   ${usd(f.usd)} for ${runs}, a forecast with the offline generator (local, free): no provider key (OPENAI_API_KEY, GEMINI_API_KEY, REPLICATE_API_TOKEN) is set in this shell`);
  } else {
    const models = Object.entries(f.models).sort((a, b) => b[1] - a[1]).map(([m, n]) => `${m} ×${n}`).join(', ');
    lines.push(`forecast   ${usd(f.usd)} for ${runs} at catalog prices (${models}), routed with the provider keys set in this shell`);
  }
  lines.push(`           (the worker's own keys decide which models really run)`);
  if (f.unroutable) lines.push(`           ${plural(f.unroutable, 'run')} name a model this shell has no key for: not in the forecast`);
  if (p.budgetUsd !== undefined && f.usd > p.budgetUsd) lines.push(`           over the --budget of ${usd(p.budgetUsd)}: rows stop starting once the budget is reached`);
  return lines.join('\n');
}

/** What will run: runs (rows × variants), invalid rows, warnings, duplicates and the forecast. */
export function previewText(p: CatalogPreview): string {
  const { plan } = p;
  const invalid = plan.errors.filter((e) => !e.warning);
  const invalidRows = new Set(invalid.map((e) => e.line)).size;
  const warnings = plan.errors.filter((e) => e.warning);
  const dupRows = plan.duplicates.reduce((n, d) => n + d.lines.length - 1, 0);
  const validRows = plan.template.variants ? plan.runs.length / plan.template.variants : plan.runs.length;
  const shape = plan.template.variants
    ? `${plural(validRows, 'row')} × ${plan.template.variants} variants (${plan.template.variantIds.join(', ')})`
    : plural(validRows, 'row');
  const lines = [
    `catalog    ${p.catalogId}  (feed ${p.feedFile}, ${p.format === 'csv' ? 'CSV' : 'JSON lines'}; template ${p.templateFile})`,
    `runs       ${plural(plan.runs.length, 'run')}: ${shape}, of ${plural(plan.rows, 'row')} read${invalidRows || dupRows ? ` (${invalidRows} invalid, ${plural(dupRows, 'duplicate')})` : ''}`,
  ];
  if (invalid.length) {
    lines.push(`invalid    ${plural(invalidRows, 'row')} will not run:`);
    lines.push(...listed(invalid, errorLine));
  }
  if (warnings.length) {
    lines.push(`warnings   ${plural(warnings.length, 'warning')} (these rows still run):`);
    lines.push(...listed(warnings, errorLine));
  }
  if (plan.duplicates.length) {
    lines.push(`duplicates ${plural(plan.duplicates.length, 'SKU')} on more than one line (only the first line runs):`);
    const lineList = (n: number[]) => n.slice(0, 20).join(', ') + (n.length > 20 ? ` and ${n.length - 20} more` : '');
    lines.push(...listed(plan.duplicates, (d) => `    ${d.sku.padEnd(16)} lines ${lineList(d.lines)}`));
  }
  lines.push(forecastText(p));
  return lines.join('\n');
}

/** The preview as data, for --json. */
export function previewJson(p: CatalogPreview): Record<string, unknown> {
  const { plan } = p;
  return {
    catalogId: p.catalogId,
    feedFile: p.feedFile,
    templateFile: p.templateFile,
    format: p.format,
    rows: plan.rows,
    runs: plan.runs.length,
    variants: plan.template.variantIds,
    invalid: plan.errors.filter((e) => !e.warning),
    warnings: plan.errors.filter((e) => e.warning),
    duplicates: plan.duplicates,
    forecast: { usd: p.forecast.usd, offline: p.forecast.offline, models: p.forecast.models, unroutable: p.forecast.unroutable },
    ...(p.budgetUsd !== undefined ? { budgetUsd: p.budgetUsd } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Temporal

/** Where the feed is stored for the worker: `catalogs/<id>/feed.<csv|jsonl>`. */
export const feedKeyFor = (catalogId: string, format: 'csv' | 'jsonl') => `${catalogKeys(catalogId).dir}/feed.${format}`;

async function storeFeed(blobs: BlobStore, catalogId: string, feedText: string, format: 'csv' | 'jsonl'): Promise<string> {
  const key = feedKeyFor(catalogId, format);
  await blobs.put(key, new TextEncoder().encode(feedText), { mime: format === 'csv' ? 'text/csv' : 'application/x-ndjson' });
  return key;
}

/** A blob's path a person can open: a file under the store's folder, or a URL. */
function blobPath(blobs: BlobStore, key: string): string {
  return /^[a-z0-9]+:\/\//.test(blobs.location) ? `${blobs.location.replace(/\/$/, '')}/${key}` : path.join(blobs.location, key);
}

/** Temporal's view of a catalog's latest run. */
export interface FoundCatalog {
  workflowId: string;
  description: WorkflowExecutionDescription;
  running: boolean;
}

/**
 * The catalog's workflow: the running one if any, else the latest. `darkroom catalog start`
 * runs it as `catalog-<id>`; a schedule's runs add the scheduled time to that id, so they are
 * found by their `DarkroomCatalogId` instead.
 */
export async function findCatalog(client: Client, catalogId: string): Promise<FoundCatalog | undefined> {
  const describe = (workflowId: string) =>
    client.workflow.getHandle(workflowId).describe().catch((err) => {
      if (err instanceof WorkflowNotFoundError) return undefined;
      throw err;
    });
  const found = (d: WorkflowExecutionDescription): FoundCatalog => ({ workflowId: d.workflowId, description: d, running: d.status.name === 'RUNNING' });
  const direct = await describe(catalogWorkflowId(catalogId));
  const isCatalog = direct && direct.type === 'catalogWorkflow' ? direct : undefined;
  if (isCatalog?.status.name === 'RUNNING') return found(isCatalog);
  let latest: { workflowId: string; startTime: Date } | undefined;
  try {
    let seen = 0;
    for await (const w of client.workflow.list({ query: catalogQuery(catalogId), pageSize: 100 })) {
      if (w.status.name === 'RUNNING') {
        const d = await describe(w.workflowId);
        if (d) return found(d);
      }
      if (!latest || w.startTime > latest.startTime) latest = w;
      if (++seen >= 500) break;
    }
  } catch (err) {
    // Without the search attribute registered, the direct id is all there is to go on.
    if (!(err instanceof ServiceError)) throw err;
  }
  if (latest && (!isCatalog || latest.startTime > isCatalog.startTime) && latest.workflowId !== isCatalog?.workflowId) {
    const d = await describe(latest.workflowId);
    if (d) return found(d);
  }
  return isCatalog ? found(isCatalog) : undefined;
}

function notFound(catalogId: string): CliError {
  if (!CATALOG_ID.test(catalogId)) {
    return new CliError(`no catalog ${preview(catalogId)}: a catalog id is 1 to 60 characters of A-Z, a-z, 0-9, ".", "_" or "-", starting with a letter or digit`);
  }
  return new CliError(`no catalog "${catalogId}": no workflow ${catalogWorkflowId(catalogId)} (nor any catalogWorkflow with ${SA.catalogId.name} = '${catalogId}') in this namespace; start one with "darkroom catalog start <feed> --template <template.json> --id ${catalogId}"`);
}

/** No worker answered a query in time. */
class QueryTimeout extends Error {}

async function queryStatus(client: Client, workflowId: string, timeoutMs = 5000): Promise<CatalogStatus> {
  try {
    return await client.withDeadline(Date.now() + timeoutMs, () => client.workflow.getHandle(workflowId).query(catalogStatusQuery));
  } catch (err) {
    const code = (err as { code?: number }).code ?? (err as { cause?: { code?: number } }).cause?.code;
    if (code === 4 || code === 1) throw new QueryTimeout(`no worker answered the status query for ${workflowId} in time: is a worker running on its task queue?`, { cause: err });
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Rendering status

/** `19m`, `2h 05m`, `45s`, `3d 4h`. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d ${Math.round((s % 86_400) / 3600)}h`;
}

/** `[#####.....] 120/250 done · 3 failed · 8 running · 2 awaiting review · $1.20 (≈$2.50) · 410 rows/h · ETA 19m` */
export function progressLine(s: CatalogStatus): string {
  if (s.state === 'planning') return 'planning: reading the feed and checking every row…';
  const c = s.counts;
  const total = Math.max(0, s.total - c.skipped);
  const finished = c.done + c.failed + c.rejected;
  const width = 10;
  const filled = total > 0 ? Math.min(width, Math.round((finished / total) * width)) : s.state === 'done' ? width : 0;
  const parts = [
    `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${c.done}/${total} done`,
    `${c.failed} failed`,
    ...(c.rejected ? [`${c.rejected} rejected`] : []),
    `${c.running} running`,
    `${c.awaitingReview} awaiting review`,
    ...(c.skipped ? [`${c.skipped} skipped`] : []),
    `${usd(s.costUsd)} (≈${usd(s.forecastUsd)})`,
    `${s.rowsPerHour > 0 ? Math.round(s.rowsPerHour) : '–'} rows/h`,
    `ETA ${s.etaSeconds !== undefined ? duration(s.etaSeconds) : '–'}`,
  ];
  if (s.state !== 'running') parts.push(s.state);
  return parts.join(' · ');
}

/** The lines of `darkroom catalog status` for a catalog that is still going. */
export function statusText(s: CatalogStatus, found: FoundCatalog): string {
  const c = s.counts;
  const head = `catalog    ${s.catalogId}  ${s.state}  (workflow ${found.workflowId}, started ${found.description.startTime.toISOString()})`;
  if (s.state === 'planning') return `${head}\nplanning   reading the feed and checking every row; rows start once the plan is stored`;
  const lines = [
    head,
    `rows       ${s.total} to run: ${c.done} done · ${c.failed} failed · ${c.rejected} rejected · ${c.running} running · ${c.awaitingReview} awaiting review · ${c.pending} pending${c.skipped ? ` · ${c.skipped} skipped (shipped before, brief unchanged)` : ''}`,
  ];
  if (s.invalidRows || s.duplicates) lines.push(`feed       ${plural(s.invalidRows, 'invalid row')}, ${plural(s.duplicates, 'duplicate')} (not run; listed in the report)`);
  lines.push(`cost       ${usd(s.costUsd)} so far · ≈${usd(s.forecastUsd)} forecast to finish${s.budgetUsd !== undefined ? ` · budget ${usd(s.budgetUsd)}` : ''}`);
  lines.push(`pace       ${s.rowsPerHour > 0 ? `${Math.round(s.rowsPerHour)} rows/h` : '– rows/h (no row finished yet)'} · ETA ${s.etaSeconds !== undefined ? duration(s.etaSeconds) : '–'}`);
  lines.push(`runs       continued as new ${plural(s.runs, 'time')}`);
  lines.push(`progress   ${progressLine(s)}`);
  if (c.awaitingReview) lines.push(`review     darkroom review list --filter "${SA.catalogId.name} = '${s.catalogId}'"`);
  return lines.join('\n');
}

interface ClosedCatalog {
  catalogId: string;
  workflowId: string;
  temporalStatus: string;
  closeTime?: string;
  result?: CatalogResult;
  error?: string;
  reportPath?: string;
  runs?: number;
}

async function closedCatalog(client: Client, catalogId: string, found: FoundCatalog, blobs: BlobStore): Promise<ClosedCatalog> {
  const out: ClosedCatalog = {
    catalogId, workflowId: found.workflowId, temporalStatus: found.description.status.name, closeTime: found.description.closeTime?.toISOString(),
  };
  try {
    out.result = await client.workflow.getHandle<typeof catalogWorkflow>(found.workflowId).result();
    out.reportPath = blobPath(blobs, out.result.reportKey);
    const manifest = await blobs.get(catalogKeys(catalogId).manifest).then((b) => JSON.parse(b.toString('utf8')) as { runs?: number; workflowId?: string }, () => undefined);
    if (manifest?.workflowId === found.workflowId) out.runs = manifest.runs;
  } catch (err) {
    out.error = err instanceof WorkflowFailedError ? describeFailure(err) : (err as Error).message;
  }
  return out;
}

function closedText(c: ClosedCatalog): string {
  if (!c.result) {
    return [
      `catalog    ${c.catalogId}  ${c.temporalStatus.toLowerCase()}  (workflow ${c.workflowId}${c.closeTime ? `, closed ${c.closeTime}` : ''})`,
      `error      ${c.error ?? 'unknown'}`,
    ].join('\n');
  }
  const r = c.result;
  const k = r.counts;
  return [
    `catalog    ${c.catalogId}  ${r.outcome}  (workflow ${c.workflowId}${c.closeTime ? `, closed ${c.closeTime}` : ''}${c.runs ? `, ${plural(c.runs, 'run')}` : ''})`,
    `rows       ${k.done} done · ${k.failed} failed · ${k.rejected} rejected · ${k.skipped} skipped${k.pending ? ` · ${k.pending} not started` : ''}`,
    `cost       ${usd(r.costUsd)}`,
    `report     ${c.reportPath}  (darkroom catalog report ${c.catalogId})`,
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Commands

export interface CatalogContext {
  config: Config;
  values: CatalogOptions;
  /** Positional arguments after `catalog <command>`. */
  args: string[];
  io: CatalogIo;
  connect: () => Promise<Client>;
  /** Usage text, appended to usage errors. */
  usage: string;
}

export const CATALOG_COMMANDS = ['start', 'status', 'pause', 'resume', 'cancel', 'retry-failed', 'report', 'schedule', 'upload', 'unschedule'] as const;

/** Runs `darkroom catalog <command>`; returns the exit code. */
export async function runCatalogCommand(command: string | undefined, ctx: CatalogContext): Promise<number> {
  const { args, usage } = ctx;
  const need = (i: number, what: string): string => {
    const v = args[i];
    if (!v) throw new CliError(`darkroom catalog ${clip(command ?? '')}: missing ${what}\n\n${usage}`);
    return v;
  };
  const extra = (n: number) => {
    if (args.length > n) throw new CliError(`darkroom catalog ${clip(command ?? '')}: unexpected ${preview(args[n])}\n\n${usage}`);
  };
  const id = (i: number): string => {
    const v = need(i, '<catalog id>');
    if (!CATALOG_ID.test(v)) throw notFound(v);
    return v;
  };
  switch (command) {
    case 'start': {
      const feedFile = need(0, '<feed.csv|.jsonl>');
      extra(1);
      return await start(ctx, feedFile);
    }
    case 'status': {
      extra(1);
      return await status(ctx, id(0));
    }
    case 'pause':
    case 'resume':
    case 'cancel':
    case 'retry-failed': {
      extra(1);
      return await steer(ctx, command, id(0));
    }
    case 'report': {
      extra(1);
      return await report(ctx, id(0));
    }
    case 'schedule': {
      const feedFile = need(0, '<feed.csv|.jsonl>');
      extra(1);
      return await schedule(ctx, feedFile);
    }
    case 'upload': {
      const feedFile = need(1, '<feed.csv|.jsonl>');
      extra(2);
      return await upload(ctx, resolveCatalogId(need(0, '<catalog id>'), feedFile), feedFile);
    }
    case 'unschedule': {
      extra(1);
      return await unschedule(ctx, id(0));
    }
    case undefined:
      throw new CliError(`darkroom catalog: missing a command (${CATALOG_COMMANDS.join(', ')})\n\n${usage}`);
    default:
      throw new CliError(`unknown command "catalog ${clip(command)}"\n\n${usage}`);
  }
}

function requireTemplate(ctx: CatalogContext, command: string): string {
  const t = ctx.values.template;
  if (!t) throw new CliError(`darkroom catalog ${command}: missing --template <brief-template.json>: the brief every row fills in, with {column} placeholders`);
  return t;
}

async function start(ctx: CatalogContext, feedFile: string): Promise<number> {
  const { config, values, io } = ctx;
  const json = values.json ?? false;
  const templateFile = requireTemplate(ctx, 'start');
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
  const feedKey = await storeFeed(blobs, catalogId, files.feedText, files.format);
  const workflowId = catalogWorkflowId(catalogId);
  const input: CatalogInput = { catalogId, feedKey, template: files.template, ...opts };
  try {
    await client.workflow.start<typeof catalogWorkflow>('catalogWorkflow', {
      taskQueue: config.DARKROOM_TASK_QUEUE,
      workflowId,
      args: [input],
      typedSearchAttributes: [{ key: SA.catalogId, value: catalogId }],
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

async function status(ctx: CatalogContext, catalogId: string): Promise<number> {
  const { config, values, io } = ctx;
  const json = values.json ?? false;
  const client = await ctx.connect();
  const found = await findCatalog(client, catalogId);
  if (!found) throw notFound(catalogId);
  const blobs = createBlobStore(config);
  const watch = !json && (values.watch || (io.interactive && io.live !== undefined));
  if (found.running && watch) return await watchCatalog(client, catalogId, found, blobs, io);
  if (found.running) {
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
async function watchCatalog(client: Client, catalogId: string, found: FoundCatalog, blobs: BlobStore, io: CatalogIo, intervalMs = 1000): Promise<number> {
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

async function steer(ctx: CatalogContext, command: 'pause' | 'resume' | 'cancel' | 'retry-failed', catalogId: string): Promise<number> {
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

async function report(ctx: CatalogContext, catalogId: string): Promise<number> {
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

/** Turns Temporal's refusal of the cron expression into a usage error. */
function cronError(err: unknown, cron: string): CliError | undefined {
  // The SDK turns the server's "Invalid schedule spec" (INVALID_ARGUMENT) into a TypeError.
  if (err instanceof TypeError) return new CliError(`Temporal refused --cron ${preview(cron)}: ${clip(err.message, 500)}`, 2, { cause: err });
  const e = err as { cause?: { code?: number; details?: string } };
  if (e.cause?.code === 3) return new CliError(`Temporal refused --cron ${preview(cron)}: ${clip(e.cause.details ?? '', 500)}`, 2, { cause: err });
  return undefined;
}

async function schedule(ctx: CatalogContext, feedFile: string): Promise<number> {
  const { config, values, io } = ctx;
  const templateFile = requireTemplate(ctx, 'schedule');
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
  const feedKey = await storeFeed(blobs, catalogId, files.feedText, files.format);
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

async function upload(ctx: CatalogContext, catalogId: string, feedFile: string): Promise<number> {
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
  const feedKey = await storeFeed(blobs, catalogId, feed.feedText, feed.format);
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

async function unschedule(ctx: CatalogContext, catalogId: string): Promise<number> {
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
