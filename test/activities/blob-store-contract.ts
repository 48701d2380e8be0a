/**
 * What every BlobStore promises, as one suite a test file runs against each implementation
 * (FsBlobStore on a temp folder, S3BlobStore on a real versitygw).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BlobNotFoundError, BlobTooLargeError, InvalidBlobKeyError, type BlobStore } from '../../activities/blob-store';

const MiB = 1024 * 1024;

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Distinct bytes of a given size, so a mixed-up blob cannot pass for another. */
function bytes(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4096) b.writeUInt32LE((seed * 2654435761 + i) >>> 0, i);
  return b;
}

async function drain(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export interface ContractStores {
  /** A store over fresh, empty storage. */
  fresh(options?: { maxReadBytes?: number }): Promise<BlobStore>;
}

export function blobStoreContract(name: string, stores: ContractStores): void {
  describe(`${name}: the BlobStore contract`, () => {
    it('put, get, head and openRead round-trip bytes and meta', async () => {
      const store = await stores.fresh();
      const data = bytes(70_000, 1);
      const ref = await store.put('b/candidates/r1-c01-v1-s7.png', data, { mime: 'image/png', width: 640, height: 480 });
      const expected = { key: 'b/candidates/r1-c01-v1-s7.png', sha256: sha(data), bytes: data.byteLength, width: 640, height: 480, mime: 'image/png' };
      expect(ref).toEqual(expected);
      expect((await store.get(ref.key)).equals(data)).toBe(true);
      expect(await store.head(ref.key)).toEqual(expected);
      const opened = await store.openRead(ref.key);
      expect(opened.bytes).toBe(data.byteLength);
      expect((await drain(opened.stream)).equals(data)).toBe(true);

      // Meta defaults, and a put over an ordinary key replaces it.
      await store.put('b/manifest.json', Buffer.from('{"v":1}'), { mime: 'application/json' });
      const again = await store.put('b/manifest.json', Buffer.from('{"v":2}'), { mime: 'application/json' });
      expect(again).toMatchObject({ width: 0, height: 0, bytes: 7, mime: 'application/json' });
      expect((await store.get('b/manifest.json')).toString()).toBe('{"v":2}');
      expect(await store.head('b/manifest.json')).toEqual(again);

      await store.delete('b/manifest.json');
      expect(await store.head('b/manifest.json')).toBeUndefined();
    });

    it('a missing key: get and openRead throw BlobNotFoundError naming it, head says undefined', async () => {
      const store = await stores.fresh();
      const e = await store.get('b/none.png').catch((err: unknown) => err);
      expect(e).toBeInstanceOf(BlobNotFoundError);
      expect(e).toMatchObject({ key: 'b/none.png' });
      await expect(store.openRead('b/none.png')).rejects.toBeInstanceOf(BlobNotFoundError);
      expect(await store.head('b/none.png')).toBeUndefined();
    });

    it('list gives the keys under a prefix, sorted, past 1000 of them', async () => {
      const store = await stores.fresh();
      const keys = Array.from({ length: 1100 }, (_, i) => `big/k${String(i).padStart(4, '0')}.json`);
      const one = Buffer.from('{}');
      for (let i = 0; i < keys.length; i += 50) {
        await Promise.all(keys.slice(i, i + 50).map((k) => store.put(k, one, { mime: 'application/json' })));
      }
      await store.put('bigger/x.json', one, { mime: 'application/json' });
      await store.put('other/y.json', one, { mime: 'application/json' });

      const listed = await store.list('big/');
      expect(listed).toHaveLength(1100);
      expect(listed).toEqual(keys);
      expect(await store.list('big/k109')).toEqual(keys.slice(1090, 1100));
      expect(await store.list('big')).toEqual([...keys, 'bigger/x.json']);
      expect(await store.list('nothing/')).toEqual([]);
      expect(await store.list('')).toHaveLength(1102);
    });

    it('two concurrent puts of one key both succeed and leave one whole blob', async () => {
      const store = await stores.fresh();
      const key = 'b/candidates/r1-c02-v1-s8.png';
      const a = bytes(200_000, 2);
      const b = bytes(200_000, 3);
      const refs = await Promise.all([store.put(key, a, { mime: 'image/png', width: 2, height: 2 }), store.put(key, b, { mime: 'image/png', width: 2, height: 2 })]);
      expect(await store.list('b/candidates/')).toEqual([key]);
      const stored = await store.get(key);
      expect([sha(a), sha(b)]).toContain(sha(stored));
      // head describes the bytes that are stored, not the other put's (FsBlobStore once paired one
      // put's file with the other's sidecar: its two renames interleaved).
      expect(await store.head(key)).toMatchObject({ key, bytes: 200_000, mime: 'image/png', sha256: sha(stored) });
      for (const ref of refs) expect(ref).toMatchObject({ key, bytes: 200_000, mime: 'image/png' });
    });

    it('a 12 MiB body goes in and comes back whole', async () => {
      const store = await stores.fresh();
      const data = bytes(12 * MiB, 4);
      const ref = await store.put('b/masters/c01-4096x4096.png', data, { mime: 'image/png', width: 4096, height: 4096 });
      expect(ref.bytes).toBe(12 * MiB);
      expect(await store.head(ref.key)).toEqual(ref);
      const got = await store.get(ref.key);
      expect(sha(got)).toBe(sha(data));
      const opened = await store.openRead(ref.key);
      expect(opened.bytes).toBe(12 * MiB);
      expect(sha(await drain(opened.stream))).toBe(sha(data));
    });

    it('get refuses a blob over maxReadBytes (the store\'s or the call\'s), naming key and sizes', async () => {
      const store = await stores.fresh({ maxReadBytes: 4096 });
      await store.put('b/k.json', Buffer.alloc(8192), { mime: 'application/json' });
      const e = await store.get('b/k.json').catch((err: unknown) => err);
      expect(e).toBeInstanceOf(BlobTooLargeError);
      expect(e).toMatchObject({ key: 'b/k.json', bytes: 8192, maxBytes: 4096 });
      await expect(store.get('b/k.json', { maxBytes: 8192 })).resolves.toHaveLength(8192);
      await expect(store.get('b/k.json', { maxBytes: 1024 })).rejects.toBeInstanceOf(BlobTooLargeError);
    });

    it('unsafe keys are refused before anything is touched', async () => {
      const store = await stores.fresh();
      for (const key of ['../escape.png', '/etc/passwd', 'b/../../x', 'b/.meta/x.json', '', 'b\\x.png']) {
        await expect(store.put(key, Buffer.from('x'), { mime: 'text/plain' }), key).rejects.toBeInstanceOf(InvalidBlobKeyError);
        await expect(store.get(key), key).rejects.toBeInstanceOf(InvalidBlobKeyError);
        await expect(store.head(key), key).rejects.toBeInstanceOf(InvalidBlobKeyError);
      }
      expect(await store.list('')).toEqual([]);
    });
  });
}
