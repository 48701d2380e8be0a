/**
 * An S3 store that fails writes: the real S3BlobStore talks to a real S3 server (versitygw)
 * through test/support/fault-proxy.ts, which fails a seeded share of PUT and multipart POST
 * requests with 500/503, drops connections before or after the server stored the object, or cuts
 * bodies in half. Writes are retried (the SDK's own attempts, then the caller's, as Temporal
 * retries an activity); no object is ever partial or corrupt: every object in the bucket, read
 * behind the proxy's back, has the bytes its recorded sha256 names.
 */
import { createHash, randomBytes } from 'node:crypto';
import { GetObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLedger } from '../../activities';
import { startBrief } from '../../client/briefs';
import { validateBrief } from '../../domain/brief';
import { testBrief } from '../support/briefs';
import { startFaultProxy, type FaultProxy, type WriteFault } from '../support/fault-proxy';
import { recordProof, seededUnit } from '../support/faults';
import { closeTestConnection, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { startVersitygw, type Versitygw } from '../support/versitygw';
import { testWorkflowBundle, withWorker } from '../support/worker';

const MiB = 1024 * 1024;
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let gw: Versitygw;
beforeAll(async () => {
  await testWorkflowBundle();
  gw = await startVersitygw({ bucket: 'darkroom-faults' });
});
afterAll(async () => {
  await closeTestConnection();
  await gw?.stop();
});

/** A seeded schedule failing `share` of writes, each fault kind equally likely. */
function writeFaults(seed: string, share: number): (i: number) => WriteFault | undefined {
  const kinds: WriteFault[] = [500, 503, 'reset', 'truncated', 'lostAnswer'];
  return (i) => (seededUnit(seed, i) < share ? kinds[Math.floor(seededUnit(`${seed}/kind`, i) * kinds.length)] : undefined);
}

/**
 * Every object under `prefix`, read straight from the server (not through the proxy): each must
 * carry the sha256 the store recorded and have exactly those bytes. Returns how many it checked.
 */
async function expectEveryObjectWhole(prefix: string): Promise<number> {
  const keys: string[] = [];
  let ContinuationToken: string | undefined;
  do {
    const res = await gw.admin.send(new ListObjectsV2Command({ Bucket: gw.bucket, Prefix: prefix, ContinuationToken }));
    for (const o of res.Contents ?? []) keys.push(o.Key!);
    ContinuationToken = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (ContinuationToken);
  for (const key of keys) {
    const res = await gw.admin.send(new GetObjectCommand({ Bucket: gw.bucket, Key: key }));
    const body = await res.Body!.transformToByteArray();
    expect(res.Metadata?.sha256, key).toMatch(/^[0-9a-f]{64}$/);
    expect(sha256(body), key).toBe(res.Metadata!.sha256);
    expect(body.byteLength, key).toBe(res.ContentLength);
  }
  return keys.length;
}

/** Calls `fn` until it succeeds, as Temporal retries an activity; returns the attempts it took. */
async function retried(fn: () => Promise<unknown>, check: () => Promise<void>, max = 20): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    try {
      await fn();
      return attempt;
    } catch (err) {
      if (attempt >= max) throw err;
      await check();
    }
  }
}

describe('an S3 store that fails writes intermittently', () => {
  let proxy: FaultProxy | undefined;
  afterAll(async () => {
    await proxy?.close();
  });

  it('single and multipart uploads are retried to a whole object, and no failed attempt leaves a partial one', async ({ task }) => {
    proxy = await startFaultProxy(gw.endpoint, writeFaults('blob-faults-1', 0.4));
    // Multipart from 5 MiB up (lib-storage's 5 MiB parts): the bigger blobs go up in 2–3 parts.
    const store = gw.store({ endpoint: proxy.endpoint, prefix: 'direct', multipartThreshold: 5 * MiB, maxAttempts: 2 });
    const sizes = [40_000, 300_000, 2 * MiB, 6 * MiB, 11 * MiB, 150_000, 7 * MiB, 900_000];
    const blobs = sizes.map((n, i) => ({ key: `wf-${i}/${i % 2 ? 'candidates' : 'assets'}/blob-${i}.png`, data: randomBytes(n) }));
    let attempts = 0;
    let partialSeen = 0;
    for (const b of blobs) {
      attempts += await retried(
        () => store.put(b.key, b.data, { mime: 'image/png' }),
        // Between attempts, the key holds nothing or the whole blob, never a part of it.
        async () => {
          const seen = await gw.store({ prefix: 'direct' }).head(b.key);
          if (seen && (seen.sha256 !== sha256(b.data) || seen.bytes !== b.data.byteLength)) partialSeen++;
        },
      );
    }
    expect(partialSeen).toBe(0);
    for (const b of blobs) expect(sha256(await gw.store({ prefix: 'direct' }).get(b.key))).toBe(sha256(b.data));
    const checked = await expectEveryObjectWhole('direct/');
    expect(checked).toBe(blobs.length);
    // Not asserted: an upload whose CreateMultipartUpload answer was lost is one the store never
    // learnt of, so it cannot abort it (a bucket lifecycle rule does). Counted for the record.
    const open = (await gw.admin.send(new ListMultipartUploadsCommand({ Bucket: gw.bucket, Prefix: 'direct/' }))).Uploads ?? [];
    const { writes, faults } = proxy.counts();
    const injected = Object.values(faults).reduce((a, n) => a + n, 0);
    expect(injected).toBeGreaterThanOrEqual(5);
    expect(Object.keys(faults).length).toBeGreaterThanOrEqual(4);
    recordProof(task, `${blobs.length} blobs (${sizes.filter((n) => n >= 5 * MiB).length} multipart); ${writes} write requests, ${injected} failed (${JSON.stringify(faults)}); ${attempts} store.put attempts; ${checked} objects, every sha256 verified, 0 partial objects seen between attempts, ${open.length} incomplete multipart uploads left in the bucket (no objects)`);
    await proxy.close();
    proxy = undefined;
  });

  it('briefs on a worker whose S3 writes fail complete, with every asset whole (checksums verified) and one ledger entry per candidate', async ({ task }) => {
    proxy = await startFaultProxy(gw.endpoint, writeFaults('blob-faults-2', 0.3));
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('faults-s3');
    const prefix = 'briefs';
    const env = { ...gw.config(prefix), DARKROOM_S3_ENDPOINT: proxy.endpoint, DARKROOM_RETRY_MAX_ATTEMPTS: '10', DARKROOM_RETRY_INITIAL: '100ms' };
    const manifests = await withWorker({ taskQueue, dataDir: testDataDir('faults-s3'), blobs: gw.store({ prefix, endpoint: proxy.endpoint, maxAttempts: 2 }), env }, () =>
      Promise.all([0, 1].map(async (i) => {
        const { handle } = await startBrief(client, validateBrief(testBrief({ id: `s3-faults-${i}`, candidates: 3, channels: ['email-header', 'og-image'] })), taskQueue, { workflowId: uniqueWorkflowId(`s3-faults-${i}`) });
        return handle.result();
      })),
    );
    const direct = gw.store({ prefix });
    let assets = 0;
    let ledger = 0;
    for (const m of manifests) {
      expect(m.candidates).toHaveLength(3);
      expect(m.assets.length).toBeGreaterThan(0);
      for (const a of m.assets) {
        const bytes = await direct.get(a.key);
        expect(sha256(bytes), a.key).toBe(a.sha256);
        expect(bytes.byteLength, a.key).toBe(a.bytes);
        assets++;
      }
      const entries = await readLedger(direct, m.workflowId);
      expect(entries.map((e) => e.candidateId).sort()).toEqual(m.candidates.map((c) => c.id).sort());
      ledger += entries.length;
      expect(await direct.list(`${m.workflowId}/candidates/`)).toHaveLength(3);
    }
    const checked = await expectEveryObjectWhole(`${prefix}/`);
    const { writes, faults } = proxy.counts();
    const injected = Object.values(faults).reduce((a, n) => a + n, 0);
    expect(injected).toBeGreaterThanOrEqual(5);
    recordProof(task, `2/2 briefs completed; ${writes} S3 write requests, ${injected} failed (${JSON.stringify(faults)}); ${assets} published assets and all ${checked} objects in the bucket match their sha256; ${ledger} ledger entries for 6 candidates`);
  });
});
