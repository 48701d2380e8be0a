/**
 * Brand kits between a folder and the blob store. The CLI stores a brief's kit (its JSON and
 * every file it names) content-addressed when it starts the brief, and the brief carries the key:
 * every worker, on any machine, then reads the very same kit, and editing `brands/acme.json`
 * while a brief runs changes nothing for it. A brief started without the CLI names only its
 * brand; the first worker to prepare it reads the kit from DARKROOM_BRANDS_DIR and stores it the
 * same way, so the rest of that brief still reads one stored copy.
 */
import { createHash } from 'node:crypto';
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { probeImage } from './images/format';
import { parseBrandKit, type BrandKit } from '../domain/brand';
import type { FieldIssue } from '../domain/brief';
import { clip } from '../domain/text';
import type { BlobRef } from '../domain/types';
import { BlobNotFoundError, type BlobStore } from './blob-store';

/** Largest logo or style reference a kit may name. */
const MAX_FILE_BYTES = 5 * 1024 * 1024;
const MAX_KIT_BYTES = 256 * 1024;

/** A kit that cannot be used: unknown, invalid, or a file it names is missing or not an image. Names the brief's `brand` field. */
export class BrandKitError extends Error {
  override readonly name = 'BrandKitError';
  readonly issues: FieldIssue[];
  constructor(readonly brand: string, problems: readonly FieldIssue[] | string) {
    // Every problem names the brief's field (`brand`); the kit's own field follows, in the kit's file.
    const issues = typeof problems === 'string' ? [{ field: 'brand', message: problems }] : problems.map((i) => ({ field: 'brand', message: `${brand}.json: ${i.field} ${i.message}` }));
    super(`brand ${JSON.stringify(brand)}: ${issues.map((i) => i.message).join('; ')}`);
    this.issues = issues;
  }
}

/** The stored form of a kit: the validated kit and refs to its stored files. */
export interface StoredBrand {
  schema: 'darkroom.brand/v1';
  kit: BrandKit;
  logo: BlobRef;
  styleReferences: BlobRef[];
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** A file the kit names, read from inside the brands folder only. */
async function readKitFile(dir: string, name: string, file: string, field: string): Promise<Buffer> {
  const root = await realpath(dir);
  let full: string;
  try {
    full = await realpath(path.join(root, file));
  } catch {
    throw new BrandKitError(name, [{ field, message: `names ${file}, which is not in ${dir}` }]);
  }
  if (!full.startsWith(root + path.sep)) throw new BrandKitError(name, [{ field, message: `names ${file}, which leads outside ${dir}` }]);
  const st = await stat(full);
  if (!st.isFile()) throw new BrandKitError(name, [{ field, message: `names ${file}, which is not a file` }]);
  if (st.size > MAX_FILE_BYTES) throw new BrandKitError(name, [{ field, message: `names ${file}, ${st.size} bytes; at most ${MAX_FILE_BYTES}` }]);
  return readFile(full);
}

/** Reads and validates `<dir>/<name>.json`. */
export async function readBrandKit(dir: string, name: string): Promise<BrandKit> {
  let text: string;
  try {
    const file = path.join(dir, `${name}.json`);
    if ((await stat(file)).size > MAX_KIT_BYTES) throw new BrandKitError(name, `${file} is larger than ${MAX_KIT_BYTES / 1024} KiB`);
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof BrandKitError) throw err;
    throw new BrandKitError(name, `no brand kit ${name}.json in ${dir} (the brands folder, DARKROOM_BRANDS_DIR): check the name or add the kit`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new BrandKitError(name, `${name}.json is not valid JSON: ${clip((err as Error).message, 200)}`);
  }
  const r = parseBrandKit(raw);
  if (!r.ok) throw new BrandKitError(name, r.issues);
  if (r.kit.name !== name) throw new BrandKitError(name, [{ field: 'name', message: `is ${JSON.stringify(r.kit.name)}; it must match the file name ${name}.json` }]);
  return r.kit;
}

async function storeImage(blobs: BlobStore, name: string, bytes: Buffer, field: string, file: string): Promise<BlobRef> {
  let probe;
  try {
    probe = await probeImage(bytes);
  } catch (err) {
    throw new BrandKitError(name, [{ field, message: `names ${file}, which does not decode as an image (${clip((err as Error).message, 200)})` }]);
  }
  const ext = probe.format === 'jpeg' ? 'jpg' : probe.format;
  const key = `brands/${name}/files/${sha256(bytes)}.${ext}`;
  return (await blobs.head(key)) ?? blobs.put(key, bytes, { mime: probe.mime, width: probe.width, height: probe.height });
}

/**
 * Stores `<dir>/<name>.json` and the files it names in the blob store, content-addressed, and
 * returns the kit's key `brands/<name>/<sha256>.json`. Storing the same kit again is a no-op.
 * @throws BrandKitError naming what is wrong
 */
export async function storeBrandKit(blobs: BlobStore, dir: string, name: string): Promise<string> {
  const kit = await readBrandKit(dir, name);
  const logoBytes = await readKitFile(dir, name, kit.logo.file, 'logo.file');
  const logo = await storeImage(blobs, name, logoBytes, 'logo.file', kit.logo.file);
  if (logo.mime !== 'image/png' && logo.mime !== 'image/svg+xml') {
    throw new BrandKitError(name, [{ field: 'logo.file', message: `names ${kit.logo.file}, a ${logo.mime}; a logo must be PNG or SVG (with transparency)` }]);
  }
  const styleReferences: BlobRef[] = [];
  for (const [i, file] of kit.styleReferences.entries()) {
    styleReferences.push(await storeImage(blobs, name, await readKitFile(dir, name, file, `styleReferences[${i}]`), `styleReferences[${i}]`, file));
  }
  const stored: StoredBrand = { schema: 'darkroom.brand/v1', kit, logo, styleReferences };
  const bytes = Buffer.from(JSON.stringify(stored));
  const key = `brands/${name}/${sha256(bytes)}.json`;
  if (!(await blobs.head(key))) await blobs.put(key, bytes, { mime: 'application/json' });
  return key;
}

/**
 * Reads a stored kit and checks it is what its key says (the key is the content's hash).
 * @throws BrandKitError when nothing (or something else) is stored there
 */
export async function loadStoredBrand(blobs: BlobStore, name: string, key: string): Promise<StoredBrand> {
  let bytes: Buffer;
  try {
    bytes = await blobs.get(key, { maxBytes: MAX_KIT_BYTES });
  } catch (err) {
    if (err instanceof BlobNotFoundError) throw new BrandKitError(name, `no brand kit is stored at ${key} (brandKey): start the brief with darkroom start, or leave brandKey out to read brands/${name}.json`);
    throw err;
  }
  if (`brands/${name}/${sha256(bytes)}.json` !== key) throw new BrandKitError(name, `the kit stored at ${key} does not match its hash (brandKey)`);
  const stored = JSON.parse(bytes.toString('utf8')) as StoredBrand;
  const r = parseBrandKit(stored.kit);
  if (!r.ok) throw new BrandKitError(name, r.issues);
  return { ...stored, kit: r.kit };
}

/**
 * The brief's kit: the stored one its `brandKey` names, else the folder's (stored on the way so
 * every later step reads one copy). Returns the kit and its key.
 */
export async function resolveBrandKit(blobs: BlobStore, dir: string, brand: { name: string; key?: string }): Promise<{ key: string; stored: StoredBrand }> {
  const key = brand.key ?? (await storeBrandKit(blobs, dir, brand.name));
  return { key, stored: await loadStoredBrand(blobs, brand.name, key) };
}
