/**
 * The brief workflow's patches go through `briefPatched` (workflows/brief/proxies.ts): a run that
 * takes its cheap steps as local activities has them all on without markers, so no patch is first
 * asked after a local activity, which would replay as absent. A `patched()` call of its own
 * elsewhere in the brief workflow would bring that back.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BRIEF_PATCHES } from '../../workflows/brief/proxies';

function sources(): Array<[string, string]> {
  const dir = path.resolve('workflows/brief');
  const files = [path.resolve('workflows/brief.ts'), ...readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => path.join(dir, f))];
  return files.map((f) => [path.relative(process.cwd(), f), readFileSync(f, 'utf8')]);
}

describe('the brief workflow patches', () => {
  it('asks every patch through briefPatched, and only local-steps directly', () => {
    const direct: string[] = [];
    const through = new Set<string>();
    for (const [file, text] of sources()) {
      for (const m of text.matchAll(/(?<![\w.])patched\('([^']+)'\)/g)) direct.push(`${file}: ${m[1]}`);
      for (const m of text.matchAll(/briefPatched\('([^']+)'\)/g)) through.add(m[1]!);
    }
    expect(direct).toEqual(['workflows/brief/proxies.ts: local-steps']);
    expect([...through].sort()).toEqual([...BRIEF_PATCHES].sort());
  });
});
