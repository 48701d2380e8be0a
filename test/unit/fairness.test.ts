import { describe, expect, it } from 'vitest';
import { catalogInputIssues } from '../../domain/catalog-input';
import { catalogFairnessKey, catalogPriority, fairnessWeightProblem, MAX_FAIRNESS_KEY_LENGTH } from '../../domain/fairness';

describe('catalog fairness keys and weights', () => {
  it('uses the catalog id as key, shortened with a hash when Temporal would refuse it', () => {
    expect(catalogFairnessKey('spring-2026')).toBe('spring-2026');
    const sixtyFour = 'a'.repeat(MAX_FAIRNESS_KEY_LENGTH);
    expect(catalogFairnessKey(sixtyFour)).toBe(sixtyFour);
    const long = catalogFairnessKey('a'.repeat(80));
    expect(long).toHaveLength(MAX_FAIRNESS_KEY_LENGTH);
    expect(long.startsWith('a'.repeat(55))).toBe(true);
    // Two long ids that share their first 64 characters still get their own keys.
    expect(catalogFairnessKey(`${'a'.repeat(79)}b`)).not.toBe(long);
    expect(catalogFairnessKey('a'.repeat(80))).toBe(long);
  });

  it('carries the weight only when one was given', () => {
    expect(catalogPriority({ catalogId: 'c' })).toEqual({ fairnessKey: 'c' });
    expect(catalogPriority({ catalogId: 'c', fairnessWeight: 2.5 })).toEqual({ fairnessKey: 'c', fairnessWeight: 2.5 });
  });

  it('refuses weights Temporal would clamp, naming the field', () => {
    for (const ok of [0.001, 1, 2.5, 1000]) expect(fairnessWeightProblem(ok), String(ok)).toBeUndefined();
    for (const bad of [0, -1, 0.0001, 1001, Number.NaN, Infinity, '2', null]) expect(fairnessWeightProblem(bad), String(bad)).toMatch(/from 0.001 to 1000/);
    const base = { catalogId: 'c', feedKey: 'catalogs/c/feed.csv', template: {} };
    expect(catalogInputIssues({ ...base, fairnessWeight: 3 })).toEqual([]);
    expect(catalogInputIssues({ ...base, fairnessWeight: 0 })).toEqual([{ field: 'fairnessWeight', message: 'must be a number from 0.001 to 1000 (got 0)' }]);
  });
});
