/**
 * The offline generator with a product reference puts the real packshot in its scene (its pixels
 * scaled, not repainted), and the offline judge finds it and scores fidelity: the right product
 * high, another product low.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { LocalImageGenerator } from '../../activities/providers/local/image-generator';
import { cutOut, productBox } from '../../activities/providers/local/packshot';
import { planScene } from '../../activities/providers/local/scene-plan';
import { LocalVisionJudge } from '../../activities/providers/local/vision-judge';
import type { GenerateImageInput, ReferenceImage } from '../../activities/providers/types';
import { validateBrief } from '../../domain/brief';
import { testBrief } from '../support/briefs';

const PACKSHOTS = path.join(__dirname, '../../examples/catalog/packshots');
const packshot = (name: string): ReferenceImage => ({ role: 'product', image: readFileSync(path.join(PACKSHOTS, `${name}.png`)), mime: 'image/png' });

const input = (over: Partial<GenerateImageInput> = {}): GenerateImageInput => ({
  model: 'local', prompt: 'studio product shot of a serum bottle', negativePrompt: '', width: 768, height: 768, seed: 11,
  palette: ['#9CAF88', '#FAF7F0'], composition: 'product centred on a seamless backdrop', lighting: 'soft light from the upper left', ...over,
});

const generator = new LocalImageGenerator();
let withSerum: Uint8Array;
let withJar: Uint8Array;
let without: Uint8Array;

beforeAll(async () => {
  [withSerum, withJar, without] = await Promise.all([
    generator.generate(input({ references: [packshot('serum-bottle')] })).then((r) => r.image),
    generator.generate(input({ references: [packshot('cream-jar')] })).then((r) => r.image),
    generator.generate(input()).then((r) => r.image),
  ]);
});

describe('local generator with a product packshot', () => {
  it('puts the packshot in the scene with its own pixels, scaled, where the composition puts the subject', async () => {
    const ref = packshot('serum-bottle');
    const cut = await cutOut(ref.image);
    const box = productBox(planScene(input()), cut);
    const expected = await sharp(cut.data, { raw: { width: cut.width, height: cut.height, channels: 4 } }).resize(box.width, box.height, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer();
    const out = await sharp(withSerum).raw().toBuffer({ resolveWithObject: true });
    expect(out.info.channels).toBe(3);
    let n = 0;
    let close = 0;
    let sum = 0;
    for (let y = 0; y < box.height; y++) {
      for (let x = 0; x < box.width; x++) {
        const e = (y * box.width + x) * 4;
        if (expected[e + 3] !== 255) continue; // edges blend with the scene
        const o = ((box.top + y) * out.info.width + box.left + x) * 3;
        const d = Math.max(...[0, 1, 2].map((c) => Math.abs(out.data[o + c]! - expected[e + c]!)));
        sum += d;
        if (d <= 2) close++;
        n++;
      }
    }
    expect(n).toBeGreaterThan(box.width * box.height * 0.5);
    expect(close / n).toBeGreaterThan(0.99);
    expect(sum / n).toBeLessThan(1);
    // Stands in the frame, on the ground, at a size the composition asks for.
    expect(box.top + box.height).toBeLessThanOrEqual(768);
    expect(box.height).toBeGreaterThan(768 * 0.3);
  });

  it('is deterministic per seed, and each seed places it differently', async () => {
    const again = await generator.generate(input({ references: [packshot('serum-bottle')] }));
    expect(Buffer.compare(Buffer.from(again.image), Buffer.from(withSerum))).toBe(0);
    const other = await generator.generate(input({ seed: 12, composition: 'product on the left third', references: [packshot('serum-bottle')] }));
    expect(Buffer.compare(Buffer.from(other.image), Buffer.from(withSerum))).not.toBe(0);
  });

  it('cuts a packshot out of a plain white backdrop, keeping white inside the product (its label)', async () => {
    const onWhite = await sharp(packshot('serum-bottle').image).flatten({ background: '#ffffff' }).jpeg({ quality: 95 }).toBuffer();
    const cut = await cutOut(onWhite);
    const alpha = (x: number, y: number) => cut.data[(y * cut.width + x) * 4 + 3]!;
    // Trimmed to the bottle (the source is 240x400 with margins of clear backdrop).
    expect(cut.width).toBeLessThan(120);
    expect(cut.height).toBeLessThan(400);
    // The backdrop beside the cap is gone; the label's off-white centre stays.
    expect(alpha(0, 10)).toBe(0);
    expect(alpha(Math.round(cut.width / 2), Math.round(cut.height * 0.62))).toBe(255);
  });
});

describe('local judge fidelity', () => {
  const brief = validateBrief(testBrief({ brandColors: ['#9CAF88', '#FAF7F0'] }));
  const judge = new LocalVisionJudge();

  it('finds the right product and scores it high, with where and how well; another product scores clearly lower', async () => {
    const out = await judge.judge({
      brief,
      candidates: [{ id: 'serum', image: withSerum, mime: 'image/png' }, { id: 'jar', image: withJar, mime: 'image/png' }, { id: 'none', image: without, mime: 'image/png' }],
      reference: packshot('serum-bottle'),
    });
    const of = (id: string) => out.judgements.find((j) => j.candidateId === id)!;
    expect(of('serum').scores.fidelity).toBeGreaterThanOrEqual(70);
    expect(of('jar').scores.fidelity).toBeLessThanOrEqual(35);
    expect(of('none').scores.fidelity).toBeLessThanOrEqual(35);
    expect(of('serum').scores.fidelity! - of('jar').scores.fidelity!).toBeGreaterThanOrEqual(40);
    expect(of('serum').reasons[0]).toMatch(/^Product packshot found at \d+,\d+ \(\d+x\d+ px, covering [\d.]+% of the frame\), closely matching the reference \(correlation 0\.\d\d/);
    expect(of('jar').reasons[0]).toMatch(/^Product packshot (not found|only loosely matched)/);
    // Fidelity counts in the total: the candidate with the right product ranks first.
    expect(of('serum').score).toBeGreaterThan(of('jar').score);
    expect(out.unchecked.some((u) => u.includes('label text'))).toBe(true);
  });

  it('says where it found the product: at the box the generator used', async () => {
    const cut = await cutOut(packshot('serum-bottle').image);
    const box = productBox(planScene(input()), cut);
    const out = await judge.judge({ brief, candidates: [{ id: 'serum', image: withSerum, mime: 'image/png' }], reference: packshot('serum-bottle') });
    const [, x, y] = /found at (\d+),(\d+)/.exec(out.judgements[0]!.reasons[0]!)!.map(Number);
    const tolerance = 768 * 0.04;
    expect(Math.abs(x! - box.left)).toBeLessThan(tolerance);
    expect(Math.abs(y! - box.top)).toBeLessThan(tolerance);
  });

  it('scores no fidelity without a reference', async () => {
    const out = await judge.judge({ brief, candidates: [{ id: 'serum', image: withSerum, mime: 'image/png' }] });
    expect(out.judgements[0]!.scores).not.toHaveProperty('fidelity');
  });
});
