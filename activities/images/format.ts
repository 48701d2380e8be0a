import sharp, { type Sharp } from 'sharp';
import type { ImageRegion } from '../../domain/types';
import type { LogoBox } from '../../domain/brand';
import { FORMAT_MIME, type ChannelPreset, type ImageFormat } from '../../domain/channels';
import { compositeLogoRaw, openRaw, renderLogo, toRaw, type RawImage } from './logo';

/** One encoded deliverable for one channel. */
export interface FormattedImage {
  /** The channel id, e.g. `web-hero`. */
  channel: string;
  format: ImageFormat;
  data: Buffer;
  /** Exactly the channel's width and height. */
  width: number;
  height: number;
  /**
   * Pixels per inch the file declares. PNG (pHYs), JPEG (JFIF) and TIFF carry the channel's
   * density; WebP and AVIF have no field for it outside EXIF, which is never written, so 72.
   */
  density: number;
  mime: string;
  /** The part of the master this image shows, in master pixels (after EXIF orientation). */
  crop: { left: number; top: number; width: number; height: number };
  /** Crop area divided by master area, in (0, 1]. */
  cropKept: number;
  /** Share of the focus region (the product) inside the crop, 0–1; absent without a focus. */
  productKept?: number;
  /**
   * What was composited onto the image after the crop (a brand's logo…), for its C2PA manifest:
   * each becomes a `c2pa.edited` action saying what was placed where. @default none
   */
  placed?: Array<{ description: string }>;
  /** Where the logo was composited, when one was. */
  logo?: LogoBox;
}

/** A brand's logo and where it goes on each channel (channels not listed get none). */
export interface LogoOverlay {
  /** The logo file, PNG or SVG. */
  image: Uint8Array;
  /** Channel id → box, in that channel's pixels. */
  placements: Readonly<Record<string, LogoBox>>;
}

export interface FormatOptions {
  /**
   * Encoder quality per lossy format (1–100). PNG and TIFF are lossless and ignore it.
   * @default { jpeg: 82, webp: 80, avif: 50 }
   */
  quality?: Partial<Record<ImageFormat, number>>;
  /**
   * zlib level for PNG, 0–9. Measured on a 2480x3508 print master: level 9 took 6.9 s for a
   * file 3% smaller than level 6 made in 2.0 s, so 6 is the better trade for a pipeline.
   * @default 6
   */
  pngCompressionLevel?: number;
  /**
   * AVIF encoder effort, 0 (fastest) – 9. Measured on 1920x1080 crops at equal SSIM
   * (bench/format-throughput.ts): effort 3 makes files 11% smaller than efforts 0–2 for 1.4× the
   * time of effort 2; effort 4 is no smaller and 5.8× slower than 3 (libaom's cliff). The
   * encoder uses as many threads as `sharp.concurrency()` allows.
   * @default 3
   */
  avifEffort?: number;
  /** Stops between channels when aborted. */
  signal?: AbortSignal;
  /** A logo to composite after each channel's crop, before every format is encoded. @default none */
  logo?: LogoOverlay;
  /** The region every crop keeps in frame (the product, as the judge found it). @default none: attention decides */
  focus?: ImageRegion;
}

/**
 * Process-wide sharp settings for a worker, called once at start. libvips' operation cache
 * (50 MiB by default) only pays off when the same input is processed again, which a worker
 * never does: every master is decoded once per activity. Memory settings that must be in the
 * environment before the process starts (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_) are set by
 * `npm run worker` and the Dockerfile; bench/format-throughput.ts measured what each saves.
 */
export function configureSharpForWorker(): void {
  sharp.cache(false);
}

/** Encoder qualities that look clean at delivery sizes; AVIF's scale runs lower than JPEG's. */
export const DEFAULT_QUALITY = { jpeg: 82, webp: 80, avif: 50 } as const;

/**
 * Encoder effort per format, 0 fastest, chosen from a sweep at equal SSIM (bench/RESULTS.md,
 * Format throughput): the lowest effort from which no higher one saves 1% of bytes and 2% a
 * doubling of encode time. AVIF 3: 11% smaller than 0–2 at the same SSIM. WebP 4: efforts 0–2
 * are 9–14% larger at the same SSIM; 6 saves 2.3% for 2.3× the time.
 * AVIF's can be overridden per call (FormatOptions.avifEffort).
 */
export const DEFAULT_EFFORT = { avif: 3, webp: 4 } as const;

const SCREEN_DENSITY = 72;

/**
 * Channels at most this many pixels encode their formats side by side; larger ones (a custom
 * 8192x8192 is 67 MP, 192 MiB of raw RGB) encode one format at a time, so only one encoder's
 * whole-image buffers (libwebp's YUV picture, mozjpeg's progressive coefficients) exist at once.
 */
const PARALLEL_FORMATS_MAX_PIXELS = 4096 * 4096;

/**
 * Crops and encodes one master for every channel: attention-based smart crop to each
 * channel's exact size, then each of the channel's formats, all metadata stripped.
 *
 * The master is decoded once into raw pixels, which each channel's cut reads (a decode per
 * channel cost most of the stage's CPU; JPEG's and WebP's shrink-on-load cannot help a cut
 * that extracts before it resizes). Channels run one after another, so one activity holds
 * one master and one channel's pixels at a time; each channel is resized once into raw pixels and every
 * format is encoded from those pixels. Encoding from raw pixels is also what guarantees that
 * nothing from the master (EXIF, GPS, XMP, IPTC) can reach a deliverable: raw input has no
 * metadata to carry.
 */
export async function formatForChannels(master: Uint8Array, channels: readonly ChannelPreset[], options: FormatOptions = {}): Promise<FormattedImage[]> {
  const decoded = await decodeMaster(master);
  const settings = encoderSettings(options);
  // Channels that place the logo at the same size share one rendering.
  const rendered = new Map<string, Promise<Buffer>>();
  const logoFor = (box: LogoBox) => {
    const size = `${box.width}x${box.height}`;
    if (!rendered.has(size)) rendered.set(size, renderLogo(options.logo!.image, box.width, box.height));
    return rendered.get(size)!;
  };
  const out: FormattedImage[] = [];
  for (const channel of channels) {
    const box = options.logo?.placements[channel.id];
    out.push(...(await formatChannel(decoded, channel, settings, options.signal, box && { box, image: () => logoFor(box) }, options.focus)));
  }
  return out;
}

/**
 * Opens a fresh sharp pipeline on one image. Pipelines are opened anew rather than cloned:
 * sharp's `clone()` deep-copies its input buffer (a `structuredClone` of the options), which
 * for a decoded 4096² master is 48 MiB of garbage per channel.
 */
export type OpenImage = () => Sharp;

/** A master ready to be cut: how to open it, its size after EXIF orientation, and the copy its attention crops are decided on. */
export interface DecodedMaster {
  open: OpenImage;
  width: number;
  height: number;
  /**
   * The master shrunk to ATTENTION_PROBE on its shorter side (never enlarged), made on first
   * use and shared by every channel's attention crop: each channel's probe is a resize of it.
   */
  attentionSource: () => Promise<RawImage>;
}

/** Formats whose decoders shrink on load (JPEG's DCT scaling, WebP's scaled decode). */
const SHRINK_ON_LOAD = new Set(['jpeg', 'webp']);

/**
 * Opens a master to be cut, auto-oriented. The formatting stage and the reviewer's preview both
 * cut from this, so they score attention on the same pixels and cut the same box.
 *
 * Cuts read the master decoded once into raw pixels (the same pixels each cut would decode from
 * the file: a cut extracts before it resizes, so shrink-on-load never applies to it). The
 * preview of a JPEG or WebP makes a single cut, so it reads the file instead (`oneCut`), the same
 * pixels without holding them. The attention source is shrunk on load from the file for JPEG
 * and WebP (a fraction of a full decode) and resized from the decoded pixels otherwise, by both.
 * @param options.limitInputPixels sharp's pixel limit for the decode @default sharp's (268 MP)
 * @param options.oneCut only one channel will be cut @default false
 */
export async function decodeMaster(master: Uint8Array, options: { limitInputPixels?: number; oneCut?: boolean } = {}): Promise<DecodedMaster> {
  const encoded = () => sharp(master, { failOn: 'error', ...(options.limitInputPixels !== undefined ? { limitInputPixels: options.limitInputPixels } : {}) }).autoOrient();
  const { autoOrient, format } = await encoded().metadata();
  const shrinks = SHRINK_ON_LOAD.has(format);
  let open: OpenImage = encoded;
  if (!(shrinks && options.oneCut)) {
    const raw = await toRaw(encoded());
    open = () => openRaw(raw);
  }
  const size = { width: autoOrient.width, height: autoOrient.height };
  let source: Promise<RawImage> | undefined;
  return { open, ...size, attentionSource: () => (source ??= shrinkForAttention(shrinks ? encoded : open, size)) };
}

async function shrinkForAttention(open: OpenImage, size: { width: number; height: number }): Promise<RawImage> {
  const k = Math.min(1, ATTENTION_PROBE / Math.min(size.width, size.height));
  let pipeline = open();
  if (k < 1) pipeline = pipeline.resize(Math.max(1, Math.round(size.width * k)), Math.max(1, Math.round(size.height * k)), { fit: 'fill', kernel: 'lanczos3' });
  return toRaw(pipeline);
}

/** What every encode of one formatForChannels call uses. */
export interface EncoderSettings {
  quality: Partial<Record<ImageFormat, number>>;
  pngCompressionLevel: number;
  avifEffort: number;
}

/** The encoder settings for some options, defaults filled in. */
export function encoderSettings(options: Pick<FormatOptions, 'quality' | 'pngCompressionLevel' | 'avifEffort'> = {}): EncoderSettings {
  return {
    quality: { ...DEFAULT_QUALITY, ...options.quality },
    pngCompressionLevel: options.pngCompressionLevel ?? 6,
    avifEffort: options.avifEffort ?? DEFAULT_EFFORT.avif,
  };
}

async function formatChannel(
  master: DecodedMaster,
  channel: ChannelPreset,
  settings: EncoderSettings,
  signal: AbortSignal | undefined,
  logo?: { box: LogoBox; image: () => Promise<Buffer> },
  focus?: ImageRegion,
): Promise<FormattedImage[]> {
  signal?.throwIfAborted();
  const { raw: cut, crop, cropKept, productKept } = await channelCrop(master, channel, focus);
  signal?.throwIfAborted();

  // The logo goes on after the crop, so it is never cropped, and before encoding, so every format carries it.
  let raw: RawImage = cut;
  if (logo) raw = await compositeLogoRaw(raw, await logo.image(), logo.box);
  const one = async (format: ImageFormat): Promise<FormattedImage> => {
    const { bytes, density } = await encodeRaw(raw, format, channel.density, settings);
    return {
      channel: channel.id, format, data: bytes, width: raw.width, height: raw.height, density, mime: FORMAT_MIME[format], crop, cropKept,
      ...(productKept !== undefined ? { productKept } : {}),
      ...(logo ? { logo: logo.box, placed: [{ description: `brand logo, ${logo.box.width}x${logo.box.height} at ${logo.box.x},${logo.box.y}` }] } : {}),
    };
  };
  if (raw.width * raw.height <= PARALLEL_FORMATS_MAX_PIXELS) return Promise.all(channel.formats.map(one));
  const out: FormattedImage[] = [];
  for (const format of channel.formats) {
    signal?.throwIfAborted();
    out.push(await one(format));
  }
  return out;
}

/** One channel's cut of a master: its pixels at exactly the channel's size, and where in the master they come from. */
export interface ChannelCrop {
  /** Raw pixels, exactly the channel's width and height. */
  raw: RawImage;
  /** The part of the master shown, in master pixels (after EXIF orientation). */
  crop: { left: number; top: number; width: number; height: number };
  /** Crop area divided by master area, in (0, 1]. */
  cropKept: number;
  /** Share of the focus region inside the crop, 0–1; absent without a focus. */
  productKept?: number;
}

/**
 * The smart crop of one channel, cover-scaled to exactly the channel's size. Without a focus
 * the crop follows sharp's attention strategy (the busiest, most colourful part), decided on a
 * small copy of the master in the channel's shape (ATTENTION_PROBE); with one
 * (the product, where the judge found it) it is centred on that region, which therefore stays
 * whole whenever it fits in the crop at all. The one place the crop is decided, so the
 * formatting stage and the reviewer's preview of it (client/review/previews.ts) cut the same
 * pixels.
 * @param master the decoded master (decodeMaster)
 * @param focus a region of the master, as shares of its size, to keep in frame
 */
export async function channelCrop(master: DecodedMaster, channel: Pick<ChannelPreset, 'width' | 'height'>, focus?: ImageRegion): Promise<ChannelCrop> {
  const { width, height } = channel;
  // Cover scales the master until it covers the channel, then crops.
  const scale = Math.max(width / master.width, height / master.height);
  const cropWidth = Math.min(master.width, Math.round(width / scale));
  const cropHeight = Math.min(master.height, Math.round(height / scale));
  const cropKept = (cropWidth * cropHeight) / (master.width * master.height);
  const box = focus && regionPixels(focus, master);
  const { left, top } = box
    ? { left: Math.round(box.left + box.width / 2 - cropWidth / 2), top: Math.round(box.top + box.height / 2 - cropHeight / 2) }
    : await attentionOffset(master, channel);
  const crop = { left: clamp(left, 0, master.width - cropWidth), top: clamp(top, 0, master.height - cropHeight), width: cropWidth, height: cropHeight };
  const raw = await toRaw(master.open().extract(crop).resize(width, height, { fit: 'fill', kernel: 'lanczos3' }));
  return {
    raw,
    crop, cropKept, ...(box ? { productKept: overlapShare(box, crop) } : {}),
  };
}

/**
 * Longest side, in pixels, of the copy of the master the attention crop is decided on: the
 * master cover-scaled to the channel's shape at this size, whatever the channel's own size.
 * Deciding at one size makes the crop depend on the channel's shape alone (a 1080² post and an
 * 8192² print of the same master cut the same square; scored at each channel's own size,
 * attention could jump to another part of the master between two sizes of one shape), and it
 * is cheaper: scoring the whole master cover-scaled to the channel's full size cost more CPU
 * than the crop's own resize. Of the sizes tried (800–1280 px), 1000 kept the most of the crop
 * boxes the full-size scoring made on the benchmark's 20 masters (bench/notes/format-throughput.md).
 * Every channel's probe is resized from one copy of the master at this size on its shorter
 * side (DecodedMaster.attentionSource), which is at least as large as any probe needs.
 */
const ATTENTION_PROBE = 1000;

/** Where sharp's attention strategy puts the channel's crop, in master pixels. */
async function attentionOffset(master: DecodedMaster, channel: { width: number; height: number }): Promise<{ left: number; top: number }> {
  const k = ATTENTION_PROBE / Math.max(channel.width, channel.height);
  const probe = { width: Math.max(1, Math.round(channel.width * k)), height: Math.max(1, Math.round(channel.height * k)) };
  const source = await master.attentionSource();
  const { info } = await openRaw(source)
    .resize(probe.width, probe.height, { fit: 'cover', position: sharp.strategy.attention })
    .raw()
    .toBuffer({ resolveWithObject: true });
  // The offsets are in the probe's cover-scaled source (sharp reports them negated); divide by its scale for master pixels.
  const cover = Math.max(probe.width / source.width, probe.height / source.height);
  const scaleX = cover * (source.width / master.width);
  const scaleY = cover * (source.height / master.height);
  return { left: Math.round(Math.abs(info.cropOffsetLeft ?? 0) / scaleX), top: Math.round(Math.abs(info.cropOffsetTop ?? 0) / scaleY) };
}

type Box = { left: number; top: number; width: number; height: number };

/** A region given as shares of an image, in that image's pixels, clamped to it. */
function regionPixels(r: ImageRegion, size: { width: number; height: number }): Box {
  const left = clamp(r.left, 0, 1) * size.width;
  const top = clamp(r.top, 0, 1) * size.height;
  return { left, top, width: clamp(r.width, 0, 1 - clamp(r.left, 0, 1)) * size.width, height: clamp(r.height, 0, 1 - clamp(r.top, 0, 1)) * size.height };
}

/** Share of `a`'s area inside `b`, rounded to 3 places; 0 for an empty `a`. */
function overlapShare(a: Box, b: Box): number {
  const w = Math.max(0, Math.min(a.left + a.width, b.left + b.width) - Math.max(a.left, b.left));
  const h = Math.max(0, Math.min(a.top + a.height, b.top + b.height) - Math.max(a.top, b.top));
  const area = a.width * a.height;
  return area > 0 ? Math.round(((w * h) / area) * 1000) / 1000 : 0;
}

/**
 * Encodes one channel's pixels in one format, metadata stripped, the density written where the
 * format has a field for it. Exported for bench/format-throughput.ts, which times each stage.
 */
export function encodeRaw(raw: RawImage, format: ImageFormat, density: number, settings: EncoderSettings): Promise<{ bytes: Buffer; density: number }> {
  return encode(openRaw(raw), format, density, settings, raw.channels === 2 || raw.channels === 4);
}

async function encode(
  image: Sharp,
  format: ImageFormat,
  density: number,
  { quality, pngCompressionLevel, avifEffort }: EncoderSettings,
  hasAlpha: boolean,
): Promise<{ bytes: Buffer; density: number }> {
  switch (format) {
    case 'jpeg': {
      // JPEG has no alpha: transparent areas become white rather than black.
      const flat = hasAlpha ? image.flatten({ background: '#ffffff' }) : image;
      const bytes = await flat.jpeg({ quality: quality.jpeg ?? DEFAULT_QUALITY.jpeg, mozjpeg: true, progressive: true }).toBuffer();
      return { bytes: withJfifDensity(bytes, density), density };
    }
    case 'png': {
      const bytes = await image.png({ compressionLevel: pngCompressionLevel, adaptiveFiltering: true }).toBuffer();
      return { bytes: withPngDensity(bytes, density), density };
    }
    case 'webp':
      return { bytes: await image.webp({ quality: quality.webp ?? DEFAULT_QUALITY.webp, effort: DEFAULT_EFFORT.webp }).toBuffer(), density: SCREEN_DENSITY };
    case 'avif':
      return { bytes: await image.avif({ quality: quality.avif ?? DEFAULT_QUALITY.avif, effort: avifEffort }).toBuffer(), density: SCREEN_DENSITY };
    case 'tiff': {
      // TIFF stores resolution in its own tags (sharp writes no EXIF to TIFF).
      const perMm = density / 25.4;
      const bytes = await image.tiff({ compression: 'lzw', predictor: 'horizontal', xres: perMm, yres: perMm, resolutionUnit: 'inch' }).toBuffer();
      return { bytes, density };
    }
  }
}

function clamp(v: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, v));
}

/*
 * Density without EXIF. sharp's `withDensity()` turns on `keepExif()` and writes an EXIF
 * block into PNG and JPEG (and would carry the master's EXIF along with it). PNG and JPEG
 * each have a native density field, so it is written there instead and any metadata
 * chunks or segments are dropped on the way.
 */

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Chunks that carry metadata (EXIF, text, timestamps); none belong in a deliverable. */
const PNG_METADATA_CHUNKS = new Set(['eXIf', 'tEXt', 'zTXt', 'iTXt', 'tIME', 'pHYs']);

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, body: Buffer): Buffer {
  const out = Buffer.alloc(12 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.write(type, 4, 'latin1');
  body.copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + body.length)), 8 + body.length);
  return out;
}

/** Sets the pHYs chunk to `dpi` and drops metadata chunks. */
export function withPngDensity(png: Buffer, dpi: number): Buffer {
  if (!png.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('not a PNG');
  const phys = Buffer.alloc(9);
  const perMetre = Math.round(dpi / 0.0254);
  phys.writeUInt32BE(perMetre, 0);
  phys.writeUInt32BE(perMetre, 4);
  phys[8] = 1; // unit: metre
  const parts: Buffer[] = [PNG_SIGNATURE];
  let p = 8;
  while (p + 12 <= png.length) {
    const length = png.readUInt32BE(p);
    const type = png.toString('latin1', p + 4, p + 8);
    const end = p + 12 + length;
    if (!PNG_METADATA_CHUNKS.has(type)) parts.push(png.subarray(p, end));
    // pHYs must come before the first IDAT; straight after IHDR always is.
    if (type === 'IHDR') parts.push(pngChunk('pHYs', phys));
    p = end;
  }
  return Buffer.concat(parts);
}

/** JPEG segments that carry metadata: APP0 (replaced), APP1 (EXIF, XMP), APP13 (IPTC), COM. */
const JPEG_METADATA_MARKERS = new Set([0xe0, 0xe1, 0xed, 0xfe]);

/** Writes a JFIF APP0 segment with `dpi` right after SOI and drops metadata segments. */
export function withJfifDensity(jpeg: Buffer, dpi: number): Buffer {
  if (jpeg[0] !== 0xff || jpeg[1] !== 0xd8) throw new Error('not a JPEG');
  const d = Math.max(1, Math.min(65535, Math.round(dpi)));
  const jfif = Buffer.from([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x01, d >> 8, d & 0xff, d >> 8, d & 0xff, 0x00, 0x00]);
  const parts: Buffer[] = [jpeg.subarray(0, 2), jfif];
  let p = 2;
  while (p + 4 <= jpeg.length) {
    if (jpeg[p] !== 0xff) throw new Error(`malformed JPEG: expected a marker at byte ${p}`);
    const marker = jpeg[p + 1] as number;
    if (marker === 0xff) {
      p++; // fill byte
      continue;
    }
    // From start-of-scan on it is entropy-coded data: keep the rest as it is.
    if (marker === 0xda) break;
    const end = p + 2 + jpeg.readUInt16BE(p + 2);
    if (!JPEG_METADATA_MARKERS.has(marker)) parts.push(jpeg.subarray(p, end));
    p = end;
  }
  parts.push(jpeg.subarray(p));
  return Buffer.concat(parts);
}

const PROBE_MIME: Record<string, string> = {
  ...FORMAT_MIME,
  gif: 'image/gif',
  svg: 'image/svg+xml',
  heic: 'image/heic',
};

/** Size (after EXIF orientation), format and MIME type of encoded image bytes. */
export async function probeImage(data: Uint8Array): Promise<{ width: number; height: number; format: string; mime: string }> {
  const meta = await sharp(data).metadata();
  // sharp names AVIF and HEIC both `heif`; the codec tells them apart.
  const format: string = meta.format === 'heif' ? (meta.compression === 'av1' ? 'avif' : 'heic') : meta.format;
  return {
    width: meta.autoOrient.width,
    height: meta.autoOrient.height,
    format,
    mime: PROBE_MIME[format] ?? 'application/octet-stream',
  };
}
