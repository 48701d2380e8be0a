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
import { darkroomCacheDir, ensureGoTool, PinnedToolBuildError, PinnedToolMissingError, runAsScript, type EnsureGoToolOptions, type GoToolSpec } from './pinned-tool';

export const VERSITYGW_VERSION = 'v1.8.0';
/** What `go install` builds. */
export const VERSITYGW_MODULE = `github.com/versity/versitygw/cmd/versitygw@${VERSITYGW_VERSION}`;

export type EnsureVersitygwOptions = EnsureGoToolOptions;

/** No usable `versitygw` binary was found and none could be built. */
export class VersitygwNotFoundError extends PinnedToolMissingError {
  override readonly name = 'VersitygwNotFoundError';
}

/** `go install` of the pinned versitygw failed. */
export class VersitygwBuildError extends PinnedToolBuildError {
  override readonly name = 'VersitygwBuildError';
}

const VERSITYGW: GoToolSpec = {
  binary: 'versitygw', envVar: 'VERSITYGW', module: VERSITYGW_MODULE, version: VERSITYGW_VERSION,
  cacheName: `versitygw-${VERSITYGW_VERSION}`, title: 'versitygw', neededFor: "the S3 blob store's tests run against one",
  installUrl: 'https://github.com/versity/versitygw', buildTime: 'a minute or two',
  notFound: (message) => new VersitygwNotFoundError(message),
  buildFailed: (message, tail) => new VersitygwBuildError(message, tail),
};

/** The directory the pinned binary is cached in: `${XDG_CACHE_HOME:-~/.cache}/darkroom/versitygw-v1.8.0`. */
export function versitygwCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return darkroomCacheDir(VERSITYGW.cacheName, env);
}

/**
 * Returns the path of a usable `versitygw` binary, trying in order: `VERSITYGW`, a `versitygw`
 * on PATH, the Darkroom cache, and finally building the pinned version with Go into the cache.
 */
export function ensureVersitygw(opts: EnsureVersitygwOptions = {}): Promise<string> {
  return ensureGoTool(VERSITYGW, opts);
}

await runAsScript(import.meta.url, () => ensureVersitygw());
