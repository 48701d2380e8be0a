/**
 * A Temporal dev server with its Web UI, and headless Chromium to look at it, for the tests that
 * check what people see in the UI. The run's shared dev server is headless, so these tests start
 * their own (on free ports, SQLite in the test's data dir). Chromium must be at /usr/bin/chromium
 * (.ci/run installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { inject } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { freePort, searchAttributeArgs } from '../../scripts/dev-server';
import { testDataDir } from './temporal';
import { testWorkflowBundle } from './worker';

export const CHROMIUM = '/usr/bin/chromium';

export interface UiServer {
  /** host:port of the frontend. */
  address: string;
  /** `http://localhost:<ui port>` */
  uiUrl: string;
  browser: Browser;
  stop(): Promise<void>;
}

/**
 * Starts the server with the UI (plus `extraArgs`, e.g. `--ui-codec-endpoint`), bundles the
 * workflows and launches Chromium. `extraArgs` gets the UI's URL before the server starts, for
 * settings that need it (the codec server's CORS origin).
 */
export async function startUiServer(name: string, opts: { extraArgs?: (uiUrl: string) => Promise<string[]> | string[] } = {}): Promise<UiServer> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium" (.ci/run does)`);
  const [port, uiPort] = [await freePort(), await freePort()];
  const address = `127.0.0.1:${port}`;
  const uiUrl = `http://localhost:${uiPort}`;
  const server: ChildProcess = spawn(inject('temporalCli'), [
    'server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort),
    '--db-filename', path.join(testDataDir(`${name}-server`), 'temporal.sqlite'), '--log-level', 'error',
    ...(await opts.extraArgs?.(uiUrl) ?? []), ...searchAttributeArgs(),
  ], { stdio: 'ignore' });
  await testWorkflowBundle();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
  return {
    address, uiUrl, browser,
    async stop() {
      await browser.close();
      if (server.exitCode === null) {
        const exited = new Promise((r) => server.once('exit', r));
        server.kill('SIGTERM');
        await exited;
      }
    },
  };
}
