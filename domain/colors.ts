/** Colour helpers shared by prompt writing and judging. Pure. */

export type Rgb = readonly [number, number, number];

export function hexToRgb(hex: string): Rgb {
  const h = hex.replace('#', '');
  const full = h.length === 3 ? h.split('').map((c) => c + c).join('') : h;
  const n = parseInt(full, 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

export function rgbToHex([r, g, b]: Rgb): string {
  return `#${[r, g, b].map((v) => Math.round(Math.max(0, Math.min(255, v))).toString(16).padStart(2, '0')).join('').toUpperCase()}`;
}

export function rgbToHsl([r, g, b]: Rgb): [number, number, number] {
  const rn = r / 255, gn = g / 255, bn = b / 255;
  const max = Math.max(rn, gn, bn), min = Math.min(rn, gn, bn);
  const l = (max + min) / 2;
  if (max === min) return [0, 0, l];
  const d = max - min;
  const s = l > 0.5 ? d / (2 - max - min) : d / (max + min);
  let h: number;
  if (max === rn) h = (gn - bn) / d + (gn < bn ? 6 : 0);
  else if (max === gn) h = (bn - rn) / d + 2;
  else h = (rn - gn) / d + 4;
  return [h * 60, s, l];
}

function srgbToLinear(c: number): number {
  const v = c / 255;
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
}

/** CIE L*a*b* (D65), for perceptual colour distance. */
export function rgbToLab([r, g, b]: Rgb): [number, number, number] {
  const R = srgbToLinear(r), G = srgbToLinear(g), B = srgbToLinear(b);
  const x = (R * 0.4124 + G * 0.3576 + B * 0.1805) / 0.95047;
  const y = R * 0.2126 + G * 0.7152 + B * 0.0722;
  const z = (R * 0.0193 + G * 0.1192 + B * 0.9505) / 1.08883;
  const f = (t: number) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116);
  const fx = f(x), fy = f(y), fz = f(z);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

/** CIE76 ΔE: about 2.3 is a just-noticeable difference; over 50 is a different colour. */
export function deltaE(a: Rgb, b: Rgb): number {
  const [l1, a1, b1] = rgbToLab(a);
  const [l2, a2, b2] = rgbToLab(b);
  return Math.hypot(l1 - l2, a1 - a2, b1 - b2);
}

const HUES: ReadonlyArray<[number, string]> = [
  [15, 'red'], [40, 'orange'], [55, 'amber'], [70, 'yellow'], [95, 'lime'], [150, 'green'],
  [175, 'teal'], [195, 'cyan'], [212, 'azure'], [255, 'blue'], [280, 'indigo'], [300, 'violet'],
  [330, 'magenta'], [350, 'pink'], [361, 'red'],
];

/** Words a model understands for a hex colour, e.g. `#0B3D91` → "deep blue". */
export function describeColor(hex: string): string {
  const [h, s, l] = rgbToHsl(hexToRgb(hex));
  if (l > 0.94) return 'white';
  if (l < 0.08) return 'black';
  if (s < 0.12) return l > 0.7 ? 'light grey' : l < 0.3 ? 'charcoal' : 'grey';
  const hue = HUES.find(([limit]) => h < limit)?.[1] ?? 'red';
  const tone = l < 0.33 ? 'deep ' : l > 0.75 ? 'pale ' : s < 0.35 ? 'muted ' : '';
  return `${tone}${hue}`;
}
