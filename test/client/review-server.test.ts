/**
 * The reviewer tool's HTTP server against hostile and unlucky requests, in-process on a real
 * dev server connection: files in the blob folder that are not blobs, files too big to read
 * whole, a TLS proxy in front, expired logins, and bodies, paths and headers built to hurt.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { FsBlobStore } from '../../activities/blob-store';
import { startReviewServer, type ReviewServer, type ReviewServerOptions } from '../../client/review/server';
import { closeTestConnection, testConnection } from '../support/temporal';

afterAll(closeTestConnection);

const TOKEN = 'review-server-test-token-0123456789';
const MiB = 1024 * 1024;
const bearer = { Authorization: `Bearer ${TOKEN}` };
const post = { 'Content-Type': 'application/json', 'X-Darkroom': '1', ...bearer };

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** Bytes received in all (the body is only kept up to 64 KiB, so big downloads cost no memory). */
  received: number;
}

/** A raw request: the path is sent exactly as given; the body may be a Buffer or chunks sent without Content-Length. */
function raw(url: string, rawPath: string, opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; chunks?: Buffer[] } = {}): Promise<Reply> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request({ host: u.hostname, port: u.port, path: rawPath, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      answered = true;
      const kept: Buffer[] = [];
      let received = 0;
      res.on('data', (c: Buffer) => {
        if (received < 64 * 1024) kept.push(c);
        received += c.byteLength;
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(kept), received }));
      res.on('error', reject);
    });
    // The server may answer (413) and close before the whole body is sent: fine once it answered.
    req.on('error', (err: NodeJS.ErrnoException) => (answered && (err.code === 'EPIPE' || err.code === 'ECONNRESET') ? undefined : reject(err)));
    if (opts.chunks) {
      for (const c of opts.chunks) req.write(c);
      req.end();
    } else req.end(opts.body);
  });
}

const errorOf = (r: Reply) => (JSON.parse(r.body.toString()) as { error: string }).error;

async function withServer<T>(opts: Partial<ReviewServerOptions>, fn: (server: ReviewServer, root: string) => Promise<T>): Promise<T> {
  const client = await testConnection();
  const root = path.join(await mkdtemp(path.join(os.tmpdir(), 'darkroom-review-server-')), 'blobs');
  await mkdir(root, { recursive: true });
  const server = await startReviewServer({ client, blobs: new FsBlobStore(root), token: TOKEN, port: 0, taskQueue: 'review-server-none', ...opts });
  try {
    return await fn(server, root);
  } finally {
    await server.close();
  }
}

/** The sidecar `put` writes, placed by hand. */
async function sidecar(root: string, key: string, ref: { bytes: number; mime: string; sha256?: string }): Promise<void> {
  const file = path.join(root, '.meta', ...key.split('/')) + '.json';
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify({ key, sha256: 'a'.repeat(64), width: 0, height: 0, ...ref }));
}

describe('reviewer tool: files in the blob folder that are not blobs', () => {
  it('never serves a symlink (at the file or at a folder on its path), a FIFO or a folder: 403, never 200, and no hang', async () => {
    await withServer({}, async (server, root) => {
      const outside = path.join(path.dirname(root), 'outside');
      await mkdir(outside, { recursive: true });
      const secret = 'root:x:0:0:root:/root:/bin/bash\n';
      await writeFile(path.join(outside, 'passwd'), secret);
      const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#808080' } }).png().toBuffer();
      await writeFile(path.join(outside, 'real.png'), png);

      // A link to a secret, with a sidecar that matches its size and claims an image.
      await mkdir(path.join(root, 'b', 'candidates'), { recursive: true });
      await symlink(path.join(outside, 'passwd'), path.join(root, 'b', 'candidates', 'r1-c01.png'));
      await sidecar(root, 'b/candidates/r1-c01.png', { bytes: secret.length, mime: 'image/png' });
      // A folder on the path that is a link out of the store.
      await symlink(outside, path.join(root, 'b', 'linked'));
      await sidecar(root, 'b/linked/real.png', { bytes: png.byteLength, mime: 'image/png' });
      execFileSync('mkfifo', [path.join(root, 'b', 'candidates', 'pipe.png')]);
      await sidecar(root, 'b/candidates/pipe.png', { bytes: 0, mime: 'image/png' });
      await mkdir(path.join(root, 'b', 'candidates', 'dir.png'));

      for (const key of ['b/candidates/r1-c01.png', 'b/linked/real.png', 'b/candidates/pipe.png', 'b/candidates/dir.png']) {
        for (const q of ['', '?w=320']) {
          const r = await raw(server.url, `/blobs/${key}${q}`, { headers: bearer });
          expect({ key, q, status: r.status }).toEqual({ key, q, status: 403 });
          expect(r.body.toString()).toMatch(/refused blob .*(symbolic link|FIFO|folder)/);
          expect(r.body.toString()).not.toContain('root:x');
        }
      }
    });
  });
});

describe('reviewer tool: what one request may read', () => {
  it('four concurrent requests for a 300 MB file get clear errors or bounded streams, and memory stays far below the file size', async () => {
    await withServer({}, async (server, root) => {
      // Sparse: open and ftruncate, so 300 MB cost no disk.
      const big = async (key: string) => {
        const file = path.join(root, ...key.split('/'));
        await mkdir(path.dirname(file), { recursive: true });
        const h = await open(file, 'w');
        await h.truncate(300 * MiB);
        await h.close();
      };
      await big('b/candidates/nosidecar.png');
      await big('b/candidates/huge.png');
      await sidecar(root, 'b/candidates/huge.png', { bytes: 300 * MiB, mime: 'image/png' });

      const before = process.memoryUsage().rss;
      let peak = before;
      const sampler = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss);
      }, 10);
      const four = (p: string) => Promise.all(Array.from({ length: 4 }, () => raw(server.url, p, { headers: bearer })));
      let replies: Record<'noSidecar' | 'noSidecarThumb' | 'thumb' | 'full', Reply[]>;
      try {
        replies = {
          // No sidecar: described from its bytes (hashed in pieces), then refused as not an image.
          noSidecar: await four('/blobs/b/candidates/nosidecar.png'),
          noSidecarThumb: await four('/blobs/b/candidates/nosidecar.png?w=320'),
          // Too big to make a thumbnail from: refused before any byte is read.
          thumb: await four('/blobs/b/candidates/huge.png?w=320'),
          // Full size: streamed from disk, all of it.
          full: await four('/blobs/b/candidates/huge.png'),
        };
      } finally {
        clearInterval(sampler);
      }
      peak = Math.max(peak, process.memoryUsage().rss);
      // Memory first: it is what the defect was about (4 × 300 MB read whole).
      expect((peak - before) / MiB).toBeLessThan(200);
      for (const r of [...replies.noSidecar, ...replies.noSidecarThumb]) expect(r.status).toBe(415);
      for (const r of replies.thumb) {
        expect(r.status).toBe(413);
        expect(r.body.toString()).toMatch(/too large for a thumbnail/);
      }
      for (const r of replies.full) {
        expect(r.status).toBe(200);
        expect(r.headers['content-length']).toBe(String(300 * MiB));
        expect(r.received).toBe(300 * MiB);
      }
    });
  });

  it('makes thumbnails within a pixel limit, a few at a time, and still serves them all', async () => {
    await withServer({ images: { limitInputPixels: 1000 * 1000, thumbConcurrency: 1 } }, async (server, root) => {
      const store = new FsBlobStore(root);
      const small = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#336699' } }).png().toBuffer();
      const wide = await sharp({ create: { width: 2000, height: 1000, channels: 3, background: '#336699' } }).png().toBuffer();
      for (let i = 0; i < 6; i++) await store.put(`b/c/s${i}.png`, small, { mime: 'image/png', width: 800, height: 600 });
      await store.put('b/c/wide.png', wide, { mime: 'image/png', width: 2000, height: 1000 });
      const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => raw(server.url, `/blobs/b/c/s${i}.png?w=100`, { headers: bearer })));
      for (const r of replies) {
        expect(r.status).toBe(200);
        expect((await sharp(r.body).metadata()).width).toBe(100);
      }
      const over = await raw(server.url, '/blobs/b/c/wide.png?w=100', { headers: bearer });
      expect(over.status).toBe(413);
      expect(over.body.toString()).toMatch(/pixels/);
      expect((await raw(server.url, '/blobs/b/c/wide.png', { headers: bearer })).status).toBe(200);
    });
  });
});

describe('reviewer tool behind a TLS proxy', () => {
  it('accepts decisions from its public https origin and its own address, refuses any other origin', async () => {
    await withServer({ publicUrl: 'https://review.example.com' }, async (server) => {
      expect(server.loginUrl).toBe(`https://review.example.com/login?token=${TOKEN}`);
      const body = JSON.stringify({ action: 'reject', reason: 'origin test' });
      const to = (origin: string) => raw(server.url, '/api/briefs/brief-no-such-one/review', { method: 'POST', headers: { ...post, Origin: origin }, body });
      // Past the origin check, the decision reaches Temporal, which has no such workflow.
      const ok = await to('https://review.example.com');
      expect(ok.status).toBe(404);
      expect(errorOf(ok)).toMatch(/no workflow brief-no-such-one/);
      expect((await to(server.url.replace(/\/$/, ''))).status).toBe(404);
      for (const origin of ['https://evil.example.com', 'http://review.example.com', 'https://review.example.com:8443', 'https://review.example.com.evil.io', 'null']) {
        const r = await to(origin);
        expect({ origin, status: r.status }).toEqual({ origin, status: 403 });
      }
    });
  });

  it('sets a Secure, HttpOnly, SameSite, Max-Age cookie; an expired session gets 401 and must log in again', async () => {
    let now = Date.parse('2030-01-01T00:00:00Z');
    await withServer({ publicUrl: 'https://review.example.com/', sessionTtlMs: 60_000, clock: () => now }, async (server) => {
      const login = await raw(server.url, `/login?token=${TOKEN}`);
      expect(login.status).toBe(303);
      const setCookie = String(login.headers['set-cookie']);
      for (const attr of ['Secure', 'HttpOnly', 'SameSite=Strict', 'Max-Age=60', 'Path=/']) expect(setCookie).toContain(attr);
      const cookie = { Cookie: setCookie.split(';')[0]! };
      expect((await raw(server.url, '/api/queue', { headers: cookie })).status).not.toBe(401);

      now += 61_000;
      const expired = await raw(server.url, '/api/queue', { headers: cookie });
      expect(expired.status).toBe(401);
      expect(errorOf(expired)).toMatch(/expired/);
      expect((await raw(server.url, '/', { headers: cookie })).status).toBe(401);
      // A cookie re-dated by hand is not signed for its new date.
      const [name, value] = cookie.Cookie.split('=') as [string, string];
      const forged = `${name}=${now.toString(36)}.${value.split('.')[1]}`;
      expect((await raw(server.url, '/api/queue', { headers: { Cookie: forged } })).status).toBe(401);
      // The bearer token is the secret itself, not a session: it does not expire.
      expect((await raw(server.url, '/api/queue', { headers: bearer })).status).not.toBe(401);
    });
  });

  it('without a public URL the cookie is not Secure but still expires', async () => {
    await withServer({}, async (server) => {
      const setCookie = String((await raw(server.url, `/login?token=${TOKEN}`)).headers['set-cookie']);
      expect(setCookie).not.toContain('Secure');
      expect(setCookie).toContain(`Max-Age=${12 * 3600}`);
    });
  });

  it('refuses a public URL the tool cannot be served at', async () => {
    const client = await testConnection();
    for (const publicUrl of ['ftp://review.example.com', 'https://review.example.com/review/', 'https://user:pw@review.example.com', 'not a url']) {
      await expect(startReviewServer({ client, blobs: new FsBlobStore(os.tmpdir()), token: TOKEN, publicUrl }), publicUrl).rejects.toThrow(/public URL/);
    }
  });
});

describe('reviewer tool: hostile requests get a bounded, clear 4xx', () => {
  it('bodies: too big (with or without Content-Length), not JSON, not an object, fields checked one by one', async () => {
    await withServer({}, async (server) => {
      const review = '/api/briefs/brief-x/review';
      const big = Buffer.alloc(200 * 1024, 'a');
      const tooBig = await raw(server.url, review, { method: 'POST', headers: post, body: big });
      expect(tooBig.status).toBe(413);
      expect(errorOf(tooBig)).toMatch(/at most 64 KiB/);
      const chunked = await raw(server.url, review, { method: 'POST', headers: post, chunks: Array.from({ length: 64 }, () => Buffer.alloc(32 * 1024, 'a')) });
      expect(chunked.status).toBe(413);

      const bad = async (p: string, body: string, status: number, message: RegExp) => {
        const r = await raw(server.url, p, { method: 'POST', headers: post, body });
        expect({ body: body.slice(0, 80), status: r.status }).toEqual({ body: body.slice(0, 80), status });
        expect(errorOf(r)).toMatch(message);
        expect(r.body.byteLength).toBeLessThan(2000);
        return errorOf(r);
      };
      await bad(review, '{"action": "approve", ', 400, /not valid JSON/);
      await bad(review, '[1,2]', 400, /must be a JSON object/);
      await bad(review, 'null', 400, /must be a JSON object/);
      await bad(review, '{"action":"nuke"}', 400, /action .*approve.*reject.*requestChanges/);
      await bad(review, '{"action":"approve"}', 400, /candidateIds is required/);
      await bad(review, '{"action":"approve","candidateIds":[]}', 400, /candidateIds .*at least 1/);
      await bad(review, '{"action":"approve","candidateIds":[7]}', 400, /candidateIds\[0\] must be a string/);
      await bad(review, '{"action":"approve","candidateIds":["r1-c01"],"candidateId":"x"}', 400, /candidateId is not a field/);
      await bad(review, JSON.stringify({ action: 'approve', candidateIds: ['r1-c01'], comment: 'nice\u001b[2J\u001b]0;pwned\u0007' }), 400, /comment must not contain control characters/);
      await bad(review, JSON.stringify({ action: 'reject', reason: 'because\u202Egnp.exe' }), 400, /reason must not contain control characters/);
      await bad(review, JSON.stringify({ action: 'requestChanges', feedback: 'warmer', keep: ['r1-c01\r\nX-Evil: 1'] }), 400, /keep\[0\]/);
      await bad(review, JSON.stringify({ action: 'reject', reason: 'x', reviewer: 'r'.repeat(300) }), 400, /reviewer must be at most 200 characters/);
      await bad(review, JSON.stringify({ action: 'reject', reason: '   ' }), 400, /reason must not be empty/);
      const long = await bad(review, JSON.stringify({ action: 'approve', candidateIds: ['<script>'.repeat(5000)] }), 400, /candidateIds\[0\]/);
      expect(long).not.toContain('<script><script><script><script>');
      // Many bad fields: each named, the list bounded.
      const many = JSON.stringify(Object.fromEntries([['action', 'reject'], ['reason', 'x'], ...Array.from({ length: 500 }, (_, i) => [`extra${i}-${'k'.repeat(50)}`, 1])]));
      await bad(review, many, 400, /extra0-k+.* is not a field.*more/);

      await bad('/api/bulk-approve', '{"minScore":"80"}', 400, /minScore must be a number/);
      await bad('/api/bulk-approve', '{"minScore":101}', 400, /minScore must be at most 100/);
      await bad('/api/bulk-approve', '{"minScore":80,"dryrun":true}', 400, /dryrun is not a field/);
      await bad('/api/bulk-approve', JSON.stringify({ minScore: 80, reviewer: 'a\u0007' }), 400, /reviewer must not contain control characters/);

      const form = await raw(server.url, review, { method: 'POST', headers: { ...post, 'Content-Type': 'text/plain' }, body: '{}' });
      expect(form.status).toBe(415);
      expect(errorOf(form)).toMatch(/Content-Type: application\/json/);
    });
  });

  it('paths, ids and headers: too long, control characters, header injection, foreign origins echoed clipped', async () => {
    await withServer({}, async (server) => {
      const longUrl = await raw(server.url, `/briefs/${'a'.repeat(6000)}`, { headers: bearer });
      expect(longUrl.status).toBe(414);

      const longId = await raw(server.url, `/api/briefs/${'b'.repeat(1500)}`, { headers: bearer });
      expect(longId.status).toBe(400);
      expect(errorOf(longId)).toMatch(/workflow id/);
      expect(longId.body.byteLength).toBeLessThan(1000);

      const injected = await raw(server.url, '/api/briefs/x%0d%0aSet-Cookie:%20evil=1/review', { method: 'POST', headers: post, body: '{}' });
      expect(injected.status).toBe(400);
      expect(JSON.stringify(injected.headers)).not.toContain('evil');
      const injectedPage = await raw(server.url, '/briefs/x%0d%0aX-Evil:%201%0d%0a%0d%0a%3Cscript%3Ealert(1)%3C%2Fscript%3E', { headers: bearer });
      expect(injectedPage.status).toBe(400);
      expect(injectedPage.headers['x-evil']).toBeUndefined();
      expect(injectedPage.body.toString()).not.toContain('<script>alert');
      expect((await raw(server.url, '/api/briefs/%E0%A4%A', { headers: bearer })).status).toBe(400);
      expect((await raw(server.url, '/api/queue?filter=a%0d%0ab', { headers: bearer })).status).toBe(400);
      const longFilter = await raw(server.url, `/api/queue?filter=${encodeURIComponent(`DarkroomCatalogId = '${'x'.repeat(1500)}'`)}`, { headers: bearer });
      expect(longFilter.status).toBe(400);
      expect(errorOf(longFilter)).toMatch(/invalid filter .*\(\d+ chars\): at most 500 characters/);
      expect(longFilter.body.byteLength).toBeLessThan(1000);

      const origin = `https://evil.example/${'<script>'.repeat(500)}`;
      const foreign = await raw(server.url, '/api/bulk-approve', { method: 'POST', headers: { ...post, Origin: origin }, body: '{"minScore":80}' });
      expect(foreign.status).toBe(403);
      expect(foreign.body.byteLength).toBeLessThan(1000);

      // A page for an id no one runs: the id is escaped and clipped in the HTML.
      const page = await raw(server.url, `/briefs/brief-${'x'.repeat(150)}`, { headers: bearer });
      expect(page.status).toBe(404);
      expect(page.headers['content-type']).toMatch(/text\/html/);

      for (const method of ['PUT', 'DELETE', 'OPTIONS', 'TRACE']) {
        const r = await raw(server.url, '/api/queue', { method, headers: bearer });
        expect({ method, status: r.status, allow: r.headers.allow }).toEqual({ method, status: 405, allow: 'GET' });
      }
      const review = await raw(server.url, '/api/briefs/brief-x/review', { headers: bearer });
      expect({ status: review.status, allow: review.headers.allow }).toEqual({ status: 405, allow: 'POST' });
      expect((await raw(server.url, '/api/nothing', { method: 'PUT', headers: bearer })).status).toBe(404);
    });
  });
});
