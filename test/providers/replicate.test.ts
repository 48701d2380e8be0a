import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthenticationError,
  ContentPolicyError,
  InvalidRequestError,
  ProviderUnavailableError,
  RateLimitError,
  type GenerateImageInput,
} from '../../activities/providers';
import { ReplicateImageGenerator, ReplicateUpscaler, outputUrlAllowed, parseOutputHosts } from '../../activities/providers/replicate';
import { withFaults, type Fault } from './contract/faults';
import { runImageGeneratorContract, type EditContractOptions } from './contract/image-generator';
import { runUpscalerContract } from './contract/others';
import type { MultipartBody } from './fake-http';
import { REAL_ESRGAN_VERSION, startFakeReplicate, type FakeReplicate } from './fake-replicate';

const TOKEN = 'r8_FAKEtoken0123456789abcdefghijklmnopqr';
/**
 * Short, so the timeout fault costs seconds, not two minutes; long enough that the fake, which
 * renders a real image with sharp, answers in time on a loaded 2-core CI machine (300 ms did not).
 */
const TIMEOUT_MS = 1500;
const POLL_MS = 20;

type CreateBody = { version?: string; input: Record<string, unknown> };

/** The fake serves output files over plain HTTP, so its host is allowed with the scheme spelled out. */
const options = (fake: FakeReplicate) => ({ apiToken: TOKEN, baseUrl: fake.baseUrl, timeoutMs: TIMEOUT_MS, pollIntervalMs: POLL_MS, outputHosts: [`http://${fake.host}`] });

function harness<T>(make: (fake: FakeReplicate) => T) {
  return withFaults(async () => {
    const fake = await startFakeReplicate({ apiToken: TOKEN });
    return { impl: make(fake), fault: (k: Fault) => fake.fault(k), requests: fake.requests, close: fake.close };
  });
}

const checkFlux =
  (model: string, extra: Record<string, unknown>) =>
  (body: unknown, input: GenerateImageInput, req: { path: string; headers: Record<string, unknown> }) => {
    expect(req.path).toBe(`/v1/models/black-forest-labs/${model}/predictions`);
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req.headers.prefer).toBe('wait=1');
    // FLUX takes no negative prompt, and negations in its prompt summon what they name: not sent.
    expect((body as CreateBody).input).toEqual({ prompt: input.prompt, aspect_ratio: '3:2', seed: input.seed, output_format: 'png', ...extra });
    expect(Object.keys(body as object)).toEqual(['input']);
  };

/** A text-to-image request to a model by name, its input as FLUX-family models take it. */
const checkFluxModel =
  (name: string, ratio: string, extra: Record<string, unknown>) =>
  (body: unknown, input: GenerateImageInput, req: { path: string; headers: Record<string, unknown> }) => {
    expect(req.path).toBe(`/v1/models/${name}/predictions`);
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect((body as CreateBody).input).toEqual({ prompt: input.prompt, aspect_ratio: ratio, seed: input.seed, output_format: 'png', ...extra });
  };

runImageGeneratorContract('flux-1.1-pro', harness((fake) => new ReplicateImageGenerator(options(fake))), {
  model: 'flux-1.1-pro',
  width: 1216,
  height: 832,
  checkRequest: checkFlux('flux-1.1-pro', { safety_tolerance: 2 }),
});

runImageGeneratorContract('flux-schnell', harness((fake) => new ReplicateImageGenerator(options(fake))), {
  model: 'flux-schnell',
  width: 1216,
  height: 832,
  checkRequest: checkFlux('flux-schnell', { num_outputs: 1 }),
});

/** The data URIs a prediction's input carries in `field` (one URI or a list), decoded. */
function dataUris(field: string) {
  return (req: { body: unknown }): Buffer[] => {
    const v = (req.body as CreateBody).input[field];
    const uris = (Array.isArray(v) ? v : [v]) as string[];
    return uris.map((u) => {
      const m = /^data:image\/(?:png|jpeg);base64,(.+)$/s.exec(u);
      expect(m, `${field} is a data URI`).not.toBeNull();
      return Buffer.from(m![1]!, 'base64');
    });
  };
}

const editOn = (model: string, field: string, expected: (input: GenerateImageInput) => Record<string, unknown>, textOnlyModel?: string): EditContractOptions => ({
  receivedReferences: dataUris(field),
  textOnlyModel,
  checkRequest: (req, input) => {
    expect(req.path).toBe(`/v1/models/${model}/predictions`);
    const sent = (req.body as CreateBody).input;
    expect(sent.prompt).toMatch(new RegExp(`^${input.prompt.trim()}\n\nImage 1 is the product: keep it exactly as it is`));
    expect({ ...sent, prompt: undefined, [field]: undefined }).toEqual({ prompt: undefined, [field]: undefined, ...expected(input) });
  },
});

runImageGeneratorContract('flux-kontext-pro', harness((fake) => new ReplicateImageGenerator(options(fake))), {
  model: 'flux-kontext-pro',
  width: 1344,
  height: 768,
  checkRequest: checkFluxModel('black-forest-labs/flux-kontext-pro', '16:9', { safety_tolerance: 2 }),
  // One input image; safety_tolerance at most 2 with it.
  edit: editOn('black-forest-labs/flux-kontext-pro', 'input_image', (i) => ({ aspect_ratio: '16:9', seed: i.seed, output_format: 'png', safety_tolerance: 2 }), 'ideogram-v3-turbo'),
});

runImageGeneratorContract('flux-2-pro', harness((fake) => new ReplicateImageGenerator(options(fake))), {
  model: 'flux-2-pro',
  width: 1248,
  height: 832,
  checkRequest: checkFluxModel('black-forest-labs/flux-2-pro', '3:2', { resolution: '1 MP', safety_tolerance: 2 }),
  edit: editOn('black-forest-labs/flux-2-pro', 'input_images', (i) => ({ aspect_ratio: '3:2', resolution: '1 MP', safety_tolerance: 2, seed: i.seed, output_format: 'png' }), 'flux-1.1-pro'),
});

runImageGeneratorContract('seedream-4', harness((fake) => new ReplicateImageGenerator(options(fake))), {
  model: 'seedream-4',
  width: 2560,
  height: 1440,
  checkRequest: (body, input, req) => {
    expect(req.path).toBe('/v1/models/bytedance/seedream-4/predictions');
    // No seed and no output_format in its schema; a list of URLs out.
    expect((body as CreateBody).input).toEqual({ prompt: input.prompt, size: '2K', aspect_ratio: '16:9', sequential_image_generation: 'disabled', max_images: 1 });
  },
  edit: editOn('bytedance/seedream-4', 'image_input', () => ({ size: '2K', aspect_ratio: '16:9', sequential_image_generation: 'disabled', max_images: 1 })),
});

runImageGeneratorContract('ideogram-v3-turbo', harness((fake) => new ReplicateImageGenerator(options(fake))), {
  model: 'ideogram-v3-turbo',
  width: 1024,
  height: 1024,
  checkRequest: (body, input, req) => {
    expect(req.path).toBe('/v1/models/ideogram-ai/ideogram-v3-turbo/predictions');
    expect((body as CreateBody).input).toEqual({ prompt: input.prompt, aspect_ratio: '1:1', seed: input.seed, magic_prompt_option: 'Off' });
  },
});

runUpscalerContract('real-esrgan', harness((fake) => new ReplicateUpscaler({ ...options(fake), model: 'real-esrgan' })), {
  checkRequest: (body) => {
    const b = body as CreateBody;
    expect(b.version).toBe(REAL_ESRGAN_VERSION);
    // 200x100 to at least 700x300 needs 3.5x: 4 is the smallest trained scale that gets there.
    expect(b.input).toEqual({ image: expect.stringMatching(/^data:image\/png;base64,/), scale: 4, face_enhance: false });
  },
});

runUpscalerContract('recraft-crisp-upscale', harness((fake) => new ReplicateUpscaler({ ...options(fake), model: 'recraft-crisp-upscale' })), {
  checkRequest: (body) => {
    expect(body).toEqual({ input: { image: expect.stringMatching(/^data:image\/png;base64,/) } });
  },
});

const genInput = (over: Partial<GenerateImageInput> = {}): GenerateImageInput => ({
  model: 'flux-1.1-pro',
  prompt: 'a ceramic teapot on linen',
  negativePrompt: 'text',
  width: 1024,
  height: 1024,
  seed: 3,
  palette: [],
  ...over,
});

const rejection = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e as Error);
const settle = () => new Promise((r) => setTimeout(r, 300));

describe('outputUrlAllowed', () => {
  const hosts = parseOutputHosts('replicate.delivery, *.replicate.delivery,127.0.0.1:9999,http://127.0.0.1:8080');
  it.each([
    ['https://replicate.delivery/xezq/abc/out-0.png', true],
    ['https://pbxt.replicate.delivery/abc/out-0.png', true],
    ['https://replicate.delivery.evil.example/x.png', false],
    ['https://evilreplicate.delivery/x.png', false],
    ['http://replicate.delivery/x.png', false],
    ['https://user:pw@replicate.delivery/x.png', false],
    ['https://127.0.0.1:9999/x.png', true],
    ['http://127.0.0.1:9999/x.png', false],
    ['https://127.0.0.1:9998/x.png', false],
    ['http://127.0.0.1:8080/files/a.png', true],
    ['file:///etc/passwd', false],
  ])('%s → %s', (url, ok) => {
    expect(outputUrlAllowed(new URL(url), hosts)).toBe(ok);
  });
  it('the wildcard matches subdomains, not the bare domain', () => {
    expect(outputUrlAllowed(new URL('https://replicate.delivery/x'), ['*.replicate.delivery'])).toBe(false);
  });
});

describe('ReplicateImageGenerator against the fake', () => {
  let fake: FakeReplicate;
  let gen: ReplicateImageGenerator;
  /** Every URL the adapter fetched, API and downloads alike. */
  const fetched: string[] = [];
  const watchingFetch: typeof fetch = (input, init) => {
    fetched.push(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
    return fetch(input, init);
  };
  beforeAll(async () => {
    fake = await startFakeReplicate({ apiToken: TOKEN, echoTokenInErrors: true });
    gen = new ReplicateImageGenerator({ ...options(fake), fetch: watchingFetch });
  });
  afterAll(() => fake.close());

  describe('reference images', () => {
    /** A PNG of noise: it does not compress, so it is as large as asked. */
    const noisePng = (side: number) => sharp(randomBytes(side * side * 3), { raw: { width: side, height: side, channels: 3 } }).png().toBuffer();

    it('uploads a packshot over 1 MB to the file store, points the model at it, and deletes it after', async () => {
      const big = await noisePng(700);
      expect(big.length).toBeGreaterThan(1_000_000);
      const before = fake.requests().length;
      const out = await gen.generate(genInput({ model: 'flux-kontext-pro', width: 1024, height: 1024, references: [{ role: 'product', image: big, mime: 'image/png' }] }));
      const reqs = fake.requests().slice(before);
      const upload = reqs.find((r) => r.method === 'POST' && r.path === '/v1/files')!;
      expect(upload, 'the packshot went to POST /v1/files').toBeDefined();
      const content = (upload.body as MultipartBody).files.find((f) => f.field === 'content')!;
      expect(Buffer.compare(content.data, big)).toBe(0);
      expect(content.type).toBe('image/png');
      const create = reqs.find((r) => r.path === '/v1/models/black-forest-labs/flux-kontext-pro/predictions')!;
      const sent = (create.body as CreateBody).input.input_image as string;
      expect(sent).toMatch(new RegExp(`^${fake.baseUrl}/files/[0-9a-f]+$`));
      // Uploaded before the prediction, deleted after it.
      expect(reqs.indexOf(upload)).toBeLessThan(reqs.indexOf(create));
      expect(fake.uploads().deleted).toEqual([sent.split('/').at(-1)]);
      expect(fake.uploads().live.size).toBe(0);
      expect(out.costUsd).toBe(0.04);
    });

    it('deletes the uploaded file when the prediction fails too', async () => {
      const big = await noisePng(700);
      fake.fault('contentPolicy');
      const err = await gen.generate(genInput({ model: 'flux-kontext-max', width: 1024, height: 1024, references: [{ role: 'product', image: big, mime: 'image/png' }] })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ContentPolicyError);
      expect(fake.uploads().live.size).toBe(0);
    });

    it('sends a small packshot inline as a data URI, with no upload', async () => {
      const small = await noisePng(64);
      const before = fake.requests().length;
      await gen.generate(genInput({ model: 'flux-2-pro', width: 1024, height: 1024, references: [{ role: 'product', image: small, mime: 'image/png' }] }));
      const reqs = fake.requests().slice(before);
      expect(reqs.some((r) => r.path === '/v1/files')).toBe(false);
      const input = (reqs.find((r) => r.method === 'POST')!.body as CreateBody).input;
      expect(input.input_images).toEqual([`data:image/png;base64,${small.toString('base64')}`]);
    });

    it('re-encodes a packshot in a format the model does not take (TIFF) as lossless PNG, same pixels', async () => {
      const tiff = await sharp({ create: { width: 40, height: 30, channels: 3, background: { r: 10, g: 200, b: 30 } } }).tiff().toBuffer();
      const before = fake.requests().length;
      await gen.generate(genInput({ model: 'seedream-4', width: 2048, height: 2048, references: [{ role: 'product', image: tiff, mime: 'image/tiff' }] }));
      const input = (fake.requests().slice(before).find((r) => r.method === 'POST')!.body as CreateBody).input;
      const uri = (input.image_input as string[])[0]!;
      expect(uri).toMatch(/^data:image\/png;base64,/);
      const sent = Buffer.from(uri.split(',')[1]!, 'base64');
      expect(await sharp(sent).raw().toBuffer()).toEqual(await sharp(tiff).raw().toBuffer());
    });

    it('refuses an undecodable packshot before any request, naming it', async () => {
      const before = fake.requests().length;
      const err = await gen.generate(genInput({ model: 'flux-kontext-pro', references: [{ role: 'product', image: Buffer.from('not an image'), mime: 'image/avif' }] })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect((err as Error).message).toMatch(/references\[0\] \(image\/avif\) could not be decoded/);
      expect(fake.requests().length).toBe(before);
    });

    it('adds what FLUX.2 bills per reference image to the cost', async () => {
      const out = await gen.generate(genInput({ model: 'flux-2-pro', width: 1024, height: 1024, references: [
        { role: 'product', image: await noisePng(32), mime: 'image/png' },
        { role: 'style', image: await noisePng(32), mime: 'image/png' },
      ] }));
      expect(out.costUsd).toBe(0.045);
    });
  });

  it('makes 4 MP natively with flux-1.1-pro-ultra, in raw mode when asked', async () => {
    const ultra = new ReplicateImageGenerator({ ...options(fake), timeoutMs: 5000, raw: true });
    const out = await ultra.generate(genInput({ model: 'flux-1.1-pro-ultra', width: 3840, height: 2160 }));
    expect([out.width, out.height]).toEqual([2720, 1536]);
    expect(out.costUsd).toBe(0.06);
    expect((fake.requests().filter((r) => r.method === 'POST').at(-1)!.body as CreateBody).input).toMatchObject({ aspect_ratio: '16:9', raw: true, safety_tolerance: 2 });
  });

  it.each([
    ['serverError', 'POST'],
    ['rateLimit', 'POST'],
    ['timeout', 'POST'],
    ['serverError', 'GET'],
    ['rateLimit', 'GET'],
  ] as const)('makes exactly one request on %s to a %s (SDK retries are off)', async (kind, method) => {
    if (method === 'GET') fake.slowNext(3);
    fake.fault(kind, { method });
    const before = fake.requests().filter((r) => r.method === method).length;
    const err = await rejection(gen.generate(genInput()));
    expect(err).toBeInstanceOf(kind === 'rateLimit' ? RateLimitError : ProviderUnavailableError);
    await settle();
    const after = fake.requests().filter((r) => r.method === method && !r.path.endsWith('/cancel'));
    expect(after.length - before).toBe(1);
  });

  it('polls GET /v1/predictions/{id} when Prefer: wait returns a prediction still starting', async () => {
    const before = fake.requests().length;
    fake.slowNext(2);
    const out = await gen.generate(genInput());
    expect(out.width).toBe(1024);
    const seen = fake.requests().slice(before).map((r) => `${r.method} ${r.path.replace(/predictions\/[a-z0-9]+/, 'predictions/ID').replace(/files\/[0-9a-f]+/, 'files/F')}`);
    expect(seen).toEqual([
      'POST /v1/models/black-forest-labs/flux-1.1-pro/predictions',
      'GET /v1/predictions/ID',
      'GET /v1/predictions/ID',
      'GET /v1/predictions/ID',
      'GET /files/F.png',
    ]);
  });

  it('a prediction that fails on the safety filter while polled is a ContentPolicyError', async () => {
    fake.slowNext(2);
    fake.fault('contentPolicy', { method: 'GET' });
    const err = await rejection(gen.generate(genInput()));
    expect(err).toBeInstanceOf(ContentPolicyError);
    expect(err.message).toContain('flagged as sensitive');
  });

  it('a timeout while polling is retryable and cancels the prediction, so a retry does not pay twice', async () => {
    const before = fake.requests().length;
    fake.slowNext(1000);
    const err = await rejection(gen.generate(genInput()));
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect(err.message).toContain(`${TIMEOUT_MS} ms`);
    await settle();
    expect(fake.requests().slice(before).filter((r) => r.path.endsWith('/cancel')).map((r) => r.method)).toEqual(['POST']);
  });

  it('refuses an output URL on a host outside the allow-list, without requesting it', async () => {
    fake.outputNext('https://evil.example/x.png');
    const err = await rejection(gen.generate(genInput()));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.message).toContain('evil.example');
    expect(fetched.some((u) => u.includes('evil.example'))).toBe(false);
  });

  it('refuses plain HTTP to a host listed without http://', async () => {
    const strict = new ReplicateImageGenerator({ ...options(fake), outputHosts: [fake.host] });
    const err = await rejection(strict.generate(genInput()));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.message).toContain(`add http://${fake.host}`);
  });

  it('never sends the API token to the output host', async () => {
    await gen.generate(genInput());
    const download = fake.requests().filter((r) => r.path.startsWith('/files/')).at(-1)!;
    expect(download.headers.authorization).toBeUndefined();
  });

  it('an input the model rejects (422) is an InvalidRequestError', async () => {
    const err = await rejection(gen.generate(genInput({ model: 'flux-1.1-pro', seed: 1.5 })));
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect(err.message).toContain('seed must be an integer');
  });

  it('never puts the API token in an error message, its cause or its stack', async () => {
    const wrong = 'r8_WRONGtokenThatMustNotLeak9876543210zz';
    const bad = new ReplicateImageGenerator({ ...options(fake), apiToken: wrong });
    const err = await rejection(bad.generate(genInput()));
    expect(err).toBeInstanceOf(AuthenticationError);
    // The fake echoes the token it got, as a careless proxy might.
    expect(fake.requests().at(-1)!.headers.authorization).toBe(`Bearer ${wrong}`);
    const everything = [err.message, err.stack, (err.cause as Error | undefined)?.message, (err.cause as Error | undefined)?.stack].join('\n');
    expect(everything).toContain('valid authentication token');
    expect(everything).not.toContain(wrong);
  });

  it('a model outside the Replicate catalog is refused before any request', async () => {
    const before = fake.requests().length;
    await expect(gen.generate(genInput({ model: 'gemini-2.5-flash-image' }))).rejects.toBeInstanceOf(InvalidRequestError);
    expect(fake.requests().length).toBe(before);
  });
});

describe('ReplicateUpscaler against the fake', () => {
  let fake: FakeReplicate;
  let image: Buffer;
  beforeAll(async () => {
    fake = await startFakeReplicate({ apiToken: TOKEN });
    image = await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 90, g: 30, b: 200 } } }).png().toBuffer();
  });
  afterAll(() => fake.close());

  it('asks Real-ESRGAN for 2x when 2x is enough, and keeps a result larger than needed', async () => {
    const up = new ReplicateUpscaler({ ...options(fake), model: 'real-esrgan' });
    const out = await up.upscale({ image, minWidth: 500, minHeight: 300 });
    expect((fake.requests().filter((r) => r.method === 'POST').at(-1)!.body as CreateBody).input.scale).toBe(2);
    expect([out.width, out.height]).toEqual([600, 400]);
    expect(out.costUsd).toBe(0.0025);
  });

  it('looks the Real-ESRGAN version up once, or not at all when pinned', async () => {
    const up = new ReplicateUpscaler({ ...options(fake), model: 'real-esrgan' });
    const before = fake.requests().length;
    await up.upscale({ image, minWidth: 600, minHeight: 400 });
    await up.upscale({ image, minWidth: 600, minHeight: 400 });
    const lookups = (from: number) => fake.requests().slice(from).filter((r) => r.path === '/v1/models/nightmareai/real-esrgan').length;
    expect(lookups(before)).toBe(1);
    const pinned = new ReplicateUpscaler({ ...options(fake), model: 'real-esrgan', version: REAL_ESRGAN_VERSION });
    const mid = fake.requests().length;
    await pinned.upscale({ image, minWidth: 600, minHeight: 400 });
    expect(lookups(mid)).toBe(0);
  });

  it('finishes with a Lanczos resize when the model output is still short of the minimum', async () => {
    const up = new ReplicateUpscaler({ ...options(fake), model: 'recraft-crisp-upscale' });
    const out = await up.upscale({ image, minWidth: 1500, minHeight: 1000 });
    // Crisp Upscale (2x in the fake) gives 600x400; lanczos takes it to 1500x1000.
    expect([out.width, out.height]).toEqual([1500, 1000]);
    expect(out.mime).toBe('image/png');
    expect(out.costUsd).toBe(0.004);
  });

  it('returns an image already large enough untouched, without a request or a cost', async () => {
    const up = new ReplicateUpscaler({ ...options(fake), model: 'recraft-crisp-upscale' });
    const before = fake.requests().length;
    const out = await up.upscale({ image, minWidth: 300, minHeight: 200 });
    expect(out.image).toBe(image);
    expect(out.costUsd).toBe(0);
    expect(fake.requests().length).toBe(before);
  });
});
