import { createHash, randomUUID } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readlink, realpath, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { z } from 'zod';
import type { BlobRef } from '../../domain/types';
import {
  assertSafeKey, BlobNotFoundError, BlobTooLargeError, UnsafeBlobError, type BlobMeta, type BlobReadOptions, type BlobReadStream,
  type BlobStore,
} from './types';

/** Sidecar metadata lives under this folder so the published tree holds only deliverables. */
const META_DIR = '.meta';

const MiB = 1024 * 1024;

/** A sidecar is a few hundred bytes; anything far bigger was not written by this store. */
const MAX_SIDECAR_BYTES = 64 * 1024;

/** Hashing a blob without a sidecar reads it in pieces this big, never whole. */
const HASH_CHUNK = 1 * MiB;

/**
 * O_NOFOLLOW refuses a symlink at the file itself. O_NONBLOCK keeps open() of a FIFO from
 * waiting for a writer (forever, holding one of libuv's four threads); it changes nothing for
 * regular files, which are all this store reads.
 */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/** A sidecar is believed only when every field is what `put` writes: its values end up in HTTP headers. */
const Sidecar = z.object({
  key: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().nonnegative(),
  width: z.number().int().nonnegative(),
  height: z.number().int().nonnegative(),
  mime: z.string().max(100).regex(/^[a-z0-9][a-z0-9.+-]*\/[a-z0-9][a-z0-9.+-]*$/i),
});

export interface FsBlobStoreOptions {
  /** Largest blob `get` reads into memory; bigger ones are refused (stream them with `openRead`). @default 256 MiB */
  maxReadBytes?: number;
}

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'not a plain file';
}

const notRegular = (key: string, st: Stats) => new UnsafeBlobError(key, `not a regular file: it is ${kindOf(st)}`);

const isMissing = (err: unknown) => ['ENOENT', 'ENOTDIR'].includes((err as NodeJS.ErrnoException).code ?? '');

/**
 * The embedded default: blobs are files under a root folder (`DARKROOM_DATA_DIR/blobs`).
 * Each write goes to a temporary file first and is renamed into place. Only regular files
 * reached through plain folders inside the root are read or written: the folder is shared with
 * people and tools, and a symlink or FIFO dropped into it must not be served or hang a reader.
 */
export class FsBlobStore implements BlobStore {
  readonly location: string;
  readonly maxReadBytes: number;

  constructor(readonly root: string, options: FsBlobStoreOptions = {}) {
    this.location = path.resolve(root);
    this.maxReadBytes = options.maxReadBytes ?? 256 * MiB;
  }

  private pathOf(key: string): string {
    assertSafeKey(key);
    return path.join(this.location, ...key.split('/'));
  }

  private metaPathOf(key: string): string {
    return path.join(this.location, META_DIR, ...key.split('/')) + '.json';
  }

  /**
   * Refuses `key` when a folder between the root and its file is a symlink or otherwise
   * resolves somewhere else: it could lead anywhere on the machine. The root itself may be
   * reached through a link. Checks the deepest of those folders that exists.
   * @returns whether `dir` exists
   */
  private async assertFoldersInside(key: string, dir: string): Promise<boolean> {
    for (let d = dir; d.length >= this.location.length; d = path.dirname(d)) {
      let real: string;
      try {
        real = await realpath(d);
      } catch (err) {
        if (isMissing(err)) continue;
        throw err;
      }
      const inside = async (fresh: boolean) => {
        const root = await this.realRoot(fresh);
        return root !== undefined && real === path.join(root, path.relative(this.location, d));
      };
      // The root's own link may have been re-pointed since it was resolved: resolve it again before refusing.
      if (!(await inside(false)) && !(await inside(true))) {
        throw new UnsafeBlobError(key, 'a folder between the store and the file is a symbolic link');
      }
      return d === dir;
    }
    return false;
  }

  #realRoot: string | undefined;

  /** Where the root folder really is, resolved once (it was half the store's realpath calls); undefined while it does not exist. */
  private async realRoot(fresh: boolean): Promise<string | undefined> {
    if (fresh || this.#realRoot === undefined) {
      try {
        this.#realRoot = await realpath(this.location);
      } catch (err) {
        if (isMissing(err)) return undefined;
        throw err;
      }
    }
    return this.#realRoot;
  }

  /**
   * Opens `file` (the blob at `key`, or its sidecar) for reading, if it is a regular file
   * reached through no symlink; undefined when nothing is there.
   * @throws UnsafeBlobError
   */
  private async openRegular(key: string, file: string): Promise<{ handle: FileHandle; size: number } | undefined> {
    if (!(await this.assertFoldersInside(key, path.dirname(file)))) return undefined;
    let handle: FileHandle;
    try {
      handle = await open(file, READ_FLAGS);
    } catch (err) {
      if (isMissing(err)) return undefined;
      // ELOOP (a symlink under O_NOFOLLOW), ENXIO (a socket): say what is there.
      const st = await lstat(file).catch(() => undefined);
      if (st && !st.isFile()) throw notRegular(key, st);
      throw err;
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw notRegular(key, st);
      await this.assertOpenedInside(key, handle, file);
      return { handle, size: st.size };
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  /**
   * Where Linux says the open file is: closes the window between checking the folders and
   * opening (a folder swapped for a symlink in between). Skipped where /proc is absent.
   */
  private async assertOpenedInside(key: string, handle: FileHandle, file: string): Promise<void> {
    let opened: string;
    try {
      opened = await readlink(`/proc/self/fd/${handle.fd}`);
    } catch {
      return;
    }
    const expected = path.join(await realpath(this.location), path.relative(this.location, file));
    // A put that renamed a new blob over this one since the open leaves the old file " (deleted)": still ours.
    if (opened.replace(/ \(deleted\)$/, '') !== expected) throw new UnsafeBlobError(key, 'a folder between the store and the file is a symbolic link');
  }

  private async atomicWrite(key: string, file: string, data: Uint8Array | string): Promise<void> {
    const dir = path.dirname(file);
    await this.assertFoldersInside(key, dir);
    await mkdir(dir, { recursive: true });
    // Again: a folder made a moment ago by someone else could be a link.
    await this.assertFoldersInside(key, dir);
    const tmp = `${file}.${randomUUID()}.tmp`;
    await writeFile(tmp, data, { flag: 'wx' });
    await rename(tmp, file);
  }

  /** Puts in flight by key: two puts to one key run one after the other, so the sidecar always matches the blob. */
  private readonly writing = new Map<string, Promise<unknown>>();

  async put(key: string, data: Uint8Array, meta: BlobMeta): Promise<BlobRef> {
    const before = this.writing.get(key) ?? Promise.resolve();
    const mine = before.catch(() => undefined).then(() => this.putNow(key, data, meta));
    this.writing.set(key, mine);
    try {
      return await mine;
    } finally {
      if (this.writing.get(key) === mine) this.writing.delete(key);
    }
  }

  private async putNow(key: string, data: Uint8Array, meta: BlobMeta): Promise<BlobRef> {
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
    await this.atomicWrite(key, this.metaPathOf(key), JSON.stringify(ref));
    await this.atomicWrite(key, file, data);
    return ref;
  }

  async get(key: string, options: BlobReadOptions = {}): Promise<Buffer> {
    const opened = await this.openRegular(key, this.pathOf(key));
    if (!opened) throw new BlobNotFoundError(key);
    const { handle, size } = opened;
    try {
      const max = options.maxBytes ?? this.maxReadBytes;
      if (size > max) throw new BlobTooLargeError(key, size, max);
      // Read the size fstat gave, no more: a file growing meanwhile is not read past the cap.
      const buf = Buffer.allocUnsafe(size);
      let at = 0;
      while (at < size) {
        const { bytesRead } = await handle.read(buf, at, size - at, at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      return at === size ? buf : buf.subarray(0, at);
    } finally {
      await handle.close();
    }
  }

  async openRead(key: string): Promise<BlobReadStream> {
    const opened = await this.openRegular(key, this.pathOf(key));
    if (!opened) throw new BlobNotFoundError(key);
    const { handle, size } = opened;
    if (size === 0) {
      await handle.close();
      return { bytes: 0, stream: Readable.from([]) };
    }
    // The stream closes the handle when it ends or is destroyed.
    return { bytes: size, stream: handle.createReadStream({ start: 0, end: size - 1 }) };
  }

  /** The sidecar `put` wrote, if there is one and it is believable. */
  private async readSidecar(key: string): Promise<BlobRef | undefined> {
    let opened;
    try {
      opened = await this.openRegular(key, this.metaPathOf(key));
    } catch {
      return undefined;
    }
    if (!opened) return undefined;
    const { handle, size } = opened;
    try {
      if (size > MAX_SIDECAR_BYTES) return undefined;
      const parsed = Sidecar.safeParse(JSON.parse((await handle.readFile()).toString('utf8')));
      return parsed.success && parsed.data.key === key ? parsed.data : undefined;
    } catch {
      return undefined;
    } finally {
      await handle.close();
    }
  }

  async head(key: string): Promise<BlobRef | undefined> {
    const opened = await this.openRegular(key, this.pathOf(key));
    if (!opened) return undefined;
    const { handle, size } = opened;
    try {
      const ref = await this.readSidecar(key);
      if (ref && ref.bytes === size) return ref;
      // Missing or stale metadata (a file put there by hand): describe it from its bytes, read
      // in pieces so a big file costs a chunk of memory, not its size.
      const hash = createHash('sha256');
      const buf = Buffer.allocUnsafe(Math.min(size, HASH_CHUNK));
      let at = 0;
      while (at < size) {
        const { bytesRead } = await handle.read(buf, 0, Math.min(buf.byteLength, size - at), at);
        if (bytesRead === 0) break;
        hash.update(buf.subarray(0, bytesRead));
        at += bytesRead;
      }
      return { key, sha256: hash.digest('hex'), bytes: at, width: 0, height: 0, mime: 'application/octet-stream' };
    } finally {
      await handle.close();
    }
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
        // Dirents describe the entry itself: a symlink is neither a directory nor a file here.
        if (e.isDirectory()) await walk(path.join(dir, e.name), key);
        else if (e.isFile() && !e.name.endsWith('.tmp') && key.startsWith(prefix)) out.push(key);
      }
    };
    // Start from the deepest folder the prefix names, so listing one brief does not walk all.
    const slash = prefix.lastIndexOf('/');
    const base = slash >= 0 ? prefix.slice(0, slash) : '';
    if (base) assertSafeKey(base);
    const start = base ? path.join(this.location, ...base.split('/')) : this.location;
    if (base && !(await this.assertFoldersInside(base, start))) return [];
    await walk(start, base);
    return out.sort();
  }

  async delete(key: string): Promise<void> {
    const file = this.pathOf(key);
    const meta = this.metaPathOf(key);
    await this.assertFoldersInside(key, path.dirname(file));
    await this.assertFoldersInside(key, path.dirname(meta));
    await rm(file, { force: true });
    await rm(meta, { force: true });
  }
}
