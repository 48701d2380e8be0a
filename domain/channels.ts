/** Output encodings Darkroom ships. */
export const IMAGE_FORMATS = ['jpeg', 'png', 'webp', 'avif', 'tiff'] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

export const FORMAT_MIME: Record<ImageFormat, string> = {
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  avif: 'image/avif',
  tiff: 'image/tiff',
};

export const FORMAT_EXTENSION: Record<ImageFormat, string> = {
  jpeg: 'jpg',
  png: 'png',
  webp: 'webp',
  avif: 'avif',
  tiff: 'tif',
};

/** A channel's exact delivery spec. */
export interface ChannelPreset {
  /** Stable id used in briefs, blob keys and manifests, e.g. `instagram-square`. */
  id: string;
  label: string;
  width: number;
  height: number;
  /** Reduced aspect ratio, e.g. `16:9`. */
  aspect: string;
  /** Pixels per inch written into the file; 72 for screens. */
  density: number;
  /** Formats to encode, in order of preference. */
  formats: readonly ImageFormat[];
  /** Why these formats: shown in docs and the manifest. */
  note: string;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

export function aspectOf(width: number, height: number): string {
  const d = gcd(width, height);
  return `${width / d}:${height / d}`;
}

function preset(p: Omit<ChannelPreset, 'aspect'>): ChannelPreset {
  return { ...p, aspect: aspectOf(p.width, p.height) };
}

/** The built-in channel presets, keyed by id. */
export const CHANNEL_PRESETS: Readonly<Record<string, ChannelPreset>> = Object.freeze({
  'instagram-square': preset({
    id: 'instagram-square', label: 'Instagram square post', width: 1080, height: 1080, density: 72,
    formats: ['jpeg', 'png'], note: 'Instagram accepts JPEG and PNG uploads and re-encodes to JPEG.',
  }),
  'instagram-portrait': preset({
    id: 'instagram-portrait', label: 'Instagram portrait post (4:5)', width: 1080, height: 1350, density: 72,
    formats: ['jpeg', 'png'], note: 'Portrait 4:5 takes the most feed height Instagram allows.',
  }),
  'story-9x16': preset({
    id: 'story-9x16', label: 'Story / Reels / TikTok 9:16', width: 1080, height: 1920, density: 72,
    formats: ['jpeg', 'png'], note: 'Full-screen vertical; keep text out of the top and bottom 250 px.',
  }),
  'web-hero': preset({
    id: 'web-hero', label: 'Website hero 16:9', width: 1920, height: 1080, density: 72,
    formats: ['avif', 'webp', 'jpeg'], note: 'Served with <picture>: AVIF, then WebP, then JPEG fallback.',
  }),
  'og-image': preset({
    id: 'og-image', label: 'Open Graph / social share card', width: 1200, height: 630, density: 72,
    formats: ['jpeg', 'png'], note: 'Link-preview scrapers reliably read JPEG and PNG only.',
  }),
  'email-header': preset({
    id: 'email-header', label: 'Email header', width: 600, height: 300, density: 72,
    formats: ['jpeg', 'png'], note: 'Email clients (Outlook among them) need JPEG or PNG.',
  }),
  'print-a4': preset({
    id: 'print-a4', label: 'Print A4 portrait at 300 dpi', width: 2480, height: 3508, density: 300,
    formats: ['tiff', 'png'], note: 'Lossless only, density written for the printer; no web formats.',
  }),
});

export const CHANNEL_IDS = Object.keys(CHANNEL_PRESETS);

const CUSTOM = /^custom-(\d{2,5})x(\d{2,5})$/;
/** Each side of a custom channel, in pixels. */
export const CUSTOM_SIDE = { min: 16, max: 8192 } as const;

/**
 * Resolves a channel id: a preset id, or `custom-<W>x<H>` (e.g. `custom-1600x900`) for any
 * exact size from 16 to 8192 px a side, shipped as WebP with a JPEG fallback.
 */
export function resolveChannel(id: string): ChannelPreset | undefined {
  const known = CHANNEL_PRESETS[id];
  if (known) return known;
  const m = CUSTOM.exec(id);
  if (!m) return undefined;
  const width = Number(m[1]);
  const height = Number(m[2]);
  if (Math.min(width, height) < CUSTOM_SIDE.min || Math.max(width, height) > CUSTOM_SIDE.max) return undefined;
  return preset({
    id, label: `Custom ${width}x${height}`, width, height, density: 72,
    formats: ['webp', 'jpeg'], note: 'Custom size: WebP with a JPEG fallback.',
  });
}
