import { ApplicationFailure } from '@temporalio/activity';
import type { Config } from '../domain/config';
import { csvField } from '../domain/csv';
import type { CatalogCounts, CatalogPlan, PlannedRun, RowResult } from '../domain/catalog-state';
import { briefsFromFeed, type FeedError } from '../domain/feed';
import { manifestKey } from '../domain/naming';
import type { Manifest } from '../domain/types';
import type { Client } from '@temporalio/client';
import { BlobNotFoundError, BlobTooLargeError, InvalidBlobKeyError, UnsafeBlobError, type BlobStore } from './blob-store';
import { Failure } from '../domain/failures';
import { clip, decodeUtf8 } from '../domain/text';
import type { ProviderRegistry } from './providers';
import { instrumentActivities, Metrics } from './metrics';
import { postWebhook } from './webhook';
import { heartbeating } from './failures';
import { forecastBrief } from '../domain/models';

/** Where a catalog keeps its files in the blob store. */
export const catalogKeys = (catalogId: string) => ({
  dir: `catalogs/${catalogId}`,
  plan: `catalogs/${catalogId}/plan.jsonl`,
  errors: `catalogs/${catalogId}/feed-errors.json`,
  results: `catalogs/${catalogId}/results/`,
  /** The record of a row shipped with a given brief hash, keyed by the id-safe part of its workflow id. */
  shipped: (rowWorkflowId: string) => `catalogs/${catalogId}/shipped/${rowWorkflowId.slice(rowWorkflowId.indexOf('/') + 1)}.json`,
  report: `catalogs/${catalogId}/report.csv`,
  manifest: `catalogs/${catalogId}/manifest.json`,
});

export interface CatalogReportInput {
  catalogId: string;
  workflowId: string;
  plan: CatalogPlan;
  counts: Record<string, number>;
  costUsd: number;
  outcome: 'completed' | 'cancelled';
  finishedRuns: number;
}

export interface CatalogReport {
  reportKey: string;
  manifestKey: string;
  rows: number;
  location: string;
  finishedAt: string;
}

// One CSV writer for everything Darkroom writes: it also neutralises formula cells.
const csvCell = (v: string | number | undefined) => csvField(v);
const enc = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

/** The activities of catalog jobs: plan the feed, read it in pages, keep results, write the report. */
export function createCatalogActivities(deps: { blobs: BlobStore; providers: ProviderRegistry; config: Config; clock?: () => Date; temporal?: () => Promise<Client>; metrics?: Metrics }) {
  const { blobs, providers, config } = deps;
  const now = () => (deps.clock ?? (() => new Date()))().toISOString();

  // A catalog reads its plan a page at a time; keep the last plan's lines so a page does not
  // re-read the whole file. Keyed by content hash: a rerun rewrites the plan at the same key.
  let plan: { key: string; sha256: string; lines: string[] } | undefined;
  async function planLines(key: string): Promise<string[]> {
    const ref = await blobs.head(key);
    if (!ref) throw new BlobNotFoundError(key);
    if (plan?.key !== key || plan.sha256 !== ref.sha256) {
      const text = (await blobs.get(key)).toString('utf8');
      plan = { key, sha256: ref.sha256, lines: text ? text.split('\n') : [] };
    }
    return plan.lines;
  }

  /** The stored feed, or a non-retryable InvalidCatalog when there is none to read: a retry would not find one either. */
  async function readFeed(feedKey: string): Promise<string> {
    let bytes: Buffer;
    try {
      bytes = await blobs.get(feedKey);
    } catch (err) {
      if (err instanceof BlobNotFoundError || err instanceof InvalidBlobKeyError || err instanceof UnsafeBlobError || err instanceof BlobTooLargeError) {
        const why = err instanceof BlobNotFoundError ? 'no feed is stored there' : err instanceof BlobTooLargeError ? clip(err.message, 200) : clip(err.reason, 200);
        throw ApplicationFailure.create({
          message: `feedKey ${clip(JSON.stringify(feedKey), 120)}: ${why}. Store the feed first (darkroom catalog start or darkroom catalog upload <id> <feed>).`,
          type: Failure.InvalidCatalog,
          nonRetryable: true,
        });
      }
      throw err;
    }
    const text = decodeUtf8(bytes);
    if (!text.ok) {
      throw ApplicationFailure.create({
        message: `feedKey ${clip(JSON.stringify(feedKey), 120)}: the feed is not UTF-8 text (line ${text.line} has a byte that is not): save it as UTF-8 and store it again`,
        type: Failure.InvalidCatalog,
        nonRetryable: true,
      });
    }
    return text.text;
  }

  return instrumentActivities(heartbeating({
    /**
     * Validates the whole feed against the template and stores the plan (one run per line)
     * so the workflow reads it in pages: a feed of thousands of rows never enters history.
     * Rows shipped earlier with an unchanged brief are marked to be skipped.
     */
    async planCatalog(input: { catalogId: string; feedKey: string; template: unknown }): Promise<CatalogPlan> {
      const startedAt = now();
      const feed = await readFeed(input.feedKey);
      const format = /\.jsonl?$|\.ndjson$/i.test(input.feedKey) ? 'jsonl' : /\.csv$|\.tsv$|\.txt$/i.test(input.feedKey) ? 'csv' : 'auto';
      let plan;
      try {
        plan = briefsFromFeed(feed, input.template, { catalogId: input.catalogId, format });
      } catch (err) {
        // The feed parser reports bad rows itself; whatever still escapes it would fail the same way every attempt.
        throw ApplicationFailure.create({ message: `the feed ${input.feedKey} cannot be read: ${clip(err instanceof Error ? err.message : String(err), 300)}`, type: Failure.InvalidCatalog, nonRetryable: true });
      }
      // Feed-wide problems (the template names a missing column, no SKU column, an empty or
      // oversized feed) come back as one error on line 1 and no runs: nothing can start.
      const wide = plan.errors.find((e) => !e.warning && ['template', 'sku', 'feed'].includes(e.field) && e.line <= 1);
      if (wide && plan.runs.length === 0) {
        throw ApplicationFailure.create({ message: `the feed cannot run: ${wide.field}: ${clip(wide.message, 300)}`, type: Failure.InvalidCatalog, nonRetryable: true, details: [wide] });
      }
      const keys = catalogKeys(input.catalogId);
      let shipped = 0;
      let forecastUsd = 0;
      const lines: string[] = [];
      for (const [index, run] of plan.runs.entries()) {
        const prior = await blobs.get(keys.shipped(run.workflowId)).then(
          (b) => JSON.parse(b.toString('utf8')) as { briefHash: string },
          (err: unknown) => {
            if (err instanceof BlobNotFoundError) return undefined;
            throw err;
          },
        );
        const isShipped = prior?.briefHash === run.briefHash;
        if (isShipped) shipped++;
        else {
          try {
            forecastUsd += forecastBrief(run.brief, providers.imageModels, providers.prices).forecast.totalUsd;
          } catch {
            // A row routed to a model this worker lacks fails on its own, with its own message.
          }
        }
        const planned: PlannedRun = { ...run, index, shipped: isShipped };
        lines.push(JSON.stringify(planned));
      }
      await blobs.put(keys.plan, enc(lines.join('\n')), { mime: 'application/x-ndjson' });
      await blobs.put(keys.errors, enc({ errors: plan.errors, duplicates: plan.duplicates }), { mime: 'application/json' });
      return {
        planKey: keys.plan,
        total: plan.runs.length,
        invalidRows: new Set(plan.errors.filter((e) => !e.warning).map((e) => e.line)).size,
        duplicates: plan.duplicates.reduce((n, d) => n + d.lines.length - 1, 0),
        shipped,
        forecastUsd: Math.round(forecastUsd * 1e6) / 1e6,
        startedAt,
      };
    },

    /**
     * Rows the catalog has not heard from, as Temporal sees them: a row that was terminated or
     * timed out cannot signal, so the catalog asks. Closed rows come back with their outcome.
     */
    async describeRows(input: { workflowIds: string[] }): Promise<Array<{ workflowId: string; closed: boolean; state?: 'done' | 'failed' | 'rejected'; reason?: string; costUsd: number }>> {
      if (!deps.temporal) throw new Error('describeRows needs a Temporal client on this worker');
      const client = await deps.temporal();
      return Promise.all(input.workflowIds.map(async (workflowId) => {
        const d = await client.workflow.getHandle(workflowId).describe();
        const status = d.status.name;
        if (status === 'RUNNING') return { workflowId, closed: false, costUsd: 0 };
        if (status === 'COMPLETED') {
          const m = await blobs.get(manifestKey(workflowId)).then((b) => JSON.parse(b.toString('utf8')) as Manifest, () => undefined);
          return { workflowId, closed: true, state: m?.outcome === 'rejected' ? 'rejected' as const : 'done' as const, costUsd: m?.cost.actualUsd ?? 0 };
        }
        return { workflowId, closed: true, state: 'failed' as const, reason: `the row's workflow ended ${status.toLowerCase().replace(/_/g, ' ')}`, costUsd: 0 };
      }));
    },

    /** Runs `offset` … `offset + limit - 1` of a stored plan. */
    async readPlanPage(input: { planKey: string; offset: number; limit: number }): Promise<PlannedRun[]> {
      const lines = await planLines(input.planKey);
      return lines.slice(input.offset, input.offset + input.limit).map((l) => JSON.parse(l) as PlannedRun);
    },

    /**
     * Keeps a batch of row results: the report is built from these, never from history.
     * `counts` (the catalog's totals after the batch) feed the rows-by-state gauge.
     */
    async saveRowResults(input: { catalogId: string; batch: string; rows: RowResult[]; counts?: CatalogCounts }): Promise<void> {
      if (input.rows.length === 0) return;
      await blobs.put(`${catalogKeys(input.catalogId).results}${input.batch}.json`, enc(input.rows), { mime: 'application/json' });
    },

    /**
     * The catalog's report (CSV: sku, state, reason, asset keys, cost; one line per feed row,
     * invalid and duplicate rows included) and its manifest; records shipped rows so a
     * scheduled rerun skips them while their brief is unchanged.
     */
    async writeCatalogReport(input: CatalogReportInput): Promise<CatalogReport> {
      const keys = catalogKeys(input.catalogId);
      const latest = new Map<string, RowResult>();
      for (const k of await blobs.list(keys.results)) {
        for (const r of JSON.parse((await blobs.get(k)).toString('utf8')) as RowResult[]) {
          const prev = latest.get(r.workflowId);
          if (!prev || prev.at <= r.at) latest.set(r.workflowId, r);
        }
      }
      const runs = (await planLines(input.plan.planKey)).map((l) => JSON.parse(l) as PlannedRun);
      const { errors, duplicates } = JSON.parse((await blobs.get(keys.errors)).toString('utf8')) as { errors: FeedError[]; duplicates: Array<{ sku: string; lines: number[] }> };
      const lines = ['sku,line,variant,state,reason,workflow_id,asset_keys,cost_usd'];
      let rows = 0;
      for (const run of runs) {
        const r = latest.get(run.workflowId);
        let state: string = run.shipped ? 'skipped' : (r?.state ?? (input.outcome === 'cancelled' ? 'cancelled' : 'pending'));
        let reason = run.shipped ? 'shipped before with the same brief' : (r?.reason ?? '');
        let assets: string[] = [];
        let cost = r?.costUsd ?? 0;
        if (state === 'done' || state === 'rejected') {
          const m = await blobs.get(manifestKey(run.workflowId)).then((b) => JSON.parse(b.toString('utf8')) as Manifest, () => undefined);
          if (m) {
            assets = m.assets.map((a) => a.key);
            cost = m.cost.actualUsd;
            if (m.outcome === 'rejected') {
              state = 'rejected';
              reason = m.rejection?.reason ?? reason;
            }
          }
        }
        if (state === 'done') await blobs.put(keys.shipped(run.workflowId), enc({ briefHash: run.briefHash, workflowId: run.workflowId, at: now() }), { mime: 'application/json' });
        lines.push([run.sku, run.line, run.variant, state, reason, run.workflowId, assets.join(' '), cost.toFixed(4)].map(csvCell).join(','));
        rows++;
      }
      const erroredLines = new Map<number, FeedError[]>();
      for (const e of errors) erroredLines.set(e.line, [...(erroredLines.get(e.line) ?? []), e]);
      for (const [line, errs] of erroredLines) {
        if (errs.every((e) => e.warning)) continue;
        lines.push([errs[0]!.sku, line, errs[0]!.variant, 'invalid', errs.filter((e) => !e.warning).map((e) => `${e.field}: ${e.message}`).join('; '), undefined, undefined, '0.0000'].map(csvCell).join(','));
        rows++;
      }
      for (const d of duplicates) {
        for (const line of d.lines.slice(1)) {
          lines.push([d.sku, line, undefined, 'duplicate', `same SKU as line ${d.lines[0]}: not run twice`, undefined, undefined, '0.0000'].map(csvCell).join(','));
          rows++;
        }
      }
      await blobs.put(keys.report, enc(`${lines.join('\n')}\n`), { mime: 'text/csv' });
      const finishedAt = now();
      const manifest = {
        schema: 'darkroom.catalog-manifest/v1',
        catalogId: input.catalogId,
        workflowId: input.workflowId,
        outcome: input.outcome,
        counts: input.counts,
        plan: input.plan,
        costUsd: input.costUsd,
        runs: input.finishedRuns,
        reportKey: keys.report,
        rows,
        startedAt: input.plan.startedAt,
        finishedAt,
      };
      await blobs.put(keys.manifest, enc(JSON.stringify(manifest, null, 2)), { mime: 'application/json' });
      return { reportKey: keys.report, manifestKey: keys.manifest, rows, location: blobs.location, finishedAt };
    },

    /** Slack-compatible, HMAC-signed notice about a catalog (done, or rows waiting for review). */
    async notifyCatalog(input: { catalogId: string; event: 'completed' | 'awaiting-review'; text: string; counts: Record<string, number> }): Promise<{ delivered: boolean }> {
      const delivered = await postWebhook(config, { text: input.text, darkroom: { event: `catalog.${input.event}`, catalogId: input.catalogId, counts: input.counts } });
      return { delivered };
    },
    // The steps that may take long (a whole feed, a whole report, a webhook's retries) heartbeat.
  }, ['planCatalog', 'describeRows', 'writeCatalogReport', 'notifyCatalog']), deps.metrics ?? new Metrics(), providers);
}

export type CatalogActivities = ReturnType<typeof createCatalogActivities>;
