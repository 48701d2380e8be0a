/** The catalog commands' calls to Temporal and the blob store: find a catalog's run, query it, store its feed, read its result. */
import path from 'node:path';
import { ServiceError, WorkflowFailedError, WorkflowNotFoundError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { catalogKeys } from '../../activities/catalog';
import type { BlobStore } from '../../activities/blob-store';
import { preview } from '../../domain/text';
import type { CatalogStatus } from '../../domain/types';
import type { catalogWorkflow } from '../../workflows/catalog';
import { catalogStatusQuery, SA } from '../../workflows/messages';
import { describeFailure } from '../briefs';
import { CliError } from '../errors';
import { CATALOG_ID } from './inputs';

type CatalogResult = Awaited<ReturnType<typeof catalogWorkflow>>;

export const catalogWorkflowId = (catalogId: string) => `catalog-${catalogId}`;
export const catalogScheduleId = (catalogId: string) => `catalog-${catalogId}-schedule`;
/** The visibility query for a catalog's own runs (scheduled runs carry a time suffix in their id). */
export const catalogQuery = (catalogId: string) => `WorkflowType = 'catalogWorkflow' AND ${SA.catalogId.name} = '${catalogId}'`;


/** Where the feed is stored for the worker: `catalogs/<id>/feed.<csv|jsonl>`. */
export const feedKeyFor = (catalogId: string, format: 'csv' | 'jsonl') => `${catalogKeys(catalogId).dir}/feed.${format}`;

export async function storeFeed(blobs: BlobStore, catalogId: string, feedText: string, format: 'csv' | 'jsonl'): Promise<string> {
  const key = feedKeyFor(catalogId, format);
  await blobs.put(key, new TextEncoder().encode(feedText), { mime: format === 'csv' ? 'text/csv' : 'application/x-ndjson' });
  return key;
}

/** A blob's path a person can open: a file under the store's folder, or a URL. */
export function blobPath(blobs: BlobStore, key: string): string {
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

export function notFound(catalogId: string): CliError {
  if (!CATALOG_ID.test(catalogId)) {
    return new CliError(`no catalog ${preview(catalogId)}: a catalog id is 1 to 60 characters of A-Z, a-z, 0-9, ".", "_" or "-", starting with a letter or digit`);
  }
  return new CliError(`no catalog "${catalogId}": no workflow ${catalogWorkflowId(catalogId)} (nor any catalogWorkflow with ${SA.catalogId.name} = '${catalogId}') in this namespace; start one with "darkroom catalog start <feed> --template <template.json> --id ${catalogId}"`);
}

/** No worker answered a query in time. */
export class QueryTimeout extends Error {}

export async function queryStatus(client: Client, workflowId: string, timeoutMs = 5000): Promise<CatalogStatus> {
  try {
    return await client.withDeadline(Date.now() + timeoutMs, () => client.workflow.getHandle(workflowId).query(catalogStatusQuery));
  } catch (err) {
    const code = (err as { code?: number }).code ?? (err as { cause?: { code?: number } }).cause?.code;
    if (code === 4 || code === 1) throw new QueryTimeout(`no worker answered the status query for ${workflowId} in time: is a worker running on its task queue?`, { cause: err });
    throw err;
  }
}

export interface ClosedCatalog {
  catalogId: string;
  workflowId: string;
  temporalStatus: string;
  closeTime?: string;
  result?: CatalogResult;
  error?: string;
  reportPath?: string;
  runs?: number;
}

export async function closedCatalog(client: Client, catalogId: string, found: FoundCatalog, blobs: BlobStore): Promise<ClosedCatalog> {
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
