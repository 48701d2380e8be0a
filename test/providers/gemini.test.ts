import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nearestAspectRatio } from '../../activities/providers/aspect-ratio';
import {
  AuthenticationError,
  ContentPolicyError,
  ProviderUnavailableError,
  RateLimitError,
  type GenerateImageInput,
} from '../../activities/providers';
import { GeminiAltTextWriter, GeminiImageGenerator, GeminiVisionJudge, GEMINI_JUDGE_WEIGHTS, tidyAltText } from '../../activities/providers/gemini';
import { GEMINI_FIDELITY_UNCHECKED, GEMINI_FIDELITY_WEIGHT } from '../../activities/providers/gemini/vision-judge';
import { validateBrief } from '../../domain/brief';
import { IMAGE_MODELS } from '../../domain/models';
import { withFaults } from './contract/faults';
import { runImageGeneratorContract, type EditContractOptions } from './contract/image-generator';
import { packshot, productScene, runAltTextContract, runVisionJudgeContract } from './contract/others';
import { startFakeGemini, type FakeGemini } from './fake-gemini';

const KEY = 'AIzaSyFAKE-gemini-key-0123456789abcdef';
/**
 * Short, so the timeout fault costs seconds, not two minutes; long enough that the fake, which
 * renders a real image with sharp, answers in time on a loaded 2-core CI machine (300 ms did not).
 */
const TIMEOUT_MS = 1500;

type Body = {
  contents: Array<{ role?: string; parts: Array<{ text?: string; inlineData?: { mimeType: string; data: string } }> }>;
  generationConfig: Record<string, unknown> & { responseSchema?: { properties?: Record<string, unknown> } };
};

function harness<T>(make: (fake: FakeGemini) => T) {
  return withFaults(async () => {
    const fake = await startFakeGemini({ apiKey: KEY });
    return { impl: make(fake), fault: (k: Parameters<FakeGemini['fault']>[0]) => fake.fault(k), requests: fake.requests, close: fake.close };
  });
}

/** Gemini's edit path: the references as inline image parts before the one text part. */
const geminiEdit = (model: string, ratio: string): EditContractOptions => ({
  model,
  receivedReferences: (req) => (req.body as Body).contents[0]!.parts.filter((p) => p.inlineData).map((p) => Buffer.from(p.inlineData!.data, 'base64')),
  checkRequest: (req, input) => {
    expect(req.path).toBe(`/v1beta/models/${model}:generateContent`);
    const b = req.body as Body;
    expect(b.contents).toHaveLength(1);
    const parts = b.contents[0]!.parts;
    expect(parts.map((p) => (p.inlineData ? p.inlineData.mimeType : 'text'))).toEqual([...input.references!.map((r) => r.mime), 'text']);
    const text = parts.at(-1)!.text!;
    expect(text.startsWith(input.prompt)).toBe(true);
    expect(text).toContain('Avoid: text, people.');
    expect(text).toMatch(/Image 1 is the product: keep it exactly as it is/);
    expect(b.generationConfig.imageConfig).toEqual({ aspectRatio: ratio });
    expect(b.generationConfig.responseModalities).toEqual(['IMAGE']);
  },
});

runImageGeneratorContract(
  'gemini-2.5-flash-image',
  harness((fake) => new GeminiImageGenerator({ apiKey: KEY, baseUrl: fake.baseUrl, timeoutMs: TIMEOUT_MS })),
  {
    model: 'gemini-2.5-flash-image',
    width: 1248,
    height: 832,
    checkRequest: (body, input, req) => {
      expect(req.path).toBe('/v1beta/models/gemini-2.5-flash-image:generateContent');
      expect(req.headers['x-goog-api-key']).toBe(KEY);
      const b = body as Body;
      expect(b.generationConfig.responseModalities).toEqual(['IMAGE']);
      expect(b.generationConfig.imageConfig).toEqual({ aspectRatio: '3:2' });
      expect(b.generationConfig.seed).toBe(input.seed);
      expect(b.generationConfig.candidateCount).toBe(1);
      expect(b.contents).toHaveLength(1);
      const text = b.contents[0]!.parts[0]!.text!;
      expect(text.startsWith(input.prompt)).toBe(true);
      expect(text).toMatch(/Avoid: text, people\.$/);
    },
    edit: { ...geminiEdit('gemini-2.5-flash-image', '3:2') },
  },
);

runImageGeneratorContract(
  'gemini-3.1-flash-image (nano-banana 2)',
  harness((fake) => new GeminiImageGenerator({ apiKey: KEY, baseUrl: fake.baseUrl, timeoutMs: TIMEOUT_MS })),
  {
    model: 'gemini-3.1-flash-image',
    width: 768,
    height: 1344,
    checkRequest: (_body, _input, req) => expect(req.path).toBe('/v1beta/models/gemini-3.1-flash-image:generateContent'),
    edit: geminiEdit('gemini-3.1-flash-image', '9:16'),
  },
);

runImageGeneratorContract(
  'gemini-3-pro-image (nano-banana Pro), edit path',
  harness((fake) => new GeminiImageGenerator({ apiKey: KEY, baseUrl: fake.baseUrl, timeoutMs: TIMEOUT_MS })),
  { model: 'gemini-3-pro-image', width: 1024, height: 1024, edit: geminiEdit('gemini-3-pro-image', '1:1') },
);

runVisionJudgeContract(
  'gemini-2.5-flash',
  harness((fake) => new GeminiVisionJudge({ apiKey: KEY, baseUrl: fake.baseUrl, timeoutMs: TIMEOUT_MS })),
  {
    checkRequest: (body) => {
      const b = body as Body;
      expect(b.generationConfig.responseMimeType).toBe('application/json');
      expect(Object.keys(b.generationConfig.responseSchema?.properties ?? {})).toEqual(['candidates']);
      expect(b.generationConfig.thinkingConfig).toEqual({ thinkingBudget: 0 });
      const parts = b.contents[0]!.parts;
      expect(parts[0]!.text).toContain('a ceramic teapot on a linen cloth');
      expect(parts[0]!.text).toContain('- Must include: "steam from the spout"');
      expect(parts[0]!.text).toContain('- Must avoid: "text", "people"');
      expect(parts.filter((p) => p.inlineData).map((p) => p.inlineData!.mimeType)).toEqual(['image/png', 'image/png']);
      expect(parts.filter((p) => p.text?.startsWith('Candidate ')).map((p) => p.text)).toEqual(['Candidate r1-c01:', 'Candidate r1-c02:']);
      expect(JSON.stringify(b.generationConfig.responseSchema)).not.toContain('fidelity');
    },
    checkReferenceRequest: (body, reference) => {
      const b = body as Body;
      const parts = b.contents[0]!.parts;
      // A small PNG goes as it is: the packshot's own bytes, right after the text that labels it.
      const at = parts.findIndex((p) => p.inlineData?.data === reference.toString('base64'));
      expect(at, 'the reference image is in the request').toBeGreaterThan(0);
      expect(parts[at - 1]!.text).toMatch(/^Product reference \(.*not a candidate/);
      expect(parts.filter((p) => p.inlineData)).toHaveLength(3);
      expect(parts[0]!.text).toMatch(/product reference.*not a candidate/);
      const schema = JSON.stringify(b.generationConfig.responseSchema);
      expect(schema).toContain('"fidelity"');
      expect(schema).toContain('"fidelityReasons"');
    },
  },
);

runAltTextContract(
  'gemini-alt-text',
  harness((fake) => new GeminiAltTextWriter({ apiKey: KEY, baseUrl: fake.baseUrl, timeoutMs: TIMEOUT_MS })),
  {
    checkRequest: (body) => {
      const b = body as Body;
      expect(b.generationConfig.responseMimeType).toBe('application/json');
      expect(Object.keys(b.generationConfig.responseSchema?.properties ?? {})).toEqual(['altText']);
      const parts = b.contents[0]!.parts;
      expect(parts[0]!.text).toContain('alt text');
      expect(parts[1]!.inlineData!.mimeType).toBe('image/png');
    },
  },
);

const brief = validateBrief({
  subject: 'a ceramic teapot on a linen cloth',
  channels: ['og-image'],
  mustInclude: ['steam from the spout'],
  mustAvoid: ['text', 'people'],
});

async function png(width = 64, height = 48): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 10, g: 120, b: 200 } } }).png().toBuffer();
}

const genInput = (over: Partial<GenerateImageInput> = {}): GenerateImageInput => ({
  model: 'gemini-2.5-flash-image',
  prompt: 'a ceramic teapot on linen',
  negativePrompt: '',
  width: 1024,
  height: 1024,
  seed: 7,
  palette: [],
  ...over,
});

const rejection = (p: Promise<unknown>) => p.then(() => { throw new Error('expected a rejection'); }, (e: unknown) => e as Error);

describe('nearestAspectRatio', () => {
  const ratios = IMAGE_MODELS['gemini-2.5-flash-image']!.aspectRatios!;
  it.each([
    [1024, 1024, '1:1'],
    [1536, 1024, '3:2'],
    [1920, 1080, '16:9'],
    [1080, 1920, '9:16'],
    [1080, 1350, '4:5'],
    [1200, 630, '16:9'],
    [3000, 1000, '21:9'],
    [1000, 3000, '9:16'],
  ])('%ix%i → %s', (w, h, ratio) => {
    expect(nearestAspectRatio(w, h, ratios)).toBe(ratio);
  });
});

describe('GeminiImageGenerator against the fake', () => {
  let fake: FakeGemini;
  let gen: GeminiImageGenerator;
  beforeAll(async () => {
    fake = await startFakeGemini({ apiKey: KEY, echoKeyInErrors: true });
    gen = new GeminiImageGenerator({ apiKey: KEY, baseUrl: fake.baseUrl, timeoutMs: TIMEOUT_MS });
  });
  afterAll(() => fake.close());

  it('reports the size the model made for the nearest ratio, and the catalog price', async () => {
    const out = await gen.generate(genInput({ width: 1920, height: 1080 }));
    expect([out.width, out.height]).toEqual([1344, 768]);
    expect(out.mime).toBe('image/png');
    expect(out.costUsd).toBe(0.039);
    expect(out.model).toBe('gemini-2.5-flash-image');
  });

  it('edits with the packshot: inline part first, its price and the input image’s in the cost, the product in the result', async () => {
    const packshot = await sharp({ create: { width: 200, height: 300, channels: 3, background: { r: 20, g: 140, b: 60 } } }).png().toBuffer();
    const out = await gen.generate(genInput({ model: 'gemini-3-pro-image', width: 1024, height: 1024, references: [{ role: 'product', image: packshot, mime: 'image/png' }] }));
    expect(out.costUsd).toBe(0.1351);
    const parts = (fake.requests().at(-1)!.body as Body).contents[0]!.parts;
    expect(parts[0]!.inlineData).toEqual({ mimeType: 'image/png', data: packshot.toString('base64') });
    // The fake, like an edit model, puts the product in the scene: its green is in the middle.
    const { data } = await sharp(out.image).extract({ left: 500, top: 500, width: 1, height: 1 }).raw().toBuffer({ resolveWithObject: true });
    expect([...data].slice(0, 3)).toEqual([20, 140, 60]);
  });

  it('says "image editing" when the edit path fails', async () => {
    fake.fault('serverError');
    const packshot = await sharp({ create: { width: 20, height: 20, channels: 3, background: { r: 1, g: 2, b: 3 } } }).png().toBuffer();
    const err = await rejection(gen.generate(genInput({ model: 'gemini-3.1-flash-image', references: [{ role: 'product', image: packshot, mime: 'image/png' }] })));
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect(err.message).toMatch(/^Gemini image editing \(HTTP 500/);
  });

  it('sends no "Avoid:" sentence when there is nothing to avoid', async () => {
    await gen.generate(genInput());
    const text = (fake.requests().at(-1)!.body as Body).contents[0]!.parts[0]!.text;
    expect(text).toBe('a ceramic teapot on linen');
  });

  it.each(['serverError', 'rateLimit', 'timeout'] as const)('makes exactly one request on %s (SDK retries are off)', async (kind) => {
    const before = fake.requests().length;
    fake.fault(kind);
    await rejection(gen.generate(genInput()));
    // Give a would-be retry time to show up.
    await new Promise((r) => setTimeout(r, 300));
    expect(fake.requests().length - before).toBe(1);
  });

  it.each(['retryInfoOnly', 'headerOnly'] as const)('reads the rate limit delay from either source (%s)', async (variant) => {
    fake.fault('rateLimit', variant);
    const err = await rejection(gen.generate(genInput()));
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).retryAfterMs).toBe(7000);
    expect(err.message).toContain('RESOURCE_EXHAUSTED');
  });

  it('maps a blocked prompt (promptFeedback.blockReason) onto ContentPolicyError', async () => {
    fake.fault('contentPolicy', 'promptBlock');
    const err = await rejection(gen.generate(genInput()));
    expect(err).toBeInstanceOf(ContentPolicyError);
    expect(err.message).toContain('PROHIBITED_CONTENT');
  });

  it('maps a finish reason IMAGE_SAFETY onto ContentPolicyError naming it', async () => {
    fake.fault('contentPolicy');
    const err = await rejection(gen.generate(genInput()));
    expect(err).toBeInstanceOf(ContentPolicyError);
    expect(err.message).toContain('IMAGE_SAFETY');
  });

  it('a timeout is retryable and says how long it waited', async () => {
    fake.fault('timeout');
    const err = await rejection(gen.generate(genInput()));
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect(err.message).toContain(`${TIMEOUT_MS} ms`);
  });

  it('a caller abort mid-request rejects with the abort reason, not a provider error', async () => {
    const slow = new GeminiImageGenerator({ apiKey: KEY, baseUrl: fake.baseUrl, timeoutMs: 10_000 });
    fake.fault('timeout');
    const ac = new AbortController();
    const reason = new Error('activity cancelled');
    setTimeout(() => ac.abort(reason), 100);
    const err = await rejection(slow.generate(genInput({ signal: ac.signal })));
    expect(err).toBe(reason);
  });

  it('never puts the API key in an error message, its cause or its stack', async () => {
    const wrongKey = 'AIzaSyWRONG-key-that-must-not-leak-987654';
    const bad = new GeminiImageGenerator({ apiKey: wrongKey, baseUrl: fake.baseUrl, timeoutMs: TIMEOUT_MS });
    const err = await rejection(bad.generate(genInput()));
    expect(err).toBeInstanceOf(AuthenticationError);
    // The fake echoes the key it got, as a careless proxy might.
    expect(fake.requests().at(-1)!.headers['x-goog-api-key']).toBe(wrongKey);
    const everything = [err.message, err.stack, (err.cause as Error | undefined)?.message, (err.cause as Error | undefined)?.stack].join('\n');
    expect(everything).toContain('API key not valid');
    expect(everything).not.toContain(wrongKey);
  });
});

describe('GeminiVisionJudge against the fake', () => {
  let fake: FakeGemini;
  let judge: GeminiVisionJudge;
  beforeAll(async () => {
    fake = await startFakeGemini({ apiKey: KEY });
    judge = new GeminiVisionJudge({ apiKey: KEY, baseUrl: fake.baseUrl, timeoutMs: 2000 });
  });
  afterAll(() => fake.close());

  it('combines sub-scores and takes points off for missing must-include and present must-avoid items', async () => {
    fake.nextText(
      JSON.stringify({
        candidates: [
          { id: 'a', match: 90, aesthetics: 80, artifacts: 100, mustInclude: [{ item: 'steam from the spout', present: true }], mustAvoid: [{ item: 'text', present: false }, { item: 'people', present: false }], reasons: ['Clean.'] },
          { id: 'b', match: 90, aesthetics: 80, artifacts: 100, mustInclude: [{ item: 'steam from the spout', present: false }], mustAvoid: [{ item: 'text', present: true }, { item: 'people', present: false }], reasons: ['Busy.'] },
        ],
      }),
    );
    const out = await judge.judge({ brief, candidates: [{ id: 'a', image: await png(), mime: 'image/png' }, { id: 'b', image: await png(), mime: 'image/png' }] });
    const a = out.judgements.find((j) => j.candidateId === 'a')!;
    const b = out.judgements.find((j) => j.candidateId === 'b')!;
    const base = 0.5 * 90 + 0.3 * 80 + 0.2 * 100;
    expect(a.score).toBe(base);
    expect(b.score).toBe(base - GEMINI_JUDGE_WEIGHTS.missingMustInclude - GEMINI_JUDGE_WEIGHTS.presentMustAvoid);
    expect(a.scores).toEqual({ match: 90, aesthetics: 80, artifacts: 100, mustInclude: 100, mustAvoid: 100 });
    expect(b.reasons.join(' ')).toMatch(/Missing must-include "steam from the spout".*Shows must-avoid "text"/);
    expect(a.judge).toBe('gemini-2.5-flash');
    expect(out.unchecked).toEqual([]);
    // 2 images (258 tokens each) plus the prompt, priced from usageMetadata.
    expect(out.costUsd).toBeGreaterThan(0);
    expect(out.costUsd).toBeLessThan(0.01);
  });

  it('sends at most 8 images per request', async () => {
    const before = fake.requests().length;
    const image = await png();
    const candidates = Array.from({ length: 11 }, (_, i) => ({ id: `r1-c${String(i + 1).padStart(2, '0')}`, image, mime: 'image/png' }));
    const out = await judge.judge({ brief, candidates });
    const sent = fake.requests().slice(before).map((r) => (r.body as Body).contents[0]!.parts.filter((p) => p.inlineData).length);
    expect(sent).toEqual([8, 3]);
    expect(out.judgements.map((j) => j.candidateId).sort()).toEqual(candidates.map((c) => c.id));
  });

  it('shrinks large candidates before sending them', async () => {
    await judge.judge({ brief, candidates: [{ id: 'big', image: await png(3000, 2000), mime: 'image/png' }] });
    const part = (fake.requests().at(-1)!.body as Body).contents[0]!.parts.find((p) => p.inlineData)!;
    const meta = await sharp(Buffer.from(part.inlineData!.data, 'base64')).metadata();
    expect([meta.width, meta.height, part.inlineData!.mimeType]).toEqual([1024, 683, 'image/jpeg']);
  });

  it('with a product reference: fidelity lands in scores.fidelity, weighs in the score, reasons first; a bad one is malformed', async () => {
    const answer = (fidelity: unknown, productBox?: unknown) =>
      JSON.stringify({
        candidates: [{ id: 'a', match: 90, aesthetics: 80, artifacts: 100, mustInclude: [{ item: 'steam from the spout', present: true }], mustAvoid: [{ item: 'text', present: false }, { item: 'people', present: false }], reasons: ['Clean.'], fidelity, fidelityReasons: ['Same bottle.', 'Label colour is off.'], safety: { safe: true, confident: true, concerns: [] }, productBox }],
      });
    const input = { brief, reference: { role: 'product' as const, image: await packshot(), mime: 'image/png' }, candidates: [{ id: 'a', image: await productScene(true), mime: 'image/png' }] };
    fake.nextText(answer(55));
    const out = await judge.judge(input);
    const a = out.judgements[0]!;
    expect(a.scores.fidelity).toBe(55);
    expect(a.reasons[0]).toBe('Product fidelity 55 of 100: Same bottle; Label colour is off.');
    expect(a.score).toBeCloseTo((0.5 * 90 + 0.3 * 80 + 0.2 * 100) * (1 - GEMINI_FIDELITY_WEIGHT) + 55 * GEMINI_FIDELITY_WEIGHT, 1);
    expect(out.unchecked).toContain(GEMINI_FIDELITY_UNCHECKED);
    expect(a.product, 'no productBox given').toBeUndefined();
    // Where the product is ([ymin, xmin, ymax, xmax] in thousandths) becomes the crop's focus;
    // a box that makes no sense, or one on a candidate scored as another product, is dropped.
    fake.nextText(answer(80, [250, 100, 750, 300]));
    expect((await judge.judge(input)).judgements[0]!.product).toEqual({ left: 0.1, top: 0.25, width: 0.2, height: 0.5 });
    for (const [fidelity, box] of [[80, [750, 100, 250, 300]], [80, [0, 0, 10, 2000]], [80, 'left'], [20, [250, 100, 750, 300]]] as const) {
      fake.nextText(answer(fidelity, box));
      expect((await judge.judge(input)).judgements[0]!.product, JSON.stringify(box)).toBeUndefined();
    }
    for (const bad of [101, -5, 'high', undefined]) {
      fake.nextText(answer(bad));
      const err = await rejection(judge.judge(input));
      expect(err, String(bad)).toBeInstanceOf(ProviderUnavailableError);
      expect(err.message).toMatch(/not the requested JSON.*fidelity/);
    }
  });

  it('a judgement missing for a candidate is a malformed (retryable) answer', async () => {
    fake.nextText(JSON.stringify({ candidates: [{ id: 'a', match: 1, aesthetics: 1, artifacts: 1, mustInclude: [], mustAvoid: [], reasons: [] }] }));
    const err = await rejection(judge.judge({ brief, candidates: [{ id: 'a', image: await png(), mime: 'image/png' }, { id: 'b', image: await png(), mime: 'image/png' }] }));
    expect(err).toBeInstanceOf(ProviderUnavailableError);
    expect(err.message).toContain('no judgement for b');
  });

  it('says which brief checks the model did not report', async () => {
    fake.nextText(JSON.stringify({ candidates: [{ id: 'a', match: 50, aesthetics: 50, artifacts: 50, mustInclude: [], mustAvoid: [], reasons: ['ok'] }] }));
    const out = await judge.judge({ brief, candidates: [{ id: 'a', image: await png(), mime: 'image/png' }] });
    expect(out.unchecked).toEqual([
      'must-include "steam from the spout" on a: not reported by the judge',
      'must-avoid "text" on a: not reported by the judge',
      'must-avoid "people" on a: not reported by the judge',
    ]);
    expect(out.judgements[0]!.score).toBe(50);
  });
});

describe('GeminiAltTextWriter', () => {
  it('tidies what the model wrote into one sentence', () => {
    expect(tidyAltText('  "Image of a teapot on linen!"  ')).toBe('A teapot on linen.');
    expect(tidyAltText('a red mug\non a table')).toBe('A red mug on a table.');
    expect(tidyAltText('')).toBe('');
    const long = tidyAltText('word '.repeat(100));
    expect(long.length).toBeLessThanOrEqual(250);
    expect(long).toMatch(/[a-z]\.$/);
  });

  it('an empty answer is malformed (retryable)', async () => {
    const fake = await startFakeGemini({ apiKey: KEY });
    try {
      const writer = new GeminiAltTextWriter({ apiKey: KEY, baseUrl: fake.baseUrl, timeoutMs: 2000 });
      fake.nextText(JSON.stringify({ altText: '  ' }));
      const err = await rejection(writer.write({ brief, image: await png(), mime: 'image/png' }));
      expect(err).toBeInstanceOf(ProviderUnavailableError);
    } finally {
      await fake.close();
    }
  });
});
