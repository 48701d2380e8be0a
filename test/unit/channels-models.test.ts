import { describe, expect, it } from 'vitest';
import { CHANNEL_PRESETS, resolveChannel } from '../../domain/channels';
import { capabilitiesFor, costForBatch, forecastBrief, IMAGE_MODELS, imagePrice, pickImageModel, pickMasterSize, referencesSent, routeImageModel, RoutingError } from '../../domain/models';
import { parseConfig, providerKeys } from '../../domain/config';
import { validateBrief } from '../../domain/brief';
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

describe('models and routing', () => {
  const brief = (over: Partial<Parameters<typeof routeImageModel>[0]> = {}) => ({
    model: 'auto', needs4k: false, candidates: 4, budgetUsd: 5, styleHints: [], subject: 'a teapot on a table', mustInclude: [], ...over,
  });
  const everything = Object.keys(IMAGE_MODELS);

  it('forecasts at catalog prices by size and quality, judge and upscale included', () => {
    expect(costForBatch('local', 10).totalUsd).toBe(0);
    expect(costForBatch('gpt-image-1.5', 10, { size: '1536x1024', quality: 'high' }).generateUsd).toBeCloseTo(1.99, 6);
    const c = costForBatch('flux-1.1-pro', 4, { judgeUsdPerImage: 0.0015, upscales: 1, upscaleUsd: 0.0025, altTexts: 1, altTextUsd: 0.0015 });
    expect(c).toEqual({ model: 'flux-1.1-pro', count: 4, generateUsd: 0.16, judgeUsd: 0.0075, upscaleUsd: 0.0025, totalUsd: 0.17 });
    expect(imagePrice('gpt-image-1.5', '1024x1024', 'low')).toBe(0.009);
    // The README's worked example: spring-launch on gpt-image-1.5, and on flux-schnell.
    const extras = { judgeUsdPerImage: 0.0015, altTexts: 1, altTextUsd: 0.0015, upscales: 1, upscaleUsd: 0.0025 };
    expect(costForBatch('gpt-image-1.5', 4, { size: '1536x1024', ...extras }).totalUsd).toBe(0.21);
    expect(costForBatch('flux-schnell', 4, extras).totalUsd).toBe(0.022);
    expect(() => costForBatch('nope', 1)).toThrow(/unknown image model/);
  });

  it('routes text in the image to gpt-image, 4K to Flux Ultra, cheap batches to nano-banana, photoreal to Flux pro', () => {
    expect(routeImageModel(brief({ textInImage: 'SALE 30%' }), everything).model).toBe('gpt-image-1.5');
    expect(routeImageModel(brief({ mustInclude: ['the words "Open Late"'] }), everything).reason).toMatch(/Open Late/);
    expect(routeImageModel(brief({ needs4k: true }), everything).model).toBe('flux-1.1-pro-ultra');
    expect(routeImageModel(brief({ candidates: 40, budgetUsd: 2 }), everything).model).toBe('gemini-2.5-flash-image');
    expect(routeImageModel(brief({ styleHints: ['studio product photography'] }), everything).model).toBe('flux-1.1-pro');
    expect(routeImageModel(brief(), everything).chain).toEqual(['gemini-2.5-flash-image', 'gpt-image-1.5', 'flux-1.1-pro', 'flux-dev']);
  });

  it('falls back along the chain to what is configured, and to local when no vendor is', () => {
    expect(routeImageModel(brief({ textInImage: 'Hi' }), ['local', 'gemini-2.5-flash-image']).chain).toEqual(['gemini-2.5-flash-image']);
    expect(routeImageModel(brief({ needs4k: true }), ['gpt-image-1.5', 'local'])).toMatchObject({ model: 'gpt-image-1.5', chain: ['gpt-image-1.5'] });
    expect(routeImageModel(brief(), ['local'])).toMatchObject({ model: 'local', chain: ['local'] });
    expect(pickImageModel(brief())).toBe('local');
  });

  it('keeps a low-scoring prompt on the cheap tier', () => {
    expect(routeImageModel(brief({ textInImage: 'SALE' }), everything, { cheapOnly: true }).chain).toEqual(['flux-schnell', 'gemini-2.5-flash-image', 'gpt-image-1-mini']);
    expect(() => routeImageModel(brief({ model: 'gpt-image-1.5' }), everything, { cheapOnly: true })).toThrow(/cheap models/);
  });

  it('honours a model named in the brief, and says which key it needs', () => {
    expect(routeImageModel(brief({ model: 'flux-dev' }), everything)).toMatchObject({ model: 'flux-dev', chain: ['flux-dev'] });
    expect(() => routeImageModel(brief({ model: 'flux-dev' }), ['local'])).toThrow(/needs REPLICATE_API_TOKEN/);
    expect(() => routeImageModel(brief({ model: 'dall-e-9' }), everything)).toThrow(RoutingError);
  });

  it('knows what a set of keys enables and what the judge and upscaler they bring cost', () => {
    expect(capabilitiesFor({ openai: false, google: false, replicate: false })).toEqual({ imageModels: ['local'], prices: { judgeUsdPerImage: 0, altTextUsd: 0, upscaleUsd: 0 } });
    const all = capabilitiesFor({ openai: true, google: true, replicate: true, selfHosted: true, vertex: true });
    expect(all.imageModels).toEqual(Object.keys(IMAGE_MODELS).filter((m) => !IMAGE_MODELS[m]!.notRoutedYet));
    expect(capabilitiesFor({ openai: true, google: true, replicate: true }).imageModels).not.toContain('self-hosted');
    // A Gemini API key does not reach Imagen: Vertex AI does, and brings Imagen's upscaler when Replicate's is not there.
    expect(capabilitiesFor({ openai: false, google: true, replicate: false }).imageModels.filter((m) => m.startsWith('imagen'))).toEqual([]);
    const vertex = capabilitiesFor({ openai: false, google: false, replicate: false, vertex: true });
    expect(vertex.imageModels).toEqual(['local', 'imagen-4', 'imagen-4-fast', 'imagen-4-ultra']);
    expect(vertex.prices).toEqual({ judgeUsdPerImage: 0, altTextUsd: 0, upscaleUsd: 0.06 });
    expect(capabilitiesFor({ openai: false, google: false, replicate: true, vertex: true }).prices.upscaleUsd).toBe(0.0025);
    expect(all.prices).toEqual({ judgeUsdPerImage: 0.0015, altTextUsd: 0.0015, upscaleUsd: 0.0025 });
    expect(capabilitiesFor({ openai: false, google: true, replicate: false }).prices.judgeUsdPerImage).toBe(0.0008);
  });

  it('forecasts a brief the way the workflow gates it: size-tier price, judge, upscale and alt text', () => {
    const b = validateBrief({ subject: 'a poster saying SALE', channels: ['web-hero'], textInImage: 'SALE', candidates: 4, topK: 1 });
    const { route, master, upscales, forecast } = forecastBrief(b, ['local', 'gpt-image-1.5'], { judgeUsdPerImage: 0.0015, altTextUsd: 0.0015, upscaleUsd: 0.0025 });
    expect(route.model).toBe('gpt-image-1.5');
    expect(master).toEqual({ width: 1536, height: 1024 });
    expect(upscales).toBe(1); // web-hero is 1920x1080
    expect(forecast.totalUsd).toBe(0.21);
  });

  it('forecasts each reference image a generation call sends at the model\'s price per reference image', () => {
    // FLUX.2 [pro] bills each input image like an output megapixel: $0.015 each.
    expect(costForBatch('flux-2-pro', 4).generateUsd).toBe(0.06);
    expect(costForBatch('flux-2-pro', 4, { referenceImages: 2 }).generateUsd).toBe(0.18);
    // Models that do not bill input images, and the free one, cost the same with references.
    expect(costForBatch('gpt-image-1.5', 4, { referenceImages: 2 }).generateUsd).toBe(costForBatch('gpt-image-1.5', 4).generateUsd);
    expect(costForBatch('local', 4, { referenceImages: 2 }).totalUsd).toBe(0);

    const refs = { product: 'https://cdn.example.com/bottle.png', style: ['https://cdn.example.com/a.jpg', 'https://cdn.example.com/b.jpg'] };
    // Product first, then style, capped by the model's maximum; none for a text-only model.
    expect(referencesSent({ references: refs }, 'flux-2-pro')).toBe(3);
    expect(referencesSent({ references: refs }, 'flux-kontext-pro')).toBe(1);
    expect(referencesSent({ references: refs }, 'flux-schnell')).toBe(0);
    expect(referencesSent({}, 'flux-2-pro')).toBe(0);

    const base = { subject: 'a bottle of olive oil on a stone table', channels: ['og-image'], candidates: 4, topK: 1, model: 'flux-2-pro' };
    const prices = { judgeUsdPerImage: 0, altTextUsd: 0, upscaleUsd: 0 };
    const without = forecastBrief(validateBrief(base), ['local', 'flux-2-pro'], prices).forecast;
    const withRefs = forecastBrief(validateBrief({ ...base, references: refs }), ['local', 'flux-2-pro'], prices).forecast;
    expect(withRefs.generateUsd).toBeCloseTo(without.generateUsd + 4 * 3 * 0.015, 6);
  });

  it('gives every model a dated price, and vendor models a price above zero', () => {
    for (const m of Object.values(IMAGE_MODELS)) {
      expect(m.priceDate, m.id).toMatch(/^20\d\d-[01]\d-[0-3]\d$/);
      expect(Number.isNaN(Date.parse(m.priceDate)), m.id).toBe(false);
      expect(m.priceUsdPerImage, m.id).toBeGreaterThanOrEqual(0);
      if (m.provider !== 'local' && m.provider !== 'self-hosted') expect(m.priceUsdPerImage, m.id).toBeGreaterThan(0);
      expect(m.priceUsdPerReferenceImage ?? 0, m.id).toBeGreaterThanOrEqual(0);
      // A model that bills reference images must take some.
      if (m.priceUsdPerReferenceImage) expect(m.maxReferenceImages, m.id).toBeGreaterThan(0);
      expect(m.sizes.length, m.id).toBeGreaterThan(0);
      for (const size of m.sizes) expect(size, m.id).toMatch(/^\d+x\d+$/);
    }
  });

  it('flags the models that take reference images on their edit path, and how many', () => {
    const refs = Object.fromEntries(Object.values(IMAGE_MODELS).filter((m) => m.maxReferenceImages).map((m) => [m.id, m.maxReferenceImages]));
    expect(refs).toEqual({
      'gpt-image-1.5': 16, 'gpt-image-1-mini': 16, 'gpt-image-2': 16,
      'gemini-2.5-flash-image': 3, 'gemini-3.1-flash-image': 14, 'gemini-3-pro-image': 14,
      'flux-kontext-pro': 1, 'flux-kontext-max': 1,
      'flux-2-pro': 8, 'flux-2-flex': 8, 'flux-2-dev': 4,
      'seedream-4': 10,
      'self-hosted': 4,
      // The offline generator composites the packshot into its scene.
      local: 4,
    });
    // Text to image only: FLUX.1, Ideogram, Imagen.
    for (const id of ['flux-1.1-pro', 'flux-schnell', 'ideogram-v3-turbo', 'imagen-4']) expect(IMAGE_MODELS[id]!.maxReferenceImages, id).toBeUndefined();
  });

  it('routes Imagen 4 only with Vertex AI configured, and never a packshot brief to it', () => {
    expect(Object.values(IMAGE_MODELS).filter((m) => m.notRoutedYet).map((m) => m.id)).toEqual([]);
    expect(Object.values(IMAGE_MODELS).filter((m) => m.provider === 'vertex').map((m) => m.id)).toEqual(['imagen-4', 'imagen-4-fast', 'imagen-4-ultra']);
    expect(() => routeImageModel(brief({ model: 'imagen-4' }), ['local', 'gemini-2.5-flash-image'])).toThrow(/needs Vertex AI \(GOOGLE_GENAI_USE_VERTEXAI=true with GOOGLE_CLOUD_PROJECT, or DARKROOM_VERTEX_API_KEY\)/);
    expect(routeImageModel(brief({ model: 'imagen-4-ultra' }), everything)).toMatchObject({ model: 'imagen-4-ultra', chain: ['imagen-4-ultra'] });
    // In the auto chains: a photoreal fallback after gpt-image-1.5, and the last cheap option for exploration.
    expect(routeImageModel(brief({ styleHints: ['studio product photography'] }), everything).chain).toEqual(['flux-1.1-pro', 'gpt-image-1.5', 'imagen-4', 'flux-dev', 'gemini-2.5-flash-image']);
    const vertexOnly = ['local', 'imagen-4', 'imagen-4-fast', 'imagen-4-ultra'];
    expect(routeImageModel(brief({ styleHints: ['studio product photography'] }), vertexOnly).model).toBe('imagen-4');
    expect(routeImageModel(brief({ candidates: 40, budgetUsd: 2 }), vertexOnly).chain).toEqual(['imagen-4-fast']);
    // Text to image only: a packshot brief is kept off Imagen, named or not.
    const packshot = { references: { product: 'https://cdn.example.com/bottle.png' } };
    expect(() => routeImageModel(brief({ model: 'imagen-4', ...packshot }), everything)).toThrow(/takes no reference images/);
    expect(routeImageModel(brief({ styleHints: ['studio product photography'], ...packshot }), everything).chain).not.toContain('imagen-4');
    expect(() => routeImageModel(brief({ styleHints: ['studio product photography'], ...packshot }), vertexOnly)).toThrow(RoutingError);
    expect(() => routeImageModel(brief({ model: 'self-hosted' }), ['local'])).toThrow(/needs DARKROOM_SELF_HOSTED_BASE_URL/);
    expect(routeImageModel(brief({ model: 'flux-kontext-pro' }), everything)).toMatchObject({ model: 'flux-kontext-pro' });
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

  it('reads the self-hosted image server and names its bad variables', () => {
    const c = parseConfig({ DARKROOM_SELF_HOSTED_BASE_URL: 'http://flux.internal:8000/v1', DARKROOM_SELF_HOSTED_USD_PER_IMAGE: '0.002' });
    expect([c.DARKROOM_SELF_HOSTED_MODEL, c.DARKROOM_SELF_HOSTED_USD_PER_IMAGE, c.DARKROOM_SELF_HOSTED_CONCURRENCY]).toEqual(['flux.2-dev', 0.002, 1]);
    expect(providerKeys(c)).toMatchObject({ selfHosted: true, openai: false });
    expect(providerKeys(parseConfig({})).selfHosted).toBe(false);
    expect(() => parseConfig({ DARKROOM_SELF_HOSTED_BASE_URL: 'flux.internal' })).toThrow(/DARKROOM_SELF_HOSTED_BASE_URL/);
    expect(() => parseConfig({ DARKROOM_SELF_HOSTED_USD_PER_IMAGE: '-1' })).toThrow(/DARKROOM_SELF_HOSTED_USD_PER_IMAGE/);
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
