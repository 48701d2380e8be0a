import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureTemporalServer, replaceDirectives, TemporalServerNotFoundError } from '../../scripts/temporal-server';

describe('scripts/temporal-server.ts', () => {
  it('finds replace directives, single and in blocks, and nothing in a go.mod without one', () => {
    expect(replaceDirectives('module go.temporal.io/server\n\ngo 1.25.0\n\nrequire (\n\tgithub.com/a/b v1.0.0\n)\n')).toEqual([]);
    expect(replaceDirectives('module m\nreplace github.com/a/b => ../b\n')).toEqual(['replace github.com/a/b => ../b']);
    expect(replaceDirectives('module m\nreplace (\n\tgithub.com/a/b => ../b\n)\n')).toEqual(['replace (']);
    // A module path that merely contains the word is not a directive.
    expect(replaceDirectives('module m\nrequire github.com/x/replacer v1.0.0\n')).toEqual([]);
  });

  it('TEMPORAL_SERVER that is not a server with its tool and schema next to it is an error naming the variable', async () => {
    const err = await ensureTemporalServer({ env: { TEMPORAL_SERVER: '/nonexistent/temporal-server', PATH: '' }, build: false }).catch((e: Error) => e);
    expect(err).toBeInstanceOf(TemporalServerNotFoundError);
    expect((err as Error).message).toMatch(/TEMPORAL_SERVER is set to \/nonexistent\/temporal-server/);
  });

  it('with an empty cache and building turned off, the error says how to get one', async () => {
    const cache = await mkdtemp(path.join(os.tmpdir(), 'darkroom-tscache-'));
    const err = await ensureTemporalServer({ env: { XDG_CACHE_HOME: cache, PATH: '' }, build: false }).catch((e: Error) => e);
    await rm(cache, { recursive: true, force: true });
    expect(err).toBeInstanceOf(TemporalServerNotFoundError);
    expect((err as Error).message).toContain('npx tsx scripts/temporal-server.ts');
    expect((err as Error).message).toContain(path.join(cache, 'darkroom', 'temporal-server-v1.29.1'));
  });
});
