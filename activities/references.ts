/**
 * Brief reference images, resolved before any money is spent: `blob:` keys checked, https URLs
 * fetched from allowed hosts only (never into the worker's own network), every one decoded as an
 * image and stored content-addressed. Only {@link BlobRef}s leave here, so no image bytes enter a
 * workflow's history.
 */
import { createHash } from 'node:crypto';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import sharp from 'sharp';
import type { Config } from '../domain/config';
import { imageMime, referenceFields, referenceKey, referenceKind, type ReferenceField, type ResolvedReferences } from '../domain/references';
import { clip, preview } from '../domain/text';
import type { BlobRef } from '../domain/types';
import { BlobNotFoundError, type BlobStore } from './blob-store';

/** Why a reference cannot be used, for one field: no retry changes it. */
export class ReferenceError extends Error {
  override readonly name = 'ReferenceError';
  constructor(readonly field: string, readonly reason: string, options?: ErrorOptions) {
    super(`${field} ${reason}`, options);
  }
}

/** A fetch that may work on another attempt (connection refused, a 5xx, a timeout). */
export class ReferenceFetchError extends Error {
  override readonly name = 'ReferenceFetchError';
}

/** Smallest and largest side, and most pixels, a reference may have. */
export const REFERENCE_MIN_SIDE = 16;
export const REFERENCE_MAX_SIDE = 8192;
export const REFERENCE_MAX_PIXELS = 40_000_000;
/** Redirects one fetch may follow, each one checked like the first URL. */
const MAX_REDIRECTS = 3;
const FETCH_TIMEOUT_MS = 30_000;

type ReferenceConfig = Pick<Config, 'DARKROOM_REFERENCE_HOSTS' | 'DARKROOM_REFERENCE_ALLOW_PRIVATE' | 'DARKROOM_REFERENCE_CA_FILE' | 'DARKROOM_MAX_DOWNLOAD_BYTES'>;

/**
 * Addresses a reference fetch never connects to: this host, private networks, link-local
 * (cloud metadata at 169.254.169.254 among them), carrier-grade NAT, multicast and reserved.
 */
const PRIVATE = (() => {
  const b = new BlockList();
  for (const [net, bits] of [
    ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
    ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24], ['203.0.113.0', 24],
    ['224.0.0.0', 4], ['240.0.0.0', 4],
  ] as const) b.addSubnet(net, bits, 'ipv4');
  for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96], ['2001:db8::', 32]] as const) {
    b.addSubnet(net, bits, 'ipv6');
  }
  return b;
})();

/** Whether `address` (an IP literal) is one a reference fetch must not reach. */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return PRIVATE.check(address, 'ipv4');
  if (family !== 6) return true;
  // An IPv4 address written as IPv6 (::ffff:127.0.0.1) is the IPv4 address.
  const mapped = /^::ffff:(?:0:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return PRIVATE.check(mapped[1]!, 'ipv4');
  return PRIVATE.check(address, 'ipv6');
}

/** Addresses the configuration lets through despite being private (DARKROOM_REFERENCE_ALLOW_PRIVATE as a list). */
function allowedPrivate(setting: boolean | readonly string[]): (address: string) => boolean {
  if (setting === true) return () => true;
  if (setting === false || setting.length === 0) return () => false;
  const list = new BlockList();
  for (const item of setting) {
    const [net, bits] = item.split('/');
    const family = isIP(net!) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(net!, family);
    else list.addSubnet(net!, Number(bits), family);
  }
  return (address) => {
    const mapped = /^::ffff:(?:0:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    const a = mapped ? mapped[1]! : address;
    return list.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4');
  };
}

/** Whether `url`'s host is on the allow-list: exact names, or `*.domain` for its subdomains; a pattern with a port must match it too. */
export function hostAllowed(url: URL, patterns: readonly string[]): boolean {
  const host = url.hostname.toLowerCase();
  const port = url.port || '443';
  return patterns.some((p) => {
    const m = /^(.*?)(?::(\d+))?$/.exec(p)!;
    const name = m[1]!.replace(/^\[(.*)\]$/, '$1');
    if (m[2] && m[2] !== port) return false;
    const h = host.replace(/^\[(.*)\]$/, '$1');
    return name.startsWith('*.') ? h.endsWith(name.slice(1)) && h.length > name.length - 1 : h === name;
  });
}

/**
 * A DNS lookup that refuses when any address a name resolves to is private: the connection is
 * then made to an address this very lookup checked, so a second resolution cannot swap one in.
 */
function guardedLookup(allowPrivate: (address: string) => boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, family: options.family, hints: options.hints }, (err, addresses: LookupAddress[]) => {
      if (err) return callback(err, '', 0);
      const bad = addresses.find((a) => isPrivateAddress(a.address) && !allowPrivate(a.address));
      if (bad) return callback(new PrivateAddressError(hostname, bad.address), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new Error(`${hostname} has no address`), '', 0);
      callback(null, first.address, first.family);
    });
  };
}

class PrivateAddressError extends Error {
  override readonly name = 'PrivateAddressError';
  constructor(readonly host: string, readonly address: string) {
    super(`${host} resolves to ${address}, a private, loopback or link-local address, which reference fetches never reach`);
  }
}

/** Fetches reference images over https under the worker's rules; one per worker. */
export class ReferenceFetcher {
  readonly #config: ReferenceConfig;
  readonly #allowPrivate: (address: string) => boolean;
  #ca: string | undefined;

  constructor(config: ReferenceConfig) {
    this.#config = config;
    this.#allowPrivate = allowedPrivate(config.DARKROOM_REFERENCE_ALLOW_PRIVATE);
  }

  /** The image at `source` (an https URL), checked against every rule; `field` names it in errors. */
  async fetch(source: string, field: string, signal?: AbortSignal): Promise<Buffer> {
    const hosts = this.#config.DARKROOM_REFERENCE_HOSTS;
    if (hosts.length === 0) {
      throw new ReferenceError(field, `is an https URL, and this worker fetches references from no host: set DARKROOM_REFERENCE_HOSTS (e.g. cdn.example.com,*.example.com), or upload the image with the darkroom CLI`);
    }
    let url = new URL(source);
    for (let hop = 0; ; hop++) {
      this.#check(url, field, hop > 0);
      const res = await this.#get(url, field, signal);
      if ('redirect' in res) {
        if (hop >= MAX_REDIRECTS) throw new ReferenceError(field, `redirects more than ${MAX_REDIRECTS} times (${preview(source, 200)})`);
        url = new URL(res.redirect, url);
        continue;
      }
      return res.body;
    }
  }

  #check(url: URL, field: string, redirected: boolean): void {
    const via = redirected ? `redirects to ${preview(url.href, 200)}, which` : '';
    if (url.protocol !== 'https:') throw new ReferenceError(field, `${via || 'is not https: it'} uses ${url.protocol.replace(/:$/, '')}; references are fetched over https only`);
    if (url.username || url.password) throw new ReferenceError(field, `${via || 'has'} credentials in the URL, which are refused`);
    if (!hostAllowed(url, this.#config.DARKROOM_REFERENCE_HOSTS)) {
      throw new ReferenceError(field, `${via ? `${via} is on` : 'is on'} host ${url.host}, which is not in DARKROOM_REFERENCE_HOSTS (${this.#config.DARKROOM_REFERENCE_HOSTS.join(', ')})`);
    }
    const literal = url.hostname.replace(/^\[(.*)\]$/, '$1');
    if (isIP(literal) && isPrivateAddress(literal) && !this.#allowPrivate(literal)) {
      throw new ReferenceError(field, `${via ? `${via} is` : 'is'} at ${literal}, a private, loopback or link-local address, which reference fetches never reach`);
    }
  }

  #caPem(): string | undefined {
    const file = this.#config.DARKROOM_REFERENCE_CA_FILE;
    if (!file) return undefined;
    this.#ca ??= readFileSync(file, 'utf8');
    return this.#ca;
  }

  #get(url: URL, field: string, signal?: AbortSignal): Promise<{ body: Buffer } | { redirect: string }> {
    const limit = this.#config.DARKROOM_MAX_DOWNLOAD_BYTES;
    const ca = this.#caPem();
    return new Promise((resolve, reject) => {
      const req = https.get(url, {
        lookup: guardedLookup(this.#allowPrivate),
        // The system's roots plus the configured CA, not instead of them.
        ...(ca ? { ca: [...rootCertificates, ca] } : {}),
        agent: false,
        timeout: FETCH_TIMEOUT_MS,
        signal,
        headers: { accept: 'image/*', 'user-agent': 'darkroom-reference-fetch' },
      }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 300 && status < 400 && res.headers.location) {
          res.resume();
          return resolve({ redirect: res.headers.location });
        }
        if (status < 200 || status >= 300) {
          res.resume();
          const msg = `${url.host} answered ${status} for ${preview(url.href, 200)}`;
          // A missing or forbidden image stays missing; a busy server may answer next time.
          return reject(status >= 500 || status === 408 || status === 429 ? new ReferenceFetchError(msg) : new ReferenceError(field, `could not be fetched: ${msg}`));
        }
        const declared = Number(res.headers['content-length'] ?? NaN);
        if (Number.isFinite(declared) && declared > limit) {
          res.destroy();
          return reject(new ReferenceError(field, `is ${declared} bytes, over the ${limit}-byte limit (DARKROOM_MAX_DOWNLOAD_BYTES); nothing was read`));
        }
        const chunks: Buffer[] = [];
        let total = 0;
        res.on('data', (chunk: Buffer) => {
          total += chunk.byteLength;
          if (total > limit) {
            // Settled first: the dropped connection's own errors come after and change nothing.
            reject(new ReferenceError(field, `is over the ${limit}-byte limit (DARKROOM_MAX_DOWNLOAD_BYTES): refused after ${total} bytes, the connection dropped`));
            res.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', (err) => reject(new ReferenceFetchError(`reading ${url.host}: ${err.message}`, { cause: err })));
        res.on('end', () => resolve({ body: Buffer.concat(chunks, total) }));
      });
      req.on('timeout', () => req.destroy(new ReferenceFetchError(`${url.host} did not answer within ${FETCH_TIMEOUT_MS / 1000}s`)));
      req.on('error', (err) => {
        const cause = (err as { cause?: unknown }).cause ?? err;
        if (err instanceof PrivateAddressError || cause instanceof PrivateAddressError) {
          const p = (err instanceof PrivateAddressError ? err : cause) as PrivateAddressError;
          return reject(new ReferenceError(field, p.message));
        }
        if (err instanceof ReferenceFetchError) return reject(err);
        const code = (err as NodeJS.ErrnoException).code;
        // A certificate that does not verify will not verify on a retry either.
        if (code && /CERT|SSL|TLS|SELF_SIGNED/.test(code)) return reject(new ReferenceError(field, `could not be fetched from ${url.host}: ${clip(err.message, 200)} (${code})`));
        reject(new ReferenceFetchError(`fetching ${preview(url.href, 200)}: ${clip(err.message, 200)}`, { cause: err }));
      });
    });
  }
}

/** Decodes `bytes` as an image of a sane size, or says (for `field`) why not. */
export async function checkReferenceImage(bytes: Uint8Array, field: string): Promise<{ mime: string; width: number; height: number }> {
  let meta;
  try {
    meta = await sharp(bytes, { limitInputPixels: REFERENCE_MAX_PIXELS }).metadata();
    // Headers can lie: decode the pixels too (a small resize decodes the whole image).
    await sharp(bytes, { limitInputPixels: REFERENCE_MAX_PIXELS }).resize(8, 8, { fit: 'inside' }).raw().toBuffer();
  } catch (err) {
    throw new ReferenceError(field, `is not an image that can be decoded (${clip((err as Error).message, 160)})`, { cause: err });
  }
  const mime = imageMime(meta.format);
  const { width = 0, height = 0 } = meta;
  if (!mime) throw new ReferenceError(field, `is a ${meta.format ?? 'unknown'} file: use PNG, JPEG, WebP, AVIF, GIF or TIFF`);
  if (Math.min(width, height) < REFERENCE_MIN_SIDE || Math.max(width, height) > REFERENCE_MAX_SIDE) {
    throw new ReferenceError(field, `is ${width}x${height} px: a reference must be ${REFERENCE_MIN_SIDE} to ${REFERENCE_MAX_SIDE} px a side`);
  }
  return { mime, width, height };
}

/** Stores checked image bytes under their content address; the same bytes are stored once. */
export async function storeReference(blobs: BlobStore, bytes: Uint8Array, field: string): Promise<BlobRef> {
  const info = await checkReferenceImage(bytes, field);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const key = referenceKey(sha256, info.mime);
  const existing = await blobs.head(key);
  if (existing && existing.sha256 === sha256) return existing;
  return blobs.put(key, bytes, { mime: info.mime, width: info.width, height: info.height });
}

/** One reference as the worker finds it: a stored blob checked, or a URL fetched and stored. */
async function resolveOne(ref: ReferenceField, deps: { blobs: BlobStore; fetcher: ReferenceFetcher; signal?: AbortSignal }): Promise<BlobRef> {
  const kind = referenceKind(ref.source);
  if (kind === 'path') {
    throw new ReferenceError(ref.field, `is a local file path (${preview(ref.source, 120)}), which a worker cannot read: start the brief with the darkroom CLI (it uploads the file), or give blob:<key> or an https:// URL`);
  }
  if (kind === 'blob') {
    const key = ref.source.slice(5);
    let bytes: Buffer;
    try {
      bytes = await deps.blobs.get(key);
    } catch (err) {
      if (err instanceof BlobNotFoundError) throw new ReferenceError(ref.field, `names blob ${preview(key, 200)}, which is not in the blob store`);
      throw err;
    }
    const info = await checkReferenceImage(bytes, ref.field);
    const head = await deps.blobs.head(key);
    return { ...head!, mime: info.mime, width: info.width, height: info.height };
  }
  if (kind !== 'https') throw new ReferenceError(ref.field, 'must be blob:<key>, an https:// URL, or (with the darkroom CLI) a local file path');
  const bytes = await deps.fetcher.fetch(ref.source, ref.field, deps.signal);
  return storeReference(deps.blobs, bytes, ref.field);
}

/** Resolves every reference of a brief (product first); a brief without any resolves to undefined. */
export async function resolveReferences(
  brief: { references?: { product?: string; style?: readonly string[] } },
  deps: { blobs: BlobStore; fetcher: ReferenceFetcher; signal?: AbortSignal },
): Promise<ResolvedReferences | undefined> {
  const fields = referenceFields(brief);
  if (fields.length === 0) return undefined;
  const out: ResolvedReferences = { style: [] };
  for (const f of fields) {
    const ref = await resolveOne(f, deps);
    if (f.role === 'product') out.product = ref;
    else out.style.push(ref);
  }
  return out;
}

/** Local file paths a brief names as references: the CLI uploads these, a worker refuses them. */
export function localReferencePaths(brief: { references?: { product?: string; style?: readonly string[] } }): ReferenceField[] {
  return referenceFields(brief).filter((f) => referenceKind(f.source) === 'path');
}
