/**
 * The brand's logo, composited onto finished crops: never generated, so its pixels are the
 * logo's own (resampled only to the placed size). The formatting stage uses it on every channel
 * and format; the reviewer can use {@link applyLogo} to preview a crop with its logo.
 */
import sharp, { type Sharp } from 'sharp';
import type { LogoBox } from '../../domain/brand';

/** Raw pixels as sharp describes them. */
export interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** A sharp pipeline reading raw pixels. */
export function openRaw(image: RawImage): Sharp {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: image.channels } });
}

/** Runs a pipeline into raw pixels. */
export async function toRaw(pipeline: Sharp): Promise<RawImage> {
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels as RawImage['channels'] };
}

/** Largest density librsvg is asked to rasterise an SVG at: a 1-px-wide SVG drawn 8192 px wide. */
const MAX_SVG_DENSITY = 72 * 8192;

/**
 * The logo at exactly `width`x`height`, as a lossless PNG with its transparency. An SVG is
 * rasterised by librsvg at the density that gives the target size (so edges are drawn, not
 * scaled); a PNG is resampled with Lanczos-3, on premultiplied alpha as sharp does. librsvg,
 * given bytes with no base file, loads nothing an SVG links to (`file://` included).
 */
export async function renderLogo(logo: Uint8Array, width: number, height: number): Promise<Buffer> {
  const meta = await sharp(logo).metadata();
  const source = meta.format === 'svg'
    ? sharp(logo, { density: Math.min(MAX_SVG_DENSITY, Math.max(1, (72 * width) / Math.max(1, meta.width))) })
    : sharp(logo);
  return source.ensureAlpha().resize(width, height, { fit: 'fill', kernel: 'lanczos3' }).png({ compressionLevel: 1 }).toBuffer();
}

/** Composites a rendered logo onto raw pixels at `box`, keeping the pixels' channel count. */
export async function compositeLogoRaw(image: RawImage, renderedLogo: Buffer, box: LogoBox): Promise<RawImage> {
  let pipeline = openRaw(image)
    .composite([{ input: renderedLogo, left: box.x, top: box.y }]);
  // Compositing adds an alpha channel; an opaque crop stays opaque (and JPEG-ready).
  if (image.channels === 3 || image.channels === 1) pipeline = pipeline.removeAlpha();
  return toRaw(pipeline);
}

/**
 * An encoded image with the logo composited at `box`, as PNG: what the reviewer shows to
 * preview a channel's crop with its logo. Same rendering and compositing as the published assets.
 */
export async function applyLogo(image: Uint8Array, logo: Uint8Array, box: LogoBox): Promise<Buffer> {
  const out = await compositeLogoRaw(await toRaw(sharp(image).autoOrient()), await renderLogo(logo, box.width, box.height), box);
  return openRaw(out).png().toBuffer();
}
