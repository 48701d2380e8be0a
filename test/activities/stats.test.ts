import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { deltaE, hexToRgb } from '../../domain/colors';
import { dominantColors, imageStats, nearestDominant, STATS_SIZE } from '../../activities/images/stats';

const solid = (width: number, height: number, background: string) =>
  sharp({ create: { width, height, channels: 3, background } }).png().toBuffer();

/** Black and white squares of `cell` px: maximal fine detail. */
async function checkerboard(size: number, cell: number): Promise<Buffer> {
  const data = Buffer.alloc(size * size * 3);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = (Math.floor(x / cell) + Math.floor(y / cell)) % 2 ? 255 : 0;
      data.fill(v, (y * size + x) * 3, (y * size + x) * 3 + 3);
    }
  }
  return sharp(data, { raw: { width: size, height: size, channels: 3 } }).png().toBuffer();
}

describe('imageStats', () => {
  it('finds nothing in a flat fill: no detail, no contrast, one colour', async () => {
    const s = await imageStats(await solid(640, 480, '#808080'));
    expect([s.width, s.height]).toEqual([640, 480]);
    expect(s.laplacianVariance).toBe(0);
    expect(s.luminanceStdev).toBeCloseTo(0, 5);
    expect(s.meanLuminance).toBeCloseTo(128, 0);
    expect(s.colorfulness).toBeCloseTo(0, 5);
    expect(s.dominant).toEqual([{ hex: '#808080', rgb: [128, 128, 128], share: 1 }]);
  });

  it('sees fine detail, and sees it go when the image is blurred', async () => {
    const sharpBoard = await checkerboard(512, 8);
    const blurred = await sharp(sharpBoard).blur(8).png().toBuffer();
    const [a, b] = await Promise.all([imageStats(sharpBoard), imageStats(blurred)]);
    expect(a.laplacianVariance).toBeGreaterThan(1000);
    expect(b.laplacianVariance).toBeLessThan(a.laplacianVariance / 20);
    expect(a.luminanceStdev).toBeGreaterThan(100);
  });

  it('measures clipping in black and white images', async () => {
    const [black, white] = await Promise.all([imageStats(await solid(64, 64, '#000000')), imageStats(await solid(64, 64, '#ffffff'))]);
    expect(black.shadowClipping).toBe(1);
    expect(black.highlightClipping).toBe(0);
    expect(white.highlightClipping).toBe(1);
    expect(white.meanLuminance).toBeCloseTo(255, 0);
  });

  it('rates saturated colour as colourful and grey as not', async () => {
    const halves = await sharp({ create: { width: 200, height: 100, channels: 3, background: '#E4003A' } })
      .composite([{ input: await solid(100, 100, '#00A651'), left: 100, top: 0 }])
      .png()
      .toBuffer();
    const s = await imageStats(halves);
    expect(s.colorfulness).toBeGreaterThan(80);
    // Two colours, half each, found where they are.
    expect(s.dominant).toHaveLength(2);
    for (const hex of ['#E4003A', '#00A651']) {
      const near = nearestDominant(hexToRgb(hex), s.dominant)!;
      expect(near.deltaE).toBeLessThan(3);
      expect(near.color.share).toBeCloseTo(0.5, 1);
    }
  });

  it('reads transparency as white and measures a downscaled copy of large images', async () => {
    const transparent = await sharp({ create: { width: 1200, height: 600, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const s = await imageStats(transparent);
    expect([s.width, s.height]).toEqual([1200, 600]);
    expect(s.dominant[0]!.hex).toBe('#FFFFFF');
    expect(STATS_SIZE).toBe(256);
  });
});

describe('dominantColors', () => {
  it('merges near shades, drops specks, and orders by share', () => {
    const width = 100, height = 100;
    const data = new Uint8Array(width * height * 3);
    for (let i = 0; i < width * height; i++) {
      // 70% navy in two close shades, 29% amber, 1% a red speck.
      const rgb = i < 3500 ? [11, 61, 145] : i < 7000 ? [14, 64, 150] : i < 9900 ? [242, 165, 65] : [228, 0, 58];
      data.set(rgb, i * 3);
    }
    const colors = dominantColors({ data, width, height, channels: 3 });
    expect(colors).toHaveLength(2);
    expect(colors[0]!.share).toBeCloseTo(0.7, 5);
    expect(deltaE(colors[0]!.rgb, hexToRgb('#0B3D91'))).toBeLessThan(3);
    expect(colors[1]!.share).toBeCloseTo(0.29, 5);
    expect(dominantColors({ data, width, height, channels: 3 }, { minShare: 0 })).toHaveLength(3);
  });
});
