import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AltTextWriter, Upscaler, VisionJudge } from '../../../activities/providers';
import { validateBrief } from '../../../domain/brief';
import { faultCases, type ContractHarness } from './faults';

const brief = validateBrief({
  subject: 'a ceramic teapot on a linen cloth',
  channels: ['og-image'],
  brandColors: ['#0B3D91', '#F4B400'],
  mustInclude: ['steam from the spout'],
  mustAvoid: ['text', 'people'],
});

async function testImage(seed: number, width = 256, height = 192): Promise<Buffer> {
  const c = (n: number) => (seed * 97 + n * 53) % 256;
  return sharp({ create: { width, height, channels: 3, background: { r: c(1), g: c(2), b: c(3) } } })
    .composite([{ input: Buffer.from(`<svg width="${width}" height="${height}"><circle cx="${width / 2}" cy="${height / 2}" r="${height / 3}" fill="#F4B400"/></svg>`) }])
    .png()
    .toBuffer();
}

const BOTTLE = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="240"><rect x="40" y="0" width="40" height="50" fill="#1B2A49"/>' +
    '<rect x="10" y="45" width="100" height="195" rx="18" fill="#0B3D91"/><rect x="10" y="110" width="100" height="60" fill="#F4B400"/></svg>',
);

/** A product packshot: a blue bottle with a yellow label, on white. */
export async function packshot(): Promise<Buffer> {
  return sharp({ create: { width: 240, height: 320, channels: 3, background: '#ffffff' } }).composite([{ input: BOTTLE, top: 40, left: 60 }]).png().toBuffer();
}

/** The packshot's bottle placed in a light scene (the right product), or a red ball in a dark one (a wrong product). */
export async function productScene(right: boolean): Promise<Buffer> {
  const base = sharp({ create: { width: 320, height: 320, channels: 3, background: right ? '#eeeae4' : '#1e2a22' } });
  const thing = right
    ? { input: await sharp(BOTTLE).resize(105, 210).png().toBuffer(), top: 60, left: 108 }
    : { input: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200"><circle cx="100" cy="100" r="90" fill="#C0392B"/></svg>'), top: 60, left: 60 };
  return base.composite([thing]).png().toBuffer();
}

export interface VisionJudgeContractOptions {
  checkRequest?: (body: unknown) => void;
  /** The request of a call with a product reference: the vendor's own way of carrying it. */
  checkReferenceRequest?: (body: unknown, reference: Buffer) => void | Promise<void>;
}

/** Every VisionJudge: one judgement per candidate, scores in range, reasons, its cost, mapped failures. */
export function runVisionJudgeContract(name: string, setup: () => Promise<ContractHarness<VisionJudge>>, opts: VisionJudgeContractOptions = {}): void {
  describe(`VisionJudge contract: ${name}`, () => {
    let h: ContractHarness<VisionJudge>;
    beforeAll(async () => { h = await setup(); });
    afterAll(async () => { await h?.close(); });
    const call = async (impl: VisionJudge) =>
      impl.judge({ brief, candidates: [{ id: 'r1-c01', image: await testImage(1), mime: 'image/png' }, { id: 'r1-c02', image: await testImage(2), mime: 'image/png' }] });

    it('scores each candidate 0–100 with reasons, and reports its cost and what it could not check', async () => {
      const out = await call(h.impl);
      expect(out.judgements.map((j) => j.candidateId).sort()).toEqual(['r1-c01', 'r1-c02']);
      for (const j of out.judgements) {
        expect(j.score).toBeGreaterThanOrEqual(0);
        expect(j.score).toBeLessThanOrEqual(100);
        expect(j.reasons.length).toBeGreaterThan(0);
        for (const v of Object.values(j.scores)) expect(v).toBeGreaterThanOrEqual(0);
        expect(j.judge).toBeTruthy();
      }
      expect(Array.isArray(out.unchecked)).toBe(true);
      expect(out.costUsd).toBeGreaterThanOrEqual(0);
      if (opts.checkRequest && h.requests) opts.checkRequest(h.requests().filter((r) => r.method === 'POST').at(-1)?.body);
      for (const j of out.judgements) expect(j.scores).not.toHaveProperty('fidelity');
    });

    it('with a product reference, scores fidelity: the right product above a wrong one, with reasons, and says what it could not check', async () => {
      const reference = await packshot();
      const out = await h.impl.judge({
        brief,
        reference: { role: 'product', image: reference, mime: 'image/png' },
        candidates: [{ id: 'r1-c01', image: await productScene(true), mime: 'image/png' }, { id: 'r1-c02', image: await productScene(false), mime: 'image/png' }],
      });
      const right = out.judgements.find((j) => j.candidateId === 'r1-c01')!;
      const wrong = out.judgements.find((j) => j.candidateId === 'r1-c02')!;
      for (const j of [right, wrong]) {
        expect(j.scores.fidelity).toBeGreaterThanOrEqual(0);
        expect(j.scores.fidelity).toBeLessThanOrEqual(100);
        expect(j.reasons[0]).toMatch(/product|packshot/i);
      }
      expect(right.scores.fidelity).toBeGreaterThan(wrong.scores.fidelity! + 20);
      expect(out.unchecked.join('\n')).toMatch(/packshot/);
      if (opts.checkReferenceRequest && h.requests) await opts.checkReferenceRequest(h.requests().filter((r) => r.method === 'POST').at(-1)?.body, reference);
    });
    faultCases(name, setup, () => h, call);
  });
}

/** Every Upscaler: at least the size asked for, the aspect ratio kept, its cost, mapped failures. */
export function runUpscalerContract(name: string, setup: () => Promise<ContractHarness<Upscaler>>, opts: { checkRequest?: (body: unknown) => void } = {}): void {
  describe(`Upscaler contract: ${name}`, () => {
    let h: ContractHarness<Upscaler>;
    beforeAll(async () => { h = await setup(); });
    afterAll(async () => { await h?.close(); });
    const call = async (impl: Upscaler) => impl.upscale({ image: await testImage(3, 200, 100), minWidth: 700, minHeight: 300 });

    it('returns an image at least as large as asked, with the same aspect ratio', async () => {
      const out = await call(h.impl);
      const meta = await sharp(out.image).metadata();
      expect([meta.width, meta.height]).toEqual([out.width, out.height]);
      expect(out.width).toBeGreaterThanOrEqual(700);
      expect(out.height).toBeGreaterThanOrEqual(300);
      expect(Math.abs(out.width / out.height - 2)).toBeLessThan(0.02);
      expect(out.costUsd).toBeGreaterThanOrEqual(0);
      if (opts.checkRequest && h.requests) opts.checkRequest(h.requests().filter((r) => r.method === 'POST').at(-1)?.body);
    });
    faultCases(name, setup, () => h, call);
  });
}

/** Every AltTextWriter: one sentence a screen reader can read, its cost, mapped failures. */
export function runAltTextContract(name: string, setup: () => Promise<ContractHarness<AltTextWriter>>, opts: { checkRequest?: (body: unknown) => void } = {}): void {
  describe(`AltTextWriter contract: ${name}`, () => {
    let h: ContractHarness<AltTextWriter>;
    beforeAll(async () => { h = await setup(); });
    afterAll(async () => { await h?.close(); });
    const call = async (impl: AltTextWriter) => impl.write({ brief, image: await testImage(4), mime: 'image/png' });

    it('writes one sentence ending in a full stop, without "image of"', async () => {
      const out = await call(h.impl);
      expect(out.text).toMatch(/^[^\n]+[.]$/);
      expect(out.text.length).toBeLessThanOrEqual(250);
      expect(out.text).not.toMatch(/^(an? )?(image|picture|photo) of/i);
      expect(out.costUsd).toBeGreaterThanOrEqual(0);
      if (opts.checkRequest && h.requests) opts.checkRequest(h.requests().filter((r) => r.method === 'POST').at(-1)?.body);
    });
    faultCases(name, setup, () => h, call);
  });
}
