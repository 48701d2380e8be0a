/**
 * One Temporal dev server for the whole test run (DESIGN.md, "Testing notes"): headless, on free
 * ports, with its SQLite file in a fresh temp dir. Test files reach it through
 * test/support/temporal.ts. Set TEMPORAL_TEST_ADDRESS to run against a server you started.
 */
import { rmSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startDevServer, type DevServer } from '../scripts/dev-server';
import { ensureTemporalCli } from '../scripts/temporal-cli';

declare module 'vitest' {
  export interface ProvidedContext {
    /** host:port of the run's Temporal frontend (namespace `default`). */
    temporalAddress: string;
    /** The `temporal` binary, for tests that start their own server; '' if none was found. */
    temporalCli: string;
    /** A directory for this run's files; use testDataDir(name) for a fresh one per test. */
    testDataDir: string;
  }
}

const log = (msg: string) => console.log(`[global-setup] ${msg}`);

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const runDir = await mkdtemp(path.join(os.tmpdir(), 'darkroom-test-'));
  const dataDir = path.join(runDir, 'data');
  await mkdir(dataDir, { recursive: true });
  // Also on Ctrl-C, when vitest exits without running the teardown (startDevServer kills the
  // server itself on exit).
  const removeRunDir = () => {
    if (process.env.DARKROOM_KEEP_TEST_DIR) return;
    rmSync(runDir, { recursive: true, force: true });
  };
  process.once('exit', removeRunDir);

  let server: DevServer | undefined;
  let address = process.env.TEMPORAL_TEST_ADDRESS;
  let cli = '';
  if (address) {
    log(`using the Temporal server at ${address} (TEMPORAL_TEST_ADDRESS)`);
    cli = await ensureTemporalCli({ log });
  } else {
    cli = await ensureTemporalCli({ log });
    const logFile = path.join(runDir, 'temporal-server.log');
    try {
      server = await startDevServer({ dbFile: path.join(runDir, 'temporal.sqlite'), uiPort: false, cli, logFile });
    } catch (err) {
      process.off('exit', removeRunDir);
      log(`the dev server did not start; its full log is ${logFile}`);
      throw err;
    }
    address = server.address;
    log(`temporal dev server on ${address} (pid ${server.pid}, log ${logFile})`);
  }

  project.provide('temporalAddress', address);
  project.provide('temporalCli', cli);
  project.provide('testDataDir', dataDir);

  return async () => {
    await server?.stop();
    process.off('exit', removeRunDir);
    // Kept on request, for reading the server log and the blobs tests wrote.
    if (process.env.DARKROOM_KEEP_TEST_DIR) log(`kept ${runDir}`);
    else removeRunDir();
  };
}
