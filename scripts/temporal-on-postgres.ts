/**
 * A self-hosted Temporal server on PostgreSQL, set up the way a production cluster is: the
 * databases and schema made by `temporal-sql-tool` from the server's versioned schema files, a
 * server config file (PostgreSQL for the default and the visibility store), `temporal-server
 * start`, then the `default` namespace and Darkroom's search attributes registered through the
 * API, as an operator would with `temporal operator`.
 *
 * The deployment test (test/e2e/deployment.test.ts) uses it; the dev server (scripts/dev-server.ts)
 * stays the default everywhere else.
 */
import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { INDEXED_VALUE_TYPE, SEARCH_ATTRIBUTES, SERVER_SETTINGS, stopChild } from './dev-server';
import type { Postgres } from './postgres';
import type { TemporalServerBinaries } from './temporal-server';

const execFileAsync = promisify(execFile);

export interface TemporalOnPostgresOptions {
  /** From ensureTemporalServer(). */
  binaries: TemporalServerBinaries;
  /** A running PostgreSQL whose superuser can create databases (startPostgres()). */
  postgres: Pick<Postgres, 'host' | 'port' | 'user'>;
  /** Holds the config files; the server's log goes to `<dir>/temporal-server.log`. */
  dir: string;
  /** History shards; fixed for the life of a cluster. @default 4 */
  numHistoryShards?: number;
  /** Progress messages. @default silent */
  log?: (msg: string) => void;
  /** How long to wait for the server, the namespace and the search attributes. @default 120_000 */
  readyTimeoutMs?: number;
}

export interface TemporalOnPostgres {
  /** `127.0.0.1:PORT` of the frontend; namespace `default`. */
  address: string;
  pid: number;
  logFile: string;
  /** How long schema setup, start-up and registration took. */
  timings: { schemaMs: number; startMs: number };
  /** SIGTERM, then SIGKILL after 10s. Safe to call twice. */
  stop(): Promise<void>;
}

export class TemporalOnPostgresError extends Error {
  override readonly name = 'TemporalOnPostgresError';
  constructor(
    message: string,
    /** The last lines the failing process printed. */
    readonly outputTail = '',
  ) {
    super(message);
  }
}

const DATABASES = [
  { name: 'temporal', schema: 'temporal' },
  { name: 'temporal_visibility', schema: 'visibility' },
] as const;

export async function startTemporalOnPostgres(opts: TemporalOnPostgresOptions): Promise<TemporalOnPostgres> {
  const log = opts.log ?? (() => {});
  const { binaries, postgres } = opts;
  await mkdir(path.join(opts.dir, 'config'), { recursive: true });

  const schemaStarted = Date.now();
  for (const db of DATABASES) await setUpDatabase(binaries, postgres, db.name, path.join(binaries.postgresSchemaDir, db.schema, 'versioned'));
  const schemaMs = Date.now() - schemaStarted;
  log(`schema set up in ${schemaMs}ms (databases ${DATABASES.map((d) => d.name).join(', ')})`);

  const [frontend, frontendHttp, frontendMembership, historyPort, historyMembership, matchingPort, matchingMembership, workerPort, workerMembership] = (await freePorts(9)) as [
    number, number, number, number, number, number, number, number, number,
  ];
  const address = `127.0.0.1:${frontend}`;
  const dynamicConfigFile = path.join(opts.dir, 'config', 'dynamicconfig.yaml');
  // JSON is YAML, and the server's loader reads it the same; no YAML writer needed.
  await writeFile(dynamicConfigFile, JSON.stringify(dynamicConfig(), null, 2));
  await writeFile(
    path.join(opts.dir, 'config', 'darkroom.yaml'),
    JSON.stringify(
      serverConfig({
        postgres,
        numHistoryShards: opts.numHistoryShards ?? 4,
        dynamicConfigFile,
        frontend: { grpcPort: frontend, membershipPort: frontendMembership, httpPort: frontendHttp },
        history: { grpcPort: historyPort, membershipPort: historyMembership },
        matching: { grpcPort: matchingPort, membershipPort: matchingMembership },
        worker: { grpcPort: workerPort, membershipPort: workerMembership },
      }),
      null,
      2,
    ),
  );

  const logFile = path.join(opts.dir, 'temporal-server.log');
  const logStream = createWriteStream(logFile, { flags: 'a' });
  const started = Date.now();
  const child = spawn(binaries.server, ['--root', opts.dir, '--config', 'config', '--env', 'darkroom', '--allow-no-auth', 'start'], {
    env: { ...process.env, TEMPORAL_VERSION_CHECK_DISABLED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const collect = (chunk: Buffer) => {
    logStream.write(chunk);
    tail = (tail + chunk.toString()).slice(-8000);
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  const exited = new Promise<void>((resolve) =>
    child.once('close', () => {
      process.off('exit', killOnExit);
      logStream.end();
      resolve();
    }),
  );
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= stopChild(child, exited));

  const waiting = { over: false };
  try {
    await Promise.race([
      register(address, opts.readyTimeoutMs ?? 120_000, waiting),
      exited.then(() => {
        if (waiting.over) return;
        throw new TemporalOnPostgresError(`temporal-server exited before it was ready (exit code ${child.exitCode}). Its last output:\n${tail.slice(-3000)}`, tail);
      }),
      new Promise<void>((_, reject) => child.once('error', (err) => reject(new TemporalOnPostgresError(`could not run ${binaries.server}: ${err.message}`)))),
    ]);
  } catch (err) {
    await stop();
    if (err instanceof TemporalOnPostgresError) throw err;
    throw new TemporalOnPostgresError(`${(err as Error).message}. The server's last output (full log ${logFile}):\n${tail.slice(-3000)}`, tail);
  } finally {
    waiting.over = true;
  }
  const startMs = Date.now() - started;
  log(`temporal-server on ${address} ready in ${startMs}ms (pid ${child.pid}, log ${logFile})`);
  return { address, pid: child.pid!, logFile, timings: { schemaMs, startMs }, stop };
}

/** create-database, setup-schema -v 0.0 (the version table), update-schema to the newest version. */
async function setUpDatabase(binaries: TemporalServerBinaries, pg: Pick<Postgres, 'host' | 'port' | 'user'>, database: string, versionedDir: string): Promise<void> {
  const common = ['--plugin', 'postgres12', '--endpoint', pg.host, '--port', String(pg.port), '--user', pg.user, '--database', database];
  for (const args of [['create-database', '--defaultdb', 'postgres'], ['setup-schema', '-v', '0.0'], ['update-schema', '-d', versionedDir]]) {
    try {
      await execFileAsync(binaries.sqlTool, [...common, ...args], { timeout: 120_000, maxBuffer: 16 << 20 });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      const out = `${e.stdout ?? ''}${e.stderr ?? ''}`.slice(-3000);
      throw new TemporalOnPostgresError(`temporal-sql-tool ${args[0]} on database ${database} failed: ${e.message.split('\n')[0]}\n${out}`, out);
    }
  }
}

interface ServicePorts {
  grpcPort: number;
  membershipPort: number;
  httpPort?: number;
}

/** The server config: one cluster, PostgreSQL for the default and the visibility store. */
function serverConfig(a: {
  postgres: Pick<Postgres, 'host' | 'port' | 'user'>;
  numHistoryShards: number;
  dynamicConfigFile: string;
  frontend: ServicePorts;
  history: ServicePorts;
  matching: ServicePorts;
  worker: ServicePorts;
}) {
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${a.postgres.host}:${a.postgres.port}`,
      connectProtocol: 'tcp',
      user: a.postgres.user,
      password: '',
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const service = (ports: ServicePorts) => ({ rpc: { ...ports, bindOnLocalHost: true } });
  return {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: a.numHistoryShards,
      datastores: { 'postgres-default': store('temporal', 20), 'postgres-visibility': store('temporal_visibility', 5) },
    },
    global: { membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' } },
    services: { frontend: service(a.frontend), history: service(a.history), matching: service(a.matching), worker: service(a.worker) },
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: `127.0.0.1:${a.frontend.grpcPort}` } },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    dynamicConfigClient: { filepath: a.dynamicConfigFile, pollInterval: '10s' },
  };
}

/** The dev server's settings that matter to Darkroom, in the server's dynamic config format. */
function dynamicConfig(): Record<string, Array<{ value: unknown }>> {
  const settings: Record<string, Array<{ value: unknown }>> = {
    'frontend.enableServerVersionCheck': [{ value: false }],
    // Search attributes registered a moment ago are visible to the next call.
    'system.forceSearchAttributesCacheRefreshOnRead': [{ value: true }],
  };
  for (const kv of SERVER_SETTINGS) {
    const [key, value] = kv.split('=') as [string, string];
    settings[key] = [{ value: value === 'true' || value === 'false' ? value === 'true' : Number(value) }];
  }
  return settings;
}

/**
 * Waits for the frontend, registers `default` (the server does not create it) and the search
 * attributes, and returns once both are visible. Each probe has a short deadline and no retry
 * interceptor, so a server still booting costs one probe interval, not the SDK's backoff.
 */
async function register(address: string, timeoutMs: number, waiting: { over: boolean }): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const namespace = 'default';
  let lastProblem = 'nothing listening yet';
  while (Date.now() < deadline && !waiting.over) {
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: 2000, interceptors: [] });
      const conn = connection;
      const call = <T>(fn: () => Promise<T>) => conn.withDeadline(Date.now() + 5000, fn);
      await call(() => conn.workflowService.getSystemInfo({}));
      const described = await call(() => conn.workflowService.describeNamespace({ namespace })).catch((err: { code?: number }) => {
        if (err.code === 5) return undefined; // NOT_FOUND
        throw err;
      });
      if (!described) {
        await call(() => conn.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') })).catch((err: { code?: number }) => {
          if (err.code !== 6) throw err; // ALREADY_EXISTS: an earlier probe's call got through
        });
        throw new Error('namespace default registered, waiting for it to be visible');
      }
      const { customAttributes } = await call(() => conn.operatorService.listSearchAttributes({ namespace }));
      const missing = Object.entries(SEARCH_ATTRIBUTES).filter(([name, type]) => customAttributes?.[name] !== INDEXED_VALUE_TYPE[type]);
      if (missing.length === 0) return;
      await call(() =>
        conn.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map(([name, type]) => [name, INDEXED_VALUE_TYPE[type]])) }),
      );
      lastProblem = `search attributes added, waiting for them to be visible: ${missing.map(([n]) => n).join(', ')}`;
    } catch (err) {
      lastProblem = (err as Error).message;
    } finally {
      await connection?.close().catch(() => {});
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`temporal-server on ${address} was not ready after ${timeoutMs}ms (last: ${lastProblem})`);
}

/**
 * `n` distinct ports nobody listens on right now: all held open at once, then let go. Below
 * 32768, because the cluster_membership table keeps a service's membership port in a smallint,
 * and port 0 hands out ephemeral ports above it.
 */
async function freePorts(n: number): Promise<number[]> {
  const held: net.Server[] = [];
  try {
    while (held.length < n) {
      const port = 10_000 + Math.floor(Math.random() * 22_000);
      const srv = await new Promise<net.Server | undefined>((resolve) => {
        const s = net.createServer();
        s.once('error', () => resolve(undefined));
        s.listen(port, '127.0.0.1', () => resolve(s));
      });
      if (srv) held.push(srv);
    }
    return held.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(held.map((s) => new Promise((r) => s.close(r))));
  }
}
