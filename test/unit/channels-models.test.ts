import { describe, expect, it } from 'vitest';
import { CHANNEL_PRESETS, resolveChannel } from '../../domain/channels';
import { costForBatch, pickImageModel, pickMasterSize } from '../../domain/models';
import { parseConfig } from '../../domain/config';
import { hash8, seededRandom, slugify, stableStringify } from '../../domain/hash';

describe('channel presets', () => {
  it('carry the sizes practitioners ship', () => {
    const sizes = Object.fromEntries(Object.values(CHANNEL_PRESETS).map((c) => [c.id, `${c.width}x${c.height}@${c.density}`]));
    expect(sizes).toEqual({
      'instagram-square': '1080x1080@72', 'instagram-portrait': '1080x1350@72', 'story-9x16': '1080x1920@72',
      'web-hero': '1920x1080@72', 'og-image': '1200x630@72', 'email-header': '600x300@72', 'print-a4': '2480x3508@300',
    });
    expect(CHANNEL_PRESETS['web-hero']!.aspect).toBe('16:9');
    expect(CHANNEL_PRESETS['story-9x16']!.aspect).toBe('9:16');
  });
  it('ship email as JPEG/PNG and print without lossy web formats', () => {
    expect(CHANNEL_PRESETS['email-header']!.formats.every((f) => f === 'jpeg' || f === 'png')).toBe(true);
    expect(CHANNEL_PRESETS['print-a4']!.formats.some((f) => ['webp', 'avif', 'jpeg'].includes(f))).toBe(false);
  });
  it('resolves custom sizes', () => {
    expect(resolveChannel('custom-1600x900')).toMatchObject({ width: 1600, height: 900, aspect: '16:9' });
    expect(resolveChannel('custom-1x1')).toBeUndefined();
    expect(resolveChannel('nope')).toBeUndefined();
  });
});

describe('models', () => {
  it('forecasts a free local batch and refuses unknown models', () => {
    expect(costForBatch('local', 10).totalUsd).toBe(0);
    expect(() => costForBatch('nope', 1)).toThrow(/unknown image model/);
  });
  it('routes auto to an available model and honours overrides', () => {
    expect(pickImageModel({ model: 'auto' })).toBe('local');
    expect(pickImageModel({ model: 'local' })).toBe('local');
    expect(() => pickImageModel({ model: 'dall-e-9' })).toThrow(/not in the catalog/);
  });
  it('picks the master size that crops least', () => {
    const portrait = [CHANNEL_PRESETS['story-9x16']!, CHANNEL_PRESETS['print-a4']!];
    expect(pickMasterSize('local', portrait)).toEqual({ width: 1024, height: 1536 });
    expect(pickMasterSize('local', [CHANNEL_PRESETS['web-hero']!])).toEqual({ width: 1536, height: 1024 });
    expect(pickMasterSize('local', [CHANNEL_PRESETS['web-hero']!, CHANNEL_PRESETS['story-9x16']!])).toEqual({ width: 1024, height: 1024 });
  });
});

describe('config', () => {
  it('reads durations and numbers from the environment and names bad variables', () => {
    const c = parseConfig({ DARKROOM_HEARTBEAT_TIMEOUT: '5s', DARKROOM_GENERATE_CONCURRENCY: '2' });
    expect(c.DARKROOM_HEARTBEAT_TIMEOUT).toBe(5000);
    expect(c.DARKROOM_GENERATE_CONCURRENCY).toBe(2);
    expect(c.TEMPORAL_ADDRESS).toBe('localhost:7233');
    expect(() => parseConfig({ DARKROOM_HEARTBEAT_TIMEOUT: 'soon' })).toThrow(/DARKROOM_HEARTBEAT_TIMEOUT/);
  });
});

describe('hashing', () => {
  it('is stable across key order and seeds a repeatable PRNG', () => {
    expect(stableStringify({ b: 1, a: [1, { d: 2, c: 3 }] })).toBe('{"a":[1,{"c":3,"d":2}],"b":1}');
    expect(hash8('x')).toMatch(/^[0-9a-f]{8}$/);
    expect(hash8('x')).not.toBe(hash8('y'));
    const a = seededRandom(42), b = seededRandom(42);
    expect([a(), a(), a()]).toEqual([b(), b(), b()]);
    expect(slugify('Été à Paris — 2026!')).toBe('ete-a-paris-2026');
  });
});
