import { rgbToHex } from '../../../domain/colors';
import { mix, type Scene, type ShapeName } from './scene-plan';

/* The local generator's layers from a planned scene: SVG for sharp to render, and film grain. */

/** Numbers for SVG: two decimals for pixels, four for unit-box coordinates (strokes). */
const f = (n: number) => (Math.round(n * 100) / 100).toString();
const f4 = (n: number) => (Math.round(n * 10000) / 10000).toString();
const f6 = (n: number) => (Math.round(n * 1e6) / 1e6).toString();

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
export function backgroundSvg(s: Scene): string {
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
export function subjectSvg(s: Scene, options: { paintSubject?: boolean } = {}): string {
  // A real product (a packshot) takes the painted subject's place; the props stay around it.
  const paintSubject = options.paintSubject ?? true;
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

  // Fine stripes give the subject real high-frequency texture (what a sharpness metric sees): one
  // path of bars in the subject's own units, turned and clipped to its shape. (A <pattern> fill
  // drew the same bars at 80-180 ms a 1024x1024 image in librsvg; the path takes a few.)
  const angle = f(30 + s.rotate * 3);
  const stripes = (size: number) => {
    const spacing = s.detailSpacing / (size * short);
    // Every shape fits in a circle of radius 0.62 about its origin, so bars over ±0.7 cover it at any angle.
    const from = Math.floor(-0.7 / spacing);
    const to = Math.ceil(0.7 / spacing);
    let d = '';
    for (let n = from; n <= to; n++) d += `M${f6(n * spacing)} -0.7h${f6(spacing / 2)}v1.4h${f6(-spacing / 2)}z`;
    return d;
  };
  const glowR = Math.hypot(w, h) * 0.75;
  parts.push(
    `<defs>${defs('subj', s.subject)}${s.accents.map((a, i) => defs(`acc${i}`, a)).join('')}` +
      `<radialGradient id="glow" gradientUnits="userSpaceOnUse" cx="${f(light.x * w)}" cy="${f(light.y * h)}" r="${f(glowR)}">` +
      `<stop offset="0" stop-color="${rgbToHex(light.tint)}" stop-opacity="${f(0.06 + light.contrast * 0.12)}"/><stop offset="1" stop-color="${rgbToHex(light.tint)}" stop-opacity="0"/></radialGradient>` +
      `<radialGradient id="vignette" cx="0.5" cy="0.5" r="0.75"><stop offset="0.55" stop-color="#000" stop-opacity="0"/>` +
      `<stop offset="1" stop-color="#000" stop-opacity="${f(s.flat ? 0 : 0.15 + light.contrast * 0.25)}"/></radialGradient></defs>`,
  );

  let clips = 0;
  const subjectGroup = (x: number, y: number, size: number, shape: ShapeName, fillId: string, rotate: number) => {
    const k = size * short;
    const clip = `shape${clips++}`;
    const stroke = Math.max(1.5, short / 400) / k;
    const rim = light.rim ? shapeMarkup(shape, 'none', `stroke="${mix(rgbToHex(light.tint), [255, 255, 255], 0.4)}" stroke-width="${f4(stroke * 2.5)}" stroke-opacity="0.85"`) : '';
    return (
      `<g transform="translate(${f(x * w)} ${f(y * h)}) scale(${f(k)}) rotate(${f(rotate)})">` +
      shapeMarkup(shape, `url(#${fillId})`) +
      `<clipPath id="${clip}">${shapeMarkup(shape, '#000')}</clipPath>` +
      `<g clip-path="url(#${clip})"><path transform="rotate(${angle})" d="${stripes(size)}" fill="#000" fill-opacity="${f(s.detailOpacity)}"/></g>` +
      // A specular highlight on the lit side.
      `<ellipse cx="${f((lx - 0.5) * 0.3)}" cy="-0.12" rx="0.05" ry="0.16" fill="#fff" fill-opacity="0.35"/>` +
      shapeMarkup(shape, 'none', `stroke="#000" stroke-opacity="0.35" stroke-width="${f4(stroke)}"`) +
      rim +
      `</g>`
    );
  };

  if (s.flatLay) {
    if (paintSubject) s.flatItems.forEach((it, i) => {
      const id = it.color === s.subject ? 'subj' : `acc${Math.max(0, s.accents.indexOf(it.color))}`;
      parts.push(subjectGroup(it.x, it.y, it.size, it.shape, id, it.rotate + i));
    });
  } else {
    if (paintSubject) parts.push(subjectGroup(p.x, p.y, p.size, s.shape, 'subj', s.rotate));
    s.props.forEach((pr, i) => {
      const id = `acc${i % s.accents.length}`;
      parts.push(subjectGroup(pr.x, pr.y, pr.r * 2, pr.shape, id, 0));
    });
  }
  parts.push(`<rect width="${w}" height="${h}" fill="url(#glow)"/>`);
  parts.push(`<rect width="${w}" height="${h}" fill="url(#vignette)"/>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">${parts.join('')}</svg>`;
}

/**
 * Film grain centred on mid-grey, for an overlay blend that leaves the mean tone alone: the sum of
 * two uniforms (a triangular distribution), both taken from one 32-bit draw of the seeded
 * generator (its two 16-bit halves). The generator (mulberry32, seededRandom in domain/hash.ts) is
 * inlined because this loop runs once a pixel: two calls a pixel took 70 ms of a 1024x1024 image.
 */
export function grainNoise(width: number, height: number, s: Scene): Buffer {
  const out = Buffer.allocUnsafe(width * height);
  const scale = (s.grain * 2) / 65536;
  // 128.5 + a value in (-128, 128), truncated: Math.round without the call.
  const base = 128.5 - 65535 * scale;
  let a = s.grainSeed >>> 0;
  for (let i = 0; i < out.length; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    t = (t ^ (t >>> 14)) >>> 0;
    out[i] = base + ((t & 0xffff) + (t >>> 16)) * scale;
  }
  return out;
}
