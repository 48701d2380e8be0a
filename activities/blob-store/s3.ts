import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type * as ClientS3 from '@aws-sdk/client-s3';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type * as LibStorage from '@aws-sdk/lib-storage';
import type * as Presigner from '@aws-sdk/s3-request-presigner';
import { blobKeyProblem } from '../../domain/naming';
import type { BlobRef } from '../../domain/types';
import {
  assertSafeKey, BlobNotFoundError, BlobTooLargeError, type BlobMeta, type BlobReadOptions, type BlobReadStream, type BlobStore,
} from './types';

const MiB = 1024 * 1024;

const SHA256 = /^[0-9a-f]{64}$/;
const MIME = /^[a-z0-9][a-z0-9.+-]*\/[a-z0-9][a-z0-9.+-]*$/i;

export interface S3BlobStoreOptions {
  bucket: string;
  /** Key prefix inside the bucket, e.g. `darkroom/`; a missing trailing slash is added. @default none */
  prefix?: string;
  /** @default the SDK's chain (AWS_REGION…) */
  region?: string;
  /** An S3-compatible server's URL (MinIO, versitygw, R2…). @default AWS */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible servers need. @default false */
  forcePathStyle?: boolean;
  /**
   * The server's URL as those who follow presigned URLs reach it, when that differs from
   * `endpoint` (a server the workers reach by an internal name, such as compose's `http://s3:7070`).
   * A presigned URL is signed for its host, so it is made for this one. @default endpoint
   */
  presignEndpoint?: string;
  /** @default the SDK's default chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, profile, instance role…) */
  credentials?: S3ClientConfig['credentials'];
  /** Attempts per S3 call, counting the first. @default the SDK's (3) */
  maxAttempts?: number;
  /** Largest blob `get` reads into memory. @default 256 MiB */
  maxReadBytes?: number;
  /** Bodies at least this big go up in parts (lib-storage's Upload). @default 8 MiB */
  multipartThreshold?: number;
  /**
   * Keys whose bytes are fixed by the key itself: they are written with `If-None-Match: *`, and a
   * write that loses the race (412) returns the blob already there.
   * @default candidates and masters (their keys name everything that determines the image)
   */
  contentAddressed?: (key: string) => boolean;
}

/** An S3 call failed for a reason other than a missing blob: the message names bucket, endpoint and key. */
export class S3BlobStoreError extends Error {
  override readonly name = 'S3BlobStoreError';
}

/**
 * The AWS SDK, loaded on first use: it costs every process that imports the blob store about
 * 200 ms and 25 MB, and only a worker configured for S3 needs it.
 */
type Sdk = typeof ClientS3 & typeof LibStorage & typeof Presigner;
let sdkLoading: Promise<Sdk> | undefined;
const sdk = (): Promise<Sdk> =>
  (sdkLoading ??= Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/lib-storage'), import('@aws-sdk/s3-request-presigner')]).then(
    ([s3, storage, presigner]) => ({ ...s3, ...storage, ...presigner }),
  ));

const defaultContentAddressed = (key: string): boolean => /\/(candidates|masters)\//.test(key);

interface AwsError {
  name?: string;
  Code?: string;
  message?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
}

const statusOf = (err: unknown): number | undefined => (err as AwsError)?.$metadata?.httpStatusCode;
const nameOf = (err: unknown): string => String((err as AwsError)?.name ?? (err as AwsError)?.Code ?? '');
const isNotFound = (err: unknown): boolean => ['NotFound', 'NoSuchKey'].includes(nameOf(err)) || statusOf(err) === 404;
const isNoSuchBucket = (err: unknown): boolean => nameOf(err) === 'NoSuchBucket';

async function readCapped(key: string, body: Readable, max: number, expected: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    total += buf.byteLength;
    if (total > max) {
      body.destroy();
      throw new BlobTooLargeError(key, Math.max(total, expected), max);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks, total);
}

function toReadable(body: unknown): Readable {
  if (body instanceof Readable) return body;
  if (body && typeof (body as { transformToWebStream?: unknown }).transformToWebStream === 'function') {
    return Readable.fromWeb((body as { transformToWebStream(): WebReadableStream }).transformToWebStream());
  }
  throw new S3BlobStoreError('S3 returned a body that is not a stream');
}

/**
 * Blobs as objects in an S3 bucket (or an S3-compatible server), under an optional prefix. A
 * blob's ref travels as object metadata (sha256, width, height) and its Content-Type. A PUT is
 * atomic in S3, so a reader sees a whole blob or none, as the BlobStore contract needs.
 */
export class S3BlobStore implements BlobStore {
  readonly location: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly endpoint: string;
  readonly maxReadBytes: number;
  private readonly clientConfig: S3ClientConfig;
  private clientLoading: Promise<S3Client> | undefined;
  private presignClientLoading: Promise<S3Client> | undefined;
  /** Where presigned URLs point, when not at {@link endpoint}. */
  readonly presignEndpoint: string | undefined;
  private readonly multipartThreshold: number;
  private readonly contentAddressed: (key: string) => boolean;
  private bucketChecked: Promise<void> | undefined;

  constructor(options: S3BlobStoreOptions) {
    if (!options.bucket) throw new S3BlobStoreError('S3BlobStore needs a bucket (DARKROOM_S3_BUCKET)');
    this.bucket = options.bucket;
    this.prefix = options.prefix ? options.prefix.replace(/^\/+/, '').replace(/\/*$/, '/') : '';
    if (this.prefix && blobKeyProblem(this.prefix.slice(0, -1))) {
      throw new S3BlobStoreError(`S3 prefix ${JSON.stringify(options.prefix)} is not a plain key path: it ${blobKeyProblem(this.prefix.slice(0, -1))}`);
    }
    this.endpoint = options.endpoint ?? 'AWS S3';
    this.location = `s3://${this.bucket}/${this.prefix}`;
    this.maxReadBytes = options.maxReadBytes ?? 256 * MiB;
    this.multipartThreshold = options.multipartThreshold ?? 8 * MiB;
    this.contentAddressed = options.contentAddressed ?? defaultContentAddressed;
    this.presignEndpoint = options.presignEndpoint;
    this.clientConfig = {
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      maxAttempts: options.maxAttempts,
      // S3-compatible stores often reject or miscompute the SDK's default CRC checksums.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    };
  }

  private async api(): Promise<{ client: S3Client; m: Sdk }> {
    const [client, m] = await Promise.all([this.client(), sdk()]);
    return { client, m };
  }

  /** The SDK client, made on first use. */
  client(): Promise<S3Client> {
    return (this.clientLoading ??= sdk().then(({ S3Client }) => new S3Client(this.clientConfig)));
  }

  private objectKey(key: string): string {
    assertSafeKey(key);
    return this.prefix + key;
  }

  /** An error that names where the call went, keeping the SDK's as its cause. */
  private fail(op: string, key: string | undefined, err: unknown): Error {
    if (err instanceof BlobNotFoundError || err instanceof BlobTooLargeError || err instanceof S3BlobStoreError) return err;
    const where = `bucket ${this.bucket} at ${this.endpoint}`;
    const what = key === undefined ? op : `${op} ${key}`;
    if (isNoSuchBucket(err)) return new S3BlobStoreError(`S3 ${what}: ${where} does not exist`, { cause: err });
    const status = statusOf(err);
    const msg = err instanceof Error ? err.message : String(err);
    if (status === undefined) {
      return new S3BlobStoreError(`S3 ${what}: could not reach ${where}: ${nameOf(err) || 'Error'}: ${msg}`, { cause: err });
    }
    return new S3BlobStoreError(`S3 ${what} in ${where} failed (HTTP ${status} ${nameOf(err)}): ${msg}`, { cause: err });
  }

  /** A HEAD of a missing object and of a missing bucket both say 404: tell them apart once. */
  private checkBucket(): Promise<void> {
    this.bucketChecked ??= this.api().then(({ client, m }) => client.send(new m.HeadBucketCommand({ Bucket: this.bucket }))).then(
      () => undefined,
      (err: unknown) => {
        this.bucketChecked = undefined;
        if (isNotFound(err) || isNoSuchBucket(err)) throw new S3BlobStoreError(`S3: bucket ${this.bucket} at ${this.endpoint} does not exist`, { cause: err });
        throw this.fail('head bucket', undefined, err);
      },
    );
    return this.bucketChecked;
  }

  async put(key: string, data: Uint8Array, meta: BlobMeta): Promise<BlobRef> {
    const Key = this.objectKey(key);
    const { client, m } = await this.api();
    const ref: BlobRef = {
      key,
      sha256: createHash('sha256').update(data).digest('hex'),
      bytes: data.byteLength,
      width: meta.width ?? 0,
      height: meta.height ?? 0,
      mime: meta.mime,
    };
    const conditional = this.contentAddressed(key);
    const params = {
      Bucket: this.bucket,
      Key,
      ContentType: meta.mime,
      ...(meta.cacheControl ? { CacheControl: meta.cacheControl } : {}),
      ContentLength: data.byteLength,
      Metadata: { sha256: ref.sha256, width: String(ref.width), height: String(ref.height) },
      ...(conditional ? { IfNoneMatch: '*' } : {}),
    };
    for (let attempt = 1; ; attempt++) {
      try {
        if (data.byteLength >= this.multipartThreshold) {
          await new m.Upload({ client, params: { ...params, Body: Buffer.from(data.buffer, data.byteOffset, data.byteLength) }, queueSize: 4, partSize: 5 * MiB }).done();
        } else {
          await client.send(new m.PutObjectCommand({ ...params, Body: data }));
        }
        return ref;
      } catch (err) {
        const status = statusOf(err);
        if (conditional && status === 412) {
          // Someone stored this content-addressed key first: theirs is the blob.
          const existing = await this.head(key);
          if (existing) return existing;
        }
        // 409 ConditionalRequestConflict: a concurrent conditional write is in flight; try again.
        if (conditional && (status === 409 || status === 412) && attempt < 5) {
          await new Promise((r) => setTimeout(r, 50 * attempt));
          continue;
        }
        throw this.fail('put', key, err);
      }
    }
  }

  async head(key: string): Promise<BlobRef | undefined> {
    const Key = this.objectKey(key);
    const { client, m } = await this.api();
    let res;
    try {
      res = await client.send(new m.HeadObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      if (isNotFound(err)) {
        await this.checkBucket();
        return undefined;
      }
      throw this.fail('head', key, err);
    }
    const bytes = res.ContentLength ?? 0;
    const md = res.Metadata ?? {};
    const width = Number(md.width ?? 0);
    const height = Number(md.height ?? 0);
    const mime = res.ContentType ?? '';
    if (SHA256.test(md.sha256 ?? '') && Number.isSafeInteger(width) && width >= 0 && Number.isSafeInteger(height) && height >= 0 && MIME.test(mime) && mime.length <= 100) {
      return { key, sha256: md.sha256!, bytes, width, height, mime };
    }
    // Not written by this store (uploaded by hand): describe it from its bytes, streamed.
    const { stream } = await this.openRead(key);
    const hash = createHash('sha256');
    let at = 0;
    for await (const chunk of stream) {
      hash.update(chunk as Buffer);
      at += (chunk as Buffer).byteLength;
    }
    return { key, sha256: hash.digest('hex'), bytes: at, width: 0, height: 0, mime: 'application/octet-stream' };
  }

  async get(key: string, options: BlobReadOptions = {}): Promise<Buffer> {
    const Key = this.objectKey(key);
    const { client, m } = await this.api();
    const max = options.maxBytes ?? this.maxReadBytes;
    let size: number;
    let etag: string | undefined;
    try {
      const res = await client.send(new m.HeadObjectCommand({ Bucket: this.bucket, Key }));
      size = res.ContentLength ?? 0;
      etag = res.ETag;
    } catch (err) {
      if (isNotFound(err)) {
        await this.checkBucket();
        throw new BlobNotFoundError(key);
      }
      throw this.fail('get', key, err);
    }
    if (size > max) throw new BlobTooLargeError(key, size, max);
    try {
      const res = await client.send(new m.GetObjectCommand({ Bucket: this.bucket, Key, IfMatch: etag }));
      // Replaced since the HEAD by a bigger one? The read stops at the cap either way.
      return await readCapped(key, toReadable(res.Body), max, res.ContentLength ?? size);
    } catch (err) {
      if (isNotFound(err)) throw new BlobNotFoundError(key);
      // Replaced between HEAD and GET: read the new one, checked afresh.
      if (statusOf(err) === 412) return this.get(key, options);
      throw this.fail('get', key, err);
    }
  }

  async openRead(key: string): Promise<BlobReadStream> {
    const Key = this.objectKey(key);
    const { client, m } = await this.api();
    try {
      const res = await client.send(new m.GetObjectCommand({ Bucket: this.bucket, Key }));
      return { bytes: res.ContentLength ?? 0, stream: toReadable(res.Body) };
    } catch (err) {
      if (isNotFound(err) && !isNoSuchBucket(err)) throw new BlobNotFoundError(key);
      throw this.fail('openRead', key, err);
    }
  }

  async list(prefix: string): Promise<string[]> {
    const slash = prefix.lastIndexOf('/');
    if (slash > 0) assertSafeKey(prefix.slice(0, slash));
    const { client, m } = await this.api();
    const out: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      let res;
      try {
        res = await client.send(new m.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken }));
      } catch (err) {
        throw this.fail('list', prefix, err);
      }
      for (const o of res.Contents ?? []) {
        const key = o.Key?.slice(this.prefix.length);
        // Only keys this store could have written: no dot-segments, folders or odd names.
        if (key && !blobKeyProblem(key)) out.push(key);
      }
      ContinuationToken = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return out.sort();
  }

  async delete(key: string): Promise<void> {
    const Key = this.objectKey(key);
    const { client, m } = await this.api();
    try {
      await client.send(new m.DeleteObjectCommand({ Bucket: this.bucket, Key }));
    } catch (err) {
      throw this.fail('delete', key, err);
    }
  }

  /**
   * A URL anyone can GET the blob at for `expiresIn` seconds (default 15 minutes), without
   * credentials: it carries a signature, never the secret key.
   * @param signingDate when the validity starts (so a manifest's stated expiry is the URL's) @default now
   */
  async presignGet(key: string, expiresIn = 900, signingDate?: Date): Promise<string> {
    const Key = this.objectKey(key);
    const m = await sdk();
    const client = await (this.presignEndpoint
      ? (this.presignClientLoading ??= Promise.resolve(new m.S3Client({ ...this.clientConfig, endpoint: this.presignEndpoint })))
      : this.client());
    return m.getSignedUrl(client, new m.GetObjectCommand({ Bucket: this.bucket, Key }), { expiresIn, ...(signingDate ? { signingDate } : {}) });
  }
}
