/**
 * Brand kits (`brands/<name>.json`): palette, style language, the logo and where it goes on each
 * channel, an optional Flux LoRA. The schema, the banned-word rules and the logo placement are
 * pure so the prompt builder, the workflow and the reviewer all apply the same ones.
 */
import { z } from 'zod';
import { resolveChannel, type ChannelPreset } from './channels';
import { toFieldIssues, type FieldIssue } from './brief';
import { CONTROL_CHARS, preview } from './text';
import { bannedIn } from './brand-words';

const HEX = /^#[0-9a-fA-F]{6}$/;
/** A kit's name is also its file name and a blob-key segment. */
export const BRAND_NAME = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;

const line = (max: number) =>
  z.string().trim().min(1, { error: 'must not be empty' }).max(max).refine((s) => !CONTROL_CHARS.test(s) && !/[\t\n]/.test(s), { error: 'must be one line without control characters' });

/** A file inside the brands folder: relative, no `..`, no hidden segments, plain characters. */
const relativeFile = (exts: readonly string[]) =>
  z.string().refine((p) => /^[A-Za-z0-9_-][A-Za-z0-9._-]*(?:\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/.test(p) && p.length <= 200, {
    error: 'must be a path inside the brands folder, such as acme/logo.svg (letters, digits, . _ - and /; no .. or leading /)',
  }).refine((p) => exts.some((e) => p.toLowerCase().endsWith(`.${e}`)), { error: `must end in ${exts.map((e) => `.${e}`).join(' or ')}` });

/** A map keyed by channel id; an unknown id is reported at its own key. */
const byChannel = <T extends z.ZodType>(value: T) =>
  z.record(z.string(), value).superRefine((rec, ctx) => {
    for (const id of Object.keys(rec)) {
      if (!resolveChannel(id)) ctx.addIssue({ code: 'custom', path: [id], message: `names no channel: ${preview(id)}` });
    }
  });

/** Where on an image the logo sits. `center-*` centres it horizontally. */
export const LOGO_CORNERS = ['top-left', 'top-right', 'bottom-left', 'bottom-right', 'center-top', 'center-bottom'] as const;
export type LogoCorner = (typeof LOGO_CORNERS)[number];

/** How the logo is placed on one channel. */
export const LogoPlacementSchema = z.strictObject({
  /** @default bottom-right */
  corner: z.enum(LOGO_CORNERS).default('bottom-right'),
  /** Gap between the logo and the usable area's edge, in % of the image's short side. @default 4 */
  margin: z.number().min(0).max(25).default(4),
  /** Logo width in % of the image width. @default 15 */
  width: z.number().gt(0).max(60).default(15),
  /** The logo is never drawn narrower than this, in px; a channel without room for it is refused before any spend. @default 48 */
  minWidthPx: z.number().int().min(8).max(4096).default(48),
});
export type LogoPlacement = z.output<typeof LogoPlacementSchema>;

/** Bands of an image a platform covers with its own UI, in % of the height (top, bottom) or width (left, right). */
export const SafeZoneSchema = z.strictObject({
  top: z.number().min(0).max(45).default(0),
  bottom: z.number().min(0).max(45).default(0),
  left: z.number().min(0).max(45).default(0),
  right: z.number().min(0).max(45).default(0),
});
export type SafeZone = z.output<typeof SafeZoneSchema>;

/**
 * Safe zones every kit gets unless it names its own for the channel.
 *
 * `story-9x16` serves Instagram/Facebook Stories, Reels and TikTok. Meta's Stories guidance keeps
 * text and logos out of the top 14% (profile, timestamp) and the bottom 20% (reply bar, CTA
 * button): 250 px and 340 px on a 1440x2560 Story, as the ImageFactory guide of 2026-06-12 measures
 * it (imagefactory.co.kr/en/guides/instagram-story-ad-text-safe-zone); creators' guides give the
 * same ~250 px bands at 1080x1920. TikTok adds a column of buttons (like, comment, share) down
 * the right, about 120–180 px of 1080 (socaptions.com/blog/tiktok-safe-zones-2026), hence 16%.
 * Reels cover more of the bottom (up to 35%); a kit aimed at Reels sets its own zone.
 */
export const DEFAULT_SAFE_ZONES: Readonly<Record<string, SafeZone>> = Object.freeze({
  'story-9x16': { top: 14, bottom: 20, left: 0, right: 16 },
});

export const LogoSpecSchema = z.strictObject({
  /** The logo file, relative to the brands folder: PNG or SVG with transparency. */
  file: relativeFile(['png', 'svg']),
  /** Placement on every channel without its own. */
  placement: LogoPlacementSchema.prefault({}),
  /** Per-channel changes to the placement, e.g. `{ "story-9x16": { "corner": "center-top" } }`. */
  channels: byChannel(LogoPlacementSchema.partial()).default({}),
  /** Per-channel safe zones, replacing {@link DEFAULT_SAFE_ZONES} for that channel. */
  safeZones: byChannel(SafeZoneSchema).default({}),
});
export type LogoSpec = z.output<typeof LogoSpecSchema>;

/** A LoRA for Replicate's Flux models that take one (see activities/providers/replicate/options.ts). */
export const LoraSchema = z.strictObject({
  /** Where the weights are: an HTTPS URL (a .safetensors file, a Hugging Face or Replicate model page). */
  weightsUrl: z.url({ protocol: /^https$/, error: 'must be an https:// URL' }).max(500),
  /** The word the LoRA was trained on; put at the start of the prompt when the LoRA is used. */
  triggerWord: line(60).optional(),
  /** How strongly the LoRA applies. @default 1 */
  scale: z.number().min(0).max(2).default(1),
});
export type Lora = z.output<typeof LoraSchema>;

export const BrandKitSchema = z
  .strictObject({
    /** Lowercase kebab-case; the file is `brands/<name>.json`. */
    name: z.string().regex(BRAND_NAME, { error: 'must be lowercase kebab-case (a-z, 0-9, -), at most 40 characters' }),
    /** Colours by role, e.g. `{ "primary": "#0B3D91", "accent": "#F4B400" }`. */
    palette: z
      .record(z.string().regex(/^[a-z][a-z0-9-]{0,29}$/, { error: 'a role is a lowercase word such as primary' }), z.string().regex(HEX, { error: 'must be a hex colour such as #0B3D91' }).transform((h) => h.toUpperCase()))
      .refine((p) => Object.keys(p).length >= 1 && Object.keys(p).length <= 8, { error: 'must name 1 to 8 colours' }),
    /** Words and phrases the brand speaks in (approved), and ones that must never reach a prompt (banned). */
    style: z.strictObject({
      approved: z.array(line(120)).max(20).default([]),
      banned: z.array(line(120)).max(100).default([]),
    }).prefault({}),
    logo: LogoSpecSchema,
    lora: LoraSchema.optional(),
    /** Images of the brand's look, relative to the brands folder (PNG, JPEG or WebP). */
    styleReferences: z.array(relativeFile(['png', 'jpg', 'jpeg', 'webp'])).max(8).default([]),
  })
  .superRefine((kit, ctx) => {
    const approved = kit.style.approved.findIndex((a) => bannedIn(a, kit.style.banned) !== undefined);
    if (approved >= 0) ctx.addIssue({ code: 'custom', path: ['style', 'approved', approved], message: `uses the banned ${JSON.stringify(bannedIn(kit.style.approved[approved]!, kit.style.banned))}` });
    const trigger = kit.lora?.triggerWord;
    if (trigger && bannedIn(trigger, kit.style.banned)) ctx.addIssue({ code: 'custom', path: ['lora', 'triggerWord'], message: 'is a banned word' });
  });

export type BrandKit = z.output<typeof BrandKitSchema>;
export type BrandKitInput = z.input<typeof BrandKitSchema>;

export type ParseBrandKitResult = { ok: true; kit: BrandKit } | { ok: false; issues: FieldIssue[] };

/** Validates a kit; each problem names its field (`logo.placement.margin`, `palette.primary`). */
export function parseBrandKit(input: unknown): ParseBrandKitResult {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return { ok: false, issues: [{ field: '(brand kit)', message: 'must be a JSON object' }] };
  const r = BrandKitSchema.safeParse(input, { reportInput: true });
  return r.success ? { ok: true, kit: r.data } : { ok: false, issues: toFieldIssues(r.error, 'brand kit') };
}

// ── Logo placement ──────────────────────────────────────────────────────────

/** Where the logo went on one image, in that image's pixels. */
export interface LogoBox {
  x: number;
  y: number;
  width: number;
  height: number;
  corner: LogoCorner;
}

/** The placement and safe zone that apply to a channel. */
export function logoRuleFor(spec: LogoSpec, channelId: string): { placement: LogoPlacement; safeZone: SafeZone } {
  const placement = { ...spec.placement, ...stripUndefined(spec.channels[channelId] ?? {}) };
  const safeZone = spec.safeZones[channelId] ?? DEFAULT_SAFE_ZONES[channelId] ?? { top: 0, bottom: 0, left: 0, right: 0 };
  return { placement, safeZone };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export type PlaceLogoResult = { ok: true; box: LogoBox } | { ok: false; reason: string };

/**
 * Where the logo goes on a `width`x`height` image: `margin` inside the corner of the area the
 * safe zones leave, `placement.width`% of the image wide but never under `minWidthPx`, keeping
 * the logo's aspect ratio. Refuses (with the numbers) when the channel has no room for it.
 */
export function placeLogo(
  channel: Pick<ChannelPreset, 'id' | 'width' | 'height'>,
  logo: { width: number; height: number },
  rule: { placement: LogoPlacement; safeZone: SafeZone },
): PlaceLogoResult {
  const { width: W, height: H } = channel;
  const { placement: p, safeZone: z } = rule;
  const margin = Math.round((p.margin / 100) * Math.min(W, H));
  const area = {
    left: Math.round((z.left / 100) * W),
    right: W - Math.round((z.right / 100) * W),
    top: Math.round((z.top / 100) * H),
    bottom: H - Math.round((z.bottom / 100) * H),
  };
  const roomW = area.right - area.left - 2 * margin;
  const roomH = area.bottom - area.top - 2 * margin;
  const aspect = logo.height / logo.width;
  let w = Math.max(p.minWidthPx, Math.round((p.width / 100) * W));
  // Too wide or tall for the room: shrink to fit, but never under the minimum.
  const fit = Math.floor(Math.min(roomW, roomH / aspect));
  if (w > fit) w = fit;
  if (w < p.minWidthPx) {
    return {
      ok: false,
      reason: `channel ${channel.id} (${W}x${H}) leaves room for a logo ${Math.max(0, fit)} px wide between its margins and safe zones; the kit asks for at least ${p.minWidthPx} px (logo.minWidthPx)`,
    };
  }
  const h = Math.max(1, Math.round(w * aspect));
  const x = p.corner.endsWith('left') ? area.left + margin
    : p.corner.endsWith('right') ? area.right - margin - w
      : Math.round(area.left + (area.right - area.left - w) / 2);
  const y = p.corner.startsWith('top') || p.corner === 'center-top' ? area.top + margin : area.bottom - margin - h;
  return { ok: true, box: { x, y, width: w, height: h, corner: p.corner } };
}

/** Whether a box lies inside an image and outside its safe zones (for checks and tests). */
export function boxAvoidsSafeZone(box: LogoBox, W: number, H: number, z: SafeZone): boolean {
  return box.x >= Math.round((z.left / 100) * W) && box.x + box.width <= W - Math.round((z.right / 100) * W)
    && box.y >= Math.round((z.top / 100) * H) && box.y + box.height <= H - Math.round((z.bottom / 100) * H);
}
