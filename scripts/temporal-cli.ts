/**
 * Finds a `temporal` CLI binary for the dev server, or builds the pinned version with Go.
 *
 * Nothing here downloads at run time except `go install`, which fetches from the Go module
 * proxy once and caches the binary. The Temporal SDK's `cached-download` executable is never
 * used: it fetches from the internet on every fresh machine.
 *
 * As a script (`tsx scripts/temporal-cli.ts`) it prints the binary's path on stdout and all
 * messages on stderr, so `.ci/run` can do `TEMPORAL_CLI=$(npx tsx scripts/temporal-cli.ts)`.
 */
import { spawn, execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, mkdtemp, open, readFile, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The pinned CLI release: Temporal Server 1.29.1, Web UI 2.42.1. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
/** What `go install` builds. */
export const TEMPORAL_CLI_MODULE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;

export interface EnsureTemporalCliOptions {
  /** Environment to read TEMPORAL_CLI, PATH, XDG_CACHE_HOME and HOME from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Progress messages (which binary was picked, build progress). @default writes to stderr */
  log?: (msg: string) => void;
  /** Build the CLI with Go when no binary is found. @default true */
  build?: boolean;
}

/** No usable `temporal` binary was found and none could be built. */
export class TemporalCliNotFoundError extends Error {
  override readonly name = 'TemporalCliNotFoundError';
}

/** `go install` of the pinned CLI failed. */
export class TemporalCliBuildError extends Error {
  override readonly name = 'TemporalCliBuildError';
  constructor(
    message: string,
    /** The last lines `go` printed. */
    readonly outputTail: string,
  ) {
    super(message);
  }
}

/** The directory the pinned CLI is cached in: `${XDG_CACHE_HOME:-~/.cache}/darkroom/temporal-v1.5.1`. */
export function temporalCliCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const cacheHome = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(cacheHome, 'darkroom', `temporal-${TEMPORAL_CLI_VERSION}`);
}

/**
 * Returns the path of a usable `temporal` binary, trying in order: `TEMPORAL_CLI`, a `temporal`
 * on PATH, the Darkroom cache, and finally building the pinned version with Go into the cache.
 */
export async function ensureTemporalCli(opts: EnsureTemporalCliOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((msg: string) => process.stderr.write(`${msg}\n`));

  if (env.TEMPORAL_CLI) {
    const file = path.resolve(env.TEMPORAL_CLI);
    if (!(await isExecutableFile(file))) {
      throw new TemporalCliNotFoundError(
        `TEMPORAL_CLI is set to ${env.TEMPORAL_CLI}, but that is not an executable file. ` +
          'Point it at a temporal CLI binary, or unset it to let Darkroom find or build one.',
      );
    }
    return file;
  }

  const onPath = await findOnPath('temporal', env);
  if (onPath) {
    const version = await cliVersion(onPath, env);
    if (version) {
      log(`using ${onPath} (${version})`);
      return onPath;
    }
    log(`ignoring ${onPath}: \`temporal --version\` did not run`);
  }

  const cacheDir = temporalCliCacheDir(env);
  const cached = path.join(cacheDir, 'temporal');
  if ((await isExecutableFile(cached)) && (await cliVersion(cached, env))) return cached;

  const go = opts.build === false ? undefined : await findGo(env);
  if (go) {
    await buildTemporalCli({ go, cacheDir, env, log });
    return cached;
  }

  throw new TemporalCliNotFoundError(
    `No temporal CLI found (the dev server needs one, ${TEMPORAL_CLI_VERSION} is pinned). Either:\n` +
      '  - set TEMPORAL_CLI=/path/to/temporal, or\n' +
      '  - put a `temporal` binary on PATH (https://docs.temporal.io/cli#install), or\n' +
      `  - install Go (https://go.dev/dl/) so Darkroom can build it once into ${cacheDir}\n` +
      `    (the same as: GOBIN=${cacheDir} go install ${TEMPORAL_CLI_MODULE})` +
      (opts.build === false ? '\n(building was turned off for this call)' : ''),
  );
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    if (!(await stat(file)).isFile()) return false;
    await access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function findOnPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** The first line of `<bin> --version`, or undefined if it does not run. */
async function cliVersion(bin: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync(bin, ['--version'], { env, timeout: 15_000 });
    return stdout.trim().split('\n')[0] || 'unknown version';
  } catch {
    return undefined;
  }
}

async function findGo(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const onPath = await findOnPath('go', env);
  if (onPath) return onPath;
  // The official tarball installs here and is often not on a non-login shell's PATH.
  for (const candidate of [env.GOROOT && path.join(env.GOROOT, 'bin', 'go'), '/usr/local/go/bin/go']) {
    if (candidate && (await isExecutableFile(candidate))) return candidate;
  }
  return undefined;
}

/**
 * `go install` into a private temp dir next to the cache, then an atomic rename into place, so
 * a reader never sees a half-written binary. A lock file keeps concurrent callers (parallel CI
 * jobs, two terminals) from spending minutes building the same thing; a stale lock left by a
 * killed process is taken over.
 */
async function buildTemporalCli(args: { go: string; cacheDir: string; env: NodeJS.ProcessEnv; log: (msg: string) => void }): Promise<void> {
  const { go, cacheDir, env, log } = args;
  const target = path.join(cacheDir, 'temporal');
  await mkdir(cacheDir, { recursive: true });

  const lock = await acquireLock(path.join(cacheDir, '.build.lock'), target, log);
  if (lock === 'built-by-other') return;
  let tmpDir: string | undefined;
  try {
    if (await isExecutableFile(target)) return;
    tmpDir = await mkdtemp(path.join(cacheDir, '.build-'));
    log(`building the temporal CLI ${TEMPORAL_CLI_VERSION} from the Go module proxy into ${cacheDir} (first run only, a few minutes)`);
    const started = Date.now();
    await runGoInstall(go, { ...env, GOBIN: tmpDir, CGO_ENABLED: env.CGO_ENABLED ?? '0' });
    await rename(path.join(tmpDir, 'temporal'), target);
    log(`built ${target} in ${Math.round((Date.now() - started) / 1000)}s`);
  } finally {
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
    await lock.release();
  }
}

function runGoInstall(go: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(go, ['install', TEMPORAL_CLI_MODULE], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const forward = (chunk: Buffer) => {
      // stdout stays clean for the script mode's path; go's progress goes to stderr.
      process.stderr.write(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', forward);
    child.stderr.on('data', forward);
    child.on('error', (err) => reject(new TemporalCliBuildError(`could not run ${go}: ${err.message}`, tail)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new TemporalCliBuildError(`\`go install ${TEMPORAL_CLI_MODULE}\` failed (${signal ?? `exit code ${code}`}):\n${tail}`, tail));
    });
  });
}

type Lock = { release(): Promise<void> };

async function acquireLock(lockFile: string, target: string, log: (msg: string) => void): Promise<Lock | 'built-by-other'> {
  let announced = false;
  for (;;) {
    try {
      const handle = await open(lockFile, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return { release: () => rm(lockFile, { force: true }) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const holder = Number.parseInt(await readFile(lockFile, 'utf8').catch(() => ''), 10);
    if (!Number.isFinite(holder) || !isAlive(holder)) {
      // A killed builder left its lock behind (or wrote nothing yet: give it a moment).
      await delay(500);
      const again = Number.parseInt(await readFile(lockFile, 'utf8').catch(() => ''), 10);
      if (again === holder || !Number.isFinite(again)) await rm(lockFile, { force: true });
      continue;
    }
    if (!announced) {
      log(`waiting for process ${holder}, which is building the temporal CLI into ${path.dirname(target)}`);
      announced = true;
    }
    await delay(1000);
    if (await isExecutableFile(target)) return 'built-by-other';
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    process.stdout.write(`${await ensureTemporalCli()}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
