import type { Readable } from 'node:stream';
import { blobKeyProblem } from '../../domain/naming';
import { preview } from '../../domain/text';
import type { BlobRef } from '../../domain/types';

/** What a writer knows about the bytes it stores. */
export interface BlobMeta {
  mime: string;
  /** Pixel size for images; 0 for other files. @default 0 */
  width?: number;
  /** @default 0 */
  height?: number;
  /**
   * The Cache-Control a store that serves blobs over HTTP (S3) sends with them; the filesystem
   * store keeps no headers and ignores it. @default none
   */
  cacheControl?: string;
}

export interface BlobReadOptions {
  /** Refuse (with {@link BlobTooLargeError}) a blob larger than this. @default the store's own cap */
  maxBytes?: number;
}

/** An open blob: its size when opened, and its bytes as a stream the caller reads to the end or destroys. */
export interface BlobReadStream {
  bytes: number;
  stream: Readable;
}

/**
 * Where images, manifests and reports live. Activities pass {@link BlobRef}s to each other;
 * only a BlobStore touches bytes. Writes are atomic: a reader sees a whole blob or none,
 * which is what lets a retried activity trust that a blob it finds is complete.
 *
 * Reads refuse with {@link UnsafeBlobError} anything at a key that is not a plain stored blob
 * (a symlink, a FIFO, a folder…), so no one who can drop a file into the store can make it
 * serve another file or hang a reader.
 */
export interface BlobStore {
  /** A folder path or an `s3://bucket/prefix` URL, for people to find the files. */
  readonly location: string;
  put(key: string, data: Uint8Array, meta: BlobMeta): Promise<BlobRef>;
  /**
   * The whole blob in memory, up to a cap: stream bigger ones with {@link openRead}.
   * @throws BlobNotFoundError, BlobTooLargeError, UnsafeBlobError
   */
  get(key: string, options?: BlobReadOptions): Promise<Buffer>;
  /** The blob as a stream, in bounded memory whatever its size. @throws BlobNotFoundError, UnsafeBlobError */
  openRead(key: string): Promise<BlobReadStream>;
  /** The stored blob's ref, or undefined when there is none. @throws UnsafeBlobError */
  head(key: string): Promise<BlobRef | undefined>;
  /** Keys under `prefix`, sorted; entries that are not plain stored blobs are left out. */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
  /**
   * A URL anyone may GET the blob at, without credentials, for `expiresInSeconds`; only stores
   * that serve blobs over HTTP have it (S3). It makes no request.
   * @param signingDate when the validity starts @default now
   */
  presignGet?(key: string, expiresInSeconds: number, signingDate?: Date): Promise<string>;
}

export class BlobNotFoundError extends Error {
  override readonly name = 'BlobNotFoundError';
  constructor(readonly key: string) {
    super(`no blob at ${key}`);
  }
}

export class InvalidBlobKeyError extends Error {
  override readonly name = 'InvalidBlobKeyError';
  constructor(readonly key: string, readonly reason: string) {
    super(`invalid blob key ${preview(key)}: it ${reason}`);
  }
}

/**
 * Something is at the key, but it is not a blob the store will read or write through: a
 * symlink (at the file or at a folder on its path), a FIFO, a socket, a device or a folder.
 * Permanent: retrying cannot change it, so activities treat it as non-retryable.
 */
export class UnsafeBlobError extends Error {
  override readonly name = 'UnsafeBlobError';
  constructor(readonly key: string, readonly reason: string) {
    super(`refused blob ${key}: ${reason}`);
  }
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/** A blob larger than one read may hold in memory. Permanent for that blob and that cap. */
export class BlobTooLargeError extends Error {
  override readonly name = 'BlobTooLargeError';
  constructor(readonly key: string, readonly bytes: number, readonly maxBytes: number) {
    super(`blob ${key} is ${mib(bytes)}, more than the ${mib(maxBytes)} one read may take`);
  }
}

/**
 * Keys are relative, slash-separated and free of `.`/`..` segments, so no key can name
 * anything outside the store (the reviewer tool serves blobs by key). The rule is
 * {@link blobKeyProblem}'s, which the workflow id checks share.
 */
export function assertSafeKey(key: string): void {
  const problem = blobKeyProblem(key);
  if (problem) throw new InvalidBlobKeyError(String(key), problem);
}
