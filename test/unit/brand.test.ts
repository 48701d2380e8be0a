import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { boxAvoidsSafeZone, DEFAULT_SAFE_ZONES, LogoPlacementSchema, logoRuleFor, parseBrandKit, placeLogo, type BrandKit } from '../../domain/brand';
import { bannedIn, bannedWordIssues, mergedPalette, stripBanned, type PromptBrand } from '../../domain/brand-words';
import { parseBrief, validateBrief } from '../../domain/brief';
import { resolveChannel } from '../../domain/channels';
import { BannedWordError, buildPrompt, scorePrompt } from '../../domain/prompt';
import { hashInt } from '../../domain/hash';

const fernwood = JSON.parse(readFileSync(new URL('../../brands/fernwood.json', import.meta.url), 'utf8')) as unknown;
const kit = (over: Record<string, unknown> = {}) => ({ name: 'acme', palette: { primary: '#0B3D91' }, logo: { file: 'acme/logo.svg' }, ...over });
const issues = (input: unknown) => {
  const r = parseBrandKit(input);
  return r.ok ? [] : r.issues.map((i) => `${i.field}: ${i.message}`);
};

describe('brand kit schema', () => {
  it('accepts the example kit and fills in defaults', () => {
    const r = parseBrandKit(fernwood);
    expect(r.ok).toBe(true);
    const k = (r as { kit: BrandKit }).kit;
    expect(k.logo.placement).toEqual({ corner: 'bottom-right', margin: 4, width: 16, minWidthPx: 72 });
    expect(k.palette.accent).toBe('#C8643B');
    expect(parseBrandKit(kit()).ok).toBe(true);
  });

  it.each([
    [kit({ palette: { primary: 'blue' } }), 'palette.primary: must be a hex colour such as #0B3D91'],
    [kit({ palette: {} }), 'palette: must name 1 to 8 colours'],
    [kit({ name: 'Acme Co' }), 'name: must be lowercase kebab-case'],
    [kit({ logo: { file: '../secrets/logo.svg' } }), 'logo.file: must be a path inside the brands folder'],
    [kit({ logo: { file: '/etc/logo.svg' } }), 'logo.file: must be a path inside the brands folder'],
    [kit({ logo: { file: 'acme/logo.gif' } }), 'logo.file: must end in .png or .svg'],
    [kit({ logo: { file: 'a.svg', placement: { corner: 'middle' } } }), 'logo.placement.corner: must be one of'],
    [kit({ logo: { file: 'a.svg', placement: { margin: 40 } } }), 'logo.placement.margin: must be at most 25'],
    [kit({ logo: { file: 'a.svg', placement: { minWidthPx: 2 } } }), 'logo.placement.minWidthPx: must be at least 8'],
    [kit({ logo: { file: 'a.svg', channels: { 'not-a-channel': { width: 10 } } } }), 'logo.channels.not-a-channel: names no channel'],
    [kit({ logo: { file: 'a.svg', safeZones: { 'story-9x16': { top: 80 } } } }), 'logo.safeZones.story-9x16.top: must be at most 45'],
    [kit({ lora: { weightsUrl: 'http://example.com/w.safetensors' } }), 'lora.weightsUrl: must be an https:// URL'],
    [kit({ lora: { weightsUrl: 'https://example.com/w.safetensors', scale: 3 } }), 'lora.scale: must be at most 2'],
    [kit({ style: { approved: ['cheap and cheerful'], banned: ['cheap'] } }), 'style.approved[0]: uses the banned "cheap"'],
    [kit({ colour: 'red' }), 'colour: is not a brand kit field'],
    [kit({ styleReferences: ['look.bmp'] }), 'styleReferences[0]: must end in'],
  ])('names the field: %#', (input, expected) => {
    expect(issues(input).join('\n')).toContain(expected);
  });

  it('a brief names its brand; a stored key must belong to that brand', () => {
    const b = { subject: 'a teapot on linen', channels: ['web-hero'] };
    expect(validateBrief({ ...b, brand: 'fernwood' }).brand).toBe('fernwood');
    const bad = parseBrief({ ...b, brand: 'Fern Wood' });
    expect(bad.ok ? [] : bad.issues.map((i) => i.field)).toEqual(['brand']);
    const wrongKey = parseBrief({ ...b, brand: 'fernwood', brandKey: `brands/acme/${'a'.repeat(64)}.json` });
    expect(wrongKey.ok ? [] : wrongKey.issues.map((i) => i.field)).toEqual(['brandKey']);
  });
});

describe('banned words', () => {
  it('match whole words and phrases in any case, not inside other words', () => {
    expect(bannedIn('A CHEAP teapot', ['cheap'])).toBe('cheap');
    expect(bannedIn('cheaply made', ['cheap'])).toBeUndefined();
    expect(bannedIn('mass\n  produced', ['mass produced'])).toBe('mass produced');
    expect(bannedIn('fancy (cheap) mug', ['cheap'])).toBe('cheap');
  });

  it('stripping repeats until none is left, even when removal joins a new phrase', () => {
    expect(stripBanned('very cheap good', ['cheap', 'very good'])).toBe('');
    expect(stripBanned('soft, glossy, warm light', ['glossy'])).toBe('soft, warm light');
  });

  it('a subject, must-include or text in the image that uses one is refused, naming the field and the word', () => {
    const brief = validateBrief({ subject: 'a luxury teapot', channels: ['web-hero'], mustInclude: ['steam', 'a neon sign'], textInImage: 'Bargain!' });
    expect(bannedWordIssues(brief, ['luxury', 'neon', 'bargain'], 'fernwood')).toEqual([
      { field: 'subject', message: 'uses "luxury", which brand fernwood bans: reword it' },
      { field: 'mustInclude[1]', message: 'uses "neon", which brand fernwood bans: reword it' },
      { field: 'textInImage', message: 'uses "bargain", which brand fernwood bans: reword it' },
    ]);
    expect(() => buildPrompt(brief, [], { palette: {}, style: { approved: [], banned: ['luxury'] } })).toThrow(BannedWordError);
  });

  // Property-style: random briefs with banned words sprinkled through every soft knob and the
  // reviewer's feedback; none ever reaches the prompt text or the negative prompt.
  it('never reach the prompt, over many generated briefs', () => {
    const banned = ['cheap', 'luxury', 'neon glow', 'plastic', 'glossy'];
    const words = ['soft', 'warm', 'linen', 'oak', 'morning', 'studio', 'matte', 'calm', 'ceramic', 'wide', 'low', 'angle'];
    const brand: PromptBrand = { palette: { primary: '#1F4D3A', accent: '#C8643B' }, style: { approved: ['natural textures', 'glossy finish', 'honest materials'], banned } };
    let rng = 12345;
    const pick = <T,>(list: readonly T[]) => list[(rng = hashInt(String(rng))) % list.length]!;
    const phrase = () => Array.from({ length: 2 + (hashInt(String(rng++)) % 5) }, () => (hashInt(String(rng++)) % 3 === 0 ? pick(banned).toUpperCase() : pick(words))).join(pick([' ', ', ', ' - ', '; ']));
    for (let i = 0; i < 300; i++) {
      const brief = validateBrief({
        subject: `a ceramic teapot ${pick(words)}`,
        channels: ['web-hero'],
        mustInclude: [`the ${pick(words)} lid`],
        composition: phrase(), lighting: phrase(), camera: phrase(), lens: phrase(), intent: phrase(), audience: phrase(),
        styleHints: [phrase(), phrase()], mustAvoid: [phrase(), 'text'],
        brandColors: ['#FAF7F0'],
      });
      const p = buildPrompt(brief, [phrase(), phrase()], brand);
      for (const b of banned) {
        expect(bannedIn(p.text, [b]), `${b} in ${p.text}`).toBeUndefined();
        expect(bannedIn(p.negative, [b])).toBeUndefined();
        for (const v of [...Object.values(p.knobs), ...p.feedback]) expect(bannedIn(v ?? '', [b])).toBeUndefined();
      }
      // Scoring still works on what is left: subject, palette and style are always there.
      expect(scorePrompt(p.knobs).present).toEqual(expect.arrayContaining(['subject', 'palette', 'style']));
    }
  });

  it('the kit fills palette and style; the brief keeps its own colours first', () => {
    const brief = validateBrief({ subject: 'a ceramic teapot on linen', channels: ['web-hero'], brandColors: ['#FAF7F0', '#1F4D3A'], styleHints: ['editorial'] });
    const brand: PromptBrand = { palette: { primary: '#1F4D3A', accent: '#C8643B' }, style: { approved: ['natural textures'], banned: [] } };
    expect(mergedPalette(brief.brandColors, brand)).toEqual(['#FAF7F0', '#1F4D3A', '#C8643B']);
    const p = buildPrompt(brief, [], brand);
    expect(p.knobs.style).toBe('editorial, natural textures');
    expect(p.knobs.palette).toContain('(#C8643B, accent)');
    expect(p.knobs.palette).toContain('(#1F4D3A)');
    // Without a kit the prompt is exactly what it was before kits existed.
    expect(buildPrompt(brief).knobs.style).toBe('editorial');
  });
});

describe('logo placement', () => {
  const logo = { width: 240, height: 96 };
  const place = (channelId: string, placement: Record<string, unknown> = {}, safeZones: Record<string, unknown> = {}) => {
    const spec = parseBrandKit(kit({ logo: { file: 'a.svg', placement, safeZones } }));
    if (!spec.ok) throw new Error(JSON.stringify(spec.issues));
    const channel = resolveChannel(channelId)!;
    return { r: placeLogo(channel, logo, logoRuleFor(spec.kit.logo, channelId)), channel };
  };

  it('puts the logo margin-inside the corner, width% wide, keeping its aspect', () => {
    const { r } = place('instagram-square', { corner: 'bottom-right', margin: 5, width: 20 });
    // 1080 square: margin 54, width 216, height 86.
    expect(r).toEqual({ ok: true, box: { x: 1080 - 54 - 216, y: 1080 - 54 - 86, width: 216, height: 86, corner: 'bottom-right' } });
    expect(place('web-hero', { corner: 'top-left', margin: 2, width: 10 }).r).toEqual({ ok: true, box: { x: 22, y: 22, width: 192, height: 77, corner: 'top-left' } });
    expect(place('og-image', { corner: 'center-bottom', margin: 4, width: 20 }).r).toEqual({ ok: true, box: { x: 480, y: 630 - 25 - 96, width: 240, height: 96, corner: 'center-bottom' } });
  });

  it.each(['top-left', 'top-right', 'bottom-left', 'bottom-right', 'center-top', 'center-bottom'])('keeps out of the 9:16 story safe zones (Instagram/TikTok): %s', (corner) => {
    const { r } = place('story-9x16', { corner, margin: 3, width: 25 });
    expect(r.ok).toBe(true);
    const box = (r as { box: { x: number; y: number; width: number; height: number } }).box;
    const zone = DEFAULT_SAFE_ZONES['story-9x16']!;
    expect(boxAvoidsSafeZone({ ...box, corner: 'top-left' }, 1080, 1920, zone)).toBe(true);
    expect(box.y).toBeGreaterThanOrEqual(Math.round(0.14 * 1920));
    expect(box.y + box.height).toBeLessThanOrEqual(1920 - Math.round(0.2 * 1920));
    expect(box.x + box.width).toBeLessThanOrEqual(1080 - Math.round(0.16 * 1080));
  });

  it('a kit may set its own safe zone for a channel', () => {
    const { r } = place('web-hero', { corner: 'top-right', margin: 0, width: 10 }, { 'web-hero': { top: 10, right: 5 } });
    expect(r).toMatchObject({ ok: true, box: { x: 1920 - 96 - 192, y: 108 } });
  });

  it('never goes under the minimum size; a channel without room for it is refused with the numbers', () => {
    expect(place('email-header', { width: 5, minWidthPx: 100 }).r).toMatchObject({ ok: true, box: { width: 100, height: 40 } });
    const r = place('custom-120x120', { width: 50, minWidthPx: 200 }).r;
    expect(r.ok).toBe(false);
    expect((r as { reason: string }).reason).toMatch(/custom-120x120 \(120x120\) leaves room for a logo \d+ px wide .* at least 200 px \(logo.minWidthPx\)/);
  });

  it('shrinks an over-wide logo to the room it has, but not under the minimum', () => {
    const { r } = place('story-9x16', { corner: 'center-bottom', margin: 4, width: 60, minWidthPx: 48 });
    const box = (r as { box: { width: number } }).box;
    expect(box.width).toBeLessThanOrEqual(1080 - 173 - 2 * 43);
    expect(LogoPlacementSchema.parse({}).minWidthPx).toBe(48);
  });
});

describe('the fernwood examples', () => {
  const example = (p: string) => readFileSync(new URL(`../../examples/${p}`, import.meta.url), 'utf8');
  const fw = (parseBrandKit(fernwood) as { kit: BrandKit }).kit;
  const brand: PromptBrand = { palette: fw.palette, style: fw.style };
  const check = (brief: ReturnType<typeof validateBrief>) => {
    expect(brief.brand).toBe('fernwood');
    expect(bannedWordIssues(brief, fw.style.banned, 'fernwood')).toEqual([]);
    expect(scorePrompt(buildPrompt(brief, [], brand).knobs).score).toBe(8);
    for (const id of brief.channels) expect(placeLogo(resolveChannel(id)!, { width: 240, height: 96 }, logoRuleFor(fw.logo, id)).ok, id).toBe(true);
  };

  it('catalog/template-brand.json gives one valid branded brief per product, the logo fitting every channel', async () => {
    const { briefsFromFeed } = await import('../../domain/feed');
    const plan = briefsFromFeed(example('catalog/products.csv'), example('catalog/template-brand.json'));
    expect(plan.errors).toEqual([]);
    expect(plan.runs).toHaveLength(12);
    for (const run of plan.runs) check(run.brief);
  });

  it('briefs/fernwood-tote.json is a valid branded brief', () => {
    check(validateBrief(JSON.parse(example('briefs/fernwood-tote.json'))));
  });
});
