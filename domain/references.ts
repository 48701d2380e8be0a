/**
 * Reference images a brief names (`references.product`, `references.style`): where each one may
 * come from, and the content-addressed keys they are stored under. Pure: no I/O.
 */
import { blobKeyProblem } from './naming';
import type { BlobRef } from './types';

/** Style references one brief may name. */
export const MAX_STYLE_REFERENCES = 4;

/** Where a reference comes from: a stored blob, an https URL the worker fetches, or a file on the user's disk (CLI only). */
export type ReferenceSourceKind = 'blob' | 'https' | 'path';

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** What kind of source `s` is; `undefined` for a URL of a scheme a worker does not fetch. */
export function referenceKind(s: string): ReferenceSourceKind | undefined {
  if (s.startsWith('blob:')) return 'blob';
  if (/^https:\/\//i.test(s)) return 'https';
  if (SCHEME.test(s)) return undefined;
  return 'path';
}

/** Why `s` cannot name a reference, or undefined when it can. Local paths pass: only the CLI can tell whether they exist. */
export function referenceSourceProblem(s: string): string | undefined {
  const kind = referenceKind(s);
  if (kind === undefined) return 'must be blob:<key>, an https:// URL, or (with the darkroom CLI) a local file path';
  if (kind === 'blob') {
    const problem = blobKeyProblem(s.slice(5));
    return problem ? `names a blob key that ${problem}` : undefined;
  }
  if (kind === 'https') {
    let url: URL;
    try {
      url = new URL(s);
    } catch {
      return 'is not a valid https:// URL';
    }
    // Credentials would travel into the workflow's history and the manifest.
    if (url.username || url.password) return 'must not hold a user name or password (it would be stored in the workflow history)';
    if (!url.hostname) return 'has no host';
  }
  return undefined;
}

/** One reference a brief names, with the field that names it (`references.product`, `references.style[1]`). */
export interface ReferenceField {
  field: string;
  role: 'product' | 'style';
  source: string;
}

/** The references of a brief, product first. */
export function referenceFields(brief: { references?: { product?: string; style?: readonly string[] } }): ReferenceField[] {
  const r = brief.references;
  if (!r) return [];
  const out: ReferenceField[] = [];
  if (r.product) out.push({ field: 'references.product', role: 'product', source: r.product });
  (r.style ?? []).forEach((source, i) => out.push({ field: `references.style[${i}]`, role: 'style', source }));
  return out;
}

/** A brief's references once the worker has fetched, checked and stored them: only keys and sizes enter history. */
export interface ResolvedReferences {
  product?: BlobRef;
  style: BlobRef[];
}

const EXT: Record<string, string> = { 'image/png': 'png', 'image/jpeg': 'jpg', 'image/webp': 'webp', 'image/avif': 'avif', 'image/gif': 'gif', 'image/tiff': 'tiff' };

/** Where a reference's bytes are stored: by their SHA-256, so the same file uploaded twice is stored once. */
export function referenceKey(sha256: string, mime: string): string {
  return `references/${sha256}.${EXT[mime] ?? 'img'}`;
}

/** The mime type of an image format as sharp names it (`png`, `jpeg`, `webp`…). */
export function imageMime(format: string | undefined): string | undefined {
  const m: Record<string, string> = { png: 'image/png', jpeg: 'image/jpeg', jpg: 'image/jpeg', webp: 'image/webp', avif: 'image/avif', heif: 'image/avif', gif: 'image/gif', tiff: 'image/tiff' };
  return format ? m[format] : undefined;
}

/** Blob keys of resolved references, product first (what a manifest records as used). */
export function referenceKeys(r: ResolvedReferences | undefined): string[] {
  if (!r) return [];
  return [...(r.product ? [r.product.key] : []), ...r.style.map((s) => s.key)];
}
