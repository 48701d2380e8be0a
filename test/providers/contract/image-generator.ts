import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GenerateImageInput, ImageGenerator } from '../../../activities/providers';
import { faultCases, type ContractHarness } from './faults';

export interface ImageGeneratorContractOptions {
  /** A model id from the catalog this implementation serves. */
  model: string;
  /** A size the model accepts. */
  width: number;
  height: number;
  /**
   * Checks the request the SDK sent for `input` (model, size, prompt, response format):
   * each vendor's suite passes its own expectations.
   */
  checkRequest?: (body: unknown, input: GenerateImageInput, req: { path: string; headers: Record<string, unknown> }) => void;
}

/**
 * The behaviour every ImageGenerator has, whoever makes the pixels: real image bytes of the
 * size it reports, the cost of the call, and failures mapped onto Darkroom's error classes
 * (which the activity turns into retryable or non-retryable Temporal failures).
 */
export function runImageGeneratorContract(name: string, setup: () => Promise<ContractHarness<ImageGenerator>>, opts: ImageGeneratorContractOptions): void {
  describe(`ImageGenerator contract: ${name}`, () => {
    let h: ContractHarness<ImageGenerator>;
    beforeAll(async () => {
      h = await setup();
    });
    afterAll(async () => {
      await h?.close();
    });

    const input = (over: Partial<GenerateImageInput> = {}): GenerateImageInput => ({
      model: opts.model,
      prompt: 'a ceramic teapot on linen, soft window light, editorial',
      negativePrompt: 'text, people',
      width: opts.width,
      height: opts.height,
      seed: 42,
      palette: ['#0B3D91', '#F4B400'],
      composition: 'centered',
      lighting: 'soft window light from the left',
      style: 'editorial',
      ...over,
    });

    it('returns real image bytes of the size it reports, and what the call cost', async () => {
      const i = input();
      const out = await h.impl.generate(i);
      const meta = await sharp(out.image).metadata();
      expect([meta.width, meta.height]).toEqual([out.width, out.height]);
      expect(out.width).toBeGreaterThan(0);
      expect(out.mime).toMatch(/^image\/(png|jpeg|webp)$/);
      expect(`image/${meta.format === 'jpeg' ? 'jpeg' : meta.format}`).toBe(out.mime);
      expect(out.costUsd).toBeGreaterThanOrEqual(0);
      expect(out.model).toBeTruthy();
      if (opts.checkRequest && h.requests) {
        const reqs = h.requests();
        const last = reqs.filter((r) => r.method === 'POST').at(-1)!;
        expect(last, 'the SDK sent a request to the fake server').toBeDefined();
        opts.checkRequest(last.body, i, { path: last.path, headers: last.headers });
      }
    });

    it('honours an aborted signal', async () => {
      const ac = new AbortController();
      ac.abort();
      await expect(h.impl.generate(input({ signal: ac.signal }))).rejects.toThrow();
    });

    faultCases(name, setup, () => h, (impl) => impl.generate(input()));
  });
}

