/**
 * What the workflow bundle carries. A worker's reusable V8 context runs every module's scope afresh
 * for each workflow run, so a schema library imported by workflow code is rebuilt for every brief
 * a catalog starts: zod and the brief and brand schemas were about 35 ms of worker CPU a row.
 * Workflows take already-checked input (the prepare activity parses briefs; catalog input and
 * review decisions are checked by plain code), so their bundle needs no zod.
 */
import { describe, expect, it } from 'vitest';
import { testWorkflowBundle } from '../support/worker';

describe('the workflow bundle', () => {
  it('carries no schema library and none of the schema modules', async () => {
    const { code } = await testWorkflowBundle();
    const modules = [...code.matchAll(/^\/\*\*\*\/ "([^"]+)"$/gm)].map((m) => m[1]!);
    // The pattern finds webpack's module headers: a sanity check that it still does.
    expect(modules).toContain('./workflows/brief.ts');
    expect(modules).toContain('./domain/prompt.ts');
    expect(modules.filter((m) => /node_modules\/zod\//.test(m))).toEqual([]);
    expect(modules.filter((m) => /^\.\/domain\/(brief|brand|config)\.ts$/.test(m))).toEqual([]);
  });
});
