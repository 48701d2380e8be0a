/**
 * The README's first command, as a newcomer runs it: `npm run demo` with no server running. It
 * starts a dev server, connects to the address that server reports (retrying for a bounded
 * time), runs every example brief offline, and stops the server it started.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, isServerReachable } from '../../scripts/dev-server';
import { ensureTemporalCli } from '../../scripts/temporal-cli';
import { testDataDir } from '../support/temporal';

function run(env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('scripts/demo.ts')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.once('exit', (code) => resolve({ code, out }));
  });
}

describe('npm run demo on a machine with no Temporal server', () => {
  it('starts its own server, runs the example briefs to published assets, and stops the server', async () => {
    const port = await freePort();
    // "localhost", as the default address is written: the demo must not depend on how it resolves.
    const address = `localhost:${port}`;
    const dataDir = testDataDir('demo');
    const cli = await ensureTemporalCli({ env: process.env });
    const { code, out } = await run({ ...process.env, TEMPORAL_ADDRESS: address, DARKROOM_DATA_DIR: dataDir, TEMPORAL_CLI: cli, DARKROOM_TASK_QUEUE: `demo-${port}` });
    expect(out).toContain(`No Temporal server at ${address}: starting a dev server`);
    expect(out).toMatch(/Done: \d+ assets from (\d+)\/\1 briefs/);
    expect(out).toContain(path.join(dataDir, 'blobs'));
    expect(out).toContain(`http://localhost:${port + 1000}`);
    expect(code).toBe(0);
    expect(await isServerReachable(`127.0.0.1:${port}`)).toBe(false);
  });
});
