import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuthenticationError, ContentPolicyError, createProviderRegistry, InvalidRequestError, type GenerateImageInput } from '../../activities/providers';
import { ImagenImageGenerator, ImagenUpscaler, imagenUpscaleFactor, type ImagenImageGeneratorOptions } from '../../activities/providers/vertex';
import { parseConfig, providerKeys } from '../../domain/config';
import { capabilitiesFor, IMAGE_MODELS, routeImageModel, UPSCALE_MODELS } from '../../domain/models';
import { validateBrief } from '../../domain/brief';
import { expectNoKey, exposed } from './contract/exposure';
import { withFaults, type RecordedRequest } from './contract/faults';
import { runImageGeneratorContract, testPackshots } from './contract/image-generator';
import { runUpscalerContract } from './contract/others';
import { RAI_REASON, startFakeVertex, type FakeVertex } from './fake-vertex';

const PROJECT = 'darkroom-test';
const LOCATION = 'europe-west4';
const KEY = 'AIzaSyFAKE-vertex-express-key-0123456789';
/** As for Gemini: short, so the timeout fault is quick, but long enough for sharp on a loaded machine. */
const TIMEOUT_MS = 1500;

type PredictBody = { instances: Array<{ prompt?: string; image?: { bytesBase64Encoded: string } }>; parameters: Record<string, unknown> };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'darkroom-vertex-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * A workload identity federation credentials file whose token exchange goes to the fake: ADC as
 * google-auth-library runs it (file → STS → access token), with no Google host involved.
 */
async function credentialsFile(fake: FakeVertex): Promise<string> {
  const subject = path.join(dir, `subject-${Math.random().toString(36).slice(2)}.jwt`);
  await writeFile(subject, 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJkYXJrcm9vbSJ9.');
  const file = path.join(dir, `credentials-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(file, JSON.stringify({
    type: 'external_account',
    audience: '//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/darkroom/providers/test',
    subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
    token_url: fake.tokenUrl,
    credential_source: { file: subject },
  }));
  return file;
}

/** Express mode (the key) or ADC (a project and the credentials file), pointed at a new fake. */
async function imagen(mode: 'express' | 'adc', extra: Partial<ImagenImageGeneratorOptions> = {}) {
  const fake = await startFakeVertex({ project: PROJECT, apiKey: KEY });
  const auth = mode === 'express' ? { apiKey: KEY } : { project: PROJECT, location: LOCATION, credentialsFile: await credentialsFile(fake) };
  return { fake, opts: { ...auth, baseUrl: fake.baseUrl, timeoutMs: TIMEOUT_MS, ...extra } };
}

function harness<T>(mode: 'express' | 'adc', make: (opts: ImagenImageGeneratorOptions) => T, extra: Partial<ImagenImageGeneratorOptions> = {}) {
  return withFaults(async () => {
    const { fake, opts } = await imagen(mode, extra);
    return { impl: make(opts), fault: fake.fault, requests: () => fake.requests().filter((r) => r.path.includes(':predict')), close: fake.close };
  });
}

const predictPath = (model: string, mode: 'express' | 'adc') =>
  mode === 'express' ? `/v1/publishers/google/models/${model}:predict` : `/v1/projects/${PROJECT}/locations/${LOCATION}/publishers/google/models/${model}:predict`;

runImageGeneratorContract(
  'imagen-4 (Vertex AI express mode)',
  harness('express', (o) => new ImagenImageGenerator(o)),
  {
    model: 'imagen-4',
    width: 1408,
    height: 768,
    checkRequest: (body, input, req) => {
      expect(req.path).toBe(predictPath('imagen-4.0-generate-001', 'express'));
      expect(req.headers['x-goog-api-key']).toBe(KEY);
      expect(req.headers.authorization).toBeUndefined();
      const b = body as PredictBody;
      expect(b.instances).toEqual([{ prompt: input.prompt }]);
      // The watermark stays on by default, so no seed (Imagen refuses one with it).
      expect(b.parameters).toEqual({
        sampleCount: 1,
        aspectRatio: '16:9',
        negativePrompt: 'text, people',
        // The SDK's enum spellings; the fake, like Vertex AI, takes either case.
        personGeneration: 'ALLOW_ADULT',
        safetySetting: 'BLOCK_MEDIUM_AND_ABOVE',
        includeRaiReason: true,
        outputOptions: { mimeType: 'image/png' },
        enhancePrompt: false,
        addWatermark: true,
      });
    },
  },
);

runImageGeneratorContract(
  'imagen-4-ultra (Vertex AI, ADC), 2K, watermark off and seeded',
  harness('adc', (o) => new ImagenImageGenerator(o), { addWatermark: false }),
  {
    model: 'imagen-4-ultra',
    width: 1792,
    height: 2560,
    checkRequest: (body, input, req) => {
      expect(req.path).toBe(predictPath('imagen-4.0-ultra-generate-001', 'adc'));
      expect(req.headers.authorization).toBe('Bearer ya29.fake-vertex-token');
      expect(req.headers['x-goog-api-key']).toBeUndefined();
      const p = (body as PredictBody).parameters;
      expect(p).toMatchObject({ sampleCount: 1, aspectRatio: '3:4', sampleImageSize: '2K', addWatermark: false, seed: input.seed });
    },
  },
);

runImageGeneratorContract(
  'imagen-4-fast (Vertex AI express mode)',
  harness('express', (o) => new ImagenImageGenerator(o)),
  { model: 'imagen-4-fast', width: 768, height: 1408, checkRequest: (body, _i, req) => {
    expect(req.path).toBe(predictPath('imagen-4.0-fast-generate-001', 'express'));
    expect((body as PredictBody).parameters).toMatchObject({ aspectRatio: '9:16' });
    expect((body as PredictBody).parameters.sampleImageSize).toBeUndefined();
  } },
);

runUpscalerContract(
  'imagen-4-upscale (Vertex AI, ADC)',
  harness('adc', (o) => new ImagenUpscaler(o)),
  {
    checkRequest: (body) => {
      const b = body as PredictBody;
      // 200x100 to at least 700x300 is 3.5x: x4, the smallest factor Imagen has that reaches it.
      expect(b.parameters).toMatchObject({ mode: 'upscale', sampleCount: 1, upscaleConfig: { upscaleFactor: 'x4' }, outputOptions: { mimeType: 'image/png' }, includeRaiReason: true });
      expect(b.instances[0]!.image!.bytesBase64Encoded.length).toBeGreaterThan(0);
    },
  },
);

describe('ImagenImageGenerator against the fake', () => {
  let fake: FakeVertex;
  let gen: ImagenImageGenerator;
  beforeAll(async () => {
    const made = await imagen('express');
    fake = made.fake;
    gen = new ImagenImageGenerator(made.opts);
  });
  afterAll(async () => {
    await fake?.close();
  });
  const input = (over: Partial<GenerateImageInput> = {}): GenerateImageInput => ({ model: 'imagen-4', prompt: 'a teapot', negativePrompt: '', width: 1024, height: 1024, seed: 7, palette: [], ...over });
  const predicts = () => fake.requests().filter((r) => r.path.includes(':predict'));

  it('makes the nearest ratio, reports the size Imagen made and the catalog price, and sends no empty negative prompt', async () => {
    const out = await gen.generate(input({ width: 1300, height: 900 }));
    expect([out.width, out.height]).toEqual([1280, 896]);
    expect(out.costUsd).toBe(IMAGE_MODELS['imagen-4']!.priceUsdPerImage);
    const p = (predicts().at(-1)!.body as PredictBody).parameters;
    expect(p.aspectRatio).toBe('4:3');
    expect('negativePrompt' in p).toBe(false);
  });

  it('an image Imagen filtered is a non-retryable ContentPolicyError that gives its reason', async () => {
    fake.fault('contentPolicy');
    const err = await gen.generate(input()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContentPolicyError);
    expect((err as ContentPolicyError).retryable).toBe(false);
    expect((err as Error).message).toContain('Support codes: 58061214');
    expect((err as Error).message).toContain(RAI_REASON.slice(0, 40));
  });

  it('a 200 with no images and no reason is a ContentPolicyError too', async () => {
    fake.rawNext({ status: 200, body: '{}' });
    const err = await gen.generate(input()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ContentPolicyError);
    expect((err as Error).message).toMatch(/no image and no reason/);
  });

  it('a 400 from Vertex AI (a parameter it refuses) is a non-retryable InvalidRequestError naming the status', async () => {
    fake.rawNext({ status: 400, body: JSON.stringify({ error: { code: 400, message: 'Image generation failed with the following error: invalid aspect ratio', status: 'INVALID_ARGUMENT' } }) });
    const err = await gen.generate(input()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).retryable).toBe(false);
    expect((err as Error).message).toMatch(/^Vertex AI image generation \(HTTP 400, INVALID_ARGUMENT\): Image generation failed/);
  });

  it('refuses reference images before any request: Imagen is text to image only here', async () => {
    const before = predicts().length;
    const { product } = await testPackshots();
    const err = await gen.generate(input({ references: [{ role: 'product', image: product, mime: 'image/png' }] })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as Error).message).toMatch(/takes no reference images/);
    expect(predicts().length).toBe(before);
  });

  it('refuses a model that is not an Imagen model in the catalog', async () => {
    await expect(gen.generate(input({ model: 'gemini-2.5-flash-image' }))).rejects.toThrow(/not an Imagen model/);
  });

  it('takes its key, and only its key, from the options: a Gemini key in the environment goes nowhere', async () => {
    const saved = { GEMINI_API_KEY: process.env.GEMINI_API_KEY, GOOGLE_API_KEY: process.env.GOOGLE_API_KEY, GOOGLE_CLOUD_PROJECT: process.env.GOOGLE_CLOUD_PROJECT };
    const envKey = 'AIzaSyENV-gemini-key-must-not-travel-0000';
    Object.assign(process.env, { GEMINI_API_KEY: envKey, GOOGLE_API_KEY: envKey, GOOGLE_CLOUD_PROJECT: 'someone-elses-project' });
    try {
      const { fake: f, opts } = await imagen('adc');
      try {
        await new ImagenImageGenerator(opts).generate(input());
        const reqs = f.requests();
        expect(reqs.at(-1)!.path).toBe(predictPath('imagen-4.0-generate-001', 'adc'));
        for (const r of reqs) expect(JSON.stringify(r.headers)).not.toContain(envKey);
      } finally {
        await f.close();
      }
      const express = new ImagenImageGenerator({ apiKey: KEY, baseUrl: fake.baseUrl, timeoutMs: TIMEOUT_MS });
      await express.generate(input());
      expect(predicts().at(-1)!.path).toBe(predictPath('imagen-4.0-generate-001', 'express'));
      expect(predicts().at(-1)!.headers['x-goog-api-key']).toBe(KEY);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('never puts the express key in what an error shows', async () => {
    const f = await startFakeVertex({ project: PROJECT, apiKey: 'AIzaSyOTHER-key-the-fake-wants-000000000' });
    try {
      const err = await new ImagenImageGenerator({ apiKey: KEY, baseUrl: f.baseUrl, timeoutMs: TIMEOUT_MS }).generate(input()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthenticationError);
      expect((err as Error).message).toMatch(/DARKROOM_VERTEX_API_KEY/);
      expectNoKey(exposed(err), KEY, 'the bad-key error');
    } finally {
      await f.close();
    }
  });
});

describe('Vertex AI credentials (ADC)', () => {
  it('a credential the token server refuses is a non-retryable AuthenticationError, and nothing reaches :predict', async () => {
    const { fake, opts } = await imagen('adc');
    try {
      fake.refuseNextToken();
      const err = await new ImagenImageGenerator(opts).generate({ model: 'imagen-4', prompt: 'a teapot', negativePrompt: '', width: 1024, height: 1024, seed: 1, palette: [] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthenticationError);
      expect((err as AuthenticationError).retryable).toBe(false);
      expect((err as Error).message).toMatch(/^Vertex AI image generation: no access token .*GOOGLE_CLOUD_PROJECT/);
      expect(fake.requests().filter((r) => r.path.includes(':predict'))).toHaveLength(0);
      expectNoKey(exposed(err), fake.accessToken, 'the credential error');
    } finally {
      await fake.close();
    }
  });
});

describe('ImagenUpscaler', () => {
  it('picks the smallest factor that reaches the target', () => {
    expect([1.2, 2, 2.5, 3, 3.5, 4, 6].map(imagenUpscaleFactor)).toEqual(['x2', 'x2', 'x3', 'x3', 'x4', 'x4', 'x4']);
  });

  it('finishes with Lanczos past x4, and charges the catalog price once', async () => {
    const { fake, opts } = await imagen('express');
    try {
      const image = await sharp({ create: { width: 100, height: 50, channels: 3, background: { r: 10, g: 20, b: 30 } } }).png().toBuffer();
      const out = await new ImagenUpscaler(opts).upscale({ image, minWidth: 600, minHeight: 300 });
      expect([out.width, out.height]).toEqual([600, 300]);
      expect(out.costUsd).toBe(UPSCALE_MODELS['imagen-4-upscale'].priceUsdPerImage);
      const p = (fake.requests().at(-1)!.body as PredictBody).parameters;
      expect(p.upscaleConfig).toEqual({ upscaleFactor: 'x4' });
    } finally {
      await fake.close();
    }
  });
});

describe('Vertex AI configuration and the registry', () => {
  it('is off unless configured: a project alone or a Gemini key alone does not turn it on', () => {
    for (const env of [{}, { GOOGLE_CLOUD_PROJECT: PROJECT }, { GEMINI_API_KEY: KEY }]) {
      const config = parseConfig(env);
      expect(providerKeys(config).vertex, JSON.stringify(env)).toBe(false);
      expect(createProviderRegistry(config).imageModels.filter((m) => m.startsWith('imagen'))).toEqual([]);
    }
    expect(() => parseConfig({ GOOGLE_GENAI_USE_VERTEXAI: 'true' })).toThrow(/GOOGLE_CLOUD_PROJECT is required when GOOGLE_GENAI_USE_VERTEXAI is true/);
    expect(() => parseConfig({ GOOGLE_GENAI_USE_VERTEXAI: 'yes please' })).toThrow(/GOOGLE_GENAI_USE_VERTEXAI/);
    expect(() => parseConfig({ DARKROOM_VERTEX_BASE_URL: 'localhost:1' })).toThrow(/DARKROOM_VERTEX_BASE_URL/);
    expect(parseConfig({}).GOOGLE_CLOUD_LOCATION).toBe('us-central1');
  });

  it('builds the Imagen generator and upscaler from the configuration, and routes Imagen briefs to it', async () => {
    const fake = await startFakeVertex({ project: PROJECT, apiKey: KEY });
    try {
      const config = parseConfig({ GOOGLE_GENAI_USE_VERTEXAI: 'true', GOOGLE_CLOUD_PROJECT: PROJECT, GOOGLE_CLOUD_LOCATION: LOCATION, GOOGLE_APPLICATION_CREDENTIALS: await credentialsFile(fake), DARKROOM_VERTEX_BASE_URL: fake.baseUrl, DARKROOM_VERTEX_WATERMARK: 'false' });
      expect(providerKeys(config)).toMatchObject({ vertex: true, google: false });
      const registry = createProviderRegistry(config);
      expect(registry.imageModels).toEqual(['local', 'imagen-4', 'imagen-4-fast', 'imagen-4-ultra']);
      expect(registry.imageModels).toEqual(capabilitiesFor(providerKeys(config)).imageModels);
      expect(registry.upscaler.name).toBe('imagen-4-upscale');
      expect(registry.prices.upscaleUsd).toBe(UPSCALE_MODELS['imagen-4-upscale'].priceUsdPerImage);

      const brief = validateBrief({ subject: 'studio product photography of a teapot', channels: ['og-image'], model: 'imagen-4' });
      const route = routeImageModel(brief, registry.imageModels);
      const out = await registry.imageGenerator(route.model).generate({ model: route.model, prompt: 'a teapot', negativePrompt: '', width: 1024, height: 1024, seed: 5, palette: [] });
      expect(out.model).toBe('imagen-4');
      const req: RecordedRequest = fake.requests().at(-1)!;
      expect(req.path).toBe(predictPath('imagen-4.0-generate-001', 'adc'));
      expect((req.body as PredictBody).parameters).toMatchObject({ addWatermark: false, seed: 5 });

      // With a Replicate token too, Real-ESRGAN stays the upscaler: it costs a fraction of Imagen's.
      expect(createProviderRegistry(parseConfig({ DARKROOM_VERTEX_API_KEY: KEY, REPLICATE_API_TOKEN: 'r8_x' })).upscaler.name).toBe('real-esrgan');
    } finally {
      await fake.close();
    }
  });
});
