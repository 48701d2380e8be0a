/**
 * Draws the example packshots (PNG with transparency) once: `npx tsx examples/catalog/packshots/make-packshots.ts`.
 * The PNGs are committed; this script is how they were made, so anyone can change and redraw them.
 * Each is a product shape with a label of bands and a mark (no text: fonts differ between machines).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';

const W = 240;
const H = 400;

/** A label: a light panel with two coloured bands and a round mark, placed on the product's body. */
const label = (x: number, y: number, w: number, h: number, ink: string, accent: string) =>
  `<rect x="${x}" y="${y}" width="${w}" height="${h}" rx="6" fill="#F7F3EA"/>` +
  `<rect x="${x}" y="${y + h * 0.12}" width="${w}" height="${h * 0.1}" fill="${ink}"/>` +
  `<circle cx="${x + w / 2}" cy="${y + h * 0.5}" r="${Math.min(w, h) * 0.2}" fill="${accent}"/>` +
  `<circle cx="${x + w / 2}" cy="${y + h * 0.5}" r="${Math.min(w, h) * 0.09}" fill="#F7F3EA"/>` +
  `<rect x="${x + w * 0.15}" y="${y + h * 0.78}" width="${w * 0.7}" height="${h * 0.05}" fill="${ink}"/>` +
  `<rect x="${x + w * 0.25}" y="${y + h * 0.87}" width="${w * 0.5}" height="${h * 0.03}" fill="${ink}"/>`;

const PRODUCTS: Record<string, string> = {
  // An amber serum bottle with a black dropper cap.
  'serum-bottle': `<rect x="95" y="10" width="50" height="70" rx="10" fill="#1B1B1B"/><rect x="104" y="78" width="32" height="26" fill="#2A2A2A"/>` +
    `<path d="M70 120 Q70 100 100 100 L140 100 Q170 100 170 120 L170 380 Q170 392 158 392 L82 392 Q70 392 70 380 Z" fill="#B5651D"/>` +
    `<rect x="78" y="110" width="10" height="270" rx="5" fill="#E8A25A" fill-opacity="0.7"/>` +
    label(82, 180, 76, 150, '#1F3A5F', '#C0392B'),
  // A squat green cream jar with a white lid.
  'cream-jar': `<rect x="30" y="170" width="180" height="60" rx="12" fill="#FFFFFF" stroke="#BBBBBB" stroke-width="3"/>` +
    `<rect x="36" y="228" width="168" height="160" rx="18" fill="#2E7D4F"/>` +
    `<rect x="44" y="236" width="12" height="140" rx="6" fill="#7BC59A" fill-opacity="0.7"/>` +
    label(66, 250, 108, 120, '#F2C14E', '#2E7D4F'),
  // A blue hand-cream tube standing on its cap.
  'hand-cream-tube': `<path d="M60 20 L180 20 L170 60 L160 330 L80 330 L70 60 Z" fill="#2F6DB5"/>` +
    `<rect x="60" y="12" width="120" height="16" fill="#1D4F8A"/><rect x="88" y="330" width="64" height="62" rx="8" fill="#EDEDED"/>` +
    `<rect x="84" y="60" width="8" height="250" rx="4" fill="#8FB8E8" fill-opacity="0.7"/>` +
    label(95, 110, 50, 170, '#F28C28', '#FFFFFF'),
};

const here = path.dirname(new URL(import.meta.url).pathname);
for (const [name, body] of Object.entries(PRODUCTS)) {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}">${body}</svg>`;
  const png = await sharp(Buffer.from(svg)).png({ compressionLevel: 9, palette: true, colours: 64 }).toBuffer();
  await writeFile(path.join(here, `${name}.png`), png);
  console.log(`${name}.png: ${png.length} bytes`);
}
