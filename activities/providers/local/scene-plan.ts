import { hexToRgb, rgbToHex, type Rgb } from '../../../domain/colors';
import { hashInt, seededRandom } from '../../../domain/hash';
import { escapeRegExp } from '../../../domain/text';
import type { GenerateImageInput } from '../types';

/*
 * What the local generator paints, decided from the prompt knobs and the seed: the lighting and
 * composition read from plain words, the palette, and every value the layers share.
 */

/** Where the light comes from and what it does to the picture. */
export interface Lighting {
  /** Light source position as a fraction of the frame (may lie outside it). */
  x: number;
  y: number;
  tint: Rgb;
  /** 0 (flat) … 1 (hard, dramatic). */
  contrast: number;
  /** Added to every tone: negative for low key, positive for high key. */
  key: number;
  /** Subject outlined by light from behind. */
  rim: boolean;
  /** Shadow softness multiplier. */
  softness: number;
}

/** Where the main subject goes. */
export interface SubjectPlacement {
  /** Centre as fractions of the frame. */
  x: number;
  y: number;
  /** Height as a fraction of the shorter side. */
  size: number;
  /** The half of the frame kept empty for copy ("negative space on the right"). */
  calm?: 'left' | 'right';
}

/** Everything the painted layers need, drawn once from the input so they agree. */
export interface Scene {
  width: number;
  height: number;
  /** Colours by role; the brand palette fills these first so it dominates the picture. */
  background: string;
  ground: string;
  subject: string;
  accents: string[];
  light: Lighting;
  placement: SubjectPlacement;
  flatLay: boolean;
  horizon: number;
  shape: ShapeName;
  backgroundBlur: number;
  grain: number;
  grainSeed: number;
  flat: boolean;
  detailSpacing: number;
  detailOpacity: number;
  /** Values drawn once so the SVG layers agree on them. */
  blobs: Array<{ cx: number; cy: number; r: number; points: number[]; color: string; opacity: number }>;
  bokeh: Array<{ cx: number; cy: number; r: number; color: string; opacity: number }>;
  props: Array<{ x: number; y: number; r: number; color: string; shape: 'orb' | 'block' }>;
  flatItems: Array<{ x: number; y: number; size: number; shape: ShapeName; color: string; rotate: number }>;
  rotate: number;
}

const SHAPES = ['vessel', 'orb', 'block', 'arch', 'stack'] as const;
export type ShapeName = (typeof SHAPES)[number];

const WARM: Rgb = [255, 196, 120];
const COOL: Rgb = [190, 214, 255];
const NEUTRAL: Rgb = [255, 250, 240];
const WHITE: Rgb = [255, 255, 255];

function toGrey(hex: string): string {
  const [r, g, b] = hexToRgb(hex);
  const y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return rgbToHex([y, y, y]);
}

/** True when `text` has one of `words` at the start of a word ("top" matches "top light", not "tabletop"). */
function has(text: string, ...words: string[]): boolean {
  return words.some((w) => new RegExp(`(?:^|[^a-z])${escapeRegExp(w)}`).test(text));
}

/**
 * Reads the lighting knob: direction, colour temperature and hardness from plain words.
 * `rand` only nudges the light when the knob is empty, so candidates still differ.
 */
export function parseLighting(text: string | undefined, rand: () => number): Lighting {
  const t = (text ?? '').toLowerCase();
  const light: Lighting = { x: 0.2, y: 0.05, tint: NEUTRAL, contrast: 0.5, key: 0, rim: false, softness: 1 };
  if (has(t, 'golden', 'sunset', 'sunrise', 'warm', 'candle', 'tungsten')) {
    light.tint = WARM;
    light.y = 0.3; // a low sun
    light.x = t.includes('right') ? 1.1 : -0.1;
  }
  if (has(t, 'blue hour', 'cool', 'moon', 'overcast', 'north light')) light.tint = COOL;
  if (t.includes('left')) light.x = -0.1;
  if (t.includes('right')) light.x = 1.1;
  if (has(t, 'top', 'overhead', 'above', 'noon', 'skylight')) {
    light.x = 0.5;
    light.y = -0.15;
  }
  if (has(t, 'rim', 'back', 'behind', 'silhouette')) light.rim = true;
  if (has(t, 'soft', 'diffuse', 'window', 'overcast', 'even')) {
    light.contrast = 0.3;
    light.softness = 1.8;
  }
  if (has(t, 'hard', 'harsh', 'dramatic', 'spotlight', 'chiaroscuro', 'noon')) {
    light.contrast = 0.85;
    light.softness = 0.5;
  }
  if (has(t, 'low key', 'low-key', 'moody', 'dark', 'night')) light.key = -0.18;
  if (has(t, 'high key', 'high-key', 'bright', 'airy')) light.key = 0.15;
  // Without a direction in the brief, let the seed nudge the light so candidates differ.
  if (!t) light.x += (rand() - 0.5) * 0.3;
  return light;
}

/**
 * Reads the composition knob: where the subject goes and how big it is. The default is the
 * rule of thirds, with `rand` (the seed) choosing the intersection.
 */
export function parseComposition(text: string | undefined, rand: () => number): SubjectPlacement & { flatLay: boolean } {
  const t = (text ?? '').toLowerCase();
  const third = () => (rand() < 0.5 ? 1 / 3 : 2 / 3);
  const p: SubjectPlacement & { flatLay: boolean } = { x: third(), y: 0.45 + rand() * 0.15, size: 0.48 + rand() * 0.1, flatLay: false };
  if (has(t, 'flat lay', 'flat-lay', 'flatlay', 'top-down', 'top down', 'overhead', "bird's-eye", 'knolling')) {
    return { x: 0.5, y: 0.5, size: 0.34, flatLay: true };
  }
  if (has(t, 'center', 'centre', 'symmetr')) {
    p.x = 0.5;
    p.y = 0.52;
  }
  if (t.includes('left third')) p.x = 1 / 3;
  if (t.includes('right third')) p.x = 2 / 3;
  if (/negative space (?:on|to) the right|space on the right|right side empty/.test(t)) {
    p.x = 0.28;
    p.size *= 0.85;
    p.calm = 'right';
  }
  if (/negative space (?:on|to) the left|space on the left|left side empty/.test(t)) {
    p.x = 0.72;
    p.size *= 0.85;
    p.calm = 'left';
  }
  if (has(t, 'negative space') && !/left|right/.test(t)) p.size *= 0.7;
  if (has(t, 'close-up', 'close up', 'closeup', 'macro', 'tight crop', 'detail shot')) {
    p.size = 0.85;
    p.y = 0.55;
  }
  if (has(t, 'wide', 'establishing', 'environmental', 'landscape')) p.size = 0.3;
  if (has(t, 'low angle', 'hero')) p.y = 0.58;
  return p;
}

function hslToRgb(h: number, s: number, l: number): Rgb {
  const hue = ((h % 360) + 360) % 360;
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs(((hue / 60) % 2) - 1));
  const m = l - c / 2;
  const [r, g, b] =
    hue < 60 ? [c, x, 0] : hue < 120 ? [x, c, 0] : hue < 180 ? [0, c, x] : hue < 240 ? [0, x, c] : hue < 300 ? [x, 0, c] : [c, 0, x];
  return [(r + m) * 255, (g + m) * 255, (b + m) * 255];
}

/** The colour `t` of the way from `a` to `b`. */
export function mix(a: string, b: Rgb | string, t: number): string {
  const ra = hexToRgb(a);
  const rb = typeof b === 'string' ? hexToRgb(b) : b;
  return rgbToHex([ra[0] + (rb[0] - ra[0]) * t, ra[1] + (rb[1] - ra[1]) * t, ra[2] + (rb[2] - ra[2]) * t]);
}

/** A palette for briefs without brand colours: a harmony derived from the prompt, so it is stable per brief. */
function paletteFromPrompt(prompt: string): string[] {
  const h = hashInt(`palette:${prompt}`);
  const hue = h % 360;
  const harmony = [30, 150, 180, 210][(h >>> 9) % 4] ?? 180;
  return [
    rgbToHex(hslToRgb(hue, 0.5, 0.42)),
    rgbToHex(hslToRgb(hue + harmony, 0.6, 0.58)),
    rgbToHex(hslToRgb(hue - 15, 0.3, 0.86)),
    rgbToHex(hslToRgb(hue + harmony + 20, 0.45, 0.28)),
  ];
}

/** The scene for one input: colours by role, light, placement, shapes and the values drawn from the seed. */
export function planScene(input: GenerateImageInput): Scene {
  const { width, height, prompt, seed } = input;
  const rand = seededRandom(hashInt(`${seed}:${prompt}:${width}x${height}`));
  const style = (input.style ?? '').toLowerCase();

  const monochrome = has(style, 'monochrome', 'black and white', 'black-and-white', 'b&w', 'noir', 'greyscale', 'grayscale');
  const given = input.palette.filter((c) => /^#[0-9a-fA-F]{6}$/.test(c)).map((c) => c.toUpperCase());
  const colourful = given.length ? given : paletteFromPrompt(prompt);
  // Black and white is painted in greys from the start, so every layer (tints included) agrees.
  const palette = monochrome ? colourful.map(toGrey) : colourful;
  // Roles rotate with the seed so one palette still gives visibly different pictures.
  const offset = Math.floor(rand() * palette.length);
  const role = (i: number) => palette[(offset + i) % palette.length] as string;
  const background = role(0);
  // A one-colour brand gets tints of itself, not invented hues, so the brand stays dominant.
  const ground = palette.length > 1 ? role(1) : mix(background, [20, 20, 20], 0.35);
  const subject = palette.length > 2 ? role(2) : palette.length > 1 ? role(1) : mix(background, [255, 255, 255], 0.55);
  const accents = palette.length > 3 ? palette.filter((c) => c !== background && c !== ground && c !== subject) : [mix(subject, [255, 255, 255], 0.35), ground];

  const light = parseLighting(input.lighting, rand);
  if (monochrome) light.tint = WHITE;
  const placement = parseComposition(input.composition, rand);
  const flat = has(style, 'flat', 'vector', 'minimal', 'graphic', 'illustration');
  const scale = Math.min(width, height) / 1024;
  const shape = SHAPES[(hashInt(prompt) + Math.floor(rand() * 2)) % SHAPES.length] as ShapeName;

  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
  // Blobs use the palette itself, nearly opaque: translucent mixes of complementary brand
  // colours would turn grey and the brand would no longer dominate the picture.
  const blobColors = palette;
  const inCalmHalf = (x: number) => (placement.calm === 'right' && x > 0.5) || (placement.calm === 'left' && x < 0.5);
  const blobs = Array.from({ length: 4 + Math.floor(rand() * 3) }, () => ({
    cx: rand(),
    cy: rand() * 0.8,
    r: 0.18 + rand() * 0.25,
    points: Array.from({ length: 7 }, () => 0.65 + rand() * 0.5),
    color: pick(blobColors),
    opacity: 0.6 + rand() * 0.35,
  })).map((b) => (inCalmHalf(b.cx) ? { ...b, cx: 1 - b.cx } : b)); // negative space stays empty
  const bokeh = Array.from({ length: flat ? 0 : 8 + Math.floor(rand() * 12) }, () => ({
    cx: rand(),
    cy: rand() * 0.7,
    r: 0.01 + rand() * 0.04,
    color: rand() < 0.5 ? rgbToHex(light.tint) : pick(accents),
    opacity: 0.15 + rand() * 0.3,
  })).filter((b) => !inCalmHalf(b.cx));
  // Props sit beside the subject, towards the centre, or away from the space kept empty.
  const side = placement.calm === 'right' ? -1 : placement.calm === 'left' ? 1 : placement.x < 0.5 ? 1 : -1;
  const props = Array.from({ length: placement.flatLay ? 0 : 1 + Math.floor(rand() * 3) }, (_, i) => ({
    x: placement.x + (side * (placement.size * 0.42 + 0.05 + i * 0.08 + rand() * 0.04) * Math.min(width, height)) / width,
    y: placement.y + placement.size * 0.5 - 0.02 - rand() * 0.03,
    r: 0.025 + rand() * 0.035,
    color: pick(accents),
    shape: (rand() < 0.6 ? 'orb' : 'block') as 'orb' | 'block',
  })).slice(0, placement.calm ? 1 : undefined);
  const flatItems = placement.flatLay
    ? Array.from({ length: 4 + Math.floor(rand() * 3) }, (_, i) => ({
        x: 0.18 + ((i % 3) / 2) * 0.64 + (rand() - 0.5) * 0.08,
        y: 0.25 + Math.floor(i / 3) * 0.5 + (rand() - 0.5) * 0.08,
        size: 0.16 + rand() * 0.1,
        shape: pick(SHAPES),
        color: i % 2 ? subject : pick(accents),
        rotate: (rand() - 0.5) * 60,
      }))
    : [];

  return {
    width,
    height,
    background,
    ground,
    subject,
    accents,
    light,
    placement,
    flatLay: placement.flatLay,
    horizon: 0.62 + rand() * 0.12,
    shape,
    backgroundBlur: flat ? 0 : (1 + rand() * 7) * scale,
    grain: flat ? 0 : 5 + rand() * 14,
    grainSeed: Math.floor(rand() * 2 ** 32),
    flat,
    detailSpacing: Math.max(2, (3 + rand() * 5) * scale),
    detailOpacity: 0.12 + rand() * 0.25,
    rotate: (rand() - 0.5) * 10,
    blobs,
    bokeh,
    props,
    flatItems,
  };
}
