import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { argProblem } from '../../bench/support';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('benchmark command lines', () => {
  const catalog = { positional: 1, values: ['--workers', '--label', '--node-arg'] };

  it('accepts the options a benchmark takes, values included, even a value that looks like an option', () => {
    expect(argProblem(catalog, ['1000', '--workers', '2', '--node-arg', '--cpu-prof', '--label', 'a run'])).toBeUndefined();
    expect(argProblem({ switches: ['--join'] }, ['--join'])).toBeUndefined();
    expect(argProblem({}, [])).toBeUndefined();
  });

  it('names an unknown option, a value left out and a bare argument too many', () => {
    expect(argProblem(catalog, ['1000', '--worker', '2'])).toBe('unknown option --worker');
    expect(argProblem(catalog, ['1000', '--workers'])).toBe('--workers needs a value');
    expect(argProblem(catalog, ['1000', '2000'])).toBe('unexpected argument 2000');
    expect(argProblem({}, ['-x'])).toBe('unknown option -x');
  });

  it('a benchmark answers --help with its usage and a typo with exit code 2, before starting a run', () => {
    const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'bench/catalog-scale.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    const help = run('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('npm run bench:catalog -- [rows] [--workers N]');
    const typo = run('1000', '--worker', '2');
    expect(typo.status).toBe(2);
    expect(typo.stderr).toContain('catalog-scale.ts: unknown option --worker');
    expect(typo.stdout, 'nothing ran').toBe('');
  });
});
