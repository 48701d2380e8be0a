import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BlobRef } from '../../domain/types';
import { assertSafeKey, BlobNotFoundError, type BlobMeta, type BlobStore } from './types';

/** Sidecar metadata lives under this folder so the published tree holds only deliverables. */
const META_DIR = '.meta';

/**
 * The embedded default: blobs are files under a root folder (`DARKROOM_DATA_DIR/blobs`).
 * Each write goes to a temporary file first and is renamed into place.
 */
export class FsBlobStore implements BlobStore {
  readonly location: string;

  constructor(readonly root: string) {
    this.location = path.resolve(root);
  }

  private pathOf(key: string): string {
    assertSafeKey(key);
    return path.join(this.location, ...key.split('/'));
  }

  private metaPathOf(key: string): string {
    return path.join(this.location, META_DIR, ...key.split('/')) + '.json';
  }

  private async atomicWrite(file: string, data: Uint8Array | string): Promise<void> {
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.${randomUUID()}.tmp`;
    await writeFile(tmp, data);
    await rename(tmp, file);
  }

  async put(key: string, data: Uint8Array, meta: BlobMeta): Promise<BlobRef> {
    const file = this.pathOf(key);
    const ref: BlobRef = {
      key,
      sha256: createHash('sha256').update(data).digest('hex'),
      bytes: data.byteLength,
      width: meta.width ?? 0,
      height: meta.height ?? 0,
      mime: meta.mime,
    };
    // Metadata first: a blob that exists always has its metadata beside it.
    await this.atomicWrite(this.metaPathOf(key), JSON.stringify(ref));
    await this.atomicWrite(file, data);
    return ref;
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new BlobNotFoundError(key);
      throw err;
    }
  }

  async head(key: string): Promise<BlobRef | undefined> {
    const file = this.pathOf(key);
    let size: number;
    try {
      size = (await stat(file)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      const ref = JSON.parse(await readFile(this.metaPathOf(key), 'utf8')) as BlobRef;
      if (ref.bytes === size) return ref;
    } catch {
      // Missing or stale metadata (a file put there by hand): describe it from its bytes.
    }
    const data = await readFile(file);
    return { key, sha256: createHash('sha256').update(data).digest('hex'), bytes: data.byteLength, width: 0, height: 0, mime: 'application/octet-stream' };
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, rel: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) {
        if (e.name.startsWith('.')) continue;
        const key = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(path.join(dir, e.name), key);
        else if (e.isFile() && !e.name.endsWith('.tmp') && key.startsWith(prefix)) out.push(key);
      }
    };
    // Start from the deepest folder the prefix names, so listing one brief does not walk all.
    const slash = prefix.lastIndexOf('/');
    const base = slash >= 0 ? prefix.slice(0, slash) : '';
    if (base) assertSafeKey(base);
    await walk(base ? path.join(this.location, ...base.split('/')) : this.location, base);
    return out.sort();
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
    await rm(this.metaPathOf(key), { force: true });
  }
}
