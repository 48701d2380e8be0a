import sharp, { type OverlayOptions } from 'sharp';
import { hexToRgb, rgbToHex, type Rgb } from '../../../domain/colors';
import { hashInt, seededRandom } from '../../../domain/hash';
import { InvalidRequestError } from '../errors';
import type { GenerateImageInput, GenerateImageResult, ImageGenerator } from '../types';

/**
 * The offline default generator: paints a deterministic picture from the prompt knobs with
 * SVG and sharp, so the whole pipeline (judging, cropping, formatting, publishing) can run
 * without an API key and tests can assert on real pixels.
 *
 * The same input always gives byte-identical PNG bytes; each seed moves the subject, the
 * props, the blur and the grain, so candidates differ the way a model's would.
 */
export class LocalImageGenerator implements ImageGenerator {
  readonly name = 'local';

  async generate(input: GenerateImageInput): Promise<GenerateImageResult> {
    const { width, height, signal } = input;
    signal?.throwIfAborted();
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 16 || height < 16 || width > 8192 || height > 8192) {
      throw new InvalidRequestError(`size ${width}x${height} is outside 16–8192 px a side`, this.name);
    }

    const scene = planScene(input);
    const background = await sharp(Buffer.from(backgroundSvg(scene)))
      // Blurring the whole background layer (shadows included) gives a depth-of-field look
      // and, because the sigma follows the seed, sharpness that differs between candidates.
      .blur(scene.backgroundBlur > 0.3 ? scene.backgroundBlur : false)
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    signal?.throwIfAborted();

    const layers: OverlayOptions[] = [{ input: Buffer.from(subjectSvg(scene)) }];
    if (scene.grain > 0) {
      layers.push({ input: grainNoise(width, height, scene), raw: { width, height, channels: 1 }, blend: 'overlay' });
    }
    const pipeline = sharp(background.data, { raw: { width, height, channels: 3 } })
      .composite(layers)
      // Compositing adds an alpha channel; a master is opaque, and RGB encodes faster and smaller.
      .removeAlpha();
    const image = await pipeline.png({ compressionLevel: 6, adaptiveFiltering: false }).toBuffer();
    signal?.throwIfAborted();

    return { image, mime: 'image/png', width, height, costUsd: 0, model: 'local' };
  }
}

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

interface Scene {
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
type ShapeName = (typeof SHAPES)[number];

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
  return words.some((w) => new RegExp(`(?:^|[^a-z])${w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`).test(text));
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

function mix(a: string, b: Rgb | string, t: number): string {
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

function planScene(input: GenerateImageInput): Scene {
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

/** Numbers for SVG: two decimals for pixels, four for unit-box coordinates (strokes). */
const f = (n: number) => (Math.round(n * 100) / 100).toString();
const f4 = (n: number) => (Math.round(n * 10000) / 10000).toString();

/** A closed organic blob through points on a circle, with smooth quadratic joins. */
function blobPath(cx: number, cy: number, r: number, radii: readonly number[]): string {
  const pts = radii.map((k, i) => {
    const a = (i / radii.length) * Math.PI * 2;
    return [cx + Math.cos(a) * r * k, cy + Math.sin(a) * r * k] as const;
  });
  const mid = (i: number) => {
    const a = pts[i % pts.length] as readonly [number, number];
    const b = pts[(i + 1) % pts.length] as readonly [number, number];
    return [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2] as const;
  };
  const start = mid(0);
  let d = `M${f(start[0])} ${f(start[1])}`;
  for (let i = 1; i <= pts.length; i++) {
    const p = pts[i % pts.length] as readonly [number, number];
    const m = mid(i);
    d += ` Q${f(p[0])} ${f(p[1])} ${f(m[0])} ${f(m[1])}`;
  }
  return `${d} Z`;
}

/** Subject shapes in a unit box centred on the origin (y down, base at y = 0.5). */
function shapeMarkup(shape: ShapeName, fill: string, extra = ''): string {
  switch (shape) {
    case 'vessel':
      return `<path d="M-0.22 0.5 L0.22 0.5 Q0.3 0.5 0.3 0.38 L0.3 -0.05 Q0.3 -0.2 0.1 -0.28 L0.1 -0.45 L-0.1 -0.45 L-0.1 -0.28 Q-0.3 -0.2 -0.3 -0.05 L-0.3 0.38 Q-0.3 0.5 -0.22 0.5 Z" fill="${fill}" ${extra}/>`;
    case 'orb':
      return `<circle cx="0" cy="0.08" r="0.42" fill="${fill}" ${extra}/>`;
    case 'block':
      return `<rect x="-0.32" y="-0.42" width="0.64" height="0.92" rx="0.06" fill="${fill}" ${extra}/>`;
    case 'arch':
      return `<path d="M-0.35 0.5 L-0.35 -0.1 A0.35 0.35 0 0 1 0.35 -0.1 L0.35 0.5 Z" fill="${fill}" ${extra}/>`;
    case 'stack':
      return `<rect x="-0.36" y="0.2" width="0.72" height="0.3" rx="0.03" fill="${fill}" ${extra}/><rect x="-0.3" y="-0.12" width="0.6" height="0.3" rx="0.03" fill="${fill}" ${extra}/><rect x="-0.24" y="-0.44" width="0.48" height="0.3" rx="0.03" fill="${fill}" ${extra}/>`;
  }
}

/** Gradient sky/wall, ground plane, soft blobs, bokeh and the cast shadows; blurred afterwards. */
function backgroundSvg(s: Scene): string {
  const { width: w, height: h, light } = s;
  const short = Math.min(w, h);
  const lift = (c: string) => (light.key >= 0 ? mix(c, [255, 255, 255], light.key) : mix(c, [0, 0, 0], -light.key));
  const bg = lift(s.background);
  const ground = lift(s.ground);
  // The gradient runs from the light towards the far side of the frame.
  const x1 = Math.min(1, Math.max(0, light.x));
  const y1 = Math.min(1, Math.max(0, light.y));
  const near = mix(bg, light.tint, 0.06 + light.contrast * 0.1);
  const far = mix(bg, [0, 0, 0], 0.05 + light.contrast * 0.2);

  const parts: string[] = [];
  parts.push(
    `<defs><linearGradient id="sky" x1="${f(x1)}" y1="${f(y1)}" x2="${f(1 - x1)}" y2="${f(1 - y1 * 0.5)}">` +
      `<stop offset="0" stop-color="${near}"/><stop offset="0.55" stop-color="${bg}"/><stop offset="1" stop-color="${far}"/></linearGradient>` +
      `<linearGradient id="ground" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${mix(ground, light.tint, 0.1)}"/>` +
      `<stop offset="1" stop-color="${mix(ground, [0, 0, 0], 0.1 + light.contrast * 0.15)}"/></linearGradient></defs>`,
  );
  parts.push(`<rect width="${w}" height="${h}" fill="url(#sky)"/>`);
  for (const b of s.blobs) {
    parts.push(`<path d="${blobPath(b.cx * w, b.cy * h, b.r * short, b.points)}" fill="${lift(b.color)}" fill-opacity="${f(b.opacity)}"/>`);
  }
  if (!s.flatLay) parts.push(`<rect x="0" y="${f(s.horizon * h)}" width="${w}" height="${f(h - s.horizon * h)}" fill="url(#ground)"/>`);
  for (const b of s.bokeh) {
    parts.push(`<circle cx="${f(b.cx * w)}" cy="${f(b.cy * h)}" r="${f(b.r * short)}" fill="${b.color}" fill-opacity="${f(b.opacity)}"/>`);
  }

  // Shadows fall away from the light; soft light spreads them.
  const dx = (0.5 - light.x) * 0.25;
  const shadowOpacity = 0.25 + light.contrast * 0.3;
  const shadow = (x: number, y: number, rx: number, ry: number) =>
    `<ellipse cx="${f(x * w + dx * rx * short)}" cy="${f(y * h)}" rx="${f(rx * short * light.softness)}" ry="${f(ry * short * light.softness)}" fill="#000" fill-opacity="${f(shadowOpacity)}"/>`;
  const p = s.placement;
  if (s.flatLay) {
    for (const it of s.flatItems) {
      parts.push(`<g transform="translate(${f((it.x + 0.012) * w)} ${f((it.y + 0.015) * h)}) scale(${f(it.size * short)}) rotate(${f(it.rotate)})">${shapeMarkup(it.shape, '#000', `fill-opacity="${f(shadowOpacity)}"`)}</g>`);
    }
  } else {
    parts.push(shadow(p.x, p.y + p.size * 0.5 * (short / h), p.size * 0.38, p.size * 0.06));
    for (const pr of s.props) parts.push(shadow(pr.x, pr.y + pr.r * (short / h), pr.r * 1.2, pr.r * 0.3));
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${parts.join('')}</svg>`;
}

/** The sharp foreground: the lit subject with fine surface detail, props, glow and vignette. */
function subjectSvg(s: Scene): string {
  const { width: w, height: h, light } = s;
  const short = Math.min(w, h);
  const p = s.placement;
  const parts: string[] = [];
  // Shading runs from the light side of the subject to its far side.
  const lx = light.x < 0.35 ? 0 : light.x > 0.65 ? 1 : 0.5;
  const ly = light.y < 0.2 ? 0 : 0.4;
  const defs = (id: string, color: string) =>
    `<linearGradient id="${id}" x1="${lx}" y1="${ly}" x2="${1 - lx}" y2="${1 - ly * 0.5}">` +
    `<stop offset="0" stop-color="${mix(color, light.tint, 0.35 + light.contrast * 0.15)}"/>` +
    `<stop offset="0.45" stop-color="${color}"/>` +
    `<stop offset="1" stop-color="${mix(color, [0, 0, 0], 0.2 + light.contrast * 0.35)}"/></linearGradient>`;

  const unit = p.size * short;
  const spacing = s.detailSpacing / unit;
  // Fine stripes give the subject real high-frequency texture (what a sharpness metric sees).
  const detail =
    `<pattern id="detail" patternUnits="userSpaceOnUse" width="${spacing}" height="${spacing}" patternTransform="rotate(${f(30 + s.rotate * 3)})">` +
    `<rect width="${spacing / 2}" height="${spacing}" fill="#000"/></pattern>`;
  const glowR = Math.hypot(w, h) * 0.75;
  parts.push(
    `<defs>${defs('subj', s.subject)}${s.accents.map((a, i) => defs(`acc${i}`, a)).join('')}${detail}` +
      `<radialGradient id="glow" gradientUnits="userSpaceOnUse" cx="${f(light.x * w)}" cy="${f(light.y * h)}" r="${f(glowR)}">` +
      `<stop offset="0" stop-color="${rgbToHex(light.tint)}" stop-opacity="${f(0.06 + light.contrast * 0.12)}"/><stop offset="1" stop-color="${rgbToHex(light.tint)}" stop-opacity="0"/></radialGradient>` +
      `<radialGradient id="vignette" cx="0.5" cy="0.5" r="0.75"><stop offset="0.55" stop-color="#000" stop-opacity="0"/>` +
      `<stop offset="1" stop-color="#000" stop-opacity="${f(s.flat ? 0 : 0.15 + light.contrast * 0.25)}"/></radialGradient></defs>`,
  );

  const subjectGroup = (x: number, y: number, size: number, shape: ShapeName, fillId: string, rotate: number) => {
    const k = size * short;
    const stroke = Math.max(1.5, short / 400) / k;
    const rim = light.rim ? shapeMarkup(shape, 'none', `stroke="${mix(rgbToHex(light.tint), [255, 255, 255], 0.4)}" stroke-width="${f4(stroke * 2.5)}" stroke-opacity="0.85"`) : '';
    return (
      `<g transform="translate(${f(x * w)} ${f(y * h)}) scale(${f(k)}) rotate(${f(rotate)})">` +
      shapeMarkup(shape, `url(#${fillId})`) +
      shapeMarkup(shape, 'url(#detail)', `fill-opacity="${f(s.detailOpacity)}"`) +
      // A specular highlight on the lit side.
      `<ellipse cx="${f((lx - 0.5) * 0.3)}" cy="-0.12" rx="0.05" ry="0.16" fill="#fff" fill-opacity="0.35"/>` +
      shapeMarkup(shape, 'none', `stroke="#000" stroke-opacity="0.35" stroke-width="${f4(stroke)}"`) +
      rim +
      `</g>`
    );
  };

  if (s.flatLay) {
    s.flatItems.forEach((it, i) => {
      const id = it.color === s.subject ? 'subj' : `acc${Math.max(0, s.accents.indexOf(it.color))}`;
      parts.push(subjectGroup(it.x, it.y, it.size, it.shape, id, it.rotate + i));
    });
  } else {
    parts.push(subjectGroup(p.x, p.y, p.size, s.shape, 'subj', s.rotate));
    s.props.forEach((pr, i) => {
      const id = `acc${i % s.accents.length}`;
      parts.push(subjectGroup(pr.x, pr.y, pr.r * 2, pr.shape, id, 0));
    });
  }
  parts.push(`<rect width="${w}" height="${h}" fill="url(#glow)"/>`);
  parts.push(`<rect width="${w}" height="${h}" fill="url(#vignette)"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${parts.join('')}</svg>`;
}

/** Film grain centred on mid-grey, for an overlay blend that leaves the mean tone alone. */
function grainNoise(width: number, height: number, s: Scene): Buffer {
  const rand = seededRandom(s.grainSeed);
  const out = Buffer.allocUnsafe(width * height);
  const amp = s.grain * 2;
  for (let i = 0; i < out.length; i++) out[i] = 128 + Math.round((rand() + rand() - 1) * amp);
  return out;
}
