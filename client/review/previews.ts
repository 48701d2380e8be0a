/**
 * What each candidate will look like on each of its channels, before anyone approves it: the
 * channel's smart crop with the brand's logo composited, shrunk to a small WebP. Cut by the very
 * functions the formatting stage uses (`channelCrop`, `renderLogo` + `compositeLogoRaw`, logo
 * placement from the stored kit), so what a reviewer approves is what ships. Safe zones are not
 * burned in: the page draws them over the image from {@link CropPreviews.safeZones}.
 */
import { BrandKitError, loadStoredBrand, type StoredBrand } from '../../activities/brands';
import { assertSafeKey, type BlobStore } from '../../activities/blob-store/types';
import { channelCrop, decodeMaster } from '../../activities/images/format';
import { compositeLogoRaw, openRaw, renderLogo } from '../../activities/images/logo';
import { DEFAULT_SAFE_ZONES, logoRuleFor, placeLogo, type SafeZone } from '../../domain/brand';
import { resolveChannel, type ChannelPreset } from '../../domain/channels';
import type { ImageRegion } from '../../domain/types';
import { BlobRequestError, Gate, SERVABLE_MIME, ThumbCache, type ServedImage } from './blobs';

/** Previews are drawn about this wide (a card's width on a high-density screen). */
export const PREVIEW_WIDTH = 480;

/** What the page needs to draw a brand: its stored kit's name and key (the brief's `status.brand`). */
export interface PreviewBrand {
  name: string;
  key: string;
}

const BRAND_KEY = /^brands\/([a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?)\/[0-9a-f]{64}\.json$/;
const NO_ZONE: SafeZone = { top: 0, bottom: 0, left: 0, right: 0 };
const MiB = 1024 * 1024;

/**
 * The preview's size: the largest whole multiple of the channel's reduced ratio that is at most
 * {@link PREVIEW_WIDTH} wide (at least the ratio itself), so the preview has exactly the channel's
 * aspect ratio rather than one rounded to a pixel.
 */
export function previewSize(channel: Pick<ChannelPreset, 'width' | 'height'>): { width: number; height: number } {
  const g = gcd(channel.width, channel.height);
  const [rw, rh] = [channel.width / g, channel.height / g];
  const k = Math.max(1, Math.min(g, Math.floor(PREVIEW_WIDTH / rw)));
  return { width: rw * k, height: rh * k };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** A brand key from a query string, or a 400 naming it. */
export function parseBrandKey(raw: string | null): PreviewBrand | undefined {
  if (raw === null || raw === '') return undefined;
  const m = BRAND_KEY.exec(raw);
  if (!m) throw new BlobRequestError(400, 'brand must be a stored brand kit key, brands/<name>/<sha256>.json');
  return { name: m[1]!, key: raw };
}

/**
 * A focus region from a query string (`left,top,width,height` in thousandths of the image, as
 * {@link focusParam} writes it), or a 400 naming it.
 */
export function parseFocus(raw: string | null): ImageRegion | undefined {
  if (raw === null || raw === '') return undefined;
  const parts = /^(\d{1,4}),(\d{1,4}),(\d{1,4}),(\d{1,4})$/.exec(raw)?.slice(1).map(Number);
  if (!parts || parts.some((n) => n > 1000) || parts[0]! + parts[2]! > 1000 || parts[1]! + parts[3]! > 1000 || parts[2] === 0 || parts[3] === 0) {
    throw new BlobRequestError(400, 'focus must be left,top,width,height in thousandths of the image (whole numbers, inside it, not empty)');
  }
  const [left, top, width, height] = parts.map((n) => n / 1000) as [number, number, number, number];
  return { left, top, width, height };
}

/** The `focus` query value for a region: thousandths, rounded outwards so the region stays whole. */
export function focusParam(r: ImageRegion): string {
  const left = Math.max(0, Math.floor(r.left * 1000));
  const top = Math.max(0, Math.floor(r.top * 1000));
  const right = Math.min(1000, Math.ceil((r.left + r.width) * 1000));
  const bottom = Math.min(1000, Math.ceil((r.top + r.height) * 1000));
  return `${left},${top},${Math.max(1, right - left)},${Math.max(1, bottom - top)}`;
}

/** A channel id from the path, or a 404. */
export function parseChannel(raw: string): ChannelPreset {
  const channel = /^[a-z0-9x-]{1,40}$/.test(raw) ? resolveChannel(raw) : undefined;
  if (!channel) throw new BlobRequestError(404, 'no such channel');
  return channel;
}

export interface CropPreviewOptions {
  /** Memory the preview cache may hold. @default 32 MiB */
  cacheBytes?: number;
  /** WebP quality. @default 82 */
  quality?: number;
  /** Largest candidate a preview is made from (it is read whole). @default 64 MiB */
  maxSourceBytes?: number;
  /** Pixels sharp may decode for one preview. @default 100 000 000 */
  limitInputPixels?: number;
  /** Previews made at once. @default 2 */
  concurrency?: number;
}

/** Makes and caches crop previews; reads only through the blob store. */
export class CropPreviews {
  private readonly cache: ThumbCache;
  private readonly gate: Gate;
  private readonly inflight = new Map<string, Promise<ServedImage>>();
  /** Stored kits by key: content-addressed, so a kit read once never changes. */
  private readonly kits = new Map<string, Promise<StoredBrand>>();

  constructor(private readonly blobs: BlobStore, private readonly opts: CropPreviewOptions = {}) {
    this.cache = new ThumbCache(opts.cacheBytes ?? 32 * MiB);
    this.gate = new Gate(opts.concurrency ?? 2, 64);
  }

  private kit(brand: PreviewBrand): Promise<StoredBrand> {
    let kit = this.kits.get(brand.key);
    if (!kit) {
      if (this.kits.size > 64) this.kits.clear();
      kit = loadStoredBrand(this.blobs, brand.name, brand.key).catch((err: unknown) => {
        this.kits.delete(brand.key);
        if (err instanceof BrandKitError) throw new BlobRequestError(404, `no usable brand kit at ${brand.key}`);
        throw err;
      });
      this.kits.set(brand.key, kit);
    }
    return kit;
  }

  /**
   * Each channel's safe zones, in % of the image (top/bottom of its height, left/right of its
   * width): the kit's own for the channel, else Darkroom's defaults, else none.
   */
  async safeZones(channels: readonly string[], brand?: PreviewBrand): Promise<Record<string, SafeZone>> {
    const kit = brand ? await this.kit(brand).catch(() => undefined) : undefined;
    return Object.fromEntries(channels.map((id) => [id, kit ? logoRuleFor(kit.kit.logo, id).safeZone : (DEFAULT_SAFE_ZONES[id] ?? NO_ZONE)]));
  }

  /**
   * The candidate at `key` as `channel` will ship it (crop, then logo), as a WebP of
   * {@link previewSize}.
   * @throws BlobRequestError (404 no such image or kit, 413 too large, 415 not an image, 503 busy)
   */
  async render(key: string, channel: ChannelPreset, brand?: PreviewBrand, focus?: ImageRegion): Promise<ServedImage> {
    assertSafeKey(key);
    const ref = await this.blobs.head(key);
    if (!ref || !SERVABLE_MIME.has(ref.mime)) throw new BlobRequestError(404, `no image at ${key}`);
    const maxSource = this.opts.maxSourceBytes ?? 64 * MiB;
    if (ref.bytes > maxSource) throw new BlobRequestError(413, `${key} is too large for a preview`);
    const kit = brand ? await this.kit(brand) : undefined;
    const focusKey = focus ? focusParam(focus) : '';
    const cacheKey = `${key}#${ref.sha256}|${channel.id}|${brand?.key ?? ''}|${focusKey}`;
    const hit = this.cache.get(cacheKey);
    if (hit) return hit;
    let pending = this.inflight.get(cacheKey);
    if (!pending) {
      pending = this.gate
        .run(async () => {
          const body = await this.make(await this.blobs.get(key, { maxBytes: maxSource }), channel, kit, focus);
          const etag = `"${ref.sha256.slice(0, 24)}-${channel.id}-${brand ? brand.key.slice(-13, -5) : 'plain'}${focusKey ? `-${focusKey.replaceAll(',', '.')}` : ''}"`;
          const img: ServedImage = { body, bytes: body.byteLength, mime: 'image/webp', etag };
          this.cache.set(cacheKey, img);
          return img;
        })
        .finally(() => this.inflight.delete(cacheKey));
      this.inflight.set(cacheKey, pending);
    }
    return pending;
  }

  private async make(master: Buffer, channel: ChannelPreset, kit: StoredBrand | undefined, focus: ImageRegion | undefined): Promise<Buffer> {
    let cut;
    try {
      // Decoded exactly as formatForChannels decodes a master, so the preview cuts the same box.
      cut = await channelCrop(await decodeMaster(master, { limitInputPixels: this.opts.limitInputPixels ?? 100_000_000, oneCut: true }), channel, focus);
    } catch {
      throw new BlobRequestError(415, 'not an image that can be previewed (unreadable or too many pixels)');
    }
    let raw = cut.raw;
    if (kit) {
      // Placed from the stored kit as the prepare stage places it; a channel without room has no logo there either.
      const placed = placeLogo(channel, kit.logo, logoRuleFor(kit.kit.logo, channel.id));
      if (placed.ok) raw = await compositeLogoRaw(raw, await renderLogo(await this.blobs.get(kit.logo.key), placed.box.width, placed.box.height), placed.box);
    }
    const size = previewSize(channel);
    return openRaw(raw)
      .resize(size.width, size.height, { fit: 'fill', kernel: 'lanczos3' })
      .webp({ quality: this.opts.quality ?? 82 })
      .toBuffer();
  }
}
