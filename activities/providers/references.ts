import sharp from 'sharp';
import { IMAGE_MODELS, type ImageModelSpec } from '../../domain/models';
import { InvalidRequestError } from './errors';
import type { ReferenceImage } from './types';

/** A reference image ready for a vendor: bytes in one of the formats the vendor takes. */
export interface PreparedReference {
  role: ReferenceImage['role'];
  data: Buffer;
  mime: string;
}

/**
 * The catalog's entry for `model` when `provider` serves it: every generator asks first, so a
 * model routed to the wrong vendor is refused before any request, with the models it does serve.
 * `label` names the kind ("a Gemini image model"); `generator` is the refusing generator's name.
 * @throws InvalidRequestError
 */
export function catalogImageModel(model: string, provider: ImageModelSpec['provider'], label: string, generator: string): ImageModelSpec {
  const spec = IMAGE_MODELS[model];
  if (spec?.provider === provider) return spec;
  const served = Object.values(IMAGE_MODELS).filter((m) => m.provider === provider).map((m) => m.id);
  throw new InvalidRequestError(`model ${JSON.stringify(model)} is not ${label} in the catalog (use ${served.join(', ')})`, generator);
}

/**
 * Checks the references a call carries against the model's catalog entry, before any request:
 * a model without `maxReferenceImages` takes none, and none takes more than its maximum.
 * @throws InvalidRequestError naming `references`
 */
export function checkReferences(spec: ImageModelSpec, references: readonly ReferenceImage[] | undefined, provider: string): readonly ReferenceImage[] {
  const refs = references ?? [];
  if (refs.length === 0) return refs;
  const max = spec.maxReferenceImages ?? 0;
  if (max === 0) throw new InvalidRequestError(`references: ${spec.id} takes no reference images (it is text to image only); route briefs with a packshot to a model that has maxReferenceImages`, provider);
  if (refs.length > max) throw new InvalidRequestError(`references: ${spec.id} takes at most ${max} reference image${max === 1 ? '' : 's'} per call, not ${refs.length}`, provider);
  return refs;
}

/**
 * The reference as bytes in one of `accepted` (MIME types). A packshot in another format (GIF,
 * AVIF, TIFF, HEIF) is re-encoded once as lossless PNG, so the vendor sees the same pixels; one
 * already accepted goes as it is, byte for byte. Undecodable bytes are the caller's error.
 * @throws InvalidRequestError naming `references[i]`
 */
export async function prepareReference(ref: ReferenceImage, index: number, accepted: readonly string[], provider: string): Promise<PreparedReference> {
  const mime = ref.mime.toLowerCase() === 'image/jpg' ? 'image/jpeg' : ref.mime.toLowerCase();
  if (accepted.includes(mime)) return { role: ref.role, data: Buffer.from(ref.image.buffer, ref.image.byteOffset, ref.image.byteLength), mime };
  try {
    const data = await sharp(ref.image).autoOrient().png().toBuffer();
    return { role: ref.role, data, mime: 'image/png' };
  } catch (err) {
    throw new InvalidRequestError(`references[${index}] (${ref.mime}) could not be decoded: ${(err as Error).message}`, provider, { cause: err });
  }
}

/** Every reference prepared ({@link prepareReference}), in order: product first, as the caller gave them. */
export function prepareReferences(refs: readonly ReferenceImage[], accepted: readonly string[], provider: string): Promise<PreparedReference[]> {
  return Promise.all(refs.map((r, i) => prepareReference(r, i, accepted, provider)));
}

/**
 * The words that tell an edit model what each reference is for. The product must come out as it
 * is — shape, label, colours — which is the point of sending its packshot.
 */
export function referenceInstructions(refs: readonly PreparedReference[]): string {
  if (refs.length === 0) return '';
  const lines = refs.map((r, i) =>
    r.role === 'product'
      ? `Image ${i + 1} is the product: keep it exactly as it is (shape, label, text, logo and colours), only placed in the scene.`
      : `Image ${i + 1} is a style reference: follow its look, not its content.`,
  );
  return lines.join(' ');
}

/** The prompt with the reference instructions after it (a blank line between). */
export function withReferenceInstructions(prompt: string, refs: readonly PreparedReference[]): string {
  const words = referenceInstructions(refs);
  return words ? `${prompt}\n\n${words}` : prompt;
}
