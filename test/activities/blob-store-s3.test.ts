/**
 * The BlobStore contract on FsBlobStore and on S3BlobStore against a real S3-compatible server:
 * versitygw (posix backend in a temp folder) on 127.0.0.1, started here and stopped after.
 * Plus what only S3 has: presigned URLs, conditional writes, errors naming bucket and endpoint.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBlobStore, FsBlobStore, S3BlobStore, S3BlobStoreError } from '../../activities/blob-store';
import { parseConfig } from '../../domain/config';
import { freePort, startVersitygw, type Versitygw } from '../support/versitygw';
import { blobStoreContract } from './blob-store-contract';

const BUCKET = 'darkroom-test';

let gw: Versitygw | undefined;
let dir = '';
let endpoint = '';
let admin: S3Client;
let credentials: Versitygw['credentials'];
let ACCESS = '';
let SECRET = '';

beforeAll(async () => {
  gw = await startVersitygw({ bucket: BUCKET });
  ({ endpoint, admin, credentials } = gw);
  ({ accessKeyId: ACCESS, secretAccessKey: SECRET } = credentials);
  dir = await mkdtemp(path.join(os.tmpdir(), 'darkroom-s3-cfg-'));
});

afterAll(async () => {
  await gw?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

let n = 0;
const s3Store = (options: { maxReadBytes?: number; prefix?: string; bucket?: string } = {}) =>
  new S3BlobStore({ bucket: BUCKET, region: 'us-east-1', endpoint, forcePathStyle: true, credentials, prefix: `t${++n}/`, ...options });

blobStoreContract('FsBlobStore', {
  fresh: async (options) => new FsBlobStore(path.join(await mkdtemp(path.join(os.tmpdir(), 'darkroom-blobs-')), 'blobs'), options),
});

blobStoreContract('S3BlobStore (versitygw)', { fresh: async (options) => s3Store(options) });

describe('S3BlobStore on versitygw', () => {
  it('keeps blobs under its prefix, with the ref as object metadata, and says where in location', async () => {
    const store = s3Store({ prefix: 'dr/prod' });
    expect(store.location).toBe(`s3://${BUCKET}/dr/prod/`);
    await store.put('b/a.png', Buffer.from('png'), { mime: 'image/png', width: 3, height: 1 });
    const head = await admin.send(new HeadObjectCommand({ Bucket: BUCKET, Key: 'dr/prod/b/a.png' }));
    expect(head.ContentType).toBe('image/png');
    expect(head.Metadata).toEqual({ sha256: createHash('sha256').update('png').digest('hex'), width: '3', height: '1' });
  });

  it('a content-addressed put that loses the race returns the blob already there (If-None-Match: *)', async () => {
    const store = s3Store();
    const first = await store.put('b/candidates/r1-c01-v1-s1.png', Buffer.from('first'), { mime: 'image/png', width: 1, height: 1 });
    const second = await store.put('b/candidates/r1-c01-v1-s1.png', Buffer.from('second!'), { mime: 'image/png', width: 1, height: 1 });
    expect(second).toEqual(first);
    expect((await store.get(first.key)).toString()).toBe('first');

    const a = Buffer.alloc(300_000, 1);
    const b = Buffer.alloc(300_000, 2);
    const refs = await Promise.all([store.put('b/masters/c1-8x8.png', a, { mime: 'image/png' }), store.put('b/masters/c1-8x8.png', b, { mime: 'image/png' })]);
    expect(refs[0]).toEqual(refs[1]);
    expect(await store.head('b/masters/c1-8x8.png')).toEqual(refs[0]);
  });

  it('a 12 MiB body is uploaded in parts', async () => {
    const store = s3Store();
    await store.put('b/masters/c2-4096x4096.png', Buffer.alloc(12 * 1024 * 1024, 7), { mime: 'image/png' });
    const head = await admin.send(new HeadObjectCommand({ Bucket: BUCKET, Key: `${store.prefix}b/masters/c2-4096x4096.png` }));
    expect(head.ETag).toMatch(/-3"$/);
  });

  it('an object uploaded by hand, without metadata, is described from its bytes', async () => {
    const store = s3Store();
    await admin.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${store.prefix}b/hand.bin`, Body: 'by hand' }));
    expect(await store.head('b/hand.bin')).toEqual({
      key: 'b/hand.bin', sha256: createHash('sha256').update('by hand').digest('hex'), bytes: 7, width: 0, height: 0, mime: 'application/octet-stream',
    });
  });

  it('a presigned GET is fetched with plain fetch, no credentials; the unsigned URL is refused', async () => {
    const store = s3Store();
    await store.put('b/a.webp', Buffer.from('webp bytes'), { mime: 'image/webp' });
    const url = await store.presignGet('b/a.webp', 60);
    expect(url).toContain(`${endpoint}/${BUCKET}/${store.prefix}b/a.webp?`);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/webp');
    expect(await res.text()).toBe('webp bytes');
    const plain = await fetch(url.split('?')[0]!);
    expect(plain.status).toBe(403);
    await plain.arrayBuffer();
    await expect(store.presignGet('../x', 60)).rejects.toThrow(/invalid blob key/);
  });

  it('a missing bucket is an error naming the bucket, not a missing blob', async () => {
    const store = s3Store({ bucket: 'no-such-bucket' });
    for (const call of [() => store.get('b/a.png'), () => store.head('b/a.png'), () => store.put('b/a.png', Buffer.from('x'), { mime: 'image/png' }), () => store.list('b/')]) {
      const e = await call().catch((err: unknown) => err);
      expect(e).toBeInstanceOf(S3BlobStoreError);
      expect((e as Error).message).toMatch(/no-such-bucket/);
      expect((e as Error).message).toContain(endpoint);
    }
  });

  it('an unreachable endpoint is an error naming bucket and endpoint', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const store = new S3BlobStore({ bucket: BUCKET, region: 'us-east-1', endpoint: dead, forcePathStyle: true, credentials, maxAttempts: 1 });
    for (const call of [() => store.get('b/a.png'), () => store.put('b/a.png', Buffer.from('x'), { mime: 'image/png' }), () => store.list('')]) {
      const e = await call().catch((err: unknown) => err);
      expect(e).toBeInstanceOf(S3BlobStoreError);
      expect((e as Error).message).toContain(`could not reach bucket ${BUCKET} at ${dead}`);
    }
  });

  it('wrong credentials are an error naming bucket and endpoint with the HTTP status', async () => {
    const store = new S3BlobStore({ bucket: BUCKET, region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: ACCESS, secretAccessKey: 'wrong' } });
    const e = await store.put('b/a.png', Buffer.from('x'), { mime: 'image/png' }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(S3BlobStoreError);
    expect((e as Error).message).toMatch(new RegExp(`bucket ${BUCKET} at ${endpoint} failed \\(HTTP 403`));
  });
});

describe('createBlobStore picks the store from config', () => {
  it('fs by default; s3 from the DARKROOM_S3_* variables', async () => {
    expect(createBlobStore(parseConfig({ DARKROOM_DATA_DIR: dir }))).toBeInstanceOf(FsBlobStore);
    const store = createBlobStore(
      parseConfig({
        DARKROOM_DATA_DIR: dir, DARKROOM_BLOB_STORE: 's3', DARKROOM_S3_BUCKET: BUCKET, DARKROOM_S3_PREFIX: 'cfg', DARKROOM_S3_REGION: 'us-east-1',
        DARKROOM_S3_ENDPOINT: endpoint, DARKROOM_S3_FORCE_PATH_STYLE: 'true', DARKROOM_BLOB_MAX_READ: '2048',
      }),
      { AWS_ACCESS_KEY_ID: ACCESS, AWS_SECRET_ACCESS_KEY: SECRET },
    );
    expect(store).toBeInstanceOf(S3BlobStore);
    expect(store.location).toBe(`s3://${BUCKET}/cfg/`);
    expect((store as S3BlobStore).maxReadBytes).toBe(2048);
    expect((store as S3BlobStore).presignEndpoint).toBeUndefined();
    const outside = createBlobStore(parseConfig({ DARKROOM_BLOB_STORE: 's3', DARKROOM_S3_BUCKET: BUCKET, DARKROOM_S3_PRESIGN_ENDPOINT: 'http://127.0.0.1:7070' }), { AWS_REGION: 'us-east-1' });
    expect((outside as S3BlobStore).presignEndpoint).toBe('http://127.0.0.1:7070');
    expect(() => parseConfig({ DARKROOM_S3_PRESIGN_ENDPOINT: 's3:7070' })).toThrow(/DARKROOM_S3_PRESIGN_ENDPOINT must be an http\(s\) URL/);
  });

  it('s3 without a bucket or region, or with a bad flag, names the missing variable', () => {
    expect(() => createBlobStore(parseConfig({ DARKROOM_BLOB_STORE: 's3' }), {})).toThrow(/DARKROOM_S3_BUCKET/);
    expect(() => createBlobStore(parseConfig({ DARKROOM_BLOB_STORE: 's3', DARKROOM_S3_BUCKET: 'b' }), {})).toThrow(/DARKROOM_S3_REGION/);
    expect(createBlobStore(parseConfig({ DARKROOM_BLOB_STORE: 's3', DARKROOM_S3_BUCKET: 'b' }), { AWS_REGION: 'eu-west-1' })).toBeInstanceOf(S3BlobStore);
    expect(() => parseConfig({ DARKROOM_BLOB_STORE: 'gcs' })).toThrow(/DARKROOM_BLOB_STORE must be fs or s3/);
    expect(() => parseConfig({ DARKROOM_S3_FORCE_PATH_STYLE: 'maybe' })).toThrow(/DARKROOM_S3_FORCE_PATH_STYLE must be true or false/);
    expect(() => parseConfig({ DARKROOM_S3_ENDPOINT: 'ftp://x' })).toThrow(/DARKROOM_S3_ENDPOINT/);
  });
});
