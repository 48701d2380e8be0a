/** The brief's `references` field (what it accepts, errors that name the field) and routing with a packshot. */
import { describe, expect, it } from 'vitest';
import { parseBrief } from '../../domain/brief';
import { IMAGE_MODELS, routeImageModel, RoutingError } from '../../domain/models';
import { referenceFields, referenceKey, referenceKind } from '../../domain/references';
import { testBrief } from '../support/briefs';

const issues = (references: unknown) => {
  const r = parseBrief(testBrief({ references } as never));
  return r.ok ? [] : r.issues;
};

describe('brief references', () => {
  it('accepts blob keys, https URLs and local paths, and stays absent when not given', () => {
    const r = parseBrief(testBrief({ references: { product: 'blob:references/abc.png', style: ['https://cdn.example.com/look.jpg', './moods/dusk.png'] } }));
    expect(r.ok && r.brief.references).toEqual({ product: 'blob:references/abc.png', style: ['https://cdn.example.com/look.jpg', './moods/dusk.png'] });
    const none = parseBrief(testBrief());
    expect(none.ok && 'references' in none.brief).toBe(false);
  });

  it('names the field of each problem', () => {
    expect(issues({ product: 'http://cdn.example.com/a.png' })).toEqual([
      { field: 'references.product', message: 'must be blob:<key>, an https:// URL, or (with the darkroom CLI) a local file path' },
    ]);
    expect(issues({ product: 'blob:../etc/passwd' })).toEqual([{ field: 'references.product', message: expect.stringMatching(/^names a blob key that /) }]);
    expect(issues({ style: ['https://user:secret@cdn.example.com/a.png'] })).toEqual([
      { field: 'references.style[0]', message: 'must not hold a user name or password (it would be stored in the workflow history)' },
    ]);
    expect(issues({ style: ['a.png', 'b.png', 'c.png', 'd.png', 'e.png'] })).toEqual([{ field: 'references.style', message: 'may hold at most 4 items' }]);
    expect(issues({ product: '' })).toEqual([{ field: 'references.product', message: 'must not be empty' }]);
    expect(issues({ packshot: 'a.png' })).toEqual([{ field: 'references.packshot', message: 'is not a brief field (check the spelling)' }]);
    expect(issues({ product: 42 })).toEqual([{ field: 'references.product', message: 'must be a string, not 42' }]);
  });

  it('lists references product first, with their fields, and keys them by content', () => {
    expect(referenceFields({ references: { style: ['x.png'], product: 'blob:p.png' } })).toEqual([
      { field: 'references.product', role: 'product', source: 'blob:p.png' },
      { field: 'references.style[0]', role: 'style', source: 'x.png' },
    ]);
    expect(referenceKind('C:\\packshots\\a.png')).toBe('path');
    expect(referenceKind('ftp://host/a.png')).toBeUndefined();
    expect(referenceKey('ab'.repeat(32), 'image/jpeg')).toBe(`references/${'ab'.repeat(32)}.jpg`);
  });
});

describe('routing a brief with a product packshot', () => {
  const brief = { model: 'auto', needs4k: false, candidates: 3, budgetUsd: 5, styleHints: [] as string[], mustInclude: [] as string[], subject: 'a studio product shot of a bottle' };
  const withPackshot = { ...brief, references: { product: 'blob:references/p.png' } };

  it('the offline generator takes references', () => {
    expect(IMAGE_MODELS.local!.maxReferenceImages).toBeGreaterThanOrEqual(1);
    expect(routeImageModel(withPackshot, ['local']).model).toBe('local');
  });

  it('never sends a packshot to a text-only model: refused naming the field when only such vendors are configured', () => {
    const textOnly = ['flux-1.1-pro', 'flux-dev', 'gpt-image-1.5', 'gemini-2.5-flash-image'].find((m) => !IMAGE_MODELS[m]!.maxReferenceImages);
    expect(textOnly).toBeDefined();
    const m = textOnly!;
    expect(routeImageModel(brief, ['local', m]).model).toBe(m);
    expect(() => routeImageModel(withPackshot, ['local', m])).toThrow(RoutingError);
    expect(() => routeImageModel(withPackshot, ['local', m])).toThrow(`is set, and none of the models this worker can call for this brief (${m}) takes reference images`);
    // Named in the brief: refused too, on the model field.
    const named = (() => {
      try {
        return routeImageModel({ ...withPackshot, model: m }, ['local', m]);
      } catch (e) {
        return e as RoutingError;
      }
    })();
    expect(named).toBeInstanceOf(RoutingError);
    expect((named as RoutingError).field).toBe('model');
    expect((named as RoutingError).message).toContain('takes no reference images, and this brief has a product packshot (references.product)');
  });

  it('keeps only reference-capable models in the chain when some are configured', () => {
    const all = Object.keys(IMAGE_MODELS);
    const route = (() => {
      try {
        return routeImageModel(withPackshot, all);
      } catch {
        return undefined;
      }
    })();
    // With every vendor configured, either the chain holds only models that take references, or none of this brief's models does.
    if (route) expect(route.chain.filter((id) => !IMAGE_MODELS[id]!.maxReferenceImages)).toEqual([]);
    else expect(routeImageModel(brief, all).chain.filter((id) => IMAGE_MODELS[id]!.maxReferenceImages)).toEqual([]);
  });

  it('routes as before without a packshot', () => {
    expect(routeImageModel(brief, ['local', 'flux-1.1-pro']).model).toBe('flux-1.1-pro');
  });
});
