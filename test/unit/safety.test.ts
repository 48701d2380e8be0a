import { describe, expect, it } from 'vitest';
import { parseBrief, validateBrief } from '../../domain/brief';
import {
  checkWords, DEFAULT_MODERATION_WORDS, mergeModerationWords, moderationParts, parseModerationWords, positivePrompt,
} from '../../domain/moderation';
import { buildPrompt } from '../../domain/prompt';
import { judgeConfidence, verdictRejection } from '../../domain/verdict';

const brief = (over: Record<string, unknown> = {}) => validateBrief({ subject: 'a ceramic teapot on a linen cloth', channels: ['og-image'], ...over });

describe('the offline word list', () => {
  const check = (b: ReturnType<typeof brief>, words = DEFAULT_MODERATION_WORDS) => checkWords(moderationParts(b, buildPrompt(b)), words);

  it('stays short: a first line, not a classifier', () => {
    const all = Object.values(DEFAULT_MODERATION_WORDS).flat();
    expect(all.length).toBeLessThanOrEqual(40);
    expect(Object.keys(DEFAULT_MODERATION_WORDS)).toEqual(expect.arrayContaining(['sexual/minors', 'sexual', 'violence/graphic', 'self-harm', 'hate']));
  });

  it('passes an ordinary brief, including one that asks to avoid a listed word', () => {
    expect(check(brief({ mustAvoid: ['gore', 'porn'] }))).toEqual({ flagged: false, categories: [], fields: [], matches: [] });
  });

  it('flags a listed phrase in the subject, must-include or text, naming category, field and word', () => {
    const v = check(brief({ subject: 'a teapot covered in GORE', mustInclude: ['a pipe  bomb'], textInImage: 'porn sale' }));
    expect(v.flagged).toBe(true);
    expect(v.categories).toEqual(['illicit', 'sexual', 'violence/graphic']);
    expect(v.fields).toEqual(['prompt', 'subject', 'mustInclude[0]', 'textInImage']);
    expect(v.matches).toEqual(['gore', 'pipe bomb', 'porn']);
  });

  it('matches whole words only: "gorgeous" and "Gorey Street" are not "gore"', () => {
    expect(check(brief({ subject: 'a gorgeous teapot on Gorey Street' })).flagged).toBe(false);
    expect(check(brief({ subject: 'self harm awareness poster' })).categories).toEqual(['self-harm']);
  });

  it('reads a team file: `category: phrase` or a bare phrase, comments and blanks skipped; merged with the defaults', () => {
    const extra = parseModerationWords('# our list\n\nbrand: Competitor Cola\r\nsugar water\n  legal:  miracle cure \n');
    expect(extra).toEqual({ brand: ['competitor cola'], custom: ['sugar water'], legal: ['miracle cure'] });
    const words = mergeModerationWords(DEFAULT_MODERATION_WORDS, extra);
    expect(words.sexual).toEqual(DEFAULT_MODERATION_WORDS.sexual);
    expect(check(brief({ subject: 'tea, the miracle cure' }), words)).toMatchObject({ flagged: true, categories: ['legal'] });
  });

  it('moderates the prompt without its Avoid sentence, and only that sentence', () => {
    const p = buildPrompt(brief({ mustAvoid: ['gore'] }));
    expect(p.text).toMatch(/Avoid: gore\.$/);
    expect(positivePrompt(p)).toBe(p.text.slice(0, -' Avoid: gore.'.length));
    expect(positivePrompt(buildPrompt(brief()))).toBe(buildPrompt(brief()).text);
  });
});

describe('judge verdicts', () => {
  const j = (verdict?: object, score = 80, id = 'r1-c01') => ({ candidateId: id, score, judge: 'test-judge', ...(verdict ? { verdict: { reasons: [], ...verdict } as never } : {}) });

  it('rejects an unsafe candidate or one showing a must-avoid item, with the reason', () => {
    expect(verdictRejection(j())).toBeUndefined();
    expect(verdictRejection(j({ safe: true, unsure: true }))).toBeUndefined();
    expect(verdictRejection(j({ safe: false, reasons: ['blood'] }))).toBe('rejected by test-judge: unsafe (blood)');
    expect(verdictRejection(j({ safe: true, mustAvoidHit: ['text', 'people'] }))).toBe('rejected by test-judge: shows must-avoid "text", "people"');
  });

  it('is confident only when every pick has a sure verdict and the score', () => {
    expect(judgeConfidence([j({ safe: true }, 85)], 70)).toMatchObject({ confident: true });
    expect(judgeConfidence([j({ safe: true }, 85), j(undefined, 90, 'r1-c02')], 70)).toEqual({ confident: false, reason: 'test-judge gives no safety verdict for r1-c02, so a person decides' });
    expect(judgeConfidence([j({ safe: true, unsure: true, reasons: ['odd shape'] })], 70)).toEqual({ confident: false, reason: 'test-judge is unsure about r1-c01: odd shape' });
    expect(judgeConfidence([j({ safe: true }, 69.5)], 70)).toEqual({ confident: false, reason: 'r1-c01 scores 69.5, below the confident score of 70' });
    expect(judgeConfidence([], 70).confident).toBe(false);
  });
});

describe('the brief\'s review setting', () => {
  it('takes approval when-unsure and an optional confident score, and leaves other briefs as they were', () => {
    const b = brief({ approval: 'when-unsure', review: { confidentScore: 85 } });
    expect(b.approval).toBe('when-unsure');
    expect(b.review.confidentScore).toBe(85);
    // Not defaulted: a brief that does not use it parses (and so seeds and hashes) exactly as before.
    expect(brief().review).not.toHaveProperty('confidentScore');
  });

  it('names the field when the setting is wrong', () => {
    const r = parseBrief({ subject: 'a ceramic teapot', channels: ['og-image'], approval: 'maybe', review: { confidentScore: 101 } });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.issues).toEqual(expect.arrayContaining([
      { field: 'approval', message: 'must be one of "auto", "human", "when-unsure", not "maybe"' },
      { field: 'review.confidentScore', message: 'must be at most 100' },
    ]));
  });
});
