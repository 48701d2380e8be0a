import { describe, expect, it } from 'vitest';
import { BriefSchema, parseBrief, validateBrief, BriefValidationError } from '../../domain/brief';
import { briefWorkflowId } from '../../domain/naming';

const minimal = { subject: 'a ceramic teapot on linen', channels: ['web-hero'] };

describe('Brief schema', () => {
  it('fills the defaults a user expects', () => {
    const b = validateBrief(minimal);
    expect(b).toMatchObject({ candidates: 4, topK: 1, needs4k: false, budgetUsd: 5, approval: 'auto', model: 'auto', brandColors: [], mustAvoid: [] });
  });

  it('normalises hex colours so equal briefs hash equally', () => {
    const a = validateBrief({ ...minimal, brandColors: ['#abc', '#0b3d91'] });
    const b = validateBrief({ ...minimal, brandColors: ['#AABBCC', '#0B3D91'] });
    expect(a.brandColors).toEqual(['#AABBCC', '#0B3D91']);
    expect(briefWorkflowId(a)).toBe(briefWorkflowId(b));
  });

  it('names every bad field', () => {
    const r = parseBrief({
      subject: '',
      channels: ['web-hero', 'tiktok'],
      brandColors: ['blue'],
      candidates: 0,
      approval: 'maybe',
      budgetUsd: -1,
      chanels: [],
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const fields = r.issues.map((i) => i.field);
    expect(fields).toEqual(expect.arrayContaining(['subject', 'channels[1]', 'brandColors[0]', 'candidates', 'approval', 'budgetUsd', 'chanels']));
    expect(r.issues.find((i) => i.field === 'channels[1]')!.message).toMatch(/unknown channel "tiktok".*instagram-square/);
    expect(r.issues.find((i) => i.field === 'brandColors[0]')!.message).toMatch(/hex colour/);
    expect(r.issues.find((i) => i.field === 'chanels')!.message).toMatch(/not a brief field/);
  });

  it('reports required fields as required', () => {
    const r = parseBrief({});
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.issues).toEqual(expect.arrayContaining([{ field: 'subject', message: 'is required' }, { field: 'channels', message: 'is required' }]));
  });

  it('refuses topK above candidates and duplicate channels', () => {
    const r = parseBrief({ ...minimal, channels: ['web-hero', 'web-hero'], candidates: 2, topK: 3 });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues).toContainEqual({ field: 'topK', message: 'must not exceed candidates (2)' });
      expect(r.issues).toContainEqual({ field: 'channels', message: 'lists web-hero twice' });
    }
  });

  it('accepts custom sizes and rejects silly ones', () => {
    expect(parseBrief({ ...minimal, channels: ['custom-1600x900'] }).ok).toBe(true);
    expect(parseBrief({ ...minimal, channels: ['custom-99999x10'] }).ok).toBe(false);
  });

  it('refuses a non-object with a whole-brief message', () => {
    expect(parseBrief('hello')).toEqual({ ok: false, issues: [{ field: '(brief)', message: 'must be a JSON object' }] });
    expect(() => validateBrief([1])).toThrow(BriefValidationError);
  });

  it('bounds candidates to 1–100', () => {
    expect(BriefSchema.safeParse({ ...minimal, candidates: 100, topK: 1 }).success).toBe(true);
    expect(BriefSchema.safeParse({ ...minimal, candidates: 101 }).success).toBe(false);
    expect(BriefSchema.safeParse({ ...minimal, candidates: 2.5 }).success).toBe(false);
  });
});

describe('workflow ids', () => {
  it('are brief-<slug>-<hash8> and change with the brief', () => {
    const a = validateBrief(minimal);
    expect(briefWorkflowId(a)).toMatch(/^brief-a-ceramic-teapot-on-linen-[0-9a-f]{8}$/);
    expect(briefWorkflowId(validateBrief({ ...minimal, id: 'teapot' }))).toMatch(/^brief-teapot-[0-9a-f]{8}$/);
    expect(briefWorkflowId(validateBrief({ ...minimal, candidates: 5 }))).not.toBe(briefWorkflowId(a));
  });
});

describe('brief error messages', () => {
  it('say what to write, in plain words', () => {
    const r = parseBrief({ subject: 42, channels: 'web-hero', candidates: 500, approval: 'maybe', topK: 0 });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const msg = Object.fromEntries(r.issues.map((i) => [i.field, i.message]));
    expect(msg).toMatchObject({
      subject: 'must be a string, not 42',
      channels: 'must be a list, not "web-hero"',
      candidates: 'must be at most 100',
      approval: 'must be one of "auto", "human", not "maybe"',
      topK: 'must be at least 1',
    });
  });
});
