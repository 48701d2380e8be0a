import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createActivities, type ManifestDraft } from '../../activities';
import { FsBlobStore, type BlobStore } from '../../activities/blob-store';
import { createCatalogActivities } from '../../activities/catalog';
import { CATALOG_ROWS_TTL_MS, instrumentBlobStore, Metrics, providerOf } from '../../activities/metrics';
import { createProviderRegistry } from '../../activities/providers';
import type { CatalogCounts } from '../../domain/catalog-state';
import { parseConfig } from '../../domain/config';
import { sample } from '../support/prometheus';

let dir: string;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'darkroom-metrics-'));
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

/** One series' value as the worker would serve it. */
async function value(m: Metrics, name: string, labels: Record<string, string>): Promise<number | undefined> {
  return sample(await m.registry.metrics(), name, labels);
}

/** A store whose writes fail the way a full disk or a dropped bucket connection does. */
function failingWrites(inner: BlobStore): BlobStore {
  return {
    location: inner.location,
    put: async () => {
      throw new Error('EIO: i/o error, write');
    },
    get: (k, o) => inner.get(k, o),
    openRead: (k) => inner.openRead(k),
    head: (k) => inner.head(k),
    list: (p) => inner.list(p),
    delete: (k) => inner.delete(k),
  };
}

describe('blob-store errors', () => {
  it('counts a failing store\'s errors by operation, and a missing blob not at all', async () => {
    const metrics = new Metrics();
    const store = instrumentBlobStore(failingWrites(new FsBlobStore(path.join(dir, 'failing'))), metrics);
    await expect(store.put('brief-a/x.json', new Uint8Array(1), { mime: 'application/json' })).rejects.toThrow('EIO');
    await expect(store.put('brief-a/y.json', new Uint8Array(1), { mime: 'application/json' })).rejects.toThrow('EIO');
    await expect(store.get('brief-a/none.json')).rejects.toThrow('no blob at');
    expect(await store.head('brief-a/none.json')).toBeUndefined();
    expect(await value(metrics, 'darkroom_blob_store_errors_total', { operation: 'put', error: 'other' })).toBe(2);
    expect(await value(metrics, 'darkroom_blob_store_errors_total', { operation: 'get' })).toBeUndefined();
  });

  it('keeps a store\'s presigned URLs (S3), and has none for a store that cannot sign (fs)', async () => {
    const metrics = new Metrics(new Registry());
    const fsStore = new FsBlobStore(path.join(dir, 'unsigned'));
    expect(instrumentBlobStore(fsStore, metrics).presignGet).toBeUndefined();
    const signing: BlobStore = { ...failingWrites(fsStore), presignGet: async (key, expires) => `https://bucket.example/${key}?X-Amz-Expires=${expires}` };
    await expect(instrumentBlobStore(signing, metrics).presignGet!('a/b.webp', 60)).resolves.toBe('https://bucket.example/a/b.webp?X-Amz-Expires=60');
  });

  it('names the store\'s own refusals', async () => {
    const metrics = new Metrics();
    const root = path.join(dir, 'refusing');
    const store = instrumentBlobStore(new FsBlobStore(root), metrics);
    await fs.mkdir(path.join(root, 'brief-b'), { recursive: true });
    await fs.symlink('/etc/hostname', path.join(root, 'brief-b/linked.png'));
    await expect(store.get('brief-b/linked.png')).rejects.toThrow('refused blob');
    await expect(store.put('../escape', new Uint8Array(1), { mime: 'image/png' })).rejects.toThrow('invalid blob key');
    expect(await value(metrics, 'darkroom_blob_store_errors_total', { operation: 'get', error: 'UnsafeBlobError' })).toBe(1);
    expect(await value(metrics, 'darkroom_blob_store_errors_total', { operation: 'put', error: 'InvalidBlobKeyError' })).toBe(1);
  });

  it('an activity whose store fails: the error counted and its stage timed as an error', async () => {
    const metrics = new Metrics(new Registry());
    const config = parseConfig({ DARKROOM_DATA_DIR: dir });
    const blobs = instrumentBlobStore(failingWrites(new FsBlobStore(path.join(dir, 'activity'))), metrics);
    const acts = createActivities({ blobs, providers: createProviderRegistry(config), config, metrics });
    await expect(acts.publishManifest({ workflowId: 'brief-c', assets: [] } as unknown as ManifestDraft)).rejects.toThrow('EIO');
    expect(await value(metrics, 'darkroom_blob_store_errors_total', { operation: 'put', error: 'other' })).toBe(1);
    expect(await value(metrics, 'darkroom_stage_duration_seconds_count', { stage: 'publish', outcome: 'error' })).toBe(1);
    expect(await value(metrics, 'darkroom_stage_duration_seconds_count', { stage: 'publish', outcome: 'ok' })).toBeUndefined();
  });
});

describe('catalog rows by state', () => {
  const counts = (over: Partial<CatalogCounts>): CatalogCounts => ({ pending: 0, running: 0, awaitingReview: 0, done: 0, failed: 0, rejected: 0, skipped: 0, ...over });

  it('follows the counts a catalog reports, drops them when it finishes, and forgets a silent one', async () => {
    let now = 1_000_000;
    const metrics = new Metrics(new Registry(), () => now);
    const config = parseConfig({ DARKROOM_DATA_DIR: dir });
    const blobs = new FsBlobStore(path.join(dir, 'catalog'));
    const acts = createCatalogActivities({ blobs, providers: createProviderRegistry(config), config, metrics });
    await acts.saveRowResults({ catalogId: 'spring', batch: '0001', rows: [{ workflowId: 'catalog-spring/a', index: 0, sku: 'a', state: 'done', costUsd: 0, at: '2026-01-01T00:00:00.000Z' }], counts: counts({ pending: 7, running: 2, done: 1 }) });
    await acts.notifyCatalog({ catalogId: 'autumn', event: 'awaiting-review', text: 'x', counts: counts({ awaitingReview: 3 }) });
    expect(await value(metrics, 'darkroom_catalog_rows', { catalog_id: 'spring', state: 'pending' })).toBe(7);
    expect(await value(metrics, 'darkroom_catalog_rows', { catalog_id: 'spring', state: 'done' })).toBe(1);
    expect(await value(metrics, 'darkroom_catalog_rows', { catalog_id: 'autumn', state: 'awaitingReview' })).toBe(3);

    await acts.notifyCatalog({ catalogId: 'spring', event: 'completed', text: 'x', counts: counts({ done: 10 }) });
    expect(await value(metrics, 'darkroom_catalog_rows', { catalog_id: 'spring' })).toBeUndefined();

    now += CATALOG_ROWS_TTL_MS + 1;
    expect(await value(metrics, 'darkroom_catalog_rows', { catalog_id: 'autumn' })).toBeUndefined();
  });
});

describe('providerOf', () => {
  it('finds the provider of each judge, upscaler and alt-text writer name', () => {
    expect(['local-judge', 'local-alt-text', 'sharp-lanczos', 'openai:gpt-4.1-mini', 'gemini-2.5-flash', 'gemini-alt-text', 'real-esrgan', 'flux-dev', 'who-knows'].map(providerOf))
      .toEqual(['local', 'local', 'local', 'openai', 'google', 'google', 'replicate', 'replicate', 'other']);
  });
});

describe('metrics addresses in the configuration', () => {
  it('takes host:port or a port alone (then 127.0.0.1), and names the variable when wrong', () => {
    expect(parseConfig({ DARKROOM_METRICS_ADDRESS: '9464' }).DARKROOM_METRICS_ADDRESS).toBe('127.0.0.1:9464');
    expect(parseConfig({ TEMPORAL_METRICS_ADDRESS: '0.0.0.0:9000' }).TEMPORAL_METRICS_ADDRESS).toBe('0.0.0.0:9000');
    expect(parseConfig({ DARKROOM_METRICS_ADDRESS: '[::1]:9464' }).DARKROOM_METRICS_ADDRESS).toBe('[::1]:9464');
    expect(parseConfig({}).DARKROOM_METRICS_ADDRESS).toBeUndefined();
    expect(() => parseConfig({ DARKROOM_METRICS_ADDRESS: 'http://x:1' })).toThrow(/DARKROOM_METRICS_ADDRESS must be host:port or a port/);
    expect(() => parseConfig({ TEMPORAL_METRICS_ADDRESS: '70000' })).toThrow(/TEMPORAL_METRICS_ADDRESS must be host:port or a port/);
  });
});
