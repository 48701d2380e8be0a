import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeDevCa, type DevCa } from '../../activities/provenance/dev-ca';
import { c2paInstallProblem, defaultC2paDir, nodeRunsC2paInProcess } from '../../activities/provenance/install';

/**
 * The C2PA SDK's installation for tests: DARKROOM_C2PA_DIR, else the default cache directory.
 * Missing, the tests fail (they never skip) and say how to install it.
 */
export async function testC2paDir(): Promise<string> {
  const dir = process.env.DARKROOM_C2PA_DIR || defaultC2paDir();
  const problem = await c2paInstallProblem(dir, !nodeRunsC2paInProcess());
  if (problem) {
    throw new Error(`${problem}. The C2PA tests need the SDK: run \`npx tsx scripts/c2pa.ts\` once (it installs @contentauth/c2pa-node and a Node 22 into ${defaultC2paDir()} and prints the directory), then export DARKROOM_C2PA_DIR=<that directory> if it is not the default.`);
  }
  return dir;
}

/** A certificate authority made with openssl for one test file (see {@link makeDevCa}). */
export type TestCa = DevCa;

/** A dev CA named `name` in a fresh temporary directory (or `dir`). */
export function makeTestCa(name: string, dir = mkdtempSync(path.join(os.tmpdir(), 'darkroom-ca-'))): TestCa {
  return makeDevCa({ name, dir });
}

/** The environment that turns signing on with `ca`, for parseConfig or a test worker. */
export function signingEnv(ca: TestCa, dir: string): Record<string, string> {
  return { DARKROOM_C2PA_DIR: dir, DARKROOM_C2PA_CERT: ca.certFile, DARKROOM_C2PA_KEY: ca.keyFile };
}
