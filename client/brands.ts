/**
 * The CLI's half of brand kits: before a brief (or a catalog) starts, its kit and logo are read
 * from DARKROOM_BRANDS_DIR and stored content-addressed in the blob store, and the brief carries
 * the key. Workers on other machines then read the very kit the person started with.
 */
import { createBlobStore } from '../activities/blob-store';
import { BrandKitError, loadStoredBrand, storeBrandKit } from '../activities/brands';
import { bannedWordIssues } from '../domain/brand-words';
import type { Brief } from '../domain/brief';
import type { Config } from '../domain/config';
import { CliError } from './errors';
import { shownPath } from './files';

/** Stores the kit a brand name refers to; returns its key. Problems name the file and field. */
export async function storeBrand(config: Config, brand: string, source: string): Promise<string> {
  try {
    return await storeBrandKit(createBlobStore(config), config.DARKROOM_BRANDS_DIR, brand);
  } catch (err) {
    if (err instanceof BrandKitError) {
      throw new CliError(`${shownPath(source)}: brand ${JSON.stringify(brand)} cannot be used:\n${err.issues.map((i) => `  • ${i.field}: ${i.message}`).join('\n')}`);
    }
    throw err;
  }
}

/**
 * The brief with its kit stored and `brandKey` set (a brief without a brand, or with a key
 * already, is returned as it is). A subject or must-include with a banned word is refused here,
 * before anything starts.
 */
export async function withStoredBrand(config: Config, brief: Brief, source: string): Promise<Brief> {
  if (!brief.brand || brief.brandKey) return brief;
  const brandKey = await storeBrand(config, brief.brand, source);
  const { kit } = await loadStoredBrand(createBlobStore(config), brief.brand, brandKey);
  const issues = bannedWordIssues(brief, kit.style.banned, brief.brand);
  if (issues.length) throw new CliError(`${shownPath(source)} is not a valid brief:\n${issues.map((i) => `  • ${i.field}: ${i.message}`).join('\n')}`);
  return { ...brief, brandKey };
}

/**
 * A catalog template naming one brand (a plain name, not a `{column}`) gets its kit stored and
 * `brandKey` set, like a brief; a brand taken from a feed column is resolved by the workers
 * from their DARKROOM_BRANDS_DIR.
 */
export async function templateWithStoredBrand(config: Config, template: unknown, source: string): Promise<unknown> {
  if (template === null || typeof template !== 'object' || Array.isArray(template)) return template;
  const t = template as Record<string, unknown>;
  if (typeof t.brand !== 'string' || t.brand.includes('{') || t.brandKey !== undefined) return template;
  return { ...t, brandKey: await storeBrand(config, t.brand, source) };
}
