import { describe, expect, it } from 'vitest';
import { validateBrief } from '../../domain/brief';
import { buildPrompt, knobsFromBrief, scorePrompt } from '../../domain/prompt';
import { describeColor, deltaE } from '../../domain/colors';

const full = validateBrief({
  subject: 'a ceramic pour-over coffee set',
  channels: ['web-hero'],
  brandColors: ['#0B3D91', '#F4B400'],
  mustAvoid: ['text', 'people'],
  mustInclude: ['steam'],
  styleHints: ['editorial'],
  composition: 'rule of thirds',
  lighting: 'soft window light',
  camera: 'full-frame mirrorless',
  lens: '50mm f/2.8',
});

describe('prompt knobs', () => {
  it('takes palette from brand colours and negatives from must-avoid', () => {
    const k = knobsFromBrief(full);
    expect(k.palette).toBe('deep blue (#0B3D91), amber (#F4B400)');
    expect(k.negatives).toBe('text, people');
  });

  it('scores a complete prompt 8/8', () => {
    expect(scorePrompt(knobsFromBrief(full))).toEqual({ score: 8, max: 8, present: ['subject', 'composition', 'lighting', 'style', 'camera', 'lens', 'palette', 'negatives'], missing: [] });
  });

  it('names the missing knobs', () => {
    const s = scorePrompt(knobsFromBrief(validateBrief({ subject: 'teapot', channels: ['web-hero'], lighting: 'hard noon sun' })));
    expect(s.score).toBe(1);
    expect(s.missing).toEqual(['subject', 'composition', 'style', 'camera', 'lens', 'palette', 'negatives']);
  });

  it('versions prompts by content', () => {
    const a = buildPrompt(full);
    expect(a.version).toMatch(/^pv-[0-9a-f]{8}$/);
    expect(buildPrompt(full).version).toBe(a.version);
    const revised = buildPrompt(full, ['Make the steam more visible.']);
    expect(revised.version).not.toBe(a.version);
    expect(revised.text).toContain('Revision notes: Make the steam more visible.');
    expect(buildPrompt(full, ['more morning light']).text).toContain('Revision notes: more morning light. Avoid: text, people.');
    expect(a.text).toContain('Avoid: text, people.');
    expect(a.text).toContain('must clearly show steam');
    expect(a.negative).toBe('text, people');
  });
});

describe('colours', () => {
  it('describes hex colours in words', () => {
    expect(describeColor('#FFFFFF')).toBe('white');
    expect(describeColor('#000000')).toBe('black');
    expect(describeColor('#808080')).toBe('grey');
    expect(describeColor('#FF0000')).toBe('red');
    expect(describeColor('#2E4A3B')).toBe('deep green');
  });
  it('measures perceptual distance', () => {
    expect(deltaE([255, 0, 0], [255, 0, 0])).toBe(0);
    expect(deltaE([255, 0, 0], [250, 5, 5])).toBeLessThan(5);
    expect(deltaE([255, 0, 0], [0, 0, 255])).toBeGreaterThan(100);
  });
});
