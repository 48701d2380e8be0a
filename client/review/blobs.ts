/**
 * Images for the reviewer tool, read from the blob store by key — never by a filesystem path —
 * and shrunk to thumbnails with sharp. Only raster image blobs are served. What one request may
 * cost is bounded: full-size images are streamed from the store, thumbnails are made only from
 * blobs up to a size and pixel count, and only a few at a time.
 *
 * On S3 the images in the pages still come through the tool, not from the bucket: the pages'
 * CSP allows images from the tool's own origin only, and the login stays the one gate to
 * unpublished candidates. Only the "full size" links a reviewer opens in a tab go to the bucket
 * directly, through a presigned URL minted after the login check and valid for
 * {@link DIRECT_LINK_SECONDS}: large files then never pass through the tool.
 */
import sharp from 'sharp';
import { assertSafeKey, InvalidBlobKeyError, type BlobReadStream, type BlobStore } from '../../activities/blob-store/types';

/** Image types the tool serves. SVG is left out on purpose: it can carry script. */
export const SERVABLE_MIME = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/avif', 'image/tiff', 'image/gif']);
const SERVABLE_EXT = /\.(png|jpe?g|webp|avif|tiff?|gif)$/i;

/** How long a presigned "full size" link stays valid: long enough to open, too short to share. */
export const DIRECT_LINK_SECONDS = 300;

export const MIN_THUMB_WIDTH = 16;
export const MAX_THUMB_WIDTH = 2048;

/** A request for a blob the tool will not serve; `status` is the HTTP status to answer with. */
export class BlobRequestError extends Error {
  override readonly name = 'BlobRequestError';
  constructor(readonly status: 400 | 404 | 413 | 415 | 503, message: string) {
    super(message);
  }
}

export interface ServedImage {
  mime: string;
  etag: string;
  /** Size as the store describes it (what HEAD answers). */
  bytes: number;
  /** A thumbnail, made in memory. */
  body?: Buffer;
  /** The full-size image, streamed from the store; opened only when it is sent. */
  open?: () => Promise<BlobReadStream>;
}

const MiB = 1024 * 1024;

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
export class ThumbCache {
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
    if (value.bytes > this.maxBytes) return;
    const old = this.entries.get(key);
    if (old) {
      this.bytes -= old.bytes;
      this.entries.delete(key);
    }
    this.entries.set(key, value);
    this.bytes += value.bytes;
    for (const [k, v] of this.entries) {
      if (this.bytes <= this.maxBytes) break;
      this.entries.delete(k);
      this.bytes -= v.bytes;
    }
  }

  get size(): number {
    return this.entries.size;
  }
}

/**
 * At most `max` jobs at once and `maxWaiting` in line; past that a job is refused with 503 at
 * once, so a burst of requests queues a bounded amount of work instead of all of it.
 */
export class Gate {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly max: number, private readonly maxWaiting: number) {}

  async run<T>(job: () => Promise<T>): Promise<T> {
    if (this.active < this.max) this.active++;
    else if (this.waiting.length < this.maxWaiting) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else throw new BlobRequestError(503, 'too many thumbnails are being made: try again in a moment');
    try {
      return await job();
    } finally {
      // Hand the slot to the next in line, or give it back.
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

export interface ImageServerOptions {
  /** Memory the thumbnail cache may hold. @default 64 MiB */
  cacheBytes?: number;
  /** WebP quality of thumbnails. @default 80 */
  quality?: number;
  /** Largest blob a thumbnail is made from (it is read whole); bigger images are offered full size only. @default 64 MiB */
  maxThumbSourceBytes?: number;
  /** Pixels sharp may decode for one thumbnail: a small file can declare a huge image. @default 100 000 000 */
  limitInputPixels?: number;
  /** Thumbnails made at once. @default 2 */
  thumbConcurrency?: number;
  /** Thumbnail requests that may wait for a turn; past this the tool answers 503. @default 64 */
  thumbQueue?: number;
}

/** Serves blob-store images and their thumbnails. */
export class ImageServer {
  private readonly cache: ThumbCache;
  /** Thumbnails being made, so a page asking for the same one twice at once makes it once. */
  private readonly inflight = new Map<string, Promise<ServedImage>>();
  private readonly gate: Gate;
  private readonly maxSource: number;
  private readonly maxPixels: number;

  constructor(private readonly blobs: BlobStore, private readonly opts: ImageServerOptions = {}) {
    this.cache = new ThumbCache(opts.cacheBytes ?? 64 * MiB);
    this.gate = new Gate(opts.thumbConcurrency ?? 2, opts.thumbQueue ?? 64);
    this.maxSource = opts.maxThumbSourceBytes ?? 64 * MiB;
    this.maxPixels = opts.limitInputPixels ?? 100_000_000;
  }

  /**
   * A presigned GET URL for the image at `key` (after the same checks as {@link serve}), valid
   * for {@link DIRECT_LINK_SECONDS}; undefined when the store cannot sign (the filesystem store).
   */
  async directUrl(key: string): Promise<string | undefined> {
    if (!this.blobs.presignGet) return undefined;
    await this.serve(key);
    return this.blobs.presignGet(key, DIRECT_LINK_SECONDS);
  }

  get cachedThumbnails(): number {
    return this.cache.size;
  }

  /**
   * The image at `key` (to stream), or a WebP thumbnail `width` pixels wide (never enlarged).
   * @throws BlobRequestError; UnsafeBlobError from the store
   */
  async serve(key: string, width?: number): Promise<ServedImage> {
    assertSafeKey(key);
    if (!SERVABLE_EXT.test(key)) throw new BlobRequestError(415, 'only images are served');
    const ref = await this.blobs.head(key);
    if (!ref) throw new BlobRequestError(404, `no image at ${key}`);
    if (!SERVABLE_MIME.has(ref.mime)) throw new BlobRequestError(415, 'only images are served');
    const etag = `"${ref.sha256}"`;
    if (width === undefined) return { mime: ref.mime, etag, bytes: ref.bytes, open: () => this.blobs.openRead(key) };

    const cacheKey = `${key}@${width}#${ref.sha256}`;
    const hit = this.cache.get(cacheKey);
    if (hit) return hit;
    if (ref.bytes > this.maxSource) {
      throw new BlobRequestError(413, `${key} is too large for a thumbnail (${(ref.bytes / MiB).toFixed(1)} MiB, at most ${(this.maxSource / MiB).toFixed(0)} MiB): open it full size`);
    }
    let pending = this.inflight.get(cacheKey);
    if (!pending) {
      pending = this.gate
        .run(async () => {
          const data = await this.blobs.get(key, { maxBytes: this.maxSource });
          let body: Buffer;
          try {
            body = await sharp(data, { limitInputPixels: this.maxPixels }).rotate().resize({ width, withoutEnlargement: true }).webp({ quality: this.opts.quality ?? 80 }).toBuffer();
          } catch (err) {
            if (/pixel limit/i.test((err as Error).message)) {
              throw new BlobRequestError(413, `${key} is too large for a thumbnail (more than ${this.maxPixels.toLocaleString('en')} pixels): open it full size`);
            }
            throw new BlobRequestError(415, `${key} is not an image sharp can read`);
          }
          const img: ServedImage = { body, bytes: body.byteLength, mime: 'image/webp', etag: `"${ref.sha256.slice(0, 32)}-w${width}"` };
          this.cache.set(cacheKey, img);
          return img;
        })
        .finally(() => this.inflight.delete(cacheKey));
      this.inflight.set(cacheKey, pending);
    }
    return pending;
  }
}
