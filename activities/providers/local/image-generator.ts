import sharp, { type OverlayOptions } from 'sharp';
import { InvalidRequestError } from '../errors';
import type { GenerateImageInput, GenerateImageResult, ImageGenerator } from '../types';
import { backgroundSvg, grainNoise, subjectSvg } from './scene-paint';
import { cutOut, productLayers } from './packshot';
import { planScene } from './scene-plan';

/**
 * The offline default generator: paints a deterministic picture from the prompt knobs with
 * SVG and sharp, so the whole pipeline (judging, cropping, formatting, publishing) can run
 * without an API key and tests can assert on real pixels.
 *
 * The same input always gives byte-identical PNG bytes; each seed moves the subject, the
 * props, the blur and the grain, so candidates differ the way a model's would. With a product
 * reference, the real packshot stands where the painted subject would (see ./packshot.ts).
 */
export class LocalImageGenerator implements ImageGenerator {
  readonly name = 'local';

  async generate(input: GenerateImageInput): Promise<GenerateImageResult> {
    const { width, height, signal } = input;
    signal?.throwIfAborted();
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 16 || height < 16 || width > 8192 || height > 8192) {
      throw new InvalidRequestError(`size ${width}x${height} is outside 16–8192 px a side`, this.name);
    }

    const scene = planScene(input);
    const background = await sharp(Buffer.from(backgroundSvg(scene)))
      // Blurring the whole background layer (shadows included) gives a depth-of-field look
      // and, because the sigma follows the seed, sharpness that differs between candidates.
      .blur(scene.backgroundBlur > 0.3 ? scene.backgroundBlur : false)
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    signal?.throwIfAborted();

    const product = input.references?.find((r) => r.role === 'product');
    const layers: OverlayOptions[] = [{ input: Buffer.from(subjectSvg(scene, { paintSubject: !product })) }];
    if (scene.grain > 0) {
      layers.push({ input: grainNoise(width, height, scene), raw: { width, height, channels: 1 }, blend: 'overlay' });
    }
    let pipeline = sharp(background.data, { raw: { width, height, channels: 3 } })
      .composite(layers)
      // Compositing adds an alpha channel; a master is opaque, and RGB encodes faster and smaller.
      .removeAlpha();
    if (product) {
      let cut;
      try {
        cut = await cutOut(product.image);
      } catch (err) {
        throw new InvalidRequestError(`the product reference (${product.mime}) could not be decoded: ${(err as Error).message}`, this.name, { cause: err });
      }
      // Last, over grain and vignette: the product's own pixels are scaled, never repainted.
      const scenePixels = await pipeline.raw().toBuffer();
      signal?.throwIfAborted();
      pipeline = sharp(scenePixels, { raw: { width, height, channels: 3 } }).composite(await productLayers(scene, cut)).removeAlpha();
    }
    const image = await pipeline.png({ compressionLevel: 6, adaptiveFiltering: false }).toBuffer();
    signal?.throwIfAborted();

    return { image, mime: 'image/png', width, height, costUsd: 0, model: 'local' };
  }
}
