/**
 * Reference images as a worker resolves them: https fetches from a real local HTTPS server (a
 * certificate made with openssl for this run, trusted through DARKROOM_REFERENCE_CA_FILE), with
 * the allow-list, the private-address rule, the size cap and the image check each refusing what
 * they must; blob: keys checked; everything stored content-addressed.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore } from '../../activities/blob-store/fs';
import { resolveBriefReferences } from '../../activities/prepare';
import { hostAllowed, isPrivateAddress, ReferenceError, ReferenceFetcher, resolveReferences } from '../../activities/references';
import { validateBrief } from '../../domain/brief';
import { parseConfig } from '../../domain/config';
import { Failure } from '../../domain/failures';
import { testBrief } from '../support/briefs';

let dir: string;
let blobs: FsBlobStore;
let server: https.Server;
let port: number;
let caFile: string;
let png: Buffer;
let bigPng: Buffer;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'darkroom-refs-'));
  blobs = new FsBlobStore(path.join(dir, 'blobs'));
  const key = path.join(dir, 'key.pem');
  caFile = path.join(dir, 'cert.pem');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', caFile, '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:127.0.0.2',
  ], { stdio: 'ignore' });
  png = await sharp({ create: { width: 64, height: 96, channels: 4, background: { r: 180, g: 90, b: 30, alpha: 1 } } }).png().toBuffer();
  // Noise does not compress: a PNG well over the 4 KiB cap the tests set.
  const noise = Buffer.from(Array.from({ length: 64 * 64 * 3 }, (_, i) => (i * 7919) % 251));
  bigPng = await sharp(noise, { raw: { width: 64, height: 64, channels: 3 } }).png({ compressionLevel: 0 }).toBuffer();
  server = https.createServer({ key: await fs.readFile(key), cert: await fs.readFile(caFile) }, (req, res) => {
    const url = req.url ?? '/';
    if (url === '/packshot.png') return res.writeHead(200, { 'content-type': 'image/png' }).end(png);
    if (url === '/big.png') return res.writeHead(200, { 'content-type': 'image/png', 'content-length': bigPng.length }).end(bigPng);
    if (url === '/big-chunked.png') {
      // No Content-Length: the cap must count the bytes as they arrive.
      res.writeHead(200, { 'content-type': 'image/png' });
      res.write(bigPng.subarray(0, 2000));
      return res.end(bigPng.subarray(2000));
    }
    if (url === '/not-an-image.png') return res.writeHead(200, { 'content-type': 'image/png' }).end('<html>a login page</html>');
    if (url === '/to-private') return res.writeHead(302, { location: `https://127.0.0.2:${port}/packshot.png` }).end();
    if (url === '/to-http') return res.writeHead(301, { location: `http://127.0.0.1:${port}/packshot.png` }).end();
    if (url === '/to-packshot') return res.writeHead(302, { location: '/packshot.png' }).end();
    if (url === '/gone.png') return res.writeHead(404).end('no');
    res.writeHead(500).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await fs.rm(dir, { recursive: true, force: true });
});

function fetcher(env: Record<string, string>) {
  return new ReferenceFetcher(parseConfig({ DARKROOM_REFERENCE_CA_FILE: caFile, DARKROOM_MAX_DOWNLOAD_BYTES: '4096', ...env }));
}
const local = () => `https://127.0.0.1:${port}`;
/** The server's own host, allowed, and its loopback address let through (as for an air-gapped image host). */
const allowed = { DARKROOM_REFERENCE_HOSTS: '127.0.0.1,127.0.0.2,localhost', DARKROOM_REFERENCE_ALLOW_PRIVATE: '127.0.0.1' };

async function refusal(p: Promise<unknown>): Promise<ReferenceError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, String(err)).toBeInstanceOf(ReferenceError);
  return err as ReferenceError;
}

describe('https references', () => {
  it('fetches from an allowed host (following a redirect on it) and stores the image by its SHA-256', async () => {
    const brief = validateBrief(testBrief({ references: { product: `${local()}/to-packshot` } }));
    const refs = await resolveReferences(brief, { blobs, fetcher: fetcher(allowed) });
    const sha = createHash('sha256').update(png).digest('hex');
    expect(refs?.product).toMatchObject({ key: `references/${sha}.png`, sha256: sha, mime: 'image/png', width: 64, height: 96, bytes: png.length });
    expect(refs?.style).toEqual([]);
    expect(Buffer.compare(await blobs.get(refs!.product!.key), png)).toBe(0);
  });

  it('fetches by host name through the checked DNS lookup when its addresses are let through', async () => {
    const f = fetcher({ DARKROOM_REFERENCE_HOSTS: 'localhost', DARKROOM_REFERENCE_ALLOW_PRIVATE: '127.0.0.0/8,::1' });
    expect(Buffer.compare(await f.fetch(`https://localhost:${port}/packshot.png`, 'references.product'), png)).toBe(0);
  });

  it('refuses every https fetch, naming DARKROOM_REFERENCE_HOSTS, when no host is allowed', async () => {
    const err = await refusal(fetcher({}).fetch(`${local()}/packshot.png`, 'references.product'));
    expect(err.field).toBe('references.product');
    expect(err.message).toContain('DARKROOM_REFERENCE_HOSTS');
  });

  it('refuses a host not on the list', async () => {
    const err = await refusal(fetcher({ ...allowed, DARKROOM_REFERENCE_HOSTS: 'cdn.example.com,*.shop.example' }).fetch(`${local()}/packshot.png`, 'references.style[0]'));
    expect(err.message).toMatch(/^references\.style\[0\] is on host 127\.0\.0\.1:\d+, which is not in DARKROOM_REFERENCE_HOSTS \(cdn\.example\.com, \*\.shop\.example\)/);
  });

  it('refuses private addresses: an IP literal, and a name whose DNS answer is private', async () => {
    const strict = fetcher({ DARKROOM_REFERENCE_HOSTS: '127.0.0.1,localhost' });
    expect((await refusal(strict.fetch(`${local()}/packshot.png`, 'references.product'))).message).toContain('127.0.0.1, a private, loopback or link-local address');
    // localhost resolves to 127.0.0.1 (and ::1): refused at the lookup, before any connection.
    const byName = await refusal(strict.fetch(`https://localhost:${port}/packshot.png`, 'references.product'));
    expect(byName.message).toMatch(/localhost resolves to (127\.0\.0\.1|::1), a private, loopback or link-local address/);
  });

  it('refuses a redirect to a private address, or away from https', async () => {
    const f = fetcher(allowed);
    const toPrivate = await refusal(f.fetch(`${local()}/to-private`, 'references.product'));
    expect(toPrivate.message).toContain(`redirects to "https://127.0.0.2:${port}/packshot.png", which is at 127.0.0.2, a private, loopback or link-local address`);
    const toHttp = await refusal(f.fetch(`${local()}/to-http`, 'references.product'));
    expect(toHttp.message).toContain('uses http; references are fetched over https only');
  });

  it('refuses an image over DARKROOM_MAX_DOWNLOAD_BYTES, whether its size is declared or not', async () => {
    expect(bigPng.length).toBeGreaterThan(4096);
    const f = fetcher(allowed);
    expect((await refusal(f.fetch(`${local()}/big.png`, 'references.product'))).message).toContain(`is ${bigPng.length} bytes, over the 4096-byte limit (DARKROOM_MAX_DOWNLOAD_BYTES)`);
    expect((await refusal(f.fetch(`${local()}/big-chunked.png`, 'references.product'))).message).toContain('over the 4096-byte limit (DARKROOM_MAX_DOWNLOAD_BYTES): refused after');
  });

  it('refuses what does not decode as an image, and a 404, for good; a 500 may be retried', async () => {
    const brief = validateBrief(testBrief({ references: { product: `${local()}/not-an-image.png` } }));
    const err = await refusal(resolveReferences(brief, { blobs, fetcher: fetcher(allowed) }));
    expect(err.message).toMatch(/^references\.product is not an image that can be decoded/);
    expect((await refusal(fetcher(allowed).fetch(`${local()}/gone.png`, 'references.product'))).message).toContain('answered 404');
    const busy = await fetcher(allowed).fetch(`${local()}/busy`, 'references.product').catch((e: unknown) => e);
    expect(busy).not.toBeInstanceOf(ReferenceError);
    expect((busy as Error).message).toContain('answered 500');
  });
});

describe('blob and local-path references at the worker', () => {
  it('checks a blob: reference exists and is an image', async () => {
    const stored = await blobs.put('references/manual.png', png, { mime: 'image/png' });
    const ok = await resolveReferences(validateBrief(testBrief({ references: { product: 'blob:references/manual.png' } })), { blobs, fetcher: fetcher({}) });
    expect(ok?.product).toMatchObject({ key: stored.key, width: 64, height: 96 });
    const missing = await refusal(resolveReferences(validateBrief(testBrief({ references: { style: ['blob:references/none.png'] } })), { blobs, fetcher: fetcher({}) }));
    expect(missing.message).toBe('references.style[0] names blob "references/none.png", which is not in the blob store');
  });

  it('fails a brief naming a local path non-retryably, with the field, as a raw `temporal workflow start` would send it', async () => {
    const brief = validateBrief(testBrief({ references: { product: './packshots/bottle.png' } }));
    const err = await resolveBriefReferences(brief, { blobs, fetcher: fetcher({}) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    const failure = err as ApplicationFailure;
    expect(failure.nonRetryable).toBe(true);
    expect(failure.type).toBe(Failure.InvalidBrief);
    expect(failure.message).toContain('invalid brief: references.product is a local file path ("./packshots/bottle.png"), which a worker cannot read');
    expect(failure.details).toEqual([[{ field: 'references.product', message: expect.stringContaining('darkroom CLI') }]]);
  });
});

describe('address and host rules', () => {
  it('knows private, loopback, link-local and mapped addresses', () => {
    for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1']) {
      expect(isPrivateAddress(a), a).toBe(true);
    }
    for (const a of ['93.184.216.34', '8.8.8.8', '2606:4700::1111']) expect(isPrivateAddress(a), a).toBe(false);
  });

  it('matches exact hosts and *.domain wildcards (subdomains only), with ports when a pattern names one', () => {
    const list = ['cdn.example.com', '*.shop.example', 'img.example.org:8443'];
    expect(hostAllowed(new URL('https://cdn.example.com/a.png'), list)).toBe(true);
    expect(hostAllowed(new URL('https://CDN.example.com/a.png'), list)).toBe(true);
    expect(hostAllowed(new URL('https://eu.cdn.example.com/a.png'), list)).toBe(false);
    expect(hostAllowed(new URL('https://a.shop.example/a.png'), list)).toBe(true);
    expect(hostAllowed(new URL('https://shop.example/a.png'), list)).toBe(false);
    expect(hostAllowed(new URL('https://evilshop.example/a.png'), list)).toBe(false);
    expect(hostAllowed(new URL('https://img.example.org:8443/a.png'), list)).toBe(true);
    expect(hostAllowed(new URL('https://img.example.org/a.png'), list)).toBe(false);
  });

  it('reads the configuration, naming the variable when it is wrong', () => {
    expect(parseConfig({}).DARKROOM_REFERENCE_HOSTS).toEqual([]);
    expect(parseConfig({}).DARKROOM_REFERENCE_ALLOW_PRIVATE).toBe(false);
    expect(parseConfig({ DARKROOM_REFERENCE_HOSTS: ' CDN.example.com, *.shop.example ' }).DARKROOM_REFERENCE_HOSTS).toEqual(['cdn.example.com', '*.shop.example']);
    expect(parseConfig({ DARKROOM_REFERENCE_ALLOW_PRIVATE: 'true' }).DARKROOM_REFERENCE_ALLOW_PRIVATE).toBe(true);
    expect(parseConfig({ DARKROOM_REFERENCE_ALLOW_PRIVATE: '10.1.2.3, 192.168.7.0/24' }).DARKROOM_REFERENCE_ALLOW_PRIVATE).toEqual(['10.1.2.3', '192.168.7.0/24']);
    expect(() => parseConfig({ DARKROOM_REFERENCE_HOSTS: 'https://cdn.example.com' })).toThrow(/DARKROOM_REFERENCE_HOSTS has "https:\/\/cdn.example.com", which is not a host name/);
    expect(() => parseConfig({ DARKROOM_REFERENCE_ALLOW_PRIVATE: 'sometimes' })).toThrow(/DARKROOM_REFERENCE_ALLOW_PRIVATE must be true, false, or a list/);
  });
});
