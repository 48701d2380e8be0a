/**
 * Darkroom on the S3 blob store, end to end: real workers on the dev server, a real S3 server
 * (versitygw on 127.0.0.1, started for this file), the offline provider. A brief publishes to the
 * bucket with presigned URLs a plain `fetch` can follow; a catalog keeps all its files there; the
 * reviewer tool shows thumbnails of candidates stored there.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLedger } from '../../activities';
import { assetUrls } from '../../activities/asset-urls';
import { catalogKeys } from '../../activities/catalog';
import { startBrief } from '../../client/briefs';
import { startReviewServer } from '../../client/review/server';
import { validateBrief } from '../../domain/brief';
import { parseConfig } from '../../domain/config';
import type { Manifest } from '../../domain/types';
import { parseReport, productFeed, startCatalog } from '../support/catalog';
import { awaitingRound, testBrief, waitForStatus } from '../support/briefs';
import { closeTestConnection, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { startVersitygw, type Versitygw } from '../support/versitygw';
import { testWorkflowBundle, withWorker } from '../support/worker';

let gw: Versitygw;

beforeAll(async () => {
  await testWorkflowBundle();
  gw = await startVersitygw({ bucket: 'darkroom-e2e' });
});
afterAll(async () => {
  await closeTestConnection();
  await gw?.stop();
});

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A worker's options for the bucket under `prefix`: the store (with the gateway's credentials) and the config naming it. */
function onS3(name: string, prefix: string, env: Record<string, string> = {}) {
  return { taskQueue: uniqueTaskQueue(name), dataDir: testDataDir(name), blobs: gw.store({ prefix }), env: { ...gw.config(prefix), ...env } };
}

/** Every object key in the bucket under `prefix`, listed through the SDK, not the store. */
async function bucketKeys(prefix: string): Promise<string[]> {
  const out: string[] = [];
  let ContinuationToken: string | undefined;
  do {
    const res = await gw.admin.send(new ListObjectsV2Command({ Bucket: gw.bucket, Prefix: prefix, ContinuationToken }));
    for (const o of res.Contents ?? []) out.push(o.Key!);
    ContinuationToken = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (ContinuationToken);
  return out.sort();
}

async function bucketObject(key: string): Promise<{ body: Buffer; contentType?: string; cacheControl?: string }> {
  const res = await gw.admin.send(new GetObjectCommand({ Bucket: gw.bucket, Key: key }));
  return { body: Buffer.from(await res.Body!.transformToByteArray()), contentType: res.ContentType, cacheControl: res.CacheControl };
}

/** The text of every payload in a history, decoded, to look for what must not be there. */
function payloadText(value: unknown, out: string[] = []): string[] {
  if (value instanceof Uint8Array) out.push(Buffer.from(value).toString('utf8'));
  else if (Array.isArray(value)) for (const v of value) payloadText(v, out);
  else if (value && typeof value === 'object') for (const v of Object.values(value)) payloadText(v, out);
  else if (typeof value === 'string') out.push(value);
  return out;
}

/** Fetches each asset's URL from a stored manifest, as a consumer with no credentials would. */
async function expectAssetsServedByUrl(stored: Manifest): Promise<void> {
  expect(stored.assets.length).toBeGreaterThan(0);
  for (const a of stored.assets) {
    expect(a.url, a.key).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/darkroom-e2e\//);
    const res = await fetch(a.url!);
    expect(res.status, a.key).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(sha256(body), a.key).toBe(a.sha256);
    expect(body.byteLength).toBe(a.bytes);
    expect(res.headers.get('content-type')).toBe(a.mime);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  }
}

describe('a brief published to S3 (versitygw)', () => {
  it('stores every asset and the manifest in the bucket; the manifest gives presigned URLs that serve the right bytes, and they stay out of the history', async () => {
    const client = await testConnection();
    const prefix = 'brief-e2e';
    const opts = onS3('s3-brief', prefix, { DARKROOM_S3_PRESIGN_TTL: '2h' });
    const brief = validateBrief(testBrief({ channels: ['email-header', 'og-image'], topK: 1 }));
    const workflowId = uniqueWorkflowId('brief-s3');
    const { manifest, history } = await withWorker(opts, async () => {
      const { handle } = await startBrief(client, brief, opts.taskQueue, { workflowId });
      return { manifest: await handle.result(), history: await handle.fetchHistory() };
    });
    expect(manifest.outcome).toBe('published');
    expect(manifest.location).toBe(`s3://darkroom-e2e/${prefix}/`);
    // 1 kept candidate × (email-header, og-image) × (jpeg, png)
    expect(manifest.assets).toHaveLength(4);

    const keys = await bucketKeys(`${prefix}/${workflowId}/`);
    for (const a of manifest.assets) expect(keys).toContain(`${prefix}/${a.key}`);
    for (const c of manifest.candidates) expect(keys).toContain(`${prefix}/${c.key}`);
    expect(keys).toContain(`${prefix}/${manifest.manifestKey}`);
    expect(keys.some((k) => k.includes('/ledger/'))).toBe(true);

    const obj = await bucketObject(`${prefix}/${manifest.manifestKey}`);
    expect(obj.contentType).toBe('application/json');
    expect(obj.cacheControl).toBe('no-cache');
    const stored = JSON.parse(obj.body.toString('utf8')) as Manifest;
    expect(stored.assets.map((a) => a.key)).toEqual(manifest.assets.map((a) => a.key));
    // Presigned from the publish time, for the configured 2 hours, stated exactly.
    const signedAt = Math.floor(Date.parse(stored.publishedAt) / 1000) * 1000;
    for (const a of stored.assets) {
      expect(a.urlExpiresAt).toBe(new Date(signedAt + 2 * 3_600_000).toISOString());
      expect(new URL(a.url!).searchParams.get('X-Amz-Expires')).toBe('7200');
    }
    await expectAssetsServedByUrl(stored);
    // A signature, never the secret: neither the manifest nor the history holds a credential.
    expect(obj.body.toString()).not.toContain(gw.credentials.secretAccessKey);

    // The workflow's result has no URLs, and no event in the history carries one.
    for (const a of manifest.assets) expect(a).not.toHaveProperty('url');
    const text = payloadText(history).join('\n');
    expect(text).toContain(manifest.manifestKey);
    expect(text).not.toContain('X-Amz-Signature');
    expect(text).not.toContain(gw.credentials.secretAccessKey);
  });

  it('a presigned URL stops working at its stated expiry, is signed for DARKROOM_S3_PRESIGN_ENDPOINT when set, and gives way to a public base URL', async () => {
    const store = gw.store({ prefix: 'urls' });
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#336699' } }).png().toBuffer();
    await store.put('b/x.png', png, { mime: 'image/png', width: 8, height: 8, cacheControl: 'no-store' });
    const config = parseConfig({ DARKROOM_S3_PRESIGN_TTL: '60s' });
    // Signed long enough ago that its minute has passed: S3 refuses it.
    const old = await assetUrls(store, config, new Date(Date.now() - 120_000))('b/x.png');
    expect(Date.parse(old!.urlExpiresAt!)).toBeLessThan(Date.now());
    const refused = await fetch(old!.url);
    expect(refused.status).toBe(403);
    await refused.arrayBuffer();
    const fresh = await assetUrls(store, config, new Date())('b/x.png');
    const ok = await fetch(fresh!.url);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    expect(sha256(Buffer.from(await ok.arrayBuffer()))).toBe(sha256(png));

    // Workers reach the server by one name, consumers by another: URLs are signed for the latter.
    const outside = gw.endpoint.replace('127.0.0.1', 'localhost');
    const named = gw.store({ prefix: 'urls', presignEndpoint: outside });
    const there = await assetUrls(named, config, new Date())('b/x.png');
    expect(there!.url.startsWith(`${outside}/${gw.bucket}/urls/b/x.png?`)).toBe(true);
    const got = await fetch(there!.url);
    expect(got.status).toBe(200);
    expect(sha256(Buffer.from(await got.arrayBuffer()))).toBe(sha256(png));

    const cdn = parseConfig({ DARKROOM_PUBLIC_BASE_URL: 'https://cdn.example.com/assets/' });
    expect(await assetUrls(store, cdn, new Date())('brief-a/email-header/r1-c01.jpg')).toEqual({ url: 'https://cdn.example.com/assets/brief-a/email-header/r1-c01.jpg' });
    expect(await assetUrls(store, cdn, new Date())('catalog-x/SKU 1/a.png')).toEqual({ url: 'https://cdn.example.com/assets/catalog-x/SKU%201/a.png' });
  });
});

describe('a catalog on S3 (versitygw)', () => {
  it('keeps its feed, plan, ledgers, results, report and manifest in the bucket and publishes every row', async () => {
    const client = await testConnection();
    const prefix = 'catalog-e2e';
    const opts = onS3('s3-catalog', prefix);
    const catalogId = `s3-${opts.taskQueue.slice(-8)}`;
    const result = await withWorker(opts, async () => {
      const handle = await startCatalog(client, { dataDir: opts.dataDir, taskQueue: opts.taskQueue, catalogId, feed: productFeed(4), window: 2, blobs: opts.blobs });
      return handle.result();
    });
    expect(result.outcome).toBe('completed');
    expect(result.counts).toMatchObject({ done: 4, failed: 0, pending: 0, running: 0 });

    const k = catalogKeys(catalogId);
    const keys = await bucketKeys(`${prefix}/${k.dir}/`);
    for (const key of [`${k.dir}/feed.csv`, k.plan, k.report, k.manifest]) expect(keys).toContain(`${prefix}/${key}`);
    expect(keys.filter((x) => x.startsWith(`${prefix}/${k.results}`)).length).toBeGreaterThan(0);

    const report = parseReport((await bucketObject(`${prefix}/${result.reportKey}`)).body.toString('utf8'));
    expect(report.map((r) => [r.sku, r.state])).toEqual([1, 2, 3, 4].map((i) => [`SKU-000${i}`, 'done']));
    for (const r of report) {
      // Generated once, on the ledger in the bucket; published with fetchable URLs.
      expect(await readLedger(opts.blobs, r.workflow_id!)).toHaveLength(1);
      const stored = JSON.parse((await bucketObject(`${prefix}/${r.workflow_id}/manifest.json`)).body.toString('utf8')) as Manifest;
      expect(stored.outcome).toBe('published');
      expect(stored.assets.map((a) => a.key).sort()).toEqual(r.asset_keys!.split(' ').sort());
      await expectAssetsServedByUrl(stored);
    }
  });
});

describe('the reviewer tool on S3 (versitygw)', () => {
  it('shows thumbnails and full-size candidates read from the bucket, and an approval there publishes to it', async () => {
    const client = await testConnection();
    const prefix = 'review-e2e';
    const opts = onS3('s3-review', prefix);
    const token = 's3-review-test-token-0123456789';
    const auth = { Authorization: `Bearer ${token}` };
    const brief = validateBrief(testBrief({ approval: 'human', candidates: 2, topK: 1 }));
    const workflowId = uniqueWorkflowId('brief-s3-review');
    await withWorker(opts, async () => {
      const { handle } = await startBrief(client, brief, opts.taskQueue, { workflowId });
      const status = await waitForStatus(handle, awaitingRound(1), 'review round 1');
      const candidates = status.review!.candidates;
      const server = await startReviewServer({ client, blobs: gw.store({ prefix }), token, port: 0, taskQueue: opts.taskQueue });
      try {
        const page = await fetch(new URL(`/briefs/${encodeURIComponent(workflowId)}`, server.url), { headers: auth });
        expect(page.status).toBe(200);
        const pageHtml = await page.text();
        const srcs = [...pageHtml.matchAll(/src="(\/blobs\/[^"?]+)\?w=(\d+)"/g)];
        expect(srcs.map((m) => m[1]).sort()).toEqual(candidates.map((c) => `/blobs/${c.key}`).sort());

        for (const [, path, w] of srcs) {
          const thumb = await fetch(new URL(`${path}?w=${w}`, server.url), { headers: auth });
          expect(thumb.status).toBe(200);
          expect(thumb.headers.get('content-type')).toBe('image/webp');
          const meta = await sharp(Buffer.from(await thumb.arrayBuffer())).metadata();
          expect(meta.format).toBe('webp');
          const candidate = candidates.find((c) => `/blobs/${c.key}` === path)!;
          expect(meta.width).toBe(Math.min(Number(w), candidate.width));

          // Full size: streamed from the bucket through the tool (the browser never sees the bucket).
          const full = await fetch(new URL(path!, server.url), { headers: auth });
          expect(full.status).toBe(200);
          const key = path!.slice('/blobs/'.length);
          expect(sha256(Buffer.from(await full.arrayBuffer()))).toBe((await gw.store({ prefix }).head(key))!.sha256);

          // The page's "full size" link: a presigned URL to the bucket, minted after the login, for 5 minutes.
          expect(pageHtml).toContain(`href="${path}?direct=1"`);
          const direct = await fetch(new URL(`${path}?direct=1`, server.url), { headers: auth, redirect: 'manual' });
          expect(direct.status).toBe(302);
          const location = new URL(direct.headers.get('location')!);
          expect(location.origin).toBe(gw.endpoint);
          expect(location.searchParams.get('X-Amz-Expires')).toBe('300');
          expect(location.searchParams.has('X-Amz-Signature')).toBe(true);
          const fromBucket = await fetch(location);
          expect(fromBucket.status).toBe(200);
          expect(sha256(Buffer.from(await fromBucket.arrayBuffer()))).toBe((await gw.store({ prefix }).head(key))!.sha256);
        }
        const anonDirect = await fetch(new URL(`${srcs[0]![1]!}?direct=1`, server.url), { redirect: 'manual' });
        expect(anonDirect.status).toBe(401);
        await anonDirect.arrayBuffer();
        // Without a login, nothing from the bucket.
        const anon = await fetch(new URL(srcs[0]![1]!, server.url));
        expect(anon.status).toBe(401);
        await anon.arrayBuffer();

        const approve = await fetch(new URL(`/api/briefs/${encodeURIComponent(workflowId)}/review`, server.url), {
          method: 'POST',
          headers: { ...auth, 'Content-Type': 'application/json', 'X-Darkroom': '1' },
          body: JSON.stringify({ action: 'approve', candidateIds: [candidates[0]!.id], reviewer: 'ana' }),
        });
        expect(approve.status).toBe(200);
        await approve.arrayBuffer();
        const manifest = await handle.result();
        expect(manifest.outcome).toBe('published');
        expect(manifest.selected.map((s) => s.id)).toEqual([candidates[0]!.id]);
        const head = await gw.admin.send(new HeadObjectCommand({ Bucket: gw.bucket, Key: `${prefix}/${manifest.manifestKey}` }));
        expect(head.ContentType).toBe('application/json');
      } finally {
        await server.close();
      }
    });
  });
});
