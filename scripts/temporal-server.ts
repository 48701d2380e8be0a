/**
 * Finds a self-hosted Temporal server (`temporal-server`), its schema tool (`temporal-sql-tool`)
 * and the PostgreSQL schema files, or builds the pinned version with Go. Only the deployment
 * test needs these: it runs Darkroom against Temporal on PostgreSQL, as production does.
 *
 * The version is the one the pinned temporal CLI's dev server embeds, so tests and deployments
 * run the same server. Nothing here downloads at run time except `go install` (and `go mod
 * download` for the schema files), which fetch from the Go module proxy once and are cached.
 *
 * As a script (`tsx scripts/temporal-server.ts`) it prints the server binary's path on stdout
 * and all messages on stderr, so `.ci/run` can do `TEMPORAL_SERVER=$(npx tsx scripts/temporal-server.ts)`.
 */
import { execFile } from 'node:child_process';
import { chmod, copyFile, mkdir, mkdtemp, readFile, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { acquireBuildLock, darkroomCacheDir, findGo, isDir, isExecutableFile, logToStderr, PinnedToolBuildError, PinnedToolMissingError, runAsScript, runBuild, type PinnedToolOptions } from './pinned-tool';

const execFileAsync = promisify(execFile);

/** The server release the pinned temporal CLI (v1.5.1) embeds as its dev server. */
export const TEMPORAL_SERVER_VERSION = 'v1.29.1';
export const TEMPORAL_SERVER_MODULE = 'go.temporal.io/server';
/** The packages `go install` builds, and the names they are cached under. */
const BINARIES = [
  { pkg: `${TEMPORAL_SERVER_MODULE}/cmd/server`, built: 'server', name: 'temporal-server' },
  { pkg: `${TEMPORAL_SERVER_MODULE}/cmd/tools/sql`, built: 'sql', name: 'temporal-sql-tool' },
] as const;
/** Inside the module, and inside the cache dir: the PostgreSQL 12+ schemas (`temporal/`, `visibility/`). */
const SCHEMA_SUBDIR = path.join('schema', 'postgresql', 'v12');

export interface TemporalServerBinaries {
  /** `temporal-server`: `temporal-server --root <dir> --config <subdir> --env <name> start`. */
  server: string;
  /** `temporal-sql-tool`: creates databases and applies the versioned schema. */
  sqlTool: string;
  /** The PostgreSQL schema directory; `temporal/versioned` and `visibility/versioned` are under it. */
  postgresSchemaDir: string;
}

/** `env` gives TEMPORAL_SERVER, XDG_CACHE_HOME, HOME and PATH (for go). */
export interface EnsureTemporalServerOptions extends PinnedToolOptions {
  /** Build with Go when the cache is empty. @default true */
  build?: boolean;
}

/** No usable server was found and none could be built. */
export class TemporalServerNotFoundError extends PinnedToolMissingError {
  override readonly name = 'TemporalServerNotFoundError';
}

/** The pinned module cannot be built with `go install` (a replace directive), or the build failed. */
export class TemporalServerBuildError extends PinnedToolBuildError {
  override readonly name = 'TemporalServerBuildError';
}

/** `${XDG_CACHE_HOME:-~/.cache}/darkroom/temporal-server-v1.29.1`. */
export function temporalServerCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return darkroomCacheDir(`temporal-server-${TEMPORAL_SERVER_VERSION}`, env);
}

/** The layout the cache dir has, and that TEMPORAL_SERVER's directory must have. */
function layout(dir: string): TemporalServerBinaries {
  return {
    server: path.join(dir, 'temporal-server'),
    sqlTool: path.join(dir, 'temporal-sql-tool'),
    postgresSchemaDir: path.join(dir, SCHEMA_SUBDIR),
  };
}

async function isComplete(b: TemporalServerBinaries): Promise<boolean> {
  return (await isExecutableFile(b.server)) && (await isExecutableFile(b.sqlTool)) && (await isDir(path.join(b.postgresSchemaDir, 'temporal', 'versioned')));
}

/**
 * Returns the server, the SQL tool and the schema, trying `TEMPORAL_SERVER` (the server binary,
 * with `temporal-sql-tool` and `schema/postgresql/v12` next to it, as the cache lays them out),
 * then the Darkroom cache, and finally building the pinned version with Go into the cache.
 */
export async function ensureTemporalServer(opts: EnsureTemporalServerOptions = {}): Promise<TemporalServerBinaries> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? logToStderr;

  if (env.TEMPORAL_SERVER) {
    const found = layout(path.dirname(path.resolve(env.TEMPORAL_SERVER)));
    found.server = path.resolve(env.TEMPORAL_SERVER);
    if (!(await isComplete(found))) {
      throw new TemporalServerNotFoundError(
        `TEMPORAL_SERVER is set to ${env.TEMPORAL_SERVER}, but that is not an executable file with ` +
          `temporal-sql-tool and ${SCHEMA_SUBDIR}/ next to it. ` +
          'Point it at the temporal-server that `tsx scripts/temporal-server.ts` printed, or unset it to let Darkroom build one.',
      );
    }
    return found;
  }

  const cacheDir = temporalServerCacheDir(env);
  const cached = layout(cacheDir);
  if (await isComplete(cached)) return cached;

  const go = opts.build === false ? undefined : await findGo(env);
  if (go) {
    await buildTemporalServer({ go, cacheDir, env, log });
    return cached;
  }

  throw new TemporalServerNotFoundError(
    `No temporal-server found (the deployment test runs one on PostgreSQL, ${TEMPORAL_SERVER_VERSION} is pinned). Either:\n` +
      '  - set TEMPORAL_SERVER=/path/to/temporal-server (temporal-sql-tool and schema/postgresql/v12 next to it), or\n' +
      '  - run `npx tsx scripts/temporal-server.ts`, which builds the pinned version once with Go, or\n' +
      `  - install Go (https://go.dev/dl/) so Darkroom can build it once into ${cacheDir}\n` +
      `    (like: GOBIN=${cacheDir} go install ${BINARIES.map((b) => `${b.pkg}@${TEMPORAL_SERVER_VERSION}`).join(' ')})` +
      (opts.build === false ? '\n(building was turned off for this call)' : ''),
  );
}

/** The lines of a go.mod that start a replace directive (`replace x => y` or a `replace (` block). */
export function replaceDirectives(goMod: string): string[] {
  return goMod.split('\n').filter((line) => /^\s*replace\b/.test(line));
}

/**
 * `go install` builds a module at a version only when its go.mod has no replace directive. The
 * server's go.mod has none at the pinned version; a new pin that adds one would fail deep in
 * `go install` with a terse message, so this says what to do instead.
 */
async function downloadModule(go: string, env: NodeJS.ProcessEnv): Promise<{ dir: string }> {
  const ref = `${TEMPORAL_SERVER_MODULE}@${TEMPORAL_SERVER_VERSION}`;
  let info: { Dir?: string; GoMod?: string; Error?: string };
  try {
    const { stdout } = await execFileAsync(go, ['mod', 'download', '-json', ref], { env, maxBuffer: 1 << 20 });
    info = JSON.parse(stdout) as typeof info;
  } catch (err) {
    const e = err as { stdout?: string; message: string };
    throw new TemporalServerBuildError(`\`go mod download ${ref}\` failed: ${e.stdout || e.message}`, e.stdout ?? '');
  }
  if (info.Error || !info.Dir || !info.GoMod) {
    throw new TemporalServerBuildError(`\`go mod download ${ref}\` failed: ${info.Error ?? 'no module directory reported'}`, '');
  }
  const replaces = replaceDirectives(await readFile(info.GoMod, 'utf8'));
  if (replaces.length > 0) {
    throw new TemporalServerBuildError(
      `${ref} cannot be built with \`go install\`: its go.mod has a replace directive (${replaces[0]!.trim()}). ` +
        'Pin a server version without one, or clone github.com/temporalio/temporal at that tag, run `make temporal-server temporal-sql-tool`, ' +
        'and point TEMPORAL_SERVER at the result (with schema/postgresql/v12 copied next to it).',
      replaces.join('\n'),
    );
  }
  return { dir: info.Dir };
}

/**
 * Builds into a private temp dir next to the cache, then renames into place with the server
 * binary last, so a reader that sees it sees everything. A lock file keeps concurrent callers
 * from building twice; a stale lock left by a killed process is taken over.
 */
async function buildTemporalServer(args: { go: string; cacheDir: string; env: NodeJS.ProcessEnv; log: (msg: string) => void }): Promise<void> {
  const { go, cacheDir, env, log } = args;
  const target = layout(cacheDir);
  await mkdir(cacheDir, { recursive: true });

  const lock = await acquireBuildLock(path.join(cacheDir, '.build.lock'), target.server, 'temporal-server', log);
  if (lock === 'built-by-other') return;
  let tmpDir: string | undefined;
  try {
    if (await isComplete(target)) return;
    tmpDir = await mkdtemp(path.join(cacheDir, '.build-'));
    log(`building temporal-server and temporal-sql-tool ${TEMPORAL_SERVER_VERSION} from the Go module proxy into ${cacheDir} (first run only, several minutes)`);
    const started = Date.now();
    const { dir } = await downloadModule(go, env);
    await runGoInstall(go, { ...env, GOBIN: tmpDir, CGO_ENABLED: env.CGO_ENABLED ?? '0' });
    await copyTree(path.join(dir, SCHEMA_SUBDIR), path.join(tmpDir, SCHEMA_SUBDIR));
    await rm(path.join(cacheDir, 'schema'), { recursive: true, force: true });
    await rename(path.join(tmpDir, 'schema'), path.join(cacheDir, 'schema'));
    for (const b of [...BINARIES].reverse()) await rename(path.join(tmpDir, b.built), path.join(cacheDir, b.name));
    log(`built ${target.server} and ${target.sqlTool} in ${Math.round((Date.now() - started) / 1000)}s`);
  } finally {
    if (tmpDir) await rm(tmpDir, { recursive: true, force: true });
    await lock.release();
  }
}

/** The module cache is read-only; copies get ordinary modes so the cache dir can be removed. */
async function copyTree(from: string, to: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const src = path.join(from, entry.name);
    const dst = path.join(to, entry.name);
    if (entry.isDirectory()) await copyTree(src, dst);
    else if (entry.isFile()) {
      await copyFile(src, dst);
      await chmod(dst, 0o644);
    }
  }
}

function runGoInstall(go: string, env: NodeJS.ProcessEnv): Promise<void> {
  const refs = BINARIES.map((b) => `${b.pkg}@${TEMPORAL_SERVER_VERSION}`);
  return runBuild(go, ['install', ...refs], env, (message, tail) => new TemporalServerBuildError(message, tail));
}

await runAsScript(import.meta.url, async () => (await ensureTemporalServer()).server);
