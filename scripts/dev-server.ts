/**
 * Starts `temporal server start-dev` with Darkroom's search attributes and waits until it can
 * really serve: frontend up, namespace registered, search attributes visible (workflows upsert
 * them in their first task, so "port open" is not enough).
 *
 * Used by `npm run server` (foreground, SQLite under DARKROOM_DATA_DIR) and by vitest's
 * globalSetup (headless, free ports, a temp SQLite file).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, openSync, type WriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { ensureTemporalCli } from './temporal-cli';

/**
 * Darkroom's custom search attributes, as `--search-attribute NAME=TYPE` takes them.
 * Registered at every start; on an existing SQLite file they are already there and that is fine.
 */
export const SEARCH_ATTRIBUTES = {
  DarkroomStage: 'Keyword',
  DarkroomChannel: 'Keyword',
  DarkroomCatalogId: 'Keyword',
  DarkroomCostUsd: 'Double',
  DarkroomAwaitingReview: 'Bool',
} as const satisfies Record<string, SearchAttributeTypeName>;

export type SearchAttributeTypeName = 'Text' | 'Keyword' | 'Int' | 'Double' | 'Bool' | 'Datetime' | 'KeywordList';

/** temporal.api.enums.v1.IndexedValueType, as listSearchAttributes reports it. */
export const INDEXED_VALUE_TYPE: Record<SearchAttributeTypeName, number> = {
  Text: 1,
  Keyword: 2,
  Int: 3,
  Double: 4,
  Bool: 5,
  Datetime: 6,
  KeywordList: 7,
};

export interface DevServerOptions {
  /** SQLite file holding the server's state; its directory is created. Reusing it keeps every workflow. */
  dbFile: string;
  /** Frontend gRPC port. @default a free port */
  port?: number;
  /** Web UI port, or `false` for a headless server. @default a free port */
  uiPort?: number | false;
  /** Address the frontend (and UI) bind to. @default 127.0.0.1 */
  ip?: string;
  /** An extra namespace to create and wait for; `default` always exists. */
  namespace?: string;
  /** Progress messages. @default silent */
  log?: (msg: string) => void;
  /** Append the server's stdout and stderr here. @default only the last lines are kept, for errors */
  logFile?: string;
  /** The `temporal` binary. @default ensureTemporalCli() */
  cli?: string;
  /**
   * Leave the server running after this process exits (`npm run demo -- --keep-server`): it is
   * detached, writes straight to `logFile` (required), and is not killed at exit.
   * @default false
   */
  keepAlive?: boolean;
  /** How long to wait for the server to be ready. @default 60_000 */
  readyTimeoutMs?: number;
  /**
   * Dispatch backlogged tasks fairly between fairness keys (one per catalog) instead of first in,
   * first out ({@link FAIRNESS}). Tests turn it off to show the difference.
   * @default true
   */
  fairness?: boolean;
  /** More `--dynamic-config-value KEY=VALUE` settings, after Darkroom's own (a later one wins). */
  dynamicConfig?: readonly string[];
  /**
   * `--sqlite-pragma NAME=VALUE` settings for the state file ({@link SQLITE_PRAGMAS}); `[]` keeps
   * SQLite's own (a rollback journal), as benchmarks do to measure the difference.
   * @default SQLITE_PRAGMAS
   */
  sqlitePragmas?: readonly string[];
}

export interface DevServer {
  /** `127.0.0.1:PORT`, for Connection.connect / NativeConnection.connect. */
  address: string;
  /** `http://127.0.0.1:PORT` unless headless. */
  uiUrl?: string;
  pid: number;
  dbFile: string;
  /** Settles when the server process exits, for whatever reason. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL after 10s; resolves once the process is gone. Safe to call twice. */
  stop(): Promise<void>;
}

/** The server process exited or did not become ready in time. */
export class DevServerStartError extends Error {
  override readonly name = 'DevServerStartError';
  constructor(
    message: string,
    /** The last lines the server printed. */
    readonly outputTail: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Server limits on one payload (`limit.blobSize.*`, bytes); Temporal's defaults are 512 KiB (warn) and 2 MiB (error). */
export const PAYLOAD_LIMITS = ['limit.blobSize.warn=131072', 'limit.blobSize.error=524288'];

/**
 * Task-queue fairness (Temporal 1.29, off by default there): a catalog's rows carry its id as
 * fairness key, and a queue backlogged by a big catalog still gives a small one its turn.
 * Implies the priority matcher (`matching.useNewMatcher`). Production clusters: set the same.
 */
export const FAIRNESS = ['matching.enableFairness=true'];

/**
 * How soon the server hands out a task it has just written. History reads the tasks that become
 * workflow and activity tasks (its transfer queue) at most `history.transferProcessorMaxPollRPS`
 * times a second per shard (20 by default, burst 20), and a dev server has one shard. A workflow
 * running one activity after another needs two reads a step, so once the burst was spent each
 * step took 100 ms however fast the rest was (bench/temporal-overhead.ts). A read happens only
 * after a write announced new tasks and fetches all of them, so a higher limit costs no reads
 * while idle and at most one per write when busy. docker-compose sets the same.
 */
export const PROMPT_DISPATCH = ['history.transferProcessorMaxPollRPS=1000'];

/**
 * One partition per task queue. Each provider's queue carries the vendor's rate limit
 * (`maxTaskQueueActivitiesPerSecond`), and the server splits a queue's limit evenly across its
 * partitions (4 by default), each handing out tasks at a quarter of the rate from its own
 * backlog: a 25-candidate brief at 60/min then ran 1.54× its ideal, 1.11× with one partition
 * (bench/pipeline-ideal.ts). A dev server's queues are far below what one partition serves.
 * docker-compose sets the same for the provider queues only.
 */
export const ONE_PARTITION = ['matching.numTaskqueueReadPartitions=1', 'matching.numTaskqueueWritePartitions=1'];

/**
 * Eager activity execution: when a workflow task schedules an activity on the worker's own task
 * queue and that worker has a free slot, the server hands the activity back in its answer to the
 * workflow task instead of queueing it for a poll, saving a transfer-queue read and a matching
 * hop: with Temporal's default 20 reads a second a sequential no-op step went from 100 to 41 ms,
 * with PROMPT_DISPATCH it saves about 1 ms of 20 (bench/temporal-overhead.ts). It never applies
 * to the provider queues (another queue than the workflow's), so their rate limits hold.
 * docker-compose sets the same.
 */
export const EAGER_ACTIVITIES = ['system.enableActivityEagerExecution=true'];

/** The dynamic config every Darkroom server gets: this dev server and scripts/temporal-on-postgres.ts (docker-compose's file mirrors it). */
export const SERVER_SETTINGS = [...PAYLOAD_LIMITS, ...PROMPT_DISPATCH, ...ONE_PARTITION, ...EAGER_ACTIVITIES];

/**
 * The state file's journal: a write-ahead log synced at every commit. As durable as SQLite's
 * default rollback journal (a committed step survives a crash of the server or of the machine),
 * but a commit costs one fsync instead of four plus a file deletion (counted with strace), and
 * the server commits several times for every activity.
 */
export const SQLITE_PRAGMAS = ['journal_mode=wal', 'synchronous=full'];

/** `--search-attribute` flags for {@link SEARCH_ATTRIBUTES}. */
export function searchAttributeArgs(): string[] {
  return Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]);
}

export async function startDevServer(opts: DevServerOptions): Promise<DevServer> {
  const cli = opts.cli ?? (await ensureTemporalCli({ log: opts.log }));
  await mkdir(path.dirname(path.resolve(opts.dbFile)), { recursive: true });
  // Free ports are found by binding port 0 and letting go, so another process can take one in
  // between. When we picked them, a server that dies at once is retried on fresh ports.
  const attempts = opts.port === undefined || opts.uiPort === undefined ? 3 : 1;
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(cli, opts);
    } catch (err) {
      if (attempt >= attempts || !(err instanceof DevServerStartError) || !/address already in use/i.test(err.outputTail)) throw err;
      opts.log?.(`port taken while starting the dev server, retrying on other ports`);
    }
  }
}

async function startOnce(cli: string, opts: DevServerOptions): Promise<DevServer> {
  const ip = opts.ip ?? '127.0.0.1';
  const port = opts.port ?? (await freePort(ip));
  const uiPort = opts.uiPort === false ? false : (opts.uiPort ?? (await freePort(ip, [port])));
  // A wildcard bind is reached through loopback.
  const connectHost = ip === '0.0.0.0' || ip === '::' ? '127.0.0.1' : ip;
  const address = `${connectHost.includes(':') ? `[${connectHost}]` : connectHost}:${port}`;

  const args = [
    'server', 'start-dev',
    '--ip', ip,
    '--port', String(port),
    ...(uiPort === false ? ['--headless'] : ['--ui-port', String(uiPort)]),
    '--db-filename', opts.dbFile,
    '--log-level', 'warn',
    '--dynamic-config-value', 'frontend.enableServerVersionCheck=false',
    // Refuse oversized payloads at the door (a 1.9 MB signal of junk ids), where the caller gets
    // the error, instead of in history, where they slow every workflow task. Darkroom's own
    // payloads are kilobytes: images travel as blob keys. Production clusters: set the same.
    ...SERVER_SETTINGS.flatMap((v) => ['--dynamic-config-value', v]),
    ...((opts.fairness ?? true) ? FAIRNESS : []).flatMap((v) => ['--dynamic-config-value', v]),
    ...(opts.dynamicConfig ?? []).flatMap((v) => ['--dynamic-config-value', v]),
    ...(opts.sqlitePragmas ?? SQLITE_PRAGMAS).flatMap((v) => ['--sqlite-pragma', v]),
    ...(opts.namespace && opts.namespace !== 'default' ? ['--namespace', opts.namespace] : []),
    ...searchAttributeArgs(),
  ];

  let logStream: WriteStream | undefined;
  if (opts.logFile) {
    await mkdir(path.dirname(path.resolve(opts.logFile)), { recursive: true });
    logStream = createWriteStream(opts.logFile, { flags: 'a' });
    logStream.write(`\n--- ${new Date().toISOString()} ${cli} ${args.join(' ')}\n`);
  }

  const started = Date.now();
  opts.log?.(`starting temporal dev server on ${address} (db ${opts.dbFile})`);
  if (opts.keepAlive && !opts.logFile) throw new Error('startDevServer: keepAlive needs a logFile for the server to write to');
  const logFd = opts.keepAlive ? openSync(path.resolve(opts.logFile!), 'a') : undefined;
  const child = spawn(cli, args, {
    env: { ...process.env, TEMPORAL_VERSION_CHECK_DISABLED: '1' },
    // A kept server writes to its log file itself: a pipe to us would break when we exit.
    stdio: logFd !== undefined ? ['ignore', logFd, logFd] : ['ignore', 'pipe', 'pipe'],
    detached: opts.keepAlive ?? false,
  });
  if (logFd !== undefined) closeSync(logFd);

  let tail = opts.keepAlive ? `(see ${opts.logFile})` : '';
  const collect = (chunk: Buffer) => {
    logStream?.write(chunk);
    tail = (tail + chunk.toString()).slice(-8000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  // If this process ends without stopping the server (an uncaught error, process.exit), don't
  // leave a server behind holding the port and the SQLite file, unless asked to keep it.
  const killOnExit = () => child.kill('SIGKILL');
  if (opts.keepAlive) child.unref();
  else process.once('exit', killOnExit);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      process.off('exit', killOnExit);
      logStream?.end();
      resolve({ code, signal });
    });
  });
  const stop = once(() => stopChild(child, exited));
  const outputTail = () => tail.split('\n').slice(-30).join('\n');

  const waiting = { over: false };
  try {
    await Promise.race([
      waitUntilReady(address, opts, opts.readyTimeoutMs ?? 60_000, waiting),
      exited.then(({ code, signal }) => {
        if (waiting.over) return;
        throw new DevServerStartError(`temporal dev server exited before it was ready (${signal ?? `exit code ${code}`}). Its last output:\n${outputTail()}`, tail);
      }),
      new Promise<void>((_, reject) =>
        child.once('error', (err) => reject(new DevServerStartError(`could not run ${cli}: ${err.message}`, tail, { cause: err }))),
      ),
    ]);
  } catch (err) {
    await stop();
    if (err instanceof DevServerStartError) throw err;
    throw new DevServerStartError(`${(err as Error).message}. The server's last output:\n${outputTail()}`, tail, { cause: err });
  } finally {
    waiting.over = true;
  }

  opts.log?.(`temporal dev server ready on ${address} in ${Date.now() - started}ms`);
  return {
    address,
    uiUrl: uiPort === false ? undefined : `http://${connectHost.includes(':') ? `[${connectHost}]` : connectHost}:${uiPort}`,
    pid: child.pid!,
    dbFile: opts.dbFile,
    exited,
    stop,
  };
}

/**
 * Stops a server child process: `signal` (SIGTERM by default), then SIGKILL if it is still
 * there after 10 s; resolves once it has exited. A child that never started or has already
 * exited resolves at once.
 */
export async function stopChild(child: ChildProcess, exited: Promise<unknown>, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  // No pid: it never started (the 'error' event said why).
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), 10_000))),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    child.kill('SIGKILL');
    await exited;
  }
}

/**
 * Polls until the frontend answers, the namespaces are registered and every search attribute is
 * visible with its type. Each probe has a short deadline and no retry interceptor, so a server
 * that is still booting costs one probe interval, not the SDK's retry backoff.
 */
async function waitUntilReady(address: string, opts: DevServerOptions, timeoutMs: number, waiting: { over: boolean }): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const namespaces = ['default', ...(opts.namespace && opts.namespace !== 'default' ? [opts.namespace] : [])];
  let lastProblem = 'nothing listening yet';
  while (Date.now() < deadline && !waiting.over) {
    if (await tcpOpen(address, 500)) {
      let connection: Connection | undefined;
      try {
        connection = await Connection.connect({ address, connectTimeout: 2000, interceptors: [] });
        const conn = connection;
        const call = <T>(fn: () => Promise<T>) => conn.withDeadline(Date.now() + 2000, fn);
        await call(() => conn.workflowService.getSystemInfo({}));
        for (const namespace of namespaces) {
          await call(() => conn.workflowService.describeNamespace({ namespace }));
          const { customAttributes } = await call(() => conn.operatorService.listSearchAttributes({ namespace }));
          const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name, type]) => customAttributes?.[name] !== INDEXED_VALUE_TYPE[type]);
          if (missing.length > 0) throw new Error(`search attributes not registered yet in ${namespace}: ${missing.map(([n]) => n).join(', ')}`);
        }
        return;
      } catch (err) {
        lastProblem = (err as Error).message;
      } finally {
        await connection?.close().catch(() => {});
      }
    }
    await delay(100);
  }
  throw new Error(`temporal dev server on ${address} was not ready after ${timeoutMs}ms (last: ${lastProblem})`);
}

/**
 * True if a Temporal frontend answers at `address` (host:port) within `timeoutMs`.
 * A port held by something else is not "reachable".
 */
export async function isServerReachable(address: string, timeoutMs = 1500): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, connectTimeout: timeoutMs, interceptors: [] });
    const conn = connection;
    await conn.withDeadline(Math.max(deadline, Date.now() + 200), () => conn.workflowService.getSystemInfo({}));
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => {});
  }
}

/** A port nobody is listening on right now (see the retry in startDevServer). */
export function freePort(host = '127.0.0.1', avoid: number[] = []): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0 }, () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => (avoid.includes(port) ? freePort(host, avoid).then(resolve, reject) : resolve(port)));
    });
  });
}

function tcpOpen(address: string, timeoutMs: number): Promise<boolean> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Splits `host:port` or `[v6]:port`. */
export function splitAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(address.trim());
  if (!m) throw new Error(`expected host:port, got ${JSON.stringify(address)}`);
  return { host: (m[1] ?? m[2])!, port: Number(m[3]) };
}

function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= fn());
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
