import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { assetUrls, publicUrl } from '../../activities/asset-urls';
import { FsBlobStore } from '../../activities/blob-store';
import { parseConfig } from '../../domain/config';

describe('DARKROOM_S3_PRESIGN_TTL and DARKROOM_PUBLIC_BASE_URL', () => {
  it('default to 7 days and none, and refuse what S3 or a URL join cannot take, naming the variable', () => {
    const c = parseConfig({});
    expect(c.DARKROOM_S3_PRESIGN_TTL).toBe(7 * 86_400_000);
    expect(c.DARKROOM_PUBLIC_BASE_URL).toBeUndefined();
    expect(parseConfig({ DARKROOM_S3_PRESIGN_TTL: '15m' }).DARKROOM_S3_PRESIGN_TTL).toBe(900_000);
    expect(() => parseConfig({ DARKROOM_S3_PRESIGN_TTL: '8d' })).toThrow(/DARKROOM_S3_PRESIGN_TTL must be at most 7d/);
    expect(() => parseConfig({ DARKROOM_S3_PRESIGN_TTL: '604801s' })).toThrow(/DARKROOM_S3_PRESIGN_TTL must be at most 7d/);
    expect(() => parseConfig({ DARKROOM_S3_PRESIGN_TTL: '100ms' })).toThrow(/DARKROOM_S3_PRESIGN_TTL must be at least 1s/);
    expect(() => parseConfig({ DARKROOM_S3_PRESIGN_TTL: 'a week' })).toThrow(/DARKROOM_S3_PRESIGN_TTL must be a duration/);
    expect(() => parseConfig({ DARKROOM_PUBLIC_BASE_URL: 'cdn.example.com' })).toThrow(/DARKROOM_PUBLIC_BASE_URL must be an http\(s\) URL/);
    expect(() => parseConfig({ DARKROOM_PUBLIC_BASE_URL: 'ftp://cdn.example.com' })).toThrow(/DARKROOM_PUBLIC_BASE_URL/);
    expect(() => parseConfig({ DARKROOM_PUBLIC_BASE_URL: 'https://cdn.example.com/?v=1' })).toThrow(/DARKROOM_PUBLIC_BASE_URL must not have a query/);
  });

  it('give no URL on the filesystem store unless a public base URL is set', async () => {
    const fs = new FsBlobStore(path.join(await mkdtemp(path.join(os.tmpdir(), 'darkroom-urls-')), 'blobs'));
    expect(await assetUrls(fs, parseConfig({}), new Date())('b/email-header/r1-c01.jpg')).toBeUndefined();
    expect(await assetUrls(fs, parseConfig({ DARKROOM_PUBLIC_BASE_URL: 'http://localhost:8080' }), new Date())('b/email-header/r1-c01.jpg'))
      .toEqual({ url: 'http://localhost:8080/b/email-header/r1-c01.jpg' });
    expect(publicUrl('https://cdn.example.com/a//', 'catalog-x/SKU#1/p.png')).toBe('https://cdn.example.com/a/catalog-x/SKU%231/p.png');
  });
});
