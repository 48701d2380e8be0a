import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { argProblem } from '../../scripts/cli-args';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('the command lines of npm scripts (benchmarks, demo, server, worker, smoke test)', () => {
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

  const run = (script: string, ...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });

  it('a benchmark answers --help with its usage and a typo with exit code 2, before starting a run', () => {
    const help = run('bench/catalog-scale.ts', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('npm run bench:catalog -- [rows] [--workers N]');
    const typo = run('bench/catalog-scale.ts', '1000', '--worker', '2');
    expect(typo.status).toBe(2);
    expect(typo.stderr).toContain('catalog-scale.ts: unknown option --worker');
    expect(typo.stdout, 'nothing ran').toBe('');
  });

  it('a benchmark that imports another benchmark\'s helpers answers for itself', () => {
    // pipeline-ideal imports the simulated-vendor worker, whose check used to refuse
    // pipeline-ideal's own options and print the worker's usage.
    const help = run('bench/pipeline-ideal.ts', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--candidates');
    expect(help.stdout).not.toContain('sim-worker');
    const typo = run('bench/pipeline-ideal.ts', '--candidate', '25');
    expect(typo.status).toBe(2);
    expect(typo.stderr).toContain('bench/pipeline-ideal.ts: unknown option --candidate');
  });

  it('so do the demo and the provider smoke test (which spends money)', () => {
    const help = run('scripts/demo.ts', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('npm run demo -- --briefs DIR');
    const demo = run('scripts/demo.ts', '--keep-servr');
    expect(demo.status).toBe(2);
    expect(demo.stderr).toContain('demo.ts: unknown option --keep-servr');
    expect(demo.stderr).not.toContain('starting');
    const smoke = run('scripts/smoke-providers.ts', '--openai');
    expect(smoke.status).toBe(2);
    expect(smoke.stderr).toContain('smoke-providers.ts: unknown option --openai');
    expect(smoke.stdout, 'no provider was called').toBe('');
  });

  it('so does the worker, which takes its settings from the environment only', () => {
    const help = run('workers/main.ts', '--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: npm run worker');
    expect(help.stdout).toContain('every setting comes\nfrom the environment');
    // Nothing listens on port 1: had the worker started, it would say it cannot connect there.
    const typo = spawnSync(process.execPath, ['--import', 'tsx', 'workers/main.ts', '--task-queue', 'x'], {
      cwd: ROOT, encoding: 'utf8', timeout: 30_000, env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1' },
    });
    expect(typo.status).toBe(2);
    expect(typo.stderr).toContain('workers/main.ts: unknown option --task-queue');
    expect(typo.stderr).not.toContain('cannot start');
    // A setting it cannot take is one line naming it, exit 2, not a stack trace.
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
      cwd: ROOT, encoding: 'utf8', timeout: 30_000, env: { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1', DARKROOM_HEARTBEAT_TIMEOUT: 'abc' },
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^darkroom worker: cannot start: invalid configuration: DARKROOM_HEARTBEAT_TIMEOUT /)]);
  });
});
