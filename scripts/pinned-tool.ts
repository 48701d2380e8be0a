/**
 * What the pinned-tool scripts share (temporal-cli.ts, versitygw.ts, temporal-server.ts, c2pa.ts):
 * where Darkroom caches a tool, how to find an executable or Go, how to run a build with its
 * output on stderr, the lock that keeps two processes from building the same thing at once, and
 * the script mode that prints the result on stdout.
 */
import { execFile, spawn } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, mkdir, mkdtemp, open, readFile, rename, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** A pinned tool is not there and was not to be, or could not be, built or installed; each tool has its own subclass. */
export class PinnedToolMissingError extends Error {}

/** Building or installing a pinned tool failed; each tool has its own subclass. */
export class PinnedToolBuildError extends Error {
  constructor(
    message: string,
    /** The last lines the build printed. */
    readonly outputTail: string,
  ) {
    super(message);
  }
}

/** Where each pinned-tool script reads its environment and writes its progress. */
export interface PinnedToolOptions {
  /** Environment to read the tool's variable, PATH, XDG_CACHE_HOME and HOME from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** Progress messages (what was picked, build progress). @default writes to stderr */
  log?: (msg: string) => void;
}

/** `${XDG_CACHE_HOME:-~/.cache}/darkroom/<name>`: one directory per tool and version. */
export function darkroomCacheDir(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const cacheHome = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(cacheHome, 'darkroom', name);
}

export async function isExecutableFile(file: string): Promise<boolean> {
  try {
    if (!(await stat(file)).isFile()) return false;
    await access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function isDir(dir: string): Promise<boolean> {
  return stat(dir).then((s) => s.isDirectory(), () => false);
}

export async function findOnPath(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** The first line of `<bin> --version`, or undefined if it does not run. */
export async function binVersion(bin: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync(bin, ['--version'], { env, timeout: 15_000 });
    return stdout.trim().split('\n')[0] || 'unknown version';
  } catch {
    return undefined;
  }
}

export async function findGo(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const onPath = await findOnPath('go', env);
  if (onPath) return onPath;
  // The official tarball installs here and is often not on a non-login shell's PATH.
  for (const candidate of [env.GOROOT && path.join(env.GOROOT, 'bin', 'go'), '/usr/local/go/bin/go']) {
    if (candidate && (await isExecutableFile(candidate))) return candidate;
  }
  return undefined;
}

/**
 * Runs a build command (`go install`, `npm install`) with its output on stderr, so a script's
 * stdout stays clean for the path it prints. A failure becomes `fail(message, tail)` with the
 * last 4000 characters the command printed.
 */
export function runBuild(command: string, args: readonly string[], env: NodeJS.ProcessEnv, fail: (message: string, outputTail: string) => Error): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    const forward = (chunk: Buffer) => {
      process.stderr.write(chunk);
      tail = (tail + chunk.toString()).slice(-4000);
    };
    child.stdout.on('data', forward);
    child.stderr.on('data', forward);
    child.on('error', (err) => reject(fail(`could not run ${command}: ${err.message}`, tail)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(fail(`\`${path.basename(command)} ${args.join(' ')}\` failed (${signal ?? `exit code ${code}`}):\n${tail}`, tail));
    });
  });
}

export type BuildLock = { release(): Promise<void> };

/**
 * Takes `lockFile`, or waits while the live process holding it builds `target` ('built-by-other'
 * once the target appears). A lock left by a killed process is taken over.
 */
export async function acquireBuildLock(lockFile: string, target: string, what: string, log: (msg: string) => void): Promise<BuildLock | 'built-by-other'> {
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
      log(`waiting for process ${holder}, which is building ${what} into ${path.dirname(target)}`);
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

/** Progress messages go to stderr unless a caller takes them. */
export const logToStderr = (msg: string) => {
  process.stderr.write(`${msg}\n`);
};

/**
 * Script mode: when the file at `moduleUrl` is the one node was started with, prints what `find`
 * returns on stdout (for `X=$(npx tsx scripts/x.ts)`), or its error on stderr with exit code 1.
 */
export async function runAsScript(moduleUrl: string, find: () => Promise<string>): Promise<void> {
  if (process.argv[1] === undefined || path.resolve(process.argv[1]) !== fileURLToPath(moduleUrl)) return;
  try {
    process.stdout.write(`${await find()}\n`);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}

/** A single-binary Go tool pinned at a version: what {@link ensureGoTool} needs to know. */
export interface GoToolSpec {
  /** The binary's name, e.g. `temporal`. */
  binary: string;
  /** The environment variable that may point at a binary, e.g. `TEMPORAL_CLI`. */
  envVar: string;
  /** What `go install` builds, with its version, e.g. `github.com/temporalio/cli/cmd/temporal@v1.5.1`. */
  module: string;
  version: string;
  /** The cache directory's name under ~/.cache/darkroom, e.g. `temporal-v1.5.1`. */
  cacheName: string;
  /** Why Darkroom needs it and what people call it, for messages: `the temporal CLI` / `the dev server needs one`. */
  title: string;
  neededFor: string;
  /** Where to get a binary by hand, e.g. `https://docs.temporal.io/cli#install`. */
  installUrl: string;
  /** How long a first build takes, for the message, e.g. `a few minutes`. */
  buildTime: string;
  notFound: (message: string) => Error;
  buildFailed: (message: string, outputTail: string) => Error;
}

export interface EnsureGoToolOptions extends PinnedToolOptions {
  /** Build the tool with Go when no binary is found. @default true */
  build?: boolean;
}

/**
 * Returns the path of a usable binary, trying in order: the tool's environment variable, the
 * binary on PATH, the Darkroom cache, and finally building the pinned version with Go into the
 * cache (into a private temp dir, then an atomic rename, so a reader never sees half a binary).
 */
export async function ensureGoTool(spec: GoToolSpec, opts: EnsureGoToolOptions = {}): Promise<string> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? logToStderr;

  const fromEnv = env[spec.envVar];
  if (fromEnv) {
    const file = path.resolve(fromEnv);
    if (!(await isExecutableFile(file))) {
      throw spec.notFound(
        `${spec.envVar} is set to ${fromEnv}, but that is not an executable file. ` +
          `Point it at a ${spec.binary} binary, or unset it to let Darkroom find or build one.`,
      );
    }
    return file;
  }

  const onPath = await findOnPath(spec.binary, env);
  if (onPath) {
    const version = await binVersion(onPath, env);
    if (version) {
      log(`using ${onPath} (${version})`);
      return onPath;
    }
    log(`ignoring ${onPath}: \`${spec.binary} --version\` did not run`);
  }

  const cacheDir = darkroomCacheDir(spec.cacheName, env);
  const cached = path.join(cacheDir, spec.binary);
  if ((await isExecutableFile(cached)) && (await binVersion(cached, env))) return cached;

  const go = opts.build === false ? undefined : await findGo(env);
  if (go) {
    await mkdir(cacheDir, { recursive: true });
    const lock = await acquireBuildLock(path.join(cacheDir, '.build.lock'), cached, spec.title, log);
    if (lock === 'built-by-other') return cached;
    let tmpDir: string | undefined;
    try {
      if (await isExecutableFile(cached)) return cached;
      tmpDir = await mkdtemp(path.join(cacheDir, '.build-'));
      log(`building ${spec.title} ${spec.version} from the Go module proxy into ${cacheDir} (first run only, ${spec.buildTime})`);
      const started = Date.now();
      await runBuild(go, ['install', spec.module], { ...env, GOBIN: tmpDir, CGO_ENABLED: env.CGO_ENABLED ?? '0' }, spec.buildFailed);
      await rename(path.join(tmpDir, spec.binary), cached);
      log(`built ${cached} in ${Math.round((Date.now() - started) / 1000)}s`);
    } finally {
      if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
      await lock.release();
    }
    return cached;
  }

  throw spec.notFound(
    `No ${spec.binary} found (${spec.neededFor}, ${spec.version} is pinned). Either:\n` +
      `  - set ${spec.envVar}=/path/to/${spec.binary}, or\n` +
      `  - put a \`${spec.binary}\` binary on PATH (${spec.installUrl}), or\n` +
      `  - install Go (https://go.dev/dl/) so Darkroom can build it once into ${cacheDir}\n` +
      `    (the same as: GOBIN=${cacheDir} go install ${spec.module})` +
      (opts.build === false ? '\n(building was turned off for this call)' : ''),
  );
}
