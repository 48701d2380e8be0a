/**
 * A throwaway PostgreSQL server for the deployment test: `initdb` into a temp dir, `postgres` on
 * 127.0.0.1 and a free port, trust authentication, removed on stop. It runs the distribution's
 * own binaries (Debian: `apt-get install postgresql`, under /usr/lib/postgresql/<major>/bin).
 *
 * PostgreSQL refuses to run as root; as root, initdb and the server run as the `postgres` user
 * the package creates (Node's spawn drops to its uid), and the temp dir is handed to that user.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { constants as fsConstants } from 'node:fs';
import { access, chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort, stopChild } from './dev-server';

const execFileAsync = promisify(execFile);

export interface StartPostgresOptions {
  /** Environment to read POSTGRES_BIN_DIR and PATH from. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** The superuser initdb creates; trust authentication, so no password. @default 'temporal' */
  user?: string;
  /** Progress messages. @default silent */
  log?: (msg: string) => void;
  /** How long to wait for the server to accept connections. @default 60_000 */
  readyTimeoutMs?: number;
}

export interface Postgres {
  host: '127.0.0.1';
  port: number;
  user: string;
  /** The server's major version, e.g. `15`. */
  version: string;
  /** The temp dir holding the cluster (data/) and the unix socket. */
  dir: string;
  pid: number;
  /** Fast shutdown, then the temp dir is removed. Safe to call twice. */
  stop(): Promise<void>;
}

/** No PostgreSQL binaries were found, or initdb/postgres failed. */
export class PostgresError extends Error {
  override readonly name = 'PostgresError';
  constructor(
    message: string,
    /** What the failing command printed last. */
    readonly outputTail = '',
  ) {
    super(message);
  }
}

/**
 * The directory with `initdb` and `postgres`: POSTGRES_BIN_DIR, else the newest
 * /usr/lib/postgresql/<major>/bin (Debian, Ubuntu), else the directory of `initdb` on PATH.
 */
export async function findPostgresBinDir(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const hasBins = async (dir: string) => (await isExecutable(path.join(dir, 'initdb'))) && (await isExecutable(path.join(dir, 'postgres')));
  if (env.POSTGRES_BIN_DIR) {
    if (await hasBins(env.POSTGRES_BIN_DIR)) return env.POSTGRES_BIN_DIR;
    throw new PostgresError(`POSTGRES_BIN_DIR is set to ${env.POSTGRES_BIN_DIR}, but initdb and postgres are not there.`);
  }
  const majors = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
  for (const major of majors.sort((a, b) => Number(b) - Number(a))) {
    const dir = path.join('/usr/lib/postgresql', major, 'bin');
    if (await hasBins(dir)) return dir;
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && (await hasBins(dir))) return dir;
  }
  throw new PostgresError(
    'No PostgreSQL server binaries found (the deployment test runs Temporal on PostgreSQL). Either:\n' +
      '  - install them: apt-get install postgresql (Debian/Ubuntu), or\n' +
      '  - set POSTGRES_BIN_DIR to the directory holding initdb and postgres.',
  );
}

export async function startPostgres(opts: StartPostgresOptions = {}): Promise<Postgres> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => {});
  const user = opts.user ?? 'temporal';
  const binDir = await findPostgresBinDir(env);
  const runAs = await postgresRunAs();

  const dir = await mkdtemp(path.join(os.tmpdir(), 'darkroom-pg-'));
  const dataDir = path.join(dir, 'data');
  let child: ChildProcess | undefined;
  let tail = '';
  const keep = (c: Buffer) => (tail = (tail + c.toString()).slice(-4000));
  try {
    if (runAs) await chown(dir, runAs.uid, runAs.gid);
    const childEnv = { PATH: env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C', ...(runAs ? { HOME: dir, USER: 'postgres' } : { HOME: env.HOME }) };
    try {
      await execFileAsync(path.join(binDir, 'initdb'), ['-D', dataDir, '-U', user, '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync', '--no-instructions'], {
        env: childEnv,
        cwd: dir,
        ...runAs,
      });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new PostgresError(`initdb failed: ${e.message}`, `${e.stdout ?? ''}${e.stderr ?? ''}`);
    }
    const version = (await execFileAsync(path.join(binDir, 'postgres'), ['--version'], { env: childEnv })).stdout.trim().match(/(\d+)(\.\d+)?/)?.[1] ?? 'unknown';

    const port = await freePort();
    // fsync off: the cluster is thrown away, and the test should not wait on the disk.
    child = spawn(path.join(binDir, 'postgres'), ['-D', dataDir, '-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'max_connections=200'], {
      env: childEnv,
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      ...runAs,
    });
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const proc = child;
    const exited = new Promise<void>((resolve) => (proc.exitCode !== null || proc.signalCode !== null ? resolve() : proc.once('exit', () => resolve())));
    // Immediate shutdown if this process exits without calling stop().
    const onExit = () => proc.kill('SIGQUIT');
    process.once('exit', onExit);

    const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new PostgresError(`postgres exited (${proc.exitCode ?? proc.signalCode}) before accepting connections:\n${tail}`, tail);
      if (await canConnect(port)) {
        try {
          await execFileAsync(path.join(binDir, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', user], { env: childEnv });
          break;
        } catch {
          /* starting up */
        }
      }
      if (Date.now() > deadline) throw new PostgresError(`postgres did not accept connections on 127.0.0.1:${port} in time:\n${tail}`, tail);
      await new Promise((r) => setTimeout(r, 100));
    }
    log(`PostgreSQL ${version} on 127.0.0.1:${port} (pid ${proc.pid}, data ${dataDir}${runAs ? ', as user postgres' : ''})`);

    let stopping: Promise<void> | undefined;
    return {
      host: '127.0.0.1',
      port,
      user,
      version,
      dir,
      pid: proc.pid!,
      stop: () =>
        (stopping ??= (async () => {
          process.off('exit', onExit);
          await stopChild(proc, exited, 'SIGINT'); // SIGINT: fast shutdown, no waiting for clients to disconnect
          await rm(dir, { recursive: true, force: true });
        })()),
    };
  } catch (err) {
    child?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

/** As root, the `postgres` account's uid/gid (initdb and postgres refuse root); otherwise run as ourselves. */
async function postgresRunAs(): Promise<{ uid: number; gid: number } | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const [uid, gid] = await Promise.all([execFileAsync('id', ['-u', 'postgres']), execFileAsync('id', ['-g', 'postgres'])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    throw new PostgresError('Running as root, and there is no `postgres` user to run PostgreSQL as (it refuses root). Install the postgresql package, which creates it, or run as another user.');
  }
}

async function isExecutable(file: string): Promise<boolean> {
  return access(file, fsConstants.X_OK).then(() => true, () => false);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

