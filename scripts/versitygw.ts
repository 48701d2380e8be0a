/**
 * Finds a `versitygw` binary (an S3-compatible server, for the S3 blob store's tests), or builds
 * the pinned version with Go.
 *
 * Nothing here downloads at run time except `go install`, which fetches from the Go module
 * proxy once and caches the binary.
 *
 * As a script (`tsx scripts/versitygw.ts`) it prints the binary's path on stdout and all
 * messages on stderr, so `.ci/run` can do `VERSITYGW=$(npx tsx scripts/versitygw.ts)`.
 */
import { spawn, execFile } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, mkdtemp, open, readFile, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export const VERSITYGW_VERSION = 'v1.8.0';
/** What `go install` builds. */
export const VERSITYGW_MODULE = `github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}`;

export interface EnsureVersitygwOptions {
  /** Environment to read VERSITYGW, PATH, XDG_CACHE_HOME and HOME from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Progress messages. @default writes to stderr */
  log?: (msg: string) => void;
  /** Build with Go when no binary is found. @default true */
  build?: boolean;
}

/** No usable `versitygw` binary was found and none could be built. */
export class VersitygwNotFoundError extends Error {
  override readonly name = 'VersitygwNotFoundError';
}

/** `go install` of the pinned versitygw failed. */
export class VersitygwBuildError extends Error {
  override readonly name = 'VersitygwBuildError';
  constructor(
    message: string,
    /** The last lines `go` printed. */
    readonly outputTail: string,
  ) {
    super(message);
  }
}

/** The directory the pinned binary is cached in: `${XDG_CACHE_HOME:-~/.cache}/darkroom/versitygw-v1.8.0`. */
export function versitygwCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const cacheHome = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(cacheHome, 'darkroom', `versitygw-${VERSITYGW_VERSION}`);
}

/**
 * Returns the path of a usable `versitygw` binary, trying in order: `VERSITYGW`, a `versitygw`
 * on PATH, the Darkroom cache, and finally building the pinned version with Go into the cache.
 */
export async function ensureVersitygw(opts: EnsureVersitygwOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? ((msg: string) => process.stderr.write(`${msg}\n`));

  if (env.VERSITYGW) {
    const file = path.resolve(env.VERSITYGW);
    if (!(await isExecutableFile(file))) {
      throw new VersitygwNotFoundError(
        `VERSITYGW is set to ${env.VERSITYGW}, but that is not an executable file. ` +
          'Point it at a versitygw binary, or unset it to let Darkroom find or build one.',
      );
    }
    return file;
  }

  const onPath = await findOnPath('versitygw', env);
  if (onPath) {
    const version = await binVersion(onPath, env);
    if (version) {
      log(`using ${onPath} (${version})`);
      return onPath;
    }
    log(`ignoring ${onPath}: \`versitygw --version\` did not run`);
  }

  const cacheDir = versitygwCacheDir(env);
  const cached = path.join(cacheDir, 'versitygw');
  if ((await isExecutableFile(cached)) && (await binVersion(cached, env))) return cached;

  const go = opts.build === false ? undefined : await findGo(env);
  if (go) {
    await buildVersitygw({ go, cacheDir, env, log });
    return cached;
  }

  throw new VersitygwNotFoundError(
    `No versitygw found (the S3 blob store's tests run against one, ${VERSITYGW_VERSION} is pinned). Either:\n` +
      '  - set VERSITYGW=/path/to/versitygw, or\n' +
      '  - put a `versitygw` binary on PATH (https://github.com/versity/versitygw), or\n' +
      `  - install Go (https://go.dev/dl/) so Darkroom can build it once into ${cacheDir}\n` +
      `    (the same as: GOBIN=${cacheDir} go install ${VERSITYGW_MODULE})` +
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
async function binVersion(bin: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
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
 * a reader never sees a half-written binary. A lock file keeps concurrent callers from building
 * the same thing twice; a stale lock left by a killed process is taken over.
 */
async function buildVersitygw(args: { go: string; cacheDir: string; env: NodeJS.ProcessEnv; log: (msg: string) => void }): Promise<void> {
  const { go, cacheDir, env, log } = args;
  const target = path.join(cacheDir, 'versitygw');
  await mkdir(cacheDir, { recursive: true });

  const lock = await acquireLock(path.join(cacheDir, '.build.lock'), target, log);
  if (lock === 'built-by-other') return;
  let tmpDir: string | undefined;
  try {
    if (await isExecutableFile(target)) return;
    tmpDir = await mkdtemp(path.join(cacheDir, '.build-'));
    log(`building versitygw ${VERSITYGW_VERSION} from the Go module proxy into ${cacheDir} (first run only, a minute or two)`);
    const started = Date.now();
    await runGoInstall(go, { ...env, GOBIN: tmpDir, CGO_ENABLED: env.CGO_ENABLED ?? '0' });
    await rename(path.join(tmpDir, 'versitygw'), target);
    log(`built ${target} in ${Math.round((Date.now() - started) / 1000)}s`);
  } finally {
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
    await lock.release();
  }
}

function runGoInstall(go: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(go, ['install', VERSITYGW_MODULE], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const forward = (chunk: Buffer) => {
      // stdout stays clean for the script mode's path; go's progress goes to stderr.
      process.stderr.write(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', forward);
    child.stderr.on('data', forward);
    child.on('error', (err) => reject(new VersitygwBuildError(`could not run ${go}: ${err.message}`, tail)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new VersitygwBuildError(`\`go install ${VERSITYGW_MODULE}\` failed (${signal ?? `exit code ${code}`}):\n${tail}`, tail));
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
      log(`waiting for process ${holder}, which is building versitygw into ${path.dirname(target)}`);
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
    process.stdout.write(`${await ensureVersitygw()}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
