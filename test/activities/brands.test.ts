/** Brand kits between a folder and the blob store: content-addressed, checked, and confined to the brands folder. */
import { cpSync, mkdtempSync, symlinkSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FsBlobStore } from '../../activities/blob-store';
import { BrandKitError, loadStoredBrand, resolveBrandKit, storeBrandKit } from '../../activities/brands';
import { validateBrief } from '../../domain/brief';
import { parseConfig } from '../../domain/config';
import { withStoredBrand } from '../../client/brands';
import { CliError } from '../../client/errors';

const REPO_BRANDS = path.resolve(__dirname, '../../brands');
const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'darkroom-brands-'));
const rejection = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e as Error);

function brandsCopy(edit?: (kit: Record<string, unknown>) => void): string {
  const dir = path.join(tmp(), 'brands');
  cpSync(REPO_BRANDS, dir, { recursive: true });
  if (edit) {
    const kit = JSON.parse(readFileSync(path.join(dir, 'fernwood.json'), 'utf8')) as Record<string, unknown>;
    edit(kit);
    writeFileSync(path.join(dir, 'fernwood.json'), JSON.stringify(kit));
  }
  return dir;
}

describe('storing and loading brand kits', () => {
  it('stores the kit and its logo content-addressed; storing again gives the same key', async () => {
    const blobs = new FsBlobStore(tmp());
    const key = await storeBrandKit(blobs, REPO_BRANDS, 'fernwood');
    expect(key).toMatch(/^brands\/fernwood\/[0-9a-f]{64}\.json$/);
    expect(await storeBrandKit(blobs, REPO_BRANDS, 'fernwood')).toBe(key);
    const stored = await loadStoredBrand(blobs, 'fernwood', key);
    expect(stored.logo).toMatchObject({ mime: 'image/svg+xml', width: 240, height: 96 });
    expect(stored.logo.key).toMatch(/^brands\/fernwood\/files\/[0-9a-f]{64}\.svg$/);
    expect((await blobs.get(stored.logo.key)).equals(readFileSync(path.join(REPO_BRANDS, 'fernwood/logo.svg')))).toBe(true);
  });

  it('a changed kit gets a new key; a brief pinned to the old one keeps reading the old kit', async () => {
    const blobs = new FsBlobStore(tmp());
    const dir = brandsCopy();
    const before = await storeBrandKit(blobs, dir, 'fernwood');
    const kit = JSON.parse(readFileSync(path.join(dir, 'fernwood.json'), 'utf8')) as { palette: Record<string, string> };
    kit.palette.accent = '#000000';
    writeFileSync(path.join(dir, 'fernwood.json'), JSON.stringify(kit));
    const after = await storeBrandKit(blobs, dir, 'fernwood');
    expect(after).not.toBe(before);
    expect((await resolveBrandKit(blobs, dir, { name: 'fernwood', key: before })).stored.kit.palette.accent).toBe('#C8643B');
  });

  it('refuses a stored kit that does not match its key', async () => {
    const blobs = new FsBlobStore(tmp());
    const key = await storeBrandKit(blobs, REPO_BRANDS, 'fernwood');
    const text = (await blobs.get(key)).toString('utf8').replace('#C8643B', '#000000');
    await blobs.put(key, new TextEncoder().encode(text), { mime: 'application/json' });
    expect((await rejection(loadStoredBrand(blobs, 'fernwood', key))).message).toMatch(/does not match its hash \(brandKey\)/);
  });

  it.each([
    ['an unknown brand', 'nope', undefined, /no brand kit nope\.json in .* \(the brands folder, DARKROOM_BRANDS_DIR\)/],
    ['a kit whose name differs from its file', 'fernwood', (k: Record<string, unknown>) => { k.name = 'other'; }, /name is "other"; it must match the file name fernwood\.json/],
    ['a missing logo', 'fernwood', (k: Record<string, unknown>) => { (k.logo as Record<string, unknown>).file = 'fernwood/missing.svg'; }, /logo\.file names fernwood\/missing\.svg, which is not in/],
    ['a bad field', 'fernwood', (k: Record<string, unknown>) => { (k.palette as Record<string, unknown>).primary = 'green'; }, /palette\.primary must be a hex colour/],
  ])('%s is a BrandKitError naming brand and field', async (_what, name, edit, message) => {
    const err = await rejection(storeBrandKit(new FsBlobStore(tmp()), brandsCopy(edit), name));
    expect(err).toBeInstanceOf(BrandKitError);
    expect(err.message).toMatch(message);
    expect((err as BrandKitError).issues[0]!.field).toMatch(/^brand/);
  });

  it('a logo that links outside the brands folder is refused', async () => {
    const dir = brandsCopy((k) => { (k.logo as Record<string, unknown>).file = 'fernwood/escape.svg'; });
    symlinkSync(path.join(REPO_BRANDS, 'fernwood/logo.svg'), path.join(dir, 'fernwood/escape.svg'));
    expect((await rejection(storeBrandKit(new FsBlobStore(tmp()), dir, 'fernwood'))).message).toMatch(/leads outside/);
  });

  it('the CLI stores the kit, sets brandKey, and refuses a banned subject before starting', async () => {
    const dataDir = tmp();
    const config = parseConfig({ DARKROOM_DATA_DIR: dataDir, DARKROOM_BRANDS_DIR: REPO_BRANDS });
    const brief = validateBrief({ subject: 'a stoneware mug on oak', channels: ['og-image'], brand: 'fernwood' });
    expect((await withStoredBrand(config, brief, 'mug.json')).brandKey).toMatch(/^brands\/fernwood\//);
    const bad = await rejection(withStoredBrand(config, { ...brief, subject: 'a bargain mug' }, 'mug.json'));
    expect(bad).toBeInstanceOf(CliError);
    expect(bad.message).toContain('subject: uses "bargain", which brand fernwood bans');
    const unknown = await rejection(withStoredBrand(config, { ...brief, brand: 'acme' }, 'mug.json'));
    expect(unknown.message).toMatch(/mug\.json: brand "acme" cannot be used:\n {2}• brand: no brand kit acme\.json/);
  });
});
