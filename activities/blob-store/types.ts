import type { BlobRef } from '../../domain/types';

/** What a writer knows about the bytes it stores. */
export interface BlobMeta {
  mime: string;
  /** Pixel size for images; 0 for other files. @default 0 */
  width?: number;
  /** @default 0 */
  height?: number;
}

/**
 * Where images, manifests and reports live. Activities pass {@link BlobRef}s to each other;
 * only a BlobStore touches bytes. Writes are atomic: a reader sees a whole blob or none,
 * which is what lets a retried activity trust that a blob it finds is complete.
 */
export interface BlobStore {
  /** A folder path or an `s3://bucket/prefix` URL, for people to find the files. */
  readonly location: string;
  put(key: string, data: Uint8Array, meta: BlobMeta): Promise<BlobRef>;
  /** @throws BlobNotFoundError */
  get(key: string): Promise<Buffer>;
  /** The stored blob's ref, or undefined when there is none. */
  head(key: string): Promise<BlobRef | undefined>;
  /** Keys under `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
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
    super(`invalid blob key ${JSON.stringify(key)}: ${reason}`);
  }
}

const SAFE_KEY = /^[A-Za-z0-9._~@=+,-]+(?:\/[A-Za-z0-9._~@=+,-]+)*$/;

/**
 * Keys are relative, slash-separated and free of `.`/`..` segments, so no key can name
 * anything outside the store (the reviewer tool serves blobs by key).
 */
export function assertSafeKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidBlobKeyError(String(key), 'empty');
  if (key.length > 1024) throw new InvalidBlobKeyError(key, 'longer than 1024 characters');
  if (!SAFE_KEY.test(key)) throw new InvalidBlobKeyError(key, 'use letters, digits, . _ - ~ @ = + , and / between segments');
  if (key.split('/').some((s) => s === '.' || s === '..' || s.startsWith('.'))) {
    throw new InvalidBlobKeyError(key, 'segments may not start with a dot');
  }
}
