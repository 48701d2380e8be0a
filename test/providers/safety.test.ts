import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toFailure } from '../../activities/failures';
import { AuthenticationError, createProviderRegistry, ProviderError, ProviderUnavailableError, RateLimitError } from '../../activities/providers';
import { GeminiVisionJudge } from '../../activities/providers/gemini';
import { ChainModerator, LocalVisionJudge, WordListModerator } from '../../activities/providers/local';
import { OpenAIPromptModerator, OpenAIVisionJudge } from '../../activities/providers/openai';
import { validateBrief } from '../../domain/brief';
import { parseConfig } from '../../domain/config';
import { moderationParts } from '../../domain/moderation';
import { buildPrompt } from '../../domain/prompt';
import { expectNoKey, exposed } from './contract/exposure';
import { startFakeGemini, type FakeGemini } from './fake-gemini';
import { startFakeOpenAI, type FakeOpenAI } from './fake-openai';

const KEY = 'sk-proj-DarkroomSafetyKey0123456789abcdefXYZ';
const GEMINI_KEY = 'AIzaSyDarkroomSafetyTestKey0123456789abc';
const TIMEOUT_MS = 2000;

const brief = validateBrief({
  subject: 'a ceramic teapot on a linen cloth',
  channels: ['og-image'],
  mustInclude: ['steam from the spout'],
  mustAvoid: ['text', 'gore'],
});
const partsOf = (b: ReturnType<typeof validateBrief>) => moderationParts(b, buildPrompt(b));

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const png = (seed = 1) => sharp({ create: { width: 64, height: 64, channels: 3, background: { r: seed * 50, g: 90, b: 160 } } }).png().toBuffer();

describe('OpenAIPromptModerator through the openai SDK against the fake', () => {
  let fake: FakeOpenAI;
  let moderator: OpenAIPromptModerator;
  beforeAll(async () => {
    fake = await startFakeOpenAI({ apiKey: KEY });
    moderator = new OpenAIPromptModerator({ apiKey: KEY, baseURL: fake.baseURL, timeoutMs: TIMEOUT_MS });
  });
  afterAll(() => fake.close());

  it('sends every part to POST /v1/moderations with omni-moderation-latest; a clean brief passes, for free', async () => {
    const out = await moderator.moderate({ parts: partsOf(brief) });
    expect(out).toEqual({ flagged: false, categories: [], fields: [], costUsd: 0 });
    const req = fake.requests().at(-1)!;
    expect(req.path).toBe('/v1/moderations');
    expect(req.headers.authorization).toBe(`Bearer ${KEY}`);
    const body = req.body as { model: string; input: string[] };
    expect(body.model).toBe('omni-moderation-latest');
    // The prompt without its "Avoid:" sentence (the must-avoid "gore" is not asked for), the subject, the must-include.
    expect(body.input).toHaveLength(3);
    expect(body.input[0]).toContain('a ceramic teapot on a linen cloth');
    expect(body.input[0]).not.toContain('gore');
    expect(body.input.slice(1)).toEqual(['a ceramic teapot on a linen cloth', 'steam from the spout']);
    expect(moderator.name).toBe('openai:omni-moderation-latest');
  });

  it('a flagged input is refused with its categories and the field it came from', async () => {
    const bad = validateBrief({ subject: 'a teapot in a pool of gore', channels: ['og-image'], mustInclude: ['a hate symbol on the lid'] });
    const out = await moderator.moderate({ parts: partsOf(bad) });
    expect(out.flagged).toBe(true);
    expect(out.categories).toEqual(['hate', 'violence/graphic']);
    expect(out.fields).toEqual(['prompt', 'subject', 'mustInclude[0]']);
  });

  it('429 is a retryable RateLimitError with the vendor delay; 500 retryable; 401 not retryable', async () => {
    const parts = partsOf(brief);
    fake.fault('rateLimit', { retryAfter: '3' });
    const limited = await rejection(moderator.moderate({ parts }));
    expect(limited).toBeInstanceOf(RateLimitError);
    expect((limited as RateLimitError).retryAfterMs).toBe(3000);
    const limitedFailure = toFailure(limited) as { nonRetryable: boolean; type: string; nextRetryDelay?: unknown };
    expect([limitedFailure.type, limitedFailure.nonRetryable, limitedFailure.nextRetryDelay]).toEqual(['RateLimited', false, 3000]);

    fake.fault('serverError');
    const down = await rejection(moderator.moderate({ parts }));
    expect(down).toBeInstanceOf(ProviderUnavailableError);
    expect((toFailure(down) as { nonRetryable: boolean }).nonRetryable).toBe(false);

    fake.fault('badKey');
    const denied = await rejection(moderator.moderate({ parts }));
    expect(denied).toBeInstanceOf(AuthenticationError);
    expect(denied.message).toMatch(/HTTP 401/);
    expect((toFailure(denied) as { nonRetryable: boolean }).nonRetryable).toBe(true);
    // The fake echoes the whole key in its 401 message; nothing of it may leave.
    expectNoKey(exposed(toFailure(denied)), KEY, 'moderation 401');
  });

  it('an answer that is not the moderation shape is malformed (retryable)', async () => {
    fake.fault('malformed');
    expect(await rejection(moderator.moderate({ parts: partsOf(brief) }))).toBeInstanceOf(ProviderUnavailableError);
    fake.respondNext({ status: 200, body: { id: 'modr-1', model: 'omni-moderation-latest', results: [{ flagged: false, categories: {} }] } });
    expect((await rejection(moderator.moderate({ parts: partsOf(brief) }))).message).toMatch(/1 results for 3 inputs/);
  });

  it.each([401, 429, 500, 'malformed', 'garbage'] as const)('no trace of the key leaves it when a gateway echoes the key (%s)', async (kind) => {
    fake.leakNext(kind);
    const err = await rejection(moderator.moderate({ parts: partsOf(brief) }));
    expect(err).toBeInstanceOf(ProviderError);
    expectNoKey(exposed(err), KEY, `moderation ${kind}`);
  });

  it('a team word list runs after the model, and either one flags', async () => {
    const chain = new ChainModerator([moderator, new WordListModerator({ brand: ['competitor cola'] })]);
    expect(chain.name).toBe('openai:omni-moderation-latest+word-list');
    const out = await chain.moderate({ parts: [{ field: 'subject', text: 'a teapot beside a Competitor  Cola can' }] });
    expect(out).toMatchObject({ flagged: true, categories: ['brand'], fields: ['subject'] });
  });
});

describe('judge verdicts', () => {
  let openai: FakeOpenAI;
  let gemini: FakeGemini;
  beforeAll(async () => {
    openai = await startFakeOpenAI({ apiKey: KEY });
    gemini = await startFakeGemini({ apiKey: GEMINI_KEY });
  });
  afterAll(async () => {
    await openai.close();
    await gemini.close();
  });

  it('the OpenAI judge asks for a safety verdict in its strict schema and reads the fake\'s answer', async () => {
    const judge = new OpenAIVisionJudge({ apiKey: KEY, baseURL: openai.baseURL, timeoutMs: TIMEOUT_MS });
    const out = await judge.judge({ brief, candidates: [{ id: 'r1-c01', image: await png(), mime: 'image/png' }] });
    const schema = (openai.requests().at(-1)!.body as { response_format: { json_schema: { schema: unknown } } }).response_format.json_schema.schema;
    const text = JSON.stringify(schema);
    for (const f of ['"safety"', '"safe"', '"confident"', '"concerns"']) expect(text).toContain(f);
    // The fake fills booleans true (false under "avoid"): safe, confident, no must-avoid shown.
    expect(out.judgements[0]!.verdict).toMatchObject({ safe: true });
    expect(out.judgements[0]!.verdict).not.toHaveProperty('unsure');
    expect(out.judgements[0]!.verdict).not.toHaveProperty('mustAvoidHit');
  });

  it('the OpenAI judge reports unsafe, unsure and must-avoid hits from the model\'s answer', async () => {
    const judge = new OpenAIVisionJudge({ apiKey: KEY, baseURL: openai.baseURL, timeoutMs: TIMEOUT_MS });
    const entry = (id: string, safety: unknown, textShown: boolean) => ({
      id, match: 80, aesthetics: 80, artifacts: 80,
      mustInclude: [{ item: 'steam from the spout', present: true }],
      mustAvoid: [{ item: 'text', present: textShown }, { item: 'gore', present: false }],
      reasons: ['ok'], safety,
    });
    openai.nextChatContent(JSON.stringify({
      candidates: [
        entry('a', { safe: false, confident: true, concerns: ['blood on the cloth'] }, false),
        entry('b', { safe: true, confident: false, concerns: ['hard to tell what the shape is'] }, true),
        { ...entry('c', undefined, false), safety: undefined },
      ],
    }));
    const candidates = await Promise.all(['a', 'b', 'c'].map(async (id, i) => ({ id, image: await png(i + 1), mime: 'image/png' })));
    const out = await judge.judge({ brief, candidates });
    const by = (id: string) => out.judgements.find((j) => j.candidateId === id)!;
    expect(by('a').verdict).toEqual({ safe: false, reasons: ['blood on the cloth'] });
    expect(by('b').verdict).toEqual({ safe: true, unsure: true, mustAvoidHit: ['text'], reasons: ['hard to tell what the shape is'] });
    // No safety block (a model outside strict mode): no verdict, so never counted as sure.
    expect(by('c').verdict).toBeUndefined();
  });

  it('the Gemini judge asks for the verdict and reads it, with must-avoid hits', async () => {
    const judge = new GeminiVisionJudge({ apiKey: GEMINI_KEY, baseUrl: gemini.baseUrl, timeoutMs: TIMEOUT_MS });
    const fromFake = await judge.judge({ brief, candidates: [{ id: 'r1-c01', image: await png(), mime: 'image/png' }] });
    expect(fromFake.judgements[0]!.verdict).toEqual({ safe: true, reasons: [] });
    const sent = JSON.stringify(gemini.requests().at(-1)!.body);
    expect(sent).toContain('"safety"');
    expect(sent).toContain('"confident"');

    gemini.nextText(JSON.stringify({
      candidates: [{
        id: 'a', match: 90, aesthetics: 90, artifacts: 90, mustInclude: [], mustAvoid: [{ item: 'gore', present: true }], reasons: [],
        safety: { safe: false, confident: false, concerns: ['graphic injury'] },
      }],
    }));
    const out = await judge.judge({ brief, candidates: [{ id: 'a', image: await png(), mime: 'image/png' }] });
    expect(out.judgements[0]!.verdict).toEqual({ safe: false, unsure: true, mustAvoidHit: ['gore'], reasons: ['graphic injury'] });
  });

  it('the local judge gives no verdict and says safety is not checked', async () => {
    const out = await new LocalVisionJudge().judge({ brief, candidates: [{ id: 'a', image: await png(), mime: 'image/png' }] });
    expect(out.judgements[0]!.verdict).toBeUndefined();
    expect(out.unchecked.some((u) => u.startsWith('safety: not checked'))).toBe(true);
    expect(out.unchecked).toContain('must-avoid "gore": not checked (the offline judge cannot see objects; configure a vision model)');
  });
});

describe('which moderator a worker gets', () => {
  const base = { TEMPORAL_ADDRESS: '127.0.0.1:7233' };

  it('offline: the word list, with the team file added; a file that cannot be read names the variable', async () => {
    expect(createProviderRegistry(parseConfig(base)).moderator.name).toBe('word-list');
    const withFile = createProviderRegistry(parseConfig({ ...base, DARKROOM_MODERATION_WORDS_FILE: 'examples/moderation-words.txt' })).moderator;
    const out = await withFile.moderate({ parts: [{ field: 'subject', text: 'Clinically  proven tea' }, { field: 'mustInclude[0]', text: 'gore' }] });
    expect(out).toEqual({ flagged: true, categories: ['legal', 'violence/graphic'], fields: ['subject', 'mustInclude[0]'], costUsd: 0 });
    expect(() => createProviderRegistry(parseConfig({ ...base, DARKROOM_MODERATION_WORDS_FILE: 'examples/no-such-file.txt' }))).toThrow(/^DARKROOM_MODERATION_WORDS_FILE examples\/no-such-file\.txt: cannot read it/);
  });

  it('with an OpenAI key: OpenAI\'s model, then the team file when there is one', () => {
    expect(createProviderRegistry(parseConfig({ ...base, OPENAI_API_KEY: KEY })).moderator.name).toBe('openai:omni-moderation-latest');
    expect(createProviderRegistry(parseConfig({ ...base, OPENAI_API_KEY: KEY, DARKROOM_MODERATION_WORDS_FILE: 'examples/moderation-words.txt' })).moderator.name).toBe('openai:omni-moderation-latest+word-list');
  });
});
