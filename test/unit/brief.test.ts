import { describe, expect, it } from 'vitest';
import { BriefSchema, parseBrief, validateBrief, BriefValidationError } from '../../domain/brief';
import { briefWorkflowId } from '../../domain/naming';
import { CONTROL_CHARS } from '../../domain/text';

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
    // A custom size out of range says so, rather than calling the channel unknown.
    for (const id of ['custom-15x100', 'custom-8193x20']) {
      const sized = parseBrief({ subject: 'a mug', channels: [id] });
      expect(sized.ok).toBe(false);
      if (!sized.ok) expect(sized.issues.find((i) => i.field === 'channels[0]')!.message).toBe(`custom channel "${id}" is out of range: each side must be 16 to 8192 px`);
    }
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
      approval: 'must be one of "auto", "human", "when-unsure", not "maybe"',
      topK: 'must be at least 1',
    });
  });
});

describe('hostile briefs', () => {
  const issuesOf = (input: unknown) => {
    const r = parseBrief(input);
    expect(r.ok).toBe(false);
    return r.ok ? [] : r.issues;
  };

  it('refuses control characters in every free-text field, naming the field and the character', () => {
    const esc = 'ab\u001b]0;pwned\u0007';
    const cases: Array<[string, Record<string, unknown>, string]> = [
      ['subject', { subject: esc }, 'subject'],
      ['intent', { intent: 'launch\u0007' }, 'intent'],
      ['audience', { audience: 'x\u202Eevil' }, 'audience'],
      ['mustInclude', { mustInclude: ['ok', 'bad\u009b'] }, 'mustInclude[1]'],
      ['mustAvoid', { mustAvoid: ['\u001b[2J'] }, 'mustAvoid[0]'],
      ['styleHints', { styleHints: ['x\u2066'] }, 'styleHints[0]'],
      ['composition', { composition: 'centered\u001b' }, 'composition'],
      ['lighting', { lighting: 'soft\u0008' }, 'lighting'],
      ['camera', { camera: 'cam\u007f' }, 'camera'],
      ['lens', { lens: '50\u200Fmm' }, 'lens'],
      ['textInImage', { textInImage: 'SALE\u001b' }, 'textInImage'],
      ['id', { id: 'tea\u001bpot' }, 'id'],
      ['model', { model: 'auto\u001b' }, 'model'],
      ['sku', { sku: 'SKU\u0000' }, 'sku'],
      ['variant', { variant: 'warm\u001b' }, 'variant'],
      ['channels', { channels: ['web-hero\u001b'] }, 'channels[0]'],
    ];
    for (const [name, over, field] of cases) {
      const issue = issuesOf({ ...minimal, ...over }).find((i) => i.field === field);
      expect(issue, name).toBeDefined();
      expect(issue!.message, name).toMatch(/control character \(\\u[0-9a-f]{4} at position \d+\)/);
      expect(issue!.message, name).not.toMatch(CONTROL_CHARS);
    }
    const subject = issuesOf({ ...minimal, subject: esc }).find((i) => i.field === 'subject')!;
    expect(subject.message).toBe('contains a control character (\\u001b at position 3)');
    expect(() => validateBrief({ ...minimal, subject: esc })).toThrow('subject contains a control character (\\u001b at position 3)');
  });

  it('allows newlines and tabs in long text but not in names', () => {
    expect(parseBrief({ ...minimal, subject: 'line one\nline two\twith a tab', intent: 'a\nb', textInImage: 'TWO\nLINES' }).ok).toBe(true);
    const issues = issuesOf({ ...minimal, sku: 'A\nB', model: 'auto\t', mustInclude: ['a\nb'] });
    expect(issues.map((i) => i.field).sort()).toEqual(['model', 'mustInclude[0]', 'sku']);
    expect(issues.find((i) => i.field === 'sku')!.message).toBe('contains a control character (\\u000a at position 2)');
  });

  it('echoes no more than a preview of a huge bad value, and still names the field', () => {
    const huge = 'x'.repeat(3_000_000);
    const issues = issuesOf({ ...minimal, channels: [huge], approval: huge, subject: ['a'], [huge]: 1, review: { [`${huge}y`]: 1 } });
    const text = JSON.stringify(issues);
    expect(text.length).toBeLessThan(4000);
    const fields = issues.map((i) => i.field);
    expect(fields).toContain('channels[0]');
    expect(fields).toContain('approval');
    expect(issues.find((i) => i.field === 'channels[0]')!.message).toMatch(/^unknown channel "x{200}"… \(3000000 chars\)/);
    expect(issues.find((i) => i.field === 'approval')!.message).toMatch(/not "x{200}"… \(3000000 chars\)$/);
    // Unknown keys are field names too: clipped, with their length.
    expect(fields.some((f) => /^x{200}… \(3000000 chars\)$/.test(f))).toBe(true);
    expect(fields.some((f) => /^review\.x{200}… \(3000001 chars\)$/.test(f))).toBe(true);
    expect(() => validateBrief({ ...minimal, approval: huge })).toThrow(/approval must be one of/);
    expect((() => { try { validateBrief({ ...minimal, approval: huge }); } catch (e) { return (e as Error).message.length; } })()).toBeLessThan(1000);
  });

  it('lists at most 20 problems, and says how many more there are', () => {
    const input: Record<string, unknown> = { ...minimal };
    for (let i = 0; i < 5000; i++) input[`unknown${i}`] = i;
    const issues = issuesOf(input);
    expect(issues).toHaveLength(21);
    expect(issues[20]).toEqual({ field: '(brief)', message: '… and 4980 more problems' });
  });

  it('shows control characters in keys and values as escapes', () => {
    const issues = issuesOf({ ...minimal, ['\u001b[2Jkey']: 1, approval: 'no\u001b' });
    const text = issues.map((i) => `${i.field} ${i.message}`).join('\n');
    expect(text).not.toMatch(CONTROL_CHARS);
    expect(text).toContain('\\u001b[2Jkey');
  });
});
