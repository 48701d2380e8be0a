/**
 * The real product in an offline scene: the packshot cut from a plain background (or taken as it
 * is when it has transparency), scaled to stand on the scene's ground and given a soft shadow.
 * Its pixels are only ever scaled, never repainted, so the product stays the product.
 */
import sharp, { type OverlayOptions } from 'sharp';
import type { Scene } from './scene-plan';

/** An RGBA cut-out of the product, trimmed to its pixels. */
export interface Cutout {
  data: Buffer;
  width: number;
  height: number;
}

/** How far (per channel, 0–255) a pixel may be from the border's colour and still count as background. */
const BACKGROUND_TOLERANCE = 28;

/**
 * The product alone: a packshot with transparency keeps its alpha; an opaque one on a plain
 * backdrop loses the backdrop by a flood fill from the border (so a white label inside the
 * product, not connected to the edge, stays). Trimmed to the opaque pixels.
 */
export async function cutOut(image: Uint8Array): Promise<Cutout> {
  const { data, info } = await sharp(image).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const { width: w, height: h } = info;
  let transparent = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i]! < 250) transparent++;
  // A few soft edge pixels do not make a cut-out; a real one has a good share of clear background.
  if (transparent < w * h * 0.02) floodBackground(data, w, h);
  return trim(data, w, h);
}

/** Clears the border-connected pixels close to the border's typical colour (a plain studio backdrop). */
function floodBackground(data: Buffer, w: number, h: number): void {
  const border: number[][] = [];
  for (let x = 0; x < w; x++) border.push(px(data, x, 0, w), px(data, x, h - 1, w));
  for (let y = 0; y < h; y++) border.push(px(data, 0, y, w), px(data, w - 1, y, w));
  const median = [0, 1, 2].map((c) => border.map((p) => p[c]!).sort((a, b) => a - b)[border.length >> 1]!);
  const near = (i: number) =>
    Math.abs(data[i]! - median[0]!) <= BACKGROUND_TOLERANCE && Math.abs(data[i + 1]! - median[1]!) <= BACKGROUND_TOLERANCE && Math.abs(data[i + 2]! - median[2]!) <= BACKGROUND_TOLERANCE;
  const seen = new Uint8Array(w * h);
  const stack: number[] = [];
  const push = (x: number, y: number) => {
    const k = y * w + x;
    if (seen[k]) return;
    seen[k] = 1;
    if (near(k * 4)) stack.push(k);
  };
  for (let x = 0; x < w; x++) { push(x, 0); push(x, h - 1); }
  for (let y = 0; y < h; y++) { push(0, y); push(w - 1, y); }
  while (stack.length) {
    const k = stack.pop()!;
    data[k * 4 + 3] = 0;
    const x = k % w;
    const y = (k - x) / w;
    if (x > 0) push(x - 1, y);
    if (x < w - 1) push(x + 1, y);
    if (y > 0) push(x, y - 1);
    if (y < h - 1) push(x, y + 1);
  }
}

function px(data: Buffer, x: number, y: number, w: number): number[] {
  const i = (y * w + x) * 4;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}

function trim(data: Buffer, w: number, h: number): Cutout {
  let x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (data[(y * w + x) * 4 + 3]! > 8) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  // Nothing opaque left (a packshot the colour of its own backdrop): use it whole, opaque.
  if (x1 < 0) {
    for (let i = 3; i < data.length; i += 4) data[i] = 255;
    return { data, width: w, height: h };
  }
  const cw = x1 - x0 + 1;
  const ch = y1 - y0 + 1;
  const out = Buffer.alloc(cw * ch * 4);
  for (let y = 0; y < ch; y++) data.copy(out, y * cw * 4, ((y + y0) * w + x0) * 4, ((y + y0) * w + x1 + 1) * 4);
  return { data: out, width: cw, height: ch };
}

/** Where the product stands in the frame, in pixels: scaled to the composition, its base on the ground. */
export function productBox(scene: Scene, cut: Pick<Cutout, 'width' | 'height'>): { left: number; top: number; width: number; height: number } {
  const { width: w, height: h, placement: p } = scene;
  const short = Math.min(w, h);
  // A packshot reads a little larger than the painted shape it replaces, and never crowds the frame.
  let height = Math.round(Math.min(p.size * 1.15, 0.85) * short);
  let width = Math.round((height * cut.width) / cut.height);
  const maxWidth = Math.round(w * 0.8);
  if (width > maxWidth) {
    width = maxWidth;
    height = Math.round((width * cut.height) / cut.width);
  }
  width = Math.max(1, width);
  height = Math.max(1, height);
  const centreX = (scene.flatLay ? 0.5 : p.x) * w;
  // The painted subject's base (where the background already casts its shadow), kept inside the frame.
  const base = scene.flatLay ? 0.5 * h + height / 2 : p.y * h + p.size * 0.5 * short;
  const top = Math.round(Math.min(h - height - short * 0.02, base - height));
  const left = Math.round(Math.min(w - width, Math.max(0, centreX - width / 2)));
  return { left, top: Math.max(0, top), width, height };
}

/** The product scaled into its box, and a soft contact shadow under it that falls away from the light. */
export async function productLayers(scene: Scene, cut: Cutout): Promise<OverlayOptions[]> {
  const box = productBox(scene, cut);
  const product = await sharp(cut.data, { raw: { width: cut.width, height: cut.height, channels: 4 } })
    .resize(box.width, box.height, { fit: 'fill', kernel: 'lanczos3' })
    .png()
    .toBuffer();
  const { width: w, height: h, light } = scene;
  const shadowRx = box.width * 0.55;
  const shadowRy = Math.max(2, box.width * 0.09);
  const cx = box.left + box.width / 2 + (0.5 - light.x) * box.width * 0.3;
  const cy = box.top + box.height - shadowRy * 0.3;
  const blur = Math.max(2, shadowRy * 0.8 * light.softness);
  const opacity = (0.3 + light.contrast * 0.25).toFixed(3);
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}"><defs><filter id="s" x="-50%" y="-50%" width="200%" height="200%"><feGaussianBlur stdDeviation="${blur.toFixed(2)}"/></filter></defs>` +
    `<ellipse cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" rx="${shadowRx.toFixed(1)}" ry="${shadowRy.toFixed(1)}" fill="#000" fill-opacity="${opacity}" filter="url(#s)"/></svg>`;
  return [
    { input: Buffer.from(svg) },
    { input: product, left: box.left, top: box.top },
  ];
}
