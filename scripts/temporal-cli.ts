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
import { darkroomCacheDir, ensureGoTool, PinnedToolBuildError, PinnedToolMissingError, runAsScript, type EnsureGoToolOptions, type GoToolSpec } from './pinned-tool';

/** The pinned CLI release: Temporal Server 1.29.1, Web UI 2.42.1. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
/** What `go install` builds. */
export const TEMPORAL_CLI_MODULE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;

export type EnsureTemporalCliOptions = EnsureGoToolOptions;

/** No usable `temporal` binary was found and none could be built. */
export class TemporalCliNotFoundError extends PinnedToolMissingError {
  override readonly name = 'TemporalCliNotFoundError';
}

/** `go install` of the pinned CLI failed. */
export class TemporalCliBuildError extends PinnedToolBuildError {
  override readonly name = 'TemporalCliBuildError';
}

const TEMPORAL_CLI: GoToolSpec = {
  binary: 'temporal', envVar: 'TEMPORAL_CLI', module: TEMPORAL_CLI_MODULE, version: TEMPORAL_CLI_VERSION,
  cacheName: `temporal-${TEMPORAL_CLI_VERSION}`, title: 'the temporal CLI', neededFor: 'the dev server needs one',
  installUrl: 'https://docs.temporal.io/cli#install', buildTime: 'a few minutes',
  notFound: (message) => new TemporalCliNotFoundError(message),
  buildFailed: (message, tail) => new TemporalCliBuildError(message, tail),
};

/** The directory the pinned CLI is cached in: `${XDG_CACHE_HOME:-~/.cache}/darkroom/temporal-v1.5.1`. */
export function temporalCliCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return darkroomCacheDir(TEMPORAL_CLI.cacheName, env);
}

/**
 * Returns the path of a usable `temporal` binary, trying in order: `TEMPORAL_CLI`, a `temporal`
 * on PATH, the Darkroom cache, and finally building the pinned version with Go into the cache.
 */
export function ensureTemporalCli(opts: EnsureTemporalCliOptions = {}): Promise<string> {
  return ensureGoTool(TEMPORAL_CLI, opts);
}

await runAsScript(import.meta.url, () => ensureTemporalCli());
