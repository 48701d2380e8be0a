/** A feed checked against its template before anything starts: runs, bad rows, duplicates and the forecast, as text and as JSON. */
import { providerKeys, type Config } from '../../domain/config';
import { briefsFromFeed, type FeedError, type FeedPlan } from '../../domain/feed';
import { capabilitiesFor, forecastBrief } from '../../domain/models';
import { CliError } from '../errors';
import { plural, usd } from '../format';
import type { CatalogFiles } from './inputs';

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
    lines.push(`forecast   ${usd(f.usd)} for ${runs}, a forecast with the offline generator (local, free): no provider key or endpoint is set in this shell (the list: README, Real providers)`);
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
