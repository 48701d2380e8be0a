/**
 * Installs the pinned C2PA SDK (`@contentauth/c2pa-node`) and a Node 22 binary to run it under
 * into Darkroom's cache, once, and prints the directory.
 *
 * They are not npm dependencies of Darkroom: the SDK needs Node >= 22 (Darkroom runs on 20) and
 * its postinstall downloads a native build unless `SKIP_RUST_BUILD=1` (its npm package already
 * holds the prebuilt one). Only the npm registry is contacted, by npm itself.
 *
 * As a script (`tsx scripts/c2pa.ts`) it prints the directory on stdout and all messages on
 * stderr, so `.ci/run` can do `DARKROOM_C2PA_DIR=$(npx tsx scripts/c2pa.ts)`.
 * DARKROOM_C2PA_DIR, when set, is the directory to use (and to install into if it is empty).
 */
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { C2PA_PACKAGES, c2paInstallProblem, c2paLayout, defaultC2paDir } from '../activities/provenance/install';
import { logToStderr, PinnedToolBuildError, PinnedToolMissingError, runAsScript, runBuild, type PinnedToolOptions } from './pinned-tool';

/** `env` gives DARKROOM_C2PA_DIR and PATH. */
export interface EnsureC2paOptions extends PinnedToolOptions {
  /** Install with npm when the directory is not complete. @default true */
  install?: boolean;
}

/** The SDK is not installed and installing was not allowed. */
export class C2paNotInstalledError extends PinnedToolMissingError {
  override readonly name = 'C2paNotInstalledError';
}

/** `npm install` of the pinned packages failed. */
export class C2paInstallError extends PinnedToolBuildError {
  override readonly name = 'C2paInstallError';
}

/** Returns a directory holding the pinned SDK and Node 22, installing them into it first if needed. */
export async function ensureC2pa(opts: EnsureC2paOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? logToStderr;
  const dir = path.resolve(env.DARKROOM_C2PA_DIR || defaultC2paDir(env.HOME || undefined));
  const problem = await c2paInstallProblem(dir, true);
  if (!problem) return dir;
  if (opts.install === false) throw new C2paNotInstalledError(`${problem}; run \`npx tsx scripts/c2pa.ts\` to install it`);

  // Installed beside the target, then renamed into place: a reader never sees half an install.
  await mkdir(path.dirname(dir), { recursive: true });
  const tmp = await mkdtemp(path.join(path.dirname(dir), `.${path.basename(dir)}-`));
  try {
    log(`installing ${C2PA_PACKAGES.join(' and ')} into ${dir} (first run only, about 80 MB)`);
    const started = Date.now();
    await runNpmInstall(tmp, env);
    const still = await c2paInstallProblem(tmp, true);
    if (still) throw new C2paInstallError(`npm finished but ${still}`, '');
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    log(`installed ${c2paLayout(dir).module} in ${Math.round((Date.now() - started) / 1000)}s`);
    return dir;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

function runNpmInstall(prefix: string, env: NodeJS.ProcessEnv): Promise<void> {
  const args = ['install', '--prefix', prefix, '--no-save', '--no-audit', '--no-fund', '--no-package-lock', ...C2PA_PACKAGES];
  // SKIP_RUST_BUILD: the SDK's postinstall would otherwise fetch a native build from GitHub.
  return runBuild('npm', args, { ...env, SKIP_RUST_BUILD: '1' }, (message, tail) => new C2paInstallError(message, tail));
}

await runAsScript(import.meta.url, () => ensureC2pa());
