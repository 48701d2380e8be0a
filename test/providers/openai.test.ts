import http from 'node:http';
import type { AddressInfo } from 'node:net';
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
import {
  cleanAltText,
  MISSING_MUST_INCLUDE_PENALTY,
  OPENAI_CHAT_PRICES,
  OpenAIAltTextWriter,
  OpenAIImageGenerator,
  OpenAIVisionJudge,
  OPENAI_FIDELITY_UNCHECKED,
  OPENAI_FIDELITY_WEIGHT,
  PRESENT_MUST_AVOID_PENALTY,
  promptWithNegatives,
  retryAfterMs,
  type OpenAIImageGeneratorOptions,
} from '../../activities/providers/openai';
import { createProviderRegistry } from '../../activities/providers';
import { validateBrief } from '../../domain/brief';
import { parseConfig } from '../../domain/config';
import { imagePrice, type Quality } from '../../domain/models';
import { withFaults, type ContractHarness } from './contract/faults';
import { runImageGeneratorContract, type EditContractOptions } from './contract/image-generator';
import { packshot, productScene, runAltTextContract, runVisionJudgeContract } from './contract/others';
import { visionDataUrl } from '../../activities/providers/openai/vision';
import type { MultipartBody } from './fake-http';
import { startFakeOpenAI, type FakeOpenAI } from './fake-openai';

/** Shaped like a real key, so a leak into a message would be easy to spot and hard to miss. */
const KEY = 'sk-proj-DarkroomTestKey0123456789abcdefXYZ';
/**
 * Short, so the timeout fault costs seconds, not two minutes; long enough that the fake, which
 * renders a real image with sharp, answers in time on a loaded 2-core CI machine (300 ms did not).
 */
const TIMEOUT_MS = 1500;

type Body = Record<string, unknown>;
type ChatPart = { type: string; text?: string; image_url?: { url: string; detail?: string } };

function harness<T>(make: (baseURL: string) => T) {
  return withFaults(async (): Promise<ContractHarness<T>> => {
    const fake = await startFakeOpenAI({ apiKey: KEY });
    return { impl: make(fake.baseURL), fault: (f) => fake.fault(f), requests: () => fake.requests(), close: () => fake.close() };
  });
}

const generator = (baseURL: string, over: Partial<OpenAIImageGeneratorOptions> = {}) =>
  new OpenAIImageGenerator({ apiKey: KEY, baseURL, timeoutMs: TIMEOUT_MS, ...over });

function expectImageRequest(expected: { model: string; size: string; quality: string; format: string }) {
  return (body: unknown, input: GenerateImageInput, req: { path: string; headers: Record<string, unknown> }) => {
    const b = body as Body;
    expect(req.path).toBe('/v1/images/generations');
    expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(b.model).toBe(expected.model);
    expect(b.size).toBe(expected.size);
    expect(b.prompt).toContain(input.prompt);
    expect(b.prompt).toContain(`Avoid: ${input.negativePrompt}.`);
    expect(b.quality).toBe(expected.quality);
    expect(b.output_format).toBe(expected.format);
    expect(b.n).toBe(1);
    // gpt-image always answers in base64 and rejects the parameter.
    expect(b).not.toHaveProperty('response_format');
  };
}

function imageParts(body: unknown): ChatPart[] {
  const messages = (body as { messages: Array<{ content: unknown }> }).messages;
  return messages.flatMap((m) => (Array.isArray(m.content) ? (m.content as ChatPart[]) : [])).filter((p) => p.type === 'image_url');
}

/**
 * The edit path on the wire: POST /images/edits as multipart/form-data, the references as `image[]`
 * files (product first), the other parameters as text fields.
 */
function editPath(expected: { model: string; size: string; fields: Record<string, string>; absent: string[] }): EditContractOptions {
  return {
    receivedReferences: (req) => (req.body as MultipartBody).files.filter((f) => f.field === 'image[]').map((f) => f.data),
    checkRequest: (req, input) => {
      expect(req.path).toBe('/v1/images/edits');
      expect(String(req.headers['content-type'])).toMatch(/^multipart\/form-data; boundary=/);
      expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
      const { fields, files } = req.body as MultipartBody;
      expect(fields.model).toBe(expected.model);
      expect(fields.size).toBe(expected.size);
      expect(fields.n).toBe('1');
      expect(fields.prompt).toContain(input.prompt);
      expect(fields.prompt).toContain(`Avoid: ${input.negativePrompt}.`);
      expect(fields.prompt).toMatch(/Image 1 is the product: keep it exactly as it is/);
      for (const [k, v] of Object.entries(expected.fields)) expect(fields[k], k).toBe(v);
      for (const k of expected.absent) expect(fields, k).not.toHaveProperty(k);
      expect(files.map((f) => [f.filename, f.type])).toEqual(input.references!.map((r, i) => [`reference-${i + 1}-${r.role}.${r.mime === 'image/png' ? 'png' : 'jpg'}`, r.mime]));
    },
  };
}

// ───────────────────────── contract suites ─────────────────────────

runImageGeneratorContract('openai gpt-image-1.5', harness((url) => generator(url)), {
  model: 'gpt-image-1.5',
  width: 1024,
  height: 1024,
  checkRequest: expectImageRequest({ model: 'gpt-image-1.5', size: '1024x1024', quality: 'medium', format: 'png' }),
  edit: {
    width: 1536,
    height: 1024,
    ...editPath({ model: 'gpt-image-1.5', size: '1536x1024', fields: { quality: 'medium', output_format: 'png', input_fidelity: 'high' }, absent: ['response_format'] }),
  },
});

runImageGeneratorContract('openai gpt-image-1-mini', harness((url) => generator(url, { quality: 'high', outputFormat: 'jpeg' })), {
  model: 'gpt-image-1-mini',
  width: 1536,
  height: 1024,
  checkRequest: expectImageRequest({ model: 'gpt-image-1-mini', size: '1536x1024', quality: 'high', format: 'jpeg' }),
  // gpt-image-1-mini refuses input_fidelity: it is not sent.
  edit: editPath({ model: 'gpt-image-1-mini', size: '1536x1024', fields: { quality: 'high', output_format: 'jpeg' }, absent: ['input_fidelity', 'response_format'] }),
});

// A team's own OpenAI-compatible FLUX.2 server: the same adapter, its own fake on its own port.
const selfHosted = (baseURL: string) => generator(baseURL, { selfHosted: { model: 'flux.2-dev', usdPerImage: 0.002 } });
runImageGeneratorContract('self-hosted OpenAI-compatible server', harness((url) => selfHosted(url)), {
  model: 'self-hosted',
  width: 1024,
  height: 1536,
  checkRequest: (body, input, req) => {
    const b = body as Body;
    expect(req.path).toBe('/v1/images/generations');
    expect(b.model).toBe('flux.2-dev');
    expect(b.size).toBe('1024x1536');
    expect(b.prompt).toContain(input.prompt);
    // Such servers answer with a URL unless asked; gpt-image's quality tiers mean nothing to them.
    expect(b.response_format).toBe('b64_json');
    expect(b).not.toHaveProperty('quality');
  },
  edit: editPath({ model: 'flux.2-dev', size: '1024x1536', fields: { response_format: 'b64_json', output_format: 'png' }, absent: ['quality', 'input_fidelity'] }),
});

runVisionJudgeContract('openai judge', harness((url) => new OpenAIVisionJudge({ apiKey: KEY, baseURL: url, timeoutMs: TIMEOUT_MS })), {
  checkRequest: (body) => {
    const b = body as Body;
    expect(b.model).toBe('gpt-4.1-mini');
    const images = imageParts(body);
    expect(images).toHaveLength(2);
    for (const p of images) expect(p.image_url?.url).toMatch(/^data:image\/jpeg;base64,[A-Za-z0-9+/]+=*$/);
    const format = b.response_format as { type: string; json_schema: { name: string; strict: boolean; schema: { properties: Record<string, unknown> } } };
    expect(format.type).toBe('json_schema');
    expect(format.json_schema.strict).toBe(true);
    expect(format.json_schema.schema.properties).toHaveProperty('candidates');
    expect(JSON.stringify(format)).not.toContain('fidelity');
  },
  checkReferenceRequest: async (body, reference) => {
    const parts = (body as { messages: Array<{ content: unknown }> }).messages.flatMap((m) => (Array.isArray(m.content) ? (m.content as ChatPart[]) : []));
    // The packshot, as the judge encodes every image it sends, right after the text that labels it.
    const expected = await visionDataUrl(reference, 'reference', 'test');
    const at = parts.findIndex((p) => p.type === 'image_url' && p.image_url?.url === expected);
    expect(at, 'the reference image is in the request').toBeGreaterThan(0);
    expect(parts[at - 1]!.text).toMatch(/^Product reference \(.*not a candidate/);
    expect(imageParts(body)).toHaveLength(3);
    const system = (body as { messages: Array<{ role: string; content: unknown }> }).messages.find((m) => m.role === 'system')!.content as string;
    expect(system).toMatch(/product reference.*not a candidate/);
    const format = JSON.stringify((body as Body).response_format);
    expect(format).toContain('"fidelity"');
    expect(format).toContain('"fidelityReasons"');
  },
});

runAltTextContract('openai alt text', harness((url) => new OpenAIAltTextWriter({ apiKey: KEY, baseURL: url, timeoutMs: TIMEOUT_MS })), {
  checkRequest: (body) => {
    const b = body as Body;
    expect(b.model).toBe('gpt-4.1-mini');
    const images = imageParts(body);
    expect(images).toHaveLength(1);
    expect(images[0]!.image_url?.url).toMatch(/^data:image\/jpeg;base64,/);
  },
});

// ───────────────────────── adapter specifics ─────────────────────────

const brief = validateBrief({
  subject: 'a ceramic teapot on a linen cloth',
  channels: ['og-image'],
  brandColors: ['#0B3D91', '#F4B400'],
  mustInclude: ['steam from the spout'],
  mustAvoid: ['text', 'people'],
});

const genInput = (over: Partial<GenerateImageInput> = {}): GenerateImageInput => ({
  model: 'gpt-image-1.5',
  prompt: 'a ceramic teapot on linen, soft window light, editorial',
  negativePrompt: 'text, people',
  width: 1024,
  height: 1024,
  seed: 1,
  palette: [],
  ...over,
});

async function png(width: number, height: number, seed = 1): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: (seed * 40) % 256, g: 90, b: 160 } } }).png().toBuffer();
}

/** Every place an error could carry text into a log or a Temporal failure. */
function errorTexts(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 5; depth++) {
    parts.push(String(e), e.message, e.stack ?? '', JSON.stringify((e as { error?: unknown }).error ?? null));
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

describe('OpenAI adapters against the fake OpenAI server', () => {
  let fake: FakeOpenAI;
  beforeAll(async () => {
    fake = await startFakeOpenAI({ apiKey: KEY });
  });
  afterAll(async () => {
    await fake.close();
  });
  const posts = () => fake.requests().filter((r) => r.method === 'POST');

  describe('Temporal owns retries: the SDK never retries', () => {
    for (const fault of ['serverError', 'rateLimit', 'timeout'] as const) {
      it(`a ${fault} reaches the server exactly once`, async () => {
        const before = posts().length;
        fake.fault(fault);
        await expect(generator(fake.baseURL).generate(genInput())).rejects.toBeInstanceOf(fault === 'rateLimit' ? RateLimitError : ProviderUnavailableError);
        expect(posts().length - before).toBe(1);
      });
    }

    it('the judge and the alt-text writer do not retry either', async () => {
      const before = posts().length;
      fake.fault('serverError');
      const judge = new OpenAIVisionJudge({ apiKey: KEY, baseURL: fake.baseURL, timeoutMs: TIMEOUT_MS });
      await expect(judge.judge({ brief, candidates: [{ id: 'c1', image: await png(64, 64), mime: 'image/png' }] })).rejects.toBeInstanceOf(ProviderUnavailableError);
      fake.fault('serverError');
      const alt = new OpenAIAltTextWriter({ apiKey: KEY, baseURL: fake.baseURL, timeoutMs: TIMEOUT_MS });
      await expect(alt.write({ brief, image: await png(64, 64), mime: 'image/png' })).rejects.toBeInstanceOf(ProviderUnavailableError);
      expect(posts().length - before).toBe(2);
    });
  });

  describe('rate limits carry the vendor delay', () => {
    it('reads retry-after given as an HTTP date', async () => {
      const start = Date.now();
      // HTTP dates have whole seconds.
      const at = new Date(Math.ceil(start / 1000) * 1000 + 30_000);
      fake.fault('rateLimit', { retryAfter: at.toUTCString() });
      const err = (await generator(fake.baseURL).generate(genInput()).catch((e: unknown) => e)) as RateLimitError;
      expect(err).toBeInstanceOf(RateLimitError);
      expect(err.retryAfterMs).toBeGreaterThan(25_000);
      expect(err.retryAfterMs).toBeLessThanOrEqual(at.getTime() - start);
    });

    it('prefers retry-after-ms, OpenAI’s own header', async () => {
      fake.respondNext({ status: 429, headers: { 'retry-after-ms': '1500', 'retry-after': '2' }, body: { error: { message: 'Rate limit reached', type: 'requests', param: null, code: 'rate_limit_exceeded' } } });
      const err = (await generator(fake.baseURL).generate(genInput()).catch((e: unknown) => e)) as RateLimitError;
      expect(err).toBeInstanceOf(RateLimitError);
      expect(err.retryAfterMs).toBe(1500);
    });

    it('leaves the delay to Temporal when the vendor gives none', async () => {
      fake.respondNext({ status: 429, body: { error: { message: 'You exceeded your current quota', type: 'insufficient_quota', param: null, code: 'insufficient_quota' } } });
      const err = (await generator(fake.baseURL).generate(genInput()).catch((e: unknown) => e)) as RateLimitError;
      expect(err).toBeInstanceOf(RateLimitError);
      expect(err.retryAfterMs).toBeUndefined();
    });

    it('parses each header form', () => {
      const h = (o: Record<string, string>) => new Headers(o);
      const now = Date.parse('2026-11-21T12:00:00Z');
      expect(retryAfterMs(h({ 'retry-after': '7' }), now)).toBe(7000);
      expect(retryAfterMs(h({ 'retry-after': '0.5' }), now)).toBe(500);
      expect(retryAfterMs(h({ 'retry-after': 'Sat, 21 Nov 2026 12:00:20 GMT' }), now)).toBe(20_000);
      expect(retryAfterMs(h({ 'retry-after': 'Sat, 21 Nov 2026 11:00:00 GMT' }), now)).toBe(0);
      expect(retryAfterMs(h({ 'retry-after-ms': '250', 'retry-after': '9' }), now)).toBe(250);
      expect(retryAfterMs(h({ 'retry-after': 'soon' }), now)).toBeUndefined();
      expect(retryAfterMs(h({}), now)).toBeUndefined();
    });
  });

  describe('the API key never appears in an error', () => {
    it('is scrubbed from a 401 that echoes it, in the message, the stack and the kept cause', async () => {
      fake.fault('badKey');
      const err = await generator(fake.baseURL).generate(genInput()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthenticationError);
      expect((err as Error).cause).toBeDefined();
      const texts = errorTexts(err);
      expect(texts).toContain('Incorrect API key provided');
      expect(texts).not.toContain(KEY);
      expect(texts).not.toContain(KEY.slice(8, 30));
    });

    it('is absent when the server rejects a wrong key on its own', async () => {
      const other = 'sk-proj-SomeoneElsesKey9876543210zyxwvuTSR';
      const err = await generator(fake.baseURL, { apiKey: other }).generate(genInput()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthenticationError);
      expect(errorTexts(err)).not.toContain(other);
      expect(errorTexts(err)).not.toContain(other.slice(-4) + '.');
    });

    it('is absent from every fault of every adapter', async () => {
      const judge = new OpenAIVisionJudge({ apiKey: KEY, baseURL: fake.baseURL, timeoutMs: TIMEOUT_MS });
      const alt = new OpenAIAltTextWriter({ apiKey: KEY, baseURL: fake.baseURL, timeoutMs: TIMEOUT_MS });
      const image = await png(64, 64);
      const calls = [
        () => generator(fake.baseURL).generate(genInput()),
        () => judge.judge({ brief, candidates: [{ id: 'c1', image, mime: 'image/png' }] }),
        () => alt.write({ brief, image, mime: 'image/png' }),
      ];
      for (const call of calls) {
        for (const f of ['rateLimit', 'serverError', 'timeout', 'contentPolicy', 'badKey', 'malformed'] as const) {
          fake.fault(f);
          const err = await call().catch((e: unknown) => e);
          expect(err, f).toBeInstanceOf(Error);
          expect(errorTexts(err), f).not.toContain(KEY);
        }
      }
    });

    it('is absent when the server cannot be reached at all', async () => {
      const closed = http.createServer();
      await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
      const { port } = closed.address() as AddressInfo;
      await new Promise<void>((r) => closed.close(() => r()));
      const err = await generator(`http://127.0.0.1:${port}/v1`).generate(genInput()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ProviderUnavailableError);
      expect(errorTexts(err)).not.toContain(KEY);
    });

    it('is not shown when the adapter itself is logged', () => {
      const g = generator(fake.baseURL);
      expect(JSON.stringify(g)).not.toContain(KEY);
      expect(String(Object.values(g))).not.toContain(KEY);
    });
  });

  describe('image generation', () => {
    const tiers: Array<[string, string, Quality]> = [
      ['gpt-image-1.5', '1024x1024', 'low'],
      ['gpt-image-1.5', '1536x1024', 'medium'],
      ['gpt-image-1.5', '1024x1536', 'high'],
      ['gpt-image-1-mini', '1024x1024', 'low'],
      ['gpt-image-1-mini', '1536x1024', 'high'],
    ];
    for (const [model, size, quality] of tiers) {
      it(`prices ${model} ${size} ${quality} from the catalog`, async () => {
        const [width, height] = size.split('x').map(Number) as [number, number];
        const out = await generator(fake.baseURL, { quality }).generate(genInput({ model, width, height }));
        expect(out.costUsd).toBe(imagePrice(model, size, quality));
        expect([out.width, out.height]).toEqual([width, height]);
        const body = posts().at(-1)!.body as Body;
        expect([body.model, body.size, body.quality]).toEqual([model, size, quality]);
      });
    }

    it('uses the catalog’s vendor prices (spot check)', async () => {
      const high = await generator(fake.baseURL, { quality: 'high' }).generate(genInput({ width: 1536, height: 1024 }));
      expect(high.costUsd).toBe(0.199);
      const cheap = await generator(fake.baseURL, { quality: 'low' }).generate(genInput({ model: 'gpt-image-1-mini' }));
      expect(cheap.costUsd).toBe(0.005);
    });

    it('reports the vendor’s token usage alongside the catalog price', async () => {
      const out = await generator(fake.baseURL, { quality: 'medium' }).generate(genInput());
      expect(out.usage).toEqual({ inputTokens: expect.any(Number), outputTokens: 1056, totalTokens: expect.any(Number) });
      expect(out.revisedPrompt).toBeUndefined();
    });

    it('passes the revised prompt through when the vendor sends one', async () => {
      const f = await startFakeOpenAI({ revisedPrompt: true });
      try {
        const out = await generator(f.baseURL).generate(genInput());
        expect(out.revisedPrompt).toMatch(/\(revised\)$/);
      } finally {
        await f.close();
      }
    });

    it('asks for webp with a transparent background and reports what came back', async () => {
      const out = await generator(fake.baseURL, { outputFormat: 'webp', background: 'transparent' }).generate(genInput());
      const body = posts().at(-1)!.body as Body;
      expect(body.background).toBe('transparent');
      expect(body.output_format).toBe('webp');
      expect(out.mime).toBe('image/webp');
      expect((await sharp(out.image).metadata()).hasAlpha).toBe(true);
    });

    it('sends no background unless one is configured, and refuses transparent jpeg at construction', async () => {
      await generator(fake.baseURL).generate(genInput());
      expect(posts().at(-1)!.body).not.toHaveProperty('background');
      expect(() => generator(fake.baseURL, { outputFormat: 'jpeg', background: 'transparent' })).toThrow(/transparent/);
    });

    it('does not repeat the negatives when the prompt already says them', async () => {
      const prompt = 'A ceramic teapot on linen. Avoid: text, people.';
      await generator(fake.baseURL).generate(genInput({ prompt }));
      const sent = (posts().at(-1)!.body as Body).prompt as string;
      expect(sent).toBe(prompt);
      expect(promptWithNegatives('A teapot', 'text, people')).toBe('A teapot. Avoid: text, people.');
      expect(promptWithNegatives('A teapot.', '')).toBe('A teapot.');
      expect(promptWithNegatives('A teapot!', 'Blur.')).toBe('A teapot! Avoid: Blur.');
    });

    it('refuses a size the catalog does not list for the model, before any request', async () => {
      const before = posts().length;
      const err = await generator(fake.baseURL).generate(genInput({ width: 1792, height: 1024 })).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InvalidRequestError);
      expect((err as Error).message).toMatch(/1792x1024.*1024x1024/);
      await expect(generator(fake.baseURL).generate(genInput({ model: 'flux-schnell' }))).rejects.toBeInstanceOf(InvalidRequestError);
      await expect(generator(fake.baseURL).generate(genInput({ model: 'dall-e-9' }))).rejects.toBeInstanceOf(InvalidRequestError);
      expect(posts().length).toBe(before);
    });

    it('maps a content-policy refusal with the vendor’s own words, not retryable', async () => {
      fake.fault('contentPolicy');
      const err = (await generator(fake.baseURL).generate(genInput()).catch((e: unknown) => e)) as ContentPolicyError;
      expect(err).toBeInstanceOf(ContentPolicyError);
      expect(err.retryable).toBe(false);
      expect(err.message).toContain('rejected as a result of our safety system');
    });

    it('maps other 4xx to InvalidRequestError and a non-image payload to malformed', async () => {
      fake.respondNext({ status: 400, body: { error: { message: "Invalid value: 'ultra'.", type: 'invalid_request_error', param: 'quality', code: 'invalid_value' } } });
      await expect(generator(fake.baseURL).generate(genInput())).rejects.toBeInstanceOf(InvalidRequestError);
      fake.respondNext({ status: 404, body: { error: { message: 'The model `gpt-image-1.5` does not exist.', type: 'invalid_request_error', param: null, code: 'model_not_found' } } });
      await expect(generator(fake.baseURL).generate(genInput())).rejects.toBeInstanceOf(InvalidRequestError);
      fake.respondNext({ status: 200, body: { created: 1, data: [{ b64_json: Buffer.from('not an image').toString('base64') }] } });
      await expect(generator(fake.baseURL).generate(genInput())).rejects.toThrow(/malformed response/);
      fake.respondNext({ status: 200, body: '<html>gateway</html>' });
      await expect(generator(fake.baseURL).generate(genInput())).rejects.toBeInstanceOf(ProviderUnavailableError);
    });

    it('rethrows the cancellation, not a provider error, when the signal aborts mid-call', async () => {
      fake.fault('timeout');
      const ac = new AbortController();
      const reason = new Error('activity cancelled');
      setTimeout(() => ac.abort(reason), 50);
      const slow = new OpenAIImageGenerator({ apiKey: KEY, baseURL: fake.baseURL, timeoutMs: 5000 });
      await expect(slow.generate(genInput({ signal: ac.signal }))).rejects.toBe(reason);
    });
  });

  describe('vision judge', () => {
    const judge = () => new OpenAIVisionJudge({ apiKey: KEY, baseURL: fake.baseURL, timeoutMs: TIMEOUT_MS });

    it('sends the brief, each image as a ≤768 px JPEG data URL, a strict schema, and the key', async () => {
      await judge().judge({ brief, candidates: [{ id: 'r1-c01', image: await png(2000, 1000), mime: 'image/png' }] });
      const req = posts().at(-1)!;
      expect(req.path).toBe('/v1/chat/completions');
      expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
      const [part] = imageParts(req.body);
      const bytes = Buffer.from(part!.image_url!.url.replace(/^data:image\/jpeg;base64,/, ''), 'base64');
      const meta = await sharp(bytes).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 768, 384]);
      const text = JSON.stringify((req.body as Body).messages);
      for (const s of ['a ceramic teapot on a linen cloth', 'steam from the spout', '#0B3D91', 'Candidate id: r1-c01']) expect(text).toContain(s);
      const schema = JSON.stringify((req.body as { response_format: unknown }).response_format);
      expect(schema).toContain('"enum":["r1-c01"]');
      expect(schema).toContain('"enum":["text","people"]');
    });

    it('judges in batches of at most 8 images and adds up the cost', async () => {
      const before = posts().length;
      const candidates = await Promise.all(Array.from({ length: 19 }, async (_, i) => ({ id: `r1-c${String(i + 1).padStart(2, '0')}`, image: await png(96, 64, i), mime: 'image/png' })));
      const out = await judge().judge({ brief, candidates });
      const reqs = posts().slice(before);
      expect(reqs.map((r) => imageParts(r.body).length)).toEqual([8, 8, 3]);
      expect(out.judgements.map((j) => j.candidateId).sort()).toEqual(candidates.map((c) => c.id));
      expect(out.unchecked).toEqual([]);
      expect(out.costUsd).toBeGreaterThan(0);
      expect(new Set(out.judgements.map((j) => j.score)).size).toBeGreaterThan(1);
    });

    it('combines sub-scores with penalties, names missing and present items, and lists what the model skipped', async () => {
      fake.nextChatContent(
        JSON.stringify({
          candidates: [
            {
              id: 'a', match: 80, aesthetics: 70, artifacts: 90,
              mustInclude: [{ item: 'steam from the spout', present: false }],
              mustAvoid: [{ item: 'text', present: true }, { item: 'people', present: false }],
              reasons: ['Teapot is centred and crisp.'],
            },
            { id: 'b', match: 90, aesthetics: 90, artifacts: 100, mustInclude: [{ item: 'steam from the spout', present: true }], mustAvoid: [{ item: 'text', present: false }], reasons: [] },
          ],
        }),
      );
      const out = await judge().judge({ brief, candidates: [{ id: 'a', image: await png(64, 64), mime: 'image/png' }, { id: 'b', image: await png(64, 64, 2), mime: 'image/png' }] });
      const a = out.judgements.find((j) => j.candidateId === 'a')!;
      const b = out.judgements.find((j) => j.candidateId === 'b')!;
      expect(a.scores).toEqual({ match: 80, aesthetics: 70, artifacts: 90, mustInclude: 0, mustAvoid: 50 });
      expect(a.score).toBeCloseTo(80 * 0.4 + 70 * 0.3 + 90 * 0.3 - MISSING_MUST_INCLUDE_PENALTY - PRESENT_MUST_AVOID_PENALTY, 5);
      expect(a.reasons.join(' ')).toMatch(/Missing must-include: steam from the spout/);
      expect(a.reasons.join(' ')).toMatch(/Shows must-avoid: text\b/);
      expect(a.reasons).toContain('Teapot is centred and crisp.');
      expect(b.score).toBe(93);
      expect(b.scores).toEqual({ match: 90, aesthetics: 90, artifacts: 100, mustInclude: 100, mustAvoid: 100 });
      expect(b.reasons.length).toBeGreaterThan(0);
      expect(out.unchecked).toEqual(['must-avoid "people" for b: not checked (openai:gpt-4.1-mini did not report it)']);
    });

    it('prices the call from the usage tokens at the gpt-4.1-mini list price', async () => {
      const content = JSON.stringify({ candidates: [{ id: 'a', match: 50, aesthetics: 50, artifacts: 50, mustInclude: [], mustAvoid: [], reasons: ['ok'] }] });
      fake.respondNext({
        status: 200,
        body: { id: 'chatcmpl-1', object: 'chat.completion', created: 1, model: 'gpt-4.1-mini', choices: [{ index: 0, message: { role: 'assistant', content, refusal: null }, finish_reason: 'stop' }], usage: { prompt_tokens: 1000, completion_tokens: 200, total_tokens: 1200 } },
      });
      const out = await judge().judge({ brief, candidates: [{ id: 'a', image: await png(64, 64), mime: 'image/png' }] });
      const p = OPENAI_CHAT_PRICES['gpt-4.1-mini']!;
      expect(p).toMatchObject({ inputUsdPerMTok: 0.4, outputUsdPerMTok: 1.6 });
      expect(out.costUsd).toBeCloseTo((1000 * 0.4 + 200 * 1.6) / 1e6, 10);
      // All items unreported: the judge says so rather than pretending.
      expect(out.unchecked).toHaveLength(3);
    });

    it('treats an answer that breaks the schema or skips a candidate as malformed (retryable)', async () => {
      const one = [{ id: 'a', image: await png(64, 64), mime: 'image/png' }];
      fake.nextChatContent('{"candidates":[{"id":"zz","match":1}]}');
      await expect(judge().judge({ brief, candidates: one })).rejects.toBeInstanceOf(ProviderUnavailableError);
      fake.nextChatContent('{"candidates":[]}');
      await expect(judge().judge({ brief, candidates: one })).rejects.toThrow(/no judgement for candidate a/);
      fake.nextChatContent('not json');
      await expect(judge().judge({ brief, candidates: one })).rejects.toThrow(/malformed response/);
    });

    it('with a product reference: fidelity from the answer lands in scores.fidelity, weighs in the score, reasons first', async () => {
      const answer = (fidelity: unknown) =>
        JSON.stringify({
          candidates: [{ id: 'a', match: 80, aesthetics: 70, artifacts: 90, mustInclude: [{ item: 'steam from the spout', present: true }], mustAvoid: [{ item: 'text', present: false }, { item: 'people', present: false }], reasons: ['Crisp.'], fidelity, fidelityReasons: ['Same bottle shape.', 'Label text differs.'] }],
        });
      const input = { brief, reference: { role: 'product' as const, image: await packshot(), mime: 'image/png' }, candidates: [{ id: 'a', image: await productScene(true), mime: 'image/png' }] };
      fake.nextChatContent(answer(60));
      const out = await judge().judge(input);
      const a = out.judgements[0]!;
      expect(a.scores.fidelity).toBe(60);
      expect(a.reasons[0]).toBe('Product fidelity 60 of 100: Same bottle shape; Label text differs.');
      expect(a.score).toBeCloseTo((80 * 0.4 + 70 * 0.3 + 90 * 0.3) * (1 - OPENAI_FIDELITY_WEIGHT) + 60 * OPENAI_FIDELITY_WEIGHT, 1);
      expect(out.unchecked).toContain(OPENAI_FIDELITY_UNCHECKED);

      // A fidelity out of range, of the wrong type, or missing is a malformed answer naming the field.
      for (const bad of [250, -1, 'high', null]) {
        fake.nextChatContent(answer(bad));
        const err = await judge().judge(input).catch((e: unknown) => e as Error);
        expect(err, String(bad)).toBeInstanceOf(ProviderUnavailableError);
        expect((err as Error).message).toMatch(/malformed response.*fidelity/);
      }
    });

    it('maps a model refusal to ContentPolicyError', async () => {
      fake.respondNext({
        status: 200,
        body: { id: 'chatcmpl-2', object: 'chat.completion', created: 1, model: 'gpt-4.1-mini', choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: "I'm sorry, I can't help with that." }, finish_reason: 'stop' }] },
      });
      const err = await judge().judge({ brief, candidates: [{ id: 'a', image: await png(64, 64), mime: 'image/png' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ContentPolicyError);
      expect((err as Error).message).toContain("can't help");
    });

    it('refuses an undecodable candidate without calling the vendor, and an unpriced model at construction', async () => {
      const before = posts().length;
      await expect(judge().judge({ brief, candidates: [{ id: 'x', image: Buffer.from('nope'), mime: 'image/png' }] })).rejects.toBeInstanceOf(InvalidRequestError);
      expect(posts().length).toBe(before);
      expect(() => new OpenAIVisionJudge({ apiKey: KEY, model: 'gpt-9-vision' })).toThrow(/no price known/);
      expect(new OpenAIVisionJudge({ apiKey: KEY, model: 'gpt-9-vision', price: { inputUsdPerMTok: 1, outputUsdPerMTok: 2 } }).name).toBe('openai:gpt-9-vision');
      expect(() => new OpenAIVisionJudge({ apiKey: KEY, batchSize: 9 })).toThrow(/batchSize/);
    });
  });

  describe('alt text', () => {
    const writer = () => new OpenAIAltTextWriter({ apiKey: KEY, baseURL: fake.baseURL, timeoutMs: TIMEOUT_MS });

    it('turns the model’s answer into one clean sentence and prices it from usage', async () => {
      const out = await writer().write({ brief, image: await png(1200, 800), mime: 'image/png' });
      // The fake answers "Image of a white ceramic teapot …" without a full stop.
      expect(out.text).toBe('A white ceramic teapot on a linen cloth, with steam rising from its spout.');
      expect(out.costUsd).toBeGreaterThan(0);
      const req = posts().at(-1)!;
      expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
      expect(JSON.stringify((req.body as Body).messages)).toContain('a ceramic teapot on a linen cloth');
    });

    it('cleans labels, quotes, extra sentences, redundant openings and run-on length', () => {
      expect(cleanAltText('Alt text: "A teapot on linen."')).toBe('A teapot on linen.');
      expect(cleanAltText('A photo of a teapot. It is blue.')).toBe('A teapot.');
      expect(cleanAltText('an illustration showing two cups!')).toBe('Two cups.');
      expect(cleanAltText('\n\n  steam rises from a teapot  \nsecond line')).toBe('Steam rises from a teapot.');
      const long = cleanAltText(`A teapot ${'and a very long list of things '.repeat(20)}`);
      expect(long.length).toBeLessThanOrEqual(201);
      expect(long).toMatch(/[a-z]\.$/);
      expect(cleanAltText('   ')).toBe('');
    });

    it('treats an empty answer as malformed', async () => {
      fake.nextChatContent('  ');
      await expect(writer().write({ brief, image: await png(64, 64), mime: 'image/png' })).rejects.toBeInstanceOf(ProviderUnavailableError);
    });
  });
});

describe('the edit path and a self-hosted server beside OpenAI', () => {
  let openai: FakeOpenAI;
  let own: FakeOpenAI;
  const OWN_KEY = 'sk-own-flux-box-key-0123456789';
  beforeAll(async () => {
    openai = await startFakeOpenAI({ apiKey: KEY });
    own = await startFakeOpenAI({ apiKey: OWN_KEY });
  });
  afterAll(async () => {
    await Promise.all([openai.close(), own.close()]);
  });
  const product = () => png(300, 400, 3);

  it('routes self-hosted calls to the team’s server and gpt-image calls to OpenAI, from configuration', async () => {
    const config = parseConfig({
      OPENAI_API_KEY: KEY,
      OPENAI_BASE_URL: openai.baseURL,
      DARKROOM_SELF_HOSTED_BASE_URL: own.baseURL,
      DARKROOM_SELF_HOSTED_API_KEY: OWN_KEY,
      DARKROOM_SELF_HOSTED_MODEL: 'flux.2-dev-fp8',
      DARKROOM_SELF_HOSTED_USD_PER_IMAGE: '0.0025',
      DARKROOM_PROVIDER_TIMEOUT: '5s',
    });
    const registry = createProviderRegistry(config);
    expect(registry.imageModels).toContain('self-hosted');
    expect(registry.imageModels).not.toContain('imagen-4');
    const [a, b] = [openai.requests().length, own.requests().length];
    const mine = await registry.imageGenerator('self-hosted').generate(genInput({ model: 'self-hosted', references: [{ role: 'product', image: await product(), mime: 'image/png' }] }));
    expect(mine.costUsd).toBe(0.0025);
    const theirs = await registry.imageGenerator('gpt-image-1.5').generate(genInput());
    expect(theirs.costUsd).toBe(imagePrice('gpt-image-1.5', '1024x1024', 'medium'));
    const ownReqs = own.requests().slice(b);
    expect(ownReqs.map((r) => r.path)).toEqual(['/v1/images/edits']);
    expect(ownReqs[0]!.headers.authorization).toBe(`Bearer ${OWN_KEY}`);
    expect((ownReqs[0]!.body as MultipartBody).fields.model).toBe('flux.2-dev-fp8');
    expect(openai.requests().slice(a).map((r) => r.path)).toEqual(['/v1/images/generations']);
  });

  it('needs no OpenAI key for the self-hosted model, and sends a placeholder bearer when it has none of its own', async () => {
    const registry = createProviderRegistry(parseConfig({ DARKROOM_SELF_HOSTED_BASE_URL: own.baseURL }));
    expect(registry.imageModels).toEqual(['local', 'self-hosted']);
    const before = own.requests().length;
    // This fake wants OWN_KEY, so the placeholder is refused, as a keyed server would.
    const err = await registry.imageGenerator('self-hosted').generate(genInput({ model: 'self-hosted' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AuthenticationError);
    expect(own.requests().slice(before)[0]!.headers.authorization).toBe('Bearer darkroom-no-key-configured');
  });

  it('refuses a self-hosted generator the OpenAI models, and OpenAI’s the self-hosted one', async () => {
    const mine = generator(own.baseURL, { apiKey: OWN_KEY, selfHosted: { model: 'flux.2-dev' } });
    await expect(mine.generate(genInput())).rejects.toThrow(/not the self-hosted image model in the catalog \(use self-hosted\)/);
    await expect(generator(openai.baseURL).generate(genInput({ model: 'self-hosted' }))).rejects.toBeInstanceOf(InvalidRequestError);
    expect(() => generator(own.baseURL, { selfHosted: { model: 'x', usdPerImage: -1 } })).toThrow(/usdPerImage/);
  });

  it('names the edit call in its errors, and keeps a content-policy refusal non-retryable', async () => {
    openai.fault('contentPolicy');
    const err = (await generator(openai.baseURL).generate(genInput({ references: [{ role: 'product', image: await product(), mime: 'image/png' }] })).catch((e: unknown) => e)) as ContentPolicyError;
    expect(err).toBeInstanceOf(ContentPolicyError);
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/^OpenAI images\.edit \(HTTP 400, moderation_blocked\)/);
  });

  it('sends input_fidelity low when configured, and a GIF packshot as PNG with the same pixels', async () => {
    const gif = await sharp({ create: { width: 48, height: 32, channels: 3, background: { r: 255, g: 0, b: 0 } } }).gif().toBuffer();
    await generator(openai.baseURL, { inputFidelity: 'low' }).generate(genInput({ references: [{ role: 'product', image: gif, mime: 'image/gif' }] }));
    const { fields, files } = openai.requests().at(-1)!.body as MultipartBody;
    expect(fields.input_fidelity).toBe('low');
    expect(files[0]!.type).toBe('image/png');
    expect(await sharp(files[0]!.data).raw().toBuffer()).toEqual(await sharp(gif).raw().toBuffer());
  });
});
