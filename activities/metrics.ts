/**
 * Darkroom's own Prometheus metrics, all in one place: the activities stay free of timing and
 * counting code. {@link instrumentActivities} wraps the activity functions (stage durations,
 * images, refusals, spend, review waits, catalog rows) and {@link instrumentBlobStore} wraps
 * the blob store (its errors). Each worker owns a {@link Metrics} on its own registry, so tests
 * read theirs without touching prom-client's global one.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { CatalogCounts } from '../domain/catalog-state';
import { Failure } from '../domain/failures';
import { IMAGE_MODELS, UPSCALE_MODELS, VISION_MODELS } from '../domain/models';
import type { Candidate } from '../domain/types';
import { BlobNotFoundError, type BlobStore } from './blob-store';
import type { ProviderRegistry } from './providers';

/** The stage each activity belongs to, as the `stage` label reads. Activities not listed are not timed. */
export const STAGE_OF: Readonly<Record<string, string>> = {
  prepareBrief: 'prompt',
  generateCandidate: 'generate',
  judgeCandidates: 'judge',
  notifyReviewers: 'notify',
  recordReviewDecision: 'review',
  upscaleCandidate: 'upscale',
  formatCandidate: 'format',
  writeAltText: 'alt-text',
  publishManifest: 'publish',
  planCatalog: 'catalog-plan',
  writeCatalogReport: 'catalog-report',
  moderatePrompt: 'moderate',
};

/**
 * A catalog's row counts are dropped from this worker's gauge when it has not reported them for
 * this long: with several workers, another one may have run the catalog's later activities, and
 * a count frozen here would be wrong for ever. A running catalog reports at least every 25 rows.
 */
export const CATALOG_ROWS_TTL_MS = 60 * 60_000;

// Seconds: a thumbnail formats in tens of milliseconds, a vendor image takes up to minutes.
const STAGE_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
// Seconds: a person answers within minutes or within days.
const REVIEW_BUCKETS = [1, 10, 30, 60, 300, 900, 1800, 3600, 3 * 3600, 8 * 3600, 24 * 3600, 3 * 86400, 7 * 86400];

// Error names a blob store throws; anything else is counted as `other` so the label stays small.
const BLOB_ERRORS = new Set(['BlobTooLargeError', 'UnsafeBlobError', 'InvalidBlobKeyError', 'S3BlobStoreError']);

/** The metrics one worker process exports. */
export class Metrics {
  readonly imagesGenerated: Counter<'model' | 'provider'>;
  readonly imagesRefused: Counter<'model' | 'provider'>;
  readonly spend: Counter<'provider' | 'capability'>;
  readonly stageDuration: Histogram<'stage' | 'outcome'>;
  readonly reviewWait: Histogram<never>;
  readonly catalogRows: Gauge<'catalog_id' | 'state'>;
  readonly blobErrors: Counter<'operation' | 'error'>;
  readonly #catalogs = new Map<string, { counts: CatalogCounts; at: number }>();

  /**
   * @param registry where the metrics are registered; serve it with `registry.metrics()`.
   * @default a new Registry (never prom-client's global one)
   * @param clock for the catalog rows' expiry. @default Date.now
   */
  constructor(readonly registry: Registry = new Registry(), private readonly clock: () => number = Date.now) {
    const registers = [registry];
    this.imagesGenerated = new Counter({ name: 'darkroom_images_generated_total', help: 'Candidate images a provider delivered (paid for), by model.', labelNames: ['model', 'provider'], registers });
    this.imagesRefused = new Counter({ name: 'darkroom_images_refused_total', help: 'Candidate images a provider refused on content policy or safety grounds, by model.', labelNames: ['model', 'provider'], registers });
    this.spend = new Counter({ name: 'darkroom_spend_usd_total', help: 'Money spent at providers, in US dollars, by provider and capability (image, judge, upscale, alt-text).', labelNames: ['provider', 'capability'], registers });
    this.stageDuration = new Histogram({ name: 'darkroom_stage_duration_seconds', help: 'Wall time of one activity call, by pipeline stage and outcome (ok or error).', labelNames: ['stage', 'outcome'], buckets: STAGE_BUCKETS, registers });
    this.reviewWait = new Histogram({ name: 'darkroom_review_wait_seconds', help: 'From a round being put up for review to the decision being recorded.', buckets: REVIEW_BUCKETS, registers });
    const catalogs = this.#catalogs;
    const now = () => this.clock();
    this.catalogRows = new Gauge({
      name: 'darkroom_catalog_rows',
      help: 'Rows of a running catalog by state, as last reported to this worker.',
      labelNames: ['catalog_id', 'state'],
      registers,
      collect() {
        this.reset();
        for (const [id, { counts, at }] of catalogs) {
          if (now() - at > CATALOG_ROWS_TTL_MS) {
            catalogs.delete(id);
            continue;
          }
          for (const [state, n] of Object.entries(counts)) this.set({ catalog_id: id, state }, n);
        }
      },
    });
    this.blobErrors = new Counter({ name: 'darkroom_blob_store_errors_total', help: 'Blob store calls that failed, by operation and error (a missing blob is not an error).', labelNames: ['operation', 'error'], registers });
  }

  /** A catalog's latest row counts. */
  catalogReported(catalogId: string, counts: CatalogCounts): void {
    this.#catalogs.set(catalogId, { counts, at: this.clock() });
  }

  /** A catalog that has finished: its rows leave the gauge (its report has them). */
  catalogFinished(catalogId: string): void {
    this.#catalogs.delete(catalogId);
  }
}

/** The provider a judge, upscaler or alt-text writer's name belongs to, from the model catalog. */
export function providerOf(name: string): string {
  const known = { ...IMAGE_MODELS, ...VISION_MODELS, ...UPSCALE_MODELS } as Record<string, { provider: string } | undefined>;
  if (known[name]) return known[name].provider;
  if (name.startsWith('openai:')) return 'openai';
  if (name.startsWith('gemini')) return 'google';
  if (name.startsWith('local')) return 'local';
  return 'other';
}

type ActivityFn = (...args: never[]) => Promise<unknown>;
type Observer = (metrics: Metrics, input: never, result: never, providers: ProviderRegistry) => void;

const imageLabels = (model: string) => ({ model, provider: IMAGE_MODELS[model]?.provider ?? 'other' });
const spend = (m: Metrics, provider: string, capability: string, usd: number) => {
  m.spend.inc({ provider, capability }, usd);
};

/** What each activity's result says about images, spend, reviews and catalogs. */
const OBSERVERS: Record<string, Observer> = {
  generateCandidate: (m, input: { model: string }, c: Candidate) => {
    // A reused image was paid for by the attempt that stored it.
    if (c.reused) return;
    m.imagesGenerated.inc(imageLabels(c.model || input.model));
    spend(m, imageLabels(c.model || input.model).provider, 'image', c.costUsd);
  },
  judgeCandidates: (m, _input, r: { costUsd: number }, p) => spend(m, providerOf(p.judge.name), 'judge', r.costUsd),
  upscaleCandidate: (m, _input, r: { costUsd: number; upscaler: string }) => spend(m, providerOf(r.upscaler), 'upscale', r.costUsd),
  writeAltText: (m, _input, r: { costUsd: number }, p) => spend(m, providerOf(p.altText.name), 'alt-text', r.costUsd),
  recordReviewDecision: (m, input: { requestedAt?: string }, r: { at: string }) => {
    // Absent for decisions of workflows started before the workflow passed it.
    if (!input.requestedAt) return;
    const s = (Date.parse(r.at) - Date.parse(input.requestedAt)) / 1000;
    if (Number.isFinite(s) && s >= 0) m.reviewWait.observe(s);
  },
  saveRowResults: (m, input: { catalogId: string; counts?: CatalogCounts }) => {
    if (input.counts) m.catalogReported(input.catalogId, input.counts);
  },
  notifyCatalog: (m, input: { catalogId: string; event: string; counts: CatalogCounts }) => {
    if (input.event === 'completed') m.catalogFinished(input.catalogId);
    else m.catalogReported(input.catalogId, input.counts);
  },
  writeCatalogReport: (m, input: { catalogId: string }) => m.catalogFinished(input.catalogId),
};

/**
 * `activities` with each call timed into `darkroom_stage_duration_seconds` and its result
 * counted. A metric can never fail an activity: observers that throw are ignored.
 */
export function instrumentActivities<T extends Record<string, ActivityFn>>(activities: T, metrics: Metrics, providers: ProviderRegistry): T {
  const out: Record<string, ActivityFn> = {};
  for (const [name, fn] of Object.entries(activities)) {
    const stage = STAGE_OF[name];
    const observe = OBSERVERS[name];
    out[name] = async (...args: never[]) => {
      const end = stage ? metrics.stageDuration.startTimer({ stage }) : undefined;
      let result: unknown;
      try {
        result = await fn(...args);
      } catch (err) {
        end?.({ outcome: 'error' });
        if (name === 'generateCandidate' && err instanceof ApplicationFailure && err.type === Failure.ContentPolicy) {
          metrics.imagesRefused.inc(imageLabels((args[0] as unknown as { model: string }).model));
        }
        throw err;
      }
      end?.({ outcome: 'ok' });
      try {
        observe?.(metrics, args[0] as never, result as never, providers);
      } catch {
        // Metrics are an observer of the work, never a reason for it to fail.
      }
      return result;
    };
  }
  return out as T;
}

/**
 * `store` with every failed call counted in `darkroom_blob_store_errors_total` by operation.
 * A missing blob is an answer, not a failure: activities look for stored results on purpose.
 */
export function instrumentBlobStore(store: BlobStore, metrics: Metrics): BlobStore {
  const counted = <A extends unknown[], R>(operation: string, fn: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
    try {
      return await fn(...args);
    } catch (err) {
      if (!(err instanceof BlobNotFoundError)) {
        const name = err instanceof Error ? err.name : '';
        metrics.blobErrors.inc({ operation, error: BLOB_ERRORS.has(name) ? name : 'other' });
      }
      throw err;
    }
  };
  return {
    get location() {
      return store.location;
    },
    put: counted('put', store.put.bind(store)),
    get: counted('get', store.get.bind(store)),
    openRead: counted('openRead', store.openRead.bind(store)),
    head: counted('head', store.head.bind(store)),
    list: counted('list', store.list.bind(store)),
    delete: counted('delete', store.delete.bind(store)),
    // Optional: only stores that can sign URLs (S3) have it, and the manifest's URLs need it kept.
    ...(store.presignGet ? { presignGet: counted('presignGet', store.presignGet.bind(store)) } : {}),
  };
}
