/**
 * The HTTP address of each published asset, for the stored manifest: DARKROOM_PUBLIC_BASE_URL +
 * key when assets are served from a CDN, a presigned GET when the store can sign one (S3), or
 * none (the filesystem store, whose manifest gives the folder instead).
 */
import type { Config } from '../domain/config';
import type { BlobStore } from './blob-store';

export interface AssetUrl {
  url: string;
  /** ISO time; absent for a URL that does not expire. */
  urlExpiresAt?: string;
}

/** `https://cdn/x` + `a b/c.png` → `https://cdn/x/a%20b/c.png`: each key segment escaped, the base's path kept. */
export function publicUrl(base: string, key: string): string {
  return `${base.replace(/\/+$/, '')}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/**
 * A function that gives a key's URL, or undefined where there is none. Presigned URLs all start
 * their validity at `now`, so the manifest's `urlExpiresAt` is exactly when they stop working.
 */
export function assetUrls(blobs: BlobStore, config: Pick<Config, 'DARKROOM_PUBLIC_BASE_URL' | 'DARKROOM_S3_PRESIGN_TTL'>, now: Date): (key: string) => Promise<AssetUrl | undefined> {
  const base = config.DARKROOM_PUBLIC_BASE_URL;
  if (base) return async (key) => ({ url: publicUrl(base, key) });
  const presign = blobs.presignGet?.bind(blobs);
  if (!presign) return async () => undefined;
  const seconds = Math.floor(config.DARKROOM_S3_PRESIGN_TTL / 1000);
  // A signature's date has whole seconds: start there, so the stated expiry is never late.
  const start = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const urlExpiresAt = new Date(start.getTime() + seconds * 1000).toISOString();
  return async (key) => ({ url: await presign(key, seconds, start), urlExpiresAt });
}
