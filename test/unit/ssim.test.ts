import sharp, { type Sharp } from 'sharp';
import { describe, expect, it } from 'vitest';
import { lumaSsim, type RawPixels } from '../../activities/images/stats';

async function raw(image: Sharp): Promise<RawPixels> {
  const { data, info } = await image.removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

describe('lumaSsim', () => {
  const svg = Buffer.from(
    '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="160"><rect width="256" height="160" fill="#d8cbb3"/>' +
      '<circle cx="80" cy="80" r="50" fill="#0b3d91"/><rect x="150" y="30" width="80" height="100" fill="#db4437"/>' +
      '<path d="M0 150 L256 10" stroke="#222" stroke-width="3"/></svg>',
  );

  it('is 1 for the same pixels and falls as an encoder throws more detail away', async () => {
    const original = await raw(sharp(svg));
    const roundTrip = async (quality: number) => raw(sharp(await sharp(original.data, { raw: { width: original.width, height: original.height, channels: 3 } }).jpeg({ quality }).toBuffer()));
    expect(lumaSsim(original, original)).toBeCloseTo(1, 10);
    const fine = lumaSsim(original, await roundTrip(95));
    const coarse = lumaSsim(original, await roundTrip(5));
    expect(fine).toBeLessThan(1);
    expect(fine).toBeGreaterThan(0.97);
    expect(coarse).toBeLessThan(fine - 0.02);
  });

  it('refuses images of different sizes or smaller than one window', async () => {
    const a = await raw(sharp(svg));
    const b = await raw(sharp(svg).resize(128, 80));
    expect(() => lumaSsim(a, b)).toThrow('sizes differ (256x160 vs 128x80)');
    const tiny = { data: new Uint8Array(4 * 4 * 3), width: 4, height: 4, channels: 3 };
    expect(() => lumaSsim(tiny, tiny)).toThrow('smaller than one 8x8 window');
  });
});
