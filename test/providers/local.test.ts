import { createHash } from 'node:crypto';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateBrief, type BriefInput } from '../../domain/brief';
import { deltaE, describeColor, hexToRgb } from '../../domain/colors';
import { imageStats, nearestDominant, pixelStats, type DominantColor } from '../../activities/images/stats';
import { InvalidRequestError } from '../../activities/providers/errors';
import {
  LocalAltTextWriter,
  LocalImageGenerator,
  LocalVisionJudge,
  SharpUpscaler,
  altTextFromBrief,
  upscaleTarget,
} from '../../activities/providers/local';
import type { GenerateImageInput } from '../../activities/providers/types';

const BRAND = ['#0B3D91', '#F2A541', '#F4F1EA'];
/** Far from every brand colour: red, green, purple. */
const OPPOSITE = ['#E4003A', '#00A651', '#5B2C83'];

const generator = new LocalImageGenerator();
const base: GenerateImageInput = {
  model: 'local',
  prompt: 'a ceramic coffee mug on a wooden table',
  negativePrompt: '',
  width: 512,
  height: 512,
  seed: 1,
  palette: BRAND,
};

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const isPng = (b: Uint8Array) => Buffer.from(b.subarray(0, 8)).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));

async function raw(image: Uint8Array) {
  return sharp(image).removeAlpha().raw().toBuffer({ resolveWithObject: true });
}

/** Mean absolute difference per channel value between two same-sized images, 0–255. */
async function meanAbsDiff(a: Uint8Array, b: Uint8Array): Promise<number> {
  const [ra, rb] = await Promise.all([raw(a), raw(b)]);
  let sum = 0;
  for (let i = 0; i < ra.data.length; i++) sum += Math.abs((ra.data[i] as number) - (rb.data[i] as number));
  return sum / ra.data.length;
}

/** Statistics of a vertical strip of an image. */
async function strip(image: Uint8Array, left: number, width: number) {
  const meta = await sharp(image).metadata();
  const { data, info } = await sharp(image).extract({ left, top: 0, width, height: meta.height }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return pixelStats({ data, width: info.width, height: info.height, channels: info.channels });
}

const paletteDistance = (palette: readonly string[], dominant: readonly DominantColor[]) =>
  palette.map((hex) => nearestDominant(hexToRgb(hex), dominant)?.deltaE ?? Infinity);

const brief = (input: Partial<BriefInput> = {}) => validateBrief({ subject: 'a ceramic coffee mug on a wooden table', channels: ['web-hero'], ...input });

describe('LocalImageGenerator', () => {
  it('makes a PNG of exactly the requested size, free, as model local', async () => {
    for (const [width, height] of [[1024, 1024], [640, 400], [300, 700], [16, 16]] as const) {
      const r = await generator.generate({ ...base, width, height });
      expect(isPng(r.image)).toBe(true);
      const meta = await sharp(r.image).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', width, height]);
      expect(r).toMatchObject({ mime: 'image/png', width, height, costUsd: 0, model: 'local' });
    }
  });

  it('is deterministic: the same input gives byte-identical output', async () => {
    const input = { ...base, composition: 'rule of thirds', lighting: 'golden hour', style: 'editorial' };
    const [a, b] = await Promise.all([generator.generate(input), generator.generate({ ...input })]);
    expect(sha256(a.image)).toBe(sha256(b.image));
  });

  it('paints a visibly different picture for each seed', async () => {
    const images = await Promise.all([1, 2, 3].map((seed) => generator.generate({ ...base, seed })));
    const hashes = new Set(images.map((r) => sha256(r.image)));
    expect(hashes.size).toBe(3);
    // Not just different bytes: on average every channel value moves by a visible amount.
    expect(await meanAbsDiff(images[0]!.image, images[1]!.image)).toBeGreaterThan(15);
    expect(await meanAbsDiff(images[1]!.image, images[2]!.image)).toBeGreaterThan(15);
  });

  it('is a real picture, not a flat fill: tonal range, colour and fine detail', async () => {
    const s = await imageStats((await generator.generate(base)).image);
    expect(s.luminanceStdev).toBeGreaterThan(20);
    expect(s.laplacianVariance).toBeGreaterThan(50);
    expect(s.colorfulness).toBeGreaterThan(20);
    expect(s.dominant.length).toBeGreaterThanOrEqual(3);
  });

  it('paints with the brand palette: every brand colour is close to a dominant colour', async () => {
    for (const seed of [1, 2, 3, 4]) {
      const s = await imageStats((await generator.generate({ ...base, seed })).image);
      const own = paletteDistance(BRAND, s.dominant);
      for (const d of own) expect(d).toBeLessThan(25);
      // Most of the picture is in (shades of) the palette…
      const share = s.dominant.filter((d) => BRAND.some((hex) => deltaE(hexToRgb(hex), d.rgb) < 25)).reduce((a, d) => a + d.share, 0);
      expect(share).toBeGreaterThan(0.5);
      // …and an unrelated palette is nowhere near it.
      const other = paletteDistance(OPPOSITE, s.dominant);
      expect(Math.min(...other)).toBeGreaterThan(Math.max(...own));
    }
  });

  it('derives a stable palette from the prompt when the brief has no brand colours', async () => {
    const dominant = async (prompt: string, seed: number) =>
      (await imageStats((await generator.generate({ ...base, prompt, seed, palette: [] })).image)).dominant;
    /** Mean distance from each of a's three main colours to the nearest colour of b. */
    const spread = (a: DominantColor[], b: DominantColor[]) => a.slice(0, 3).reduce((sum, d) => sum + nearestDominant(d.rgb, b)!.deltaE, 0) / 3;
    const [mug1, mug2, ramen, shoes] = await Promise.all([
      dominant(base.prompt, 1),
      dominant(base.prompt, 2),
      dominant('a bowl of ramen', 1),
      dominant('running shoes on a city street', 1),
    ]);
    // Same prompt, other seed: the same colours, rearranged. Another prompt: other colours.
    expect(spread(mug1, mug2)).toBeLessThan(12);
    expect(spread(mug1, ramen)).toBeGreaterThan(spread(mug1, mug2) + 5);
    expect(spread(mug1, shoes)).toBeGreaterThan(spread(mug1, mug2) + 5);
  });

  it('places the subject by the composition knob and keeps the negative space calm', async () => {
    /** Detail (Laplacian variance) of one half, measured small so that film grain averages out. */
    const detail = async (img: Uint8Array, left: number) =>
      (await imageStats(await sharp(img).extract({ left, top: 0, width: 256, height: 512 }).resize(64, 128).png().toBuffer())).laplacianVariance;
    for (const seed of [1, 2, 3, 4, 5]) {
      const [spaceRight, spaceLeft] = await Promise.all([
        generator.generate({ ...base, seed, composition: 'negative space on the right' }),
        generator.generate({ ...base, seed, composition: 'negative space on the left' }),
      ]);
      expect(await detail(spaceRight.image, 0)).toBeGreaterThan(await detail(spaceRight.image, 256));
      expect(await detail(spaceLeft.image, 256)).toBeGreaterThan(await detail(spaceLeft.image, 0));
    }
  });

  it('lights from the side the lighting knob names', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const [fromLeft, fromRight] = await Promise.all([
        generator.generate({ ...base, seed, composition: 'centered', lighting: 'soft window light from the left' }),
        generator.generate({ ...base, seed, composition: 'centered', lighting: 'soft window light from the right' }),
      ]);
      const leftMinusRight = async (img: Uint8Array) => (await strip(img, 0, 150)).meanLuminance - (await strip(img, 362, 150)).meanLuminance;
      expect(await leftMinusRight(fromLeft.image)).toBeGreaterThan((await leftMinusRight(fromRight.image)) + 5);
    }
  });

  it('paints black and white when the style asks for it', async () => {
    const s = await imageStats((await generator.generate({ ...base, style: 'black and white editorial' })).image);
    expect(s.colorfulness).toBeLessThan(1);
    expect(s.luminanceStdev).toBeGreaterThan(15);
  });

  it('honours an aborted signal and rejects impossible sizes', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(generator.generate({ ...base, signal: controller.signal })).rejects.toThrow(/abort/i);
    await expect(generator.generate({ ...base, width: 0 })).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(generator.generate({ ...base, height: 100_000 })).rejects.toBeInstanceOf(InvalidRequestError);
  });
});

describe('LocalVisionJudge', () => {
  const judge = new LocalVisionJudge();
  let sharpImage: Uint8Array;
  let blurred: Uint8Array;
  let flat: Uint8Array;
  let dark: Uint8Array;
  let opposite: Uint8Array;

  beforeAll(async () => {
    sharpImage = (await generator.generate(base)).image;
    blurred = await sharp(sharpImage).blur(6).png().toBuffer();
    flat = await sharp({ create: { width: 512, height: 512, channels: 3, background: '#0B3D91' } }).png().toBuffer();
    dark = await sharp(sharpImage).linear(0.12, 0).png().toBuffer();
    opposite = (await generator.generate({ ...base, palette: OPPOSITE })).image;
  });

  const candidates = () => [
    { id: 'r1-c00', image: sharpImage, mime: 'image/png' },
    { id: 'r1-c01', image: blurred, mime: 'image/png' },
    { id: 'r1-c02', image: flat, mime: 'image/png' },
    { id: 'r1-c03', image: dark, mime: 'image/png' },
    { id: 'r1-c04', image: opposite, mime: 'image/png' },
  ];

  it('scores every candidate 0–100 with named sub-scores and reasons that carry numbers', async () => {
    const out = await judge.judge({ brief: brief({ brandColors: BRAND }), candidates: candidates() });
    expect(out.costUsd).toBe(0);
    expect(out.judgements.map((j) => j.candidateId).sort()).toEqual(['r1-c00', 'r1-c01', 'r1-c02', 'r1-c03', 'r1-c04']);
    for (const j of out.judgements) {
      expect(j.judge).toBe('local-judge');
      expect(j.score).toBeGreaterThanOrEqual(0);
      expect(j.score).toBeLessThanOrEqual(100);
      expect(Object.keys(j.scores).sort()).toEqual(['colorfulness', 'contrast', 'exposure', 'palette', 'sharpness']);
      for (const v of Object.values(j.scores)) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(100);
      }
      expect(j.reasons.length).toBeGreaterThanOrEqual(5);
      for (const r of j.reasons) expect(r).toMatch(/\d.*\.$/);
    }
  });

  it('scores blurred and flat images lower on sharpness than the generator output', async () => {
    const out = await judge.judge({ brief: brief(), candidates: candidates() });
    const by = Object.fromEntries(out.judgements.map((j) => [j.candidateId, j]));
    const crisp = by['r1-c00']!;
    expect(crisp.scores.sharpness).toBeGreaterThan(by['r1-c01']!.scores.sharpness! + 30);
    expect(by['r1-c02']!.scores.sharpness).toBe(0);
    expect(by['r1-c02']!.scores.contrast).toBe(0);
    expect(crisp.reasons.some((r) => /^Sharp detail \(Laplacian variance \d+\)\.$/.test(r))).toBe(true);
    expect(by['r1-c01']!.reasons.some((r) => r.startsWith('Soft or blurry'))).toBe(true);
    // A dark copy of the same picture loses on exposure and says so.
    expect(by['r1-c03']!.scores.exposure).toBeLessThan(crisp.scores.exposure! - 30);
    expect(by['r1-c03']!.reasons.some((r) => r.startsWith('Underexposed'))).toBe(true);
    // Overall, the crisp, well-exposed picture beats its blurred, flat and dark versions.
    for (const id of ['r1-c01', 'r1-c02', 'r1-c03']) expect(crisp.score).toBeGreaterThan(by[id]!.score);
  });

  it('rewards brand colours: palette fit is higher for an image in the brand colours than for one in opposite colours', async () => {
    const out = await judge.judge({ brief: brief({ brandColors: BRAND }), candidates: candidates() });
    const by = Object.fromEntries(out.judgements.map((j) => [j.candidateId, j]));
    expect(by['r1-c00']!.scores.palette).toBeGreaterThan(by['r1-c04']!.scores.palette! + 30);
    expect(by['r1-c00']!.reasons).toContainEqual(expect.stringMatching(/^Brand colour #F4F1EA is close to a dominant colour \(ΔE \d+\.\d\)\.$/));
    expect(by['r1-c00']!.reasons.filter((r) => r.startsWith('Brand colour '))).toHaveLength(3);
    expect(by['r1-c04']!.reasons).toContainEqual(expect.stringMatching(/^Brand colour #F2A541 is (missing|only loosely matched)/));
  });

  it('skips palette fit without brand colours, and says so', async () => {
    const out = await judge.judge({ brief: brief(), candidates: candidates().slice(0, 1) });
    const [j] = out.judgements;
    expect(j!.scores.palette).toBeUndefined();
    expect(j!.reasons).toContain('No brand colours in the brief, so palette fit is not scored.');
  });

  it('lists every brief check it cannot make offline', async () => {
    const out = await judge.judge({
      brief: brief({ mustInclude: ['red scarf', 'steam'], mustAvoid: ['text', 'hands'] }),
      candidates: candidates().slice(0, 1),
    });
    expect(out.unchecked).toContain('must-include "red scarf": not checked (the offline judge cannot see objects; configure a vision model)');
    expect(out.unchecked).toContain('must-include "steam": not checked (the offline judge cannot see objects; configure a vision model)');
    expect(out.unchecked).toContain('must-avoid "text": not checked (the offline judge cannot see objects; configure a vision model)');
    expect(out.unchecked).toContain('must-avoid "hands": not checked (the offline judge cannot see objects; configure a vision model)');
    expect(out.unchecked.some((u) => u.startsWith('artifacts (malformed hands, garbled text'))).toBe(true);
    expect(out.unchecked.some((u) => u.startsWith('subject "a ceramic coffee mug on a wooden table": not checked'))).toBe(true);
  });

  it('fails non-retryably on bytes that are not an image', async () => {
    const err = await judge
      .judge({ brief: brief(), candidates: [{ id: 'r1-c09', image: Buffer.from('not an image'), mime: 'image/png' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).retryable).toBe(false);
    expect((err as Error).message).toContain('r1-c09');
  });
});

describe('SharpUpscaler', () => {
  const upscaler = new SharpUpscaler();

  it('upscales to at least the requested size, keeping the aspect ratio', async () => {
    const input = (await generator.generate({ ...base, width: 300, height: 200 })).image;
    for (const [minWidth, minHeight] of [[1000, 400], [500, 1000], [3840, 2160]] as const) {
      const r = await upscaler.upscale({ image: input, minWidth, minHeight });
      expect(isPng(r.image)).toBe(true);
      const meta = await sharp(r.image).metadata();
      expect([meta.width, meta.height]).toEqual([r.width, r.height]);
      expect(r.width).toBeGreaterThanOrEqual(minWidth);
      expect(r.height).toBeGreaterThanOrEqual(minHeight);
      // Smallest such size: one side is exactly its minimum.
      expect(r.width === minWidth || r.height === minHeight).toBe(true);
      expect(Math.abs(r.width / r.height - 1.5)).toBeLessThan(2 / Math.min(r.width, r.height));
      expect(r.costUsd).toBe(0);
    }
  });

  it('returns the input unchanged when it is already big enough', async () => {
    const input = (await generator.generate({ ...base, width: 640, height: 480 })).image;
    const r = await upscaler.upscale({ image: input, minWidth: 640, minHeight: 300 });
    expect(r.image).toBe(input);
    expect(r).toMatchObject({ width: 640, height: 480, mime: 'image/png', costUsd: 0 });
  });

  it('computes the smallest covering size', () => {
    expect(upscaleTarget(1024, 1024, 2480, 3508)).toMatchObject({ width: 3508, height: 3508 });
    expect(upscaleTarget(1536, 1024, 3840, 2160)).toMatchObject({ width: 3840, height: 2560 });
    expect(upscaleTarget(1000, 333, 1001, 10)).toMatchObject({ width: 1001, height: 333 });
  });
});

describe('LocalAltTextWriter', () => {
  const writer = new LocalAltTextWriter();

  it('writes one sentence that names the subject, the must-include items and the palette', async () => {
    const b = brief({
      subject: 'A ceramic coffee mug on a wooden table',
      mustInclude: ['steam', 'a saucer'],
      mustAvoid: ['logos'],
      composition: 'negative space on the right',
      brandColors: ['#0B3D91', '#F2A541'],
    });
    const { text, costUsd } = await writer.write({ brief: b, image: new Uint8Array(), mime: 'image/png' });
    expect(costUsd).toBe(0);
    expect(text.startsWith('A ceramic coffee mug on a wooden table')).toBe(true);
    expect(text).toMatch(/\.$/);
    expect(text.match(/[.!?]/g)).toHaveLength(1);
    expect(text).toContain('steam and a saucer');
    expect(text).toContain(describeColor('#0B3D91'));
    expect(text).toContain('open space to the right');
    expect(text).not.toContain('logos');
    expect(text.length).toBeLessThanOrEqual(150);
  });

  it('drops "image of" and stays under 150 characters by leaving out the least important parts', () => {
    const text = altTextFromBrief(
      brief({
        subject: 'An image of a hand-thrown stoneware coffee mug with a speckled glaze, resting on a reclaimed oak table in a sunlit kitchen',
        mustInclude: ['rising steam'],
        composition: 'rule of thirds',
        lighting: 'golden hour',
        brandColors: ['#0B3D91', '#F2A541', '#F4F1EA'],
      }),
    );
    expect(text.startsWith('A hand-thrown stoneware coffee mug')).toBe(true);
    expect(text).not.toMatch(/image of/i);
    expect(text.length).toBeLessThanOrEqual(150);
    expect(text).toContain('rising steam');
    expect(text).toMatch(/\.$/);
  });

  it('shortens an over-long subject at a word boundary and still ends with a full stop', () => {
    const subject = `Picture of ${'a very long and winding description of a scene '.repeat(5)}`;
    const text = altTextFromBrief(brief({ subject }));
    expect(text.length).toBeLessThanOrEqual(150);
    expect(text).toMatch(/^A very long[a-z ]+[a-z]\.$/);
  });
});
