import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidRequestError, type GenerateImageInput, type ImageGenerator, type ReferenceImage } from '../../../activities/providers';
import { IMAGE_MODELS } from '../../../domain/models';
import { faultCases, type ContractHarness, type RecordedRequest } from './faults';

/** The edit path of a vendor: how its fake shows the reference images it received. */
export interface EditContractOptions {
  /** A catalog model that takes reference images. @default the suite's model */
  model?: string;
  width?: number;
  height?: number;
  /** The reference images the request carried, as bytes, in the order sent. */
  receivedReferences: (req: RecordedRequest) => Buffer[] | Promise<Buffer[]>;
  /** Checks the rest of the edit request (path, prompt, size or ratio, vendor fields). */
  checkRequest?: (req: RecordedRequest, input: GenerateImageInput) => void;
  /** A model of the same vendor that takes no reference images, to prove it is refused them. */
  textOnlyModel?: string;
}

let packshots: Promise<{ product: Buffer; style: Buffer }> | undefined;
/**
 * A product packshot (a bottle with a label, PNG) and a style reference (JPEG): real, decodable,
 * and distinct, so a test can tell which bytes arrived where.
 */
export function testPackshots(): Promise<{ product: Buffer; style: Buffer }> {
  packshots ??= (async () => {
    const bottle = Buffer.from(
      '<svg width="300" height="400" xmlns="http://www.w3.org/2000/svg"><rect width="300" height="400" fill="#ffffff"/>' +
        '<rect x="110" y="20" width="80" height="60" fill="#1b5e20"/><rect x="70" y="80" width="160" height="300" rx="30" fill="#2e7d32"/>' +
        '<rect x="80" y="180" width="140" height="90" fill="#fff8e1"/><text x="150" y="235" font-size="28" text-anchor="middle" fill="#b71c1c">OLIVA</text></svg>',
    );
    const product = await sharp(bottle).png().toBuffer();
    const style = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 214, g: 180, b: 140 } } }).jpeg({ quality: 90 }).toBuffer();
    return { product, style };
  })();
  return packshots;
}

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
  /** The vendor's edit path, for generators whose models take reference images. */
  edit?: EditContractOptions;
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

    const edit = opts.edit;
    if (!edit) return;
    describe('edit path (reference images)', () => {
      const model = edit.model ?? opts.model;
      const max = IMAGE_MODELS[model]?.maxReferenceImages ?? 0;
      const editInput = async (over: Partial<GenerateImageInput> = {}): Promise<GenerateImageInput> => {
        const { product, style } = await testPackshots();
        const references: ReferenceImage[] = [{ role: 'product', image: product, mime: 'image/png' }];
        if (max > 1) references.push({ role: 'style', image: style, mime: 'image/jpeg' });
        return input({ model, width: edit.width ?? opts.width, height: edit.height ?? opts.height, references, ...over });
      };
      const lastPost = () => h.requests!().filter((r) => r.method === 'POST').at(-1)!;

      it('sends the exact packshot bytes (product first), the prompt and the size, and returns the image', async () => {
        const i = await editInput();
        const out = await h.impl.generate(i);
        const meta = await sharp(out.image).metadata();
        expect([meta.width, meta.height]).toEqual([out.width, out.height]);
        expect(out.model).toBe(model);
        expect(out.costUsd).toBeGreaterThanOrEqual(0);
        if (!h.requests) return;
        const req = lastPost();
        const got = await edit.receivedReferences(req);
        expect(got.length).toBe(i.references!.length);
        for (const [k, ref] of i.references!.entries()) {
          expect(Buffer.compare(got[k]!, Buffer.from(ref.image)), `reference ${k} (${ref.role}) arrived byte for byte`).toBe(0);
        }
        edit.checkRequest?.(req, i);
      });

      it('refuses more references than the model takes, before any request', async () => {
        const before = h.requests?.().length ?? 0;
        const { product } = await testPackshots();
        const references = Array.from({ length: max + 1 }, (): ReferenceImage => ({ role: 'product', image: product, mime: 'image/png' }));
        const err = await h.impl.generate(await editInput({ references })).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(InvalidRequestError);
        expect((err as Error).message).toMatch(/references/);
        expect(h.requests?.().length ?? 0).toBe(before);
      });

      if (edit.textOnlyModel) {
        const textOnly = edit.textOnlyModel;
        it(`refuses references for ${textOnly}, which takes none`, async () => {
          const before = h.requests?.().length ?? 0;
          const spec = IMAGE_MODELS[textOnly]!;
          const [w, hgt] = spec.sizes[0]!.split('x').map(Number) as [number, number];
          const err = await h.impl.generate(await editInput({ model: textOnly, width: w, height: hgt })).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(InvalidRequestError);
          expect((err as Error).message).toMatch(/takes no reference images/);
          expect(h.requests?.().length ?? 0).toBe(before);
        });
      }

      // The edit path fails the way the generate path does: same classes, same retryability.
      faultCases(`${name} edit`, setup, () => h, async (impl) => impl.generate(await editInput()));
    });
  });
}

