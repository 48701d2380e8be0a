/**
 * Images for the reviewer tool, read from the blob store by key — never by a filesystem path —
 * and shrunk to thumbnails with sharp. Only raster image blobs are served.
 */
import sharp from 'sharp';
import { assertSafeKey, InvalidBlobKeyError, type BlobStore } from '../../activities/blob-store/types';

/** Image types the tool serves. SVG is left out on purpose: it can carry script. */
const SERVABLE_MIME = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/avif', 'image/tiff', 'image/gif']);
const SERVABLE_EXT = /\.(png|jpe?g|webp|avif|tiff?|gif)$/i;

export const MIN_THUMB_WIDTH = 16;
export const MAX_THUMB_WIDTH = 2048;

/** A request for a blob the tool will not serve; `status` is the HTTP status to answer with. */
export class BlobRequestError extends Error {
  override readonly name = 'BlobRequestError';
  constructor(readonly status: 400 | 404 | 415, message: string) {
    super(message);
  }
}

export interface ServedImage {
  body: Buffer;
  mime: string;
  etag: string;
}

/**
 * Turns the raw (still percent-encoded) path after `/blobs/` into a blob key, refusing
 * anything that is not already a plain safe key: percent escapes (`%2e%2e`, `%2f`),
 * backslashes, `.`/`..` segments, absolute paths.
 */
export function keyFromRawPath(raw: string): string {
  if (raw.includes('%')) throw new BlobRequestError(400, 'blob keys are plain: percent-escapes are not accepted');
  if (raw.includes('\\')) throw new BlobRequestError(400, 'blob keys use "/" between segments');
  try {
    assertSafeKey(raw);
  } catch (err) {
    if (err instanceof InvalidBlobKeyError) throw new BlobRequestError(400, err.message);
    throw err;
  }
  return raw;
}

/** Parses `?w=`: a whole number of pixels within bounds, or undefined for the original. */
export function parseThumbWidth(w: string | null): number | undefined {
  if (w === null || w === '') return undefined;
  if (!/^\d{1,5}$/.test(w)) throw new BlobRequestError(400, 'w must be a whole number of pixels');
  const n = Number(w);
  if (n < MIN_THUMB_WIDTH || n > MAX_THUMB_WIDTH) throw new BlobRequestError(400, `w must be from ${MIN_THUMB_WIDTH} to ${MAX_THUMB_WIDTH}`);
  return n;
}

/** A small LRU of finished thumbnails, bounded by total bytes. */
class ThumbCache {
  private readonly entries = new Map<string, ServedImage>();
  private bytes = 0;
  constructor(private readonly maxBytes: number) {}

  get(key: string): ServedImage | undefined {
    const hit = this.entries.get(key);
    if (hit) {
      // Re-insert: a Map iterates in insertion order, so the first entry is the least recently used.
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(key: string, value: ServedImage): void {
    if (value.body.byteLength > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.body.byteLength;
      this.entries.delete(key);
    }
    this.entries.set(key, value);
    this.bytes += value.body.byteLength;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.body.byteLength;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

export interface ImageServerOptions {
  /** Memory the thumbnail cache may hold. @default 64 MiB */
  cacheBytes?: number;
  /** WebP quality of thumbnails. @default 80 */
  quality?: number;
}

/** Serves blob-store images and their thumbnails. */
export class ImageServer {
  private readonly cache: ThumbCache;
  /** Thumbnails being made, so a page asking for the same one twice at once makes it once. */
  private readonly inflight = new Map<string, Promise<ServedImage>>();

  constructor(private readonly blobs: BlobStore, private readonly opts: ImageServerOptions = {}) {
    this.cache = new ThumbCache(opts.cacheBytes ?? 64 * 1024 * 1024);
  }

  get cachedThumbnails(): number {
    return this.cache.size;
  }

  /**
   * The image at `key`, or a WebP thumbnail `width` pixels wide (never enlarged).
   * @throws BlobRequestError
   */
  async serve(key: string, width?: number): Promise<ServedImage> {
    assertSafeKey(key);
    if (!SERVABLE_EXT.test(key)) throw new BlobRequestError(415, 'only images are served');
    const ref = await this.blobs.head(key);
    if (!ref) throw new BlobRequestError(404, `no image at ${key}`);
    if (!SERVABLE_MIME.has(ref.mime)) throw new BlobRequestError(415, 'only images are served');
    if (width === undefined) return { body: await this.blobs.get(key), mime: ref.mime, etag: `"${ref.sha256}"` };

    const cacheKey = `${key}@${width}#${ref.sha256}`;
    const hit = this.cache.get(cacheKey);
    if (hit) return hit;
    let pending = this.inflight.get(cacheKey);
    if (!pending) {
      pending = (async () => {
        const data = await this.blobs.get(key);
        let body: Buffer;
        try {
          body = await sharp(data).rotate().resize({ width, withoutEnlargement: true }).webp({ quality: this.opts.quality ?? 80 }).toBuffer();
        } catch {
          throw new BlobRequestError(415, `${key} is not an image sharp can read`);
        }
        const img: ServedImage = { body, mime: 'image/webp', etag: `"${ref.sha256.slice(0, 32)}-w${width}"` };
        this.cache.set(cacheKey, img);
        return img;
      })().finally(() => this.inflight.delete(cacheKey));
      this.inflight.set(cacheKey, pending);
    }
    return pending;
  }
}
