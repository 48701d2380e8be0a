/**
 * FsBlobStore against what a hand (or an attacker with write access to the data dir) can put
 * in its folder: symlinks at the file or at a folder on the way, FIFOs, sockets, folders where a
 * file should be, files too big to read whole, and sidecars that lie.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BlobNotFoundError, BlobTooLargeError, FsBlobStore, UnsafeBlobError } from '../../activities/blob-store';

const MiB = 1024 * 1024;

async function fresh(): Promise<{ dir: string; root: string; outside: string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'darkroom-blobs-'));
  const root = path.join(dir, 'blobs');
  const outside = path.join(dir, 'outside');
  await mkdir(root, { recursive: true });
  await mkdir(outside, { recursive: true });
  await writeFile(path.join(outside, 'secret.txt'), 'root:x:0:0:the secret');
  return { dir, root, outside };
}

/** A file of `bytes` that costs no disk: open and ftruncate. */
async function sparse(file: string, bytes: number): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const h = await open(file, 'w');
  try {
    await h.truncate(bytes);
  } finally {
    await h.close();
  }
}

/** The sidecar a put would have written, placed by hand beside a file the store did not write. */
async function sidecar(root: string, key: string, ref: object): Promise<void> {
  const file = path.join(root, '.meta', ...key.split('/')) + '.json';
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify({ key, width: 0, height: 0, ...ref }));
}

/** Settles `p` or says it hung; a FIFO read that blocks never settles. */
function settlesWithin<T>(p: Promise<T>, ms: number): Promise<{ value?: T; error?: unknown; hung?: true }> {
  return Promise.race([
    p.then((value) => ({ value }), (error: unknown) => ({ error })),
    new Promise<{ hung: true }>((r) => setTimeout(() => r({ hung: true }), ms).unref()),
  ]);
}

const servers: Server[] = [];
afterAll(() => {
  for (const s of servers) s.close();
});

describe('FsBlobStore refuses what is not a regular file inside its root', () => {
  it('a symlink at the key, even with a sidecar that matches its target, is refused by get and head', async () => {
    const { root, outside } = await fresh();
    const target = path.join(outside, 'secret.txt');
    await mkdir(path.join(root, 'b', 'candidates'), { recursive: true });
    await symlink(target, path.join(root, 'b', 'candidates', 'r1-c01.png'));
    const size = (await readFile(target)).byteLength;
    await sidecar(root, 'b/candidates/r1-c01.png', { sha256: 'a'.repeat(64), bytes: size, mime: 'image/png' });
    const store = new FsBlobStore(root);

    const e = await store.get('b/candidates/r1-c01.png').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(UnsafeBlobError);
    expect(e).toMatchObject({ key: 'b/candidates/r1-c01.png', reason: expect.stringMatching(/symbolic link/) });
    await expect(store.head('b/candidates/r1-c01.png')).rejects.toBeInstanceOf(UnsafeBlobError);
    await expect(store.list('b/')).resolves.toEqual([]);
  });

  it('a symlinked folder between the root and the file is refused, for reads, listing and writes', async () => {
    const { root, outside } = await fresh();
    await writeFile(path.join(outside, 'r1-c01.png'), 'not yours');
    await sidecar(root, 'b/candidates/r1-c01.png', { sha256: 'a'.repeat(64), bytes: 9, mime: 'image/png' });
    await mkdir(path.join(root, 'b'), { recursive: true });
    await symlink(outside, path.join(root, 'b', 'candidates'));
    const store = new FsBlobStore(root);

    await expect(store.get('b/candidates/r1-c01.png')).rejects.toBeInstanceOf(UnsafeBlobError);
    await expect(store.head('b/candidates/r1-c01.png')).rejects.toMatchObject({ name: 'UnsafeBlobError', reason: expect.stringMatching(/symbolic link|outside/) });
    await expect(store.list('b/candidates/')).rejects.toBeInstanceOf(UnsafeBlobError);
    await expect(store.list('b/')).resolves.toEqual([]);
    await expect(store.put('b/candidates/new.png', Buffer.from('x'), { mime: 'image/png' })).rejects.toBeInstanceOf(UnsafeBlobError);
    expect(existsSync(path.join(outside, 'new.png'))).toBe(false);
    await expect(store.delete('b/candidates/r1-c01.png')).rejects.toBeInstanceOf(UnsafeBlobError);
    expect(existsSync(path.join(outside, 'r1-c01.png'))).toBe(true);
  });

  it('a root that is itself reached through a symlink still works (only what is inside it is checked)', async () => {
    const { dir, root } = await fresh();
    const link = path.join(dir, 'link-to-blobs');
    await symlink(root, link);
    const store = new FsBlobStore(link);
    const ref = await store.put('b/a.png', Buffer.from('png bytes'), { mime: 'image/png', width: 1, height: 1 });
    expect(await store.head('b/a.png')).toEqual(ref);
    expect((await store.get('b/a.png')).toString()).toBe('png bytes');
    expect(await store.list('b/')).toEqual(['b/a.png']);
  });

  it('a FIFO is refused at once instead of hanging the read', async () => {
    const { root } = await fresh();
    await mkdir(path.join(root, 'b'), { recursive: true });
    const fifo = path.join(root, 'b', 'pipe.png');
    execFileSync('mkfifo', [fifo]);
    await sidecar(root, 'b/pipe.png', { sha256: 'a'.repeat(64), bytes: 0, mime: 'image/png' });
    const store = new FsBlobStore(root);
    try {
      for (const [what, read] of [['get', () => store.get('b/pipe.png')], ['head', () => store.head('b/pipe.png')]] as Array<[string, () => Promise<unknown>]>) {
        const r = await settlesWithin(read(), 5000);
        expect({ what, hung: r.hung }).toEqual({ what, hung: undefined });
        expect(r.error).toBeInstanceOf(UnsafeBlobError);
        expect((r.error as UnsafeBlobError).reason).toMatch(/not a regular file.*FIFO/);
      }
      expect(await store.list('b/')).toEqual([]);
    } finally {
      // Frees a thread a blocked open would still hold, so the file can end.
      await open(fifo, 'w+').then((h) => h.close()).catch(() => {});
    }
  });

  it('a socket and a folder at a key are refused with the kind of file named', async () => {
    const { root } = await fresh();
    await mkdir(path.join(root, 'b', 'dir.png'), { recursive: true });
    const sock = path.join(root, 'b', 'sock.png');
    const server = createServer();
    servers.push(server);
    await new Promise<void>((r) => server.listen(sock, r));
    const store = new FsBlobStore(root);
    await expect(store.get('b/sock.png')).rejects.toMatchObject({ name: 'UnsafeBlobError', reason: expect.stringMatching(/socket/) });
    await expect(store.head('b/sock.png')).rejects.toBeInstanceOf(UnsafeBlobError);
    await expect(store.get('b/dir.png')).rejects.toMatchObject({ name: 'UnsafeBlobError', reason: expect.stringMatching(/folder/) });
    await expect(store.head('b/dir.png')).rejects.toBeInstanceOf(UnsafeBlobError);
    await expect(store.get('b/none.png')).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(store.head('b/none.png')).resolves.toBeUndefined();
  });

  it('a sidecar that is a symlink or lies (a header in its mime, a sha256 that is not one) is not believed', async () => {
    const { root, outside } = await fresh();
    const store = new FsBlobStore(root);
    await mkdir(path.join(root, 'b'), { recursive: true });
    await writeFile(path.join(root, 'b', 'a.png'), 'abc');
    const sha = createHash('sha256').update('abc').digest('hex');
    await sidecar(root, 'b/a.png', { sha256: 'x\r\nSet-Cookie: a=b', bytes: 3, mime: 'image/png\r\nX-Evil: 1' });
    expect(await store.head('b/a.png')).toMatchObject({ sha256: sha, bytes: 3, mime: 'application/octet-stream' });

    await writeFile(path.join(outside, 'meta.json'), JSON.stringify({ key: 'b/c.png', sha256: 'b'.repeat(64), bytes: 3, width: 9, height: 9, mime: 'image/png' }));
    await writeFile(path.join(root, 'b', 'c.png'), 'abc');
    await mkdir(path.join(root, '.meta', 'b'), { recursive: true });
    await symlink(path.join(outside, 'meta.json'), path.join(root, '.meta', 'b', 'c.png.json'));
    expect(await store.head('b/c.png')).toMatchObject({ sha256: sha, mime: 'application/octet-stream' });
  });
});

describe('FsBlobStore under concurrent writes', () => {
  it('a reader racing a put that replaces the blob gets the old or the new bytes, never a refusal', async () => {
    const { root } = await fresh();
    const store = new FsBlobStore(root);
    const versions = Array.from({ length: 4 }, (_, i) => Buffer.alloc(256 * 1024, i));
    await store.put('b/a.png', versions[0]!, { mime: 'image/png' });
    const errors: unknown[] = [];
    const reads = async () => {
      for (let i = 0; i < 300; i++) {
        const got = await store.get('b/a.png').catch((err: unknown) => errors.push(err));
        if (Buffer.isBuffer(got)) expect(versions.some((v) => v.equals(got))).toBe(true);
        await store.head('b/a.png').catch((err: unknown) => errors.push(err));
      }
    };
    const writes = async () => {
      for (let i = 0; i < 300; i++) await store.put('b/a.png', versions[i % versions.length]!, { mime: 'image/png' });
    };
    await Promise.all([reads(), reads(), writes()]);
    expect(errors).toEqual([]);
  });
});

describe('FsBlobStore bounds what one call reads', () => {
  it('get refuses a blob over its cap (default 256 MiB) from its size alone, naming key and sizes', async () => {
    const { root } = await fresh();
    await sparse(path.join(root, 'b', 'huge.png'), 300 * MiB);
    const store = new FsBlobStore(root);
    const e = await store.get('b/huge.png').catch((err: unknown) => err);
    expect(e).toBeInstanceOf(BlobTooLargeError);
    expect(e).toMatchObject({ key: 'b/huge.png', bytes: 300 * MiB, maxBytes: 256 * MiB });
    expect((e as Error).message).toMatch(/b\/huge\.png.*300\.0 MiB.*256\.0 MiB/);

    const small = new FsBlobStore(root, { maxReadBytes: 1024 });
    await small.put('b/k.json', Buffer.alloc(2048), { mime: 'application/json' });
    await expect(small.get('b/k.json')).rejects.toBeInstanceOf(BlobTooLargeError);
    await expect(small.get('b/k.json', { maxBytes: 4096 })).resolves.toHaveLength(2048);
    await expect(store.get('b/k.json', { maxBytes: 100 })).rejects.toBeInstanceOf(BlobTooLargeError);
  });

  it('head of a file with no sidecar hashes it by streaming, with the right digest', async () => {
    const { root } = await fresh();
    await sparse(path.join(root, 'b', 'big.bin'), 40 * MiB);
    const store = new FsBlobStore(root);
    const expected = createHash('sha256').update(Buffer.alloc(40 * MiB)).digest('hex');
    expect(await store.head('b/big.bin')).toEqual({ key: 'b/big.bin', sha256: expected, bytes: 40 * MiB, width: 0, height: 0, mime: 'application/octet-stream' });
  });

  it('openRead streams a blob with its size from the open file', async () => {
    const { root } = await fresh();
    const store = new FsBlobStore(root);
    await store.put('b/a.png', Buffer.from('hello'), { mime: 'image/png' });
    const r = await store.openRead('b/a.png');
    expect(r.bytes).toBe(5);
    const chunks: Buffer[] = [];
    for await (const c of r.stream) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('hello');
    await expect(store.openRead('b/none.png')).rejects.toBeInstanceOf(BlobNotFoundError);
  });
});
