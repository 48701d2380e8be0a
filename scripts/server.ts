/**
 * `npm run server`: a Temporal dev server in the foreground for local work, with Darkroom's
 * search attributes and its state in `<DARKROOM_DATA_DIR>/temporal.sqlite`, so workflows
 * survive restarts. Ctrl-C stops it.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { parseConfig } from '../domain/config';
import { isServerReachable, splitAddress, startDevServer } from './dev-server';
import { ensureTemporalCli } from './temporal-cli';
import { checkArgs } from './cli-args';

checkArgs(import.meta.filename, {});

const log = (msg: string) => console.log(`[server] ${msg}`);

async function main(): Promise<number> {
  const config = parseConfig(process.env);
  const { host, port } = splitAddress(config.TEMPORAL_ADDRESS);

  if (await isServerReachable(config.TEMPORAL_ADDRESS)) {
    log(`a Temporal server is already running at ${config.TEMPORAL_ADDRESS}; nothing to do`);
    return 0;
  }

  const dataDir = path.resolve(config.DARKROOM_DATA_DIR);
  await mkdir(dataDir, { recursive: true });
  const dbFile = path.join(dataDir, 'temporal.sqlite');
  const logFile = path.join(dataDir, 'temporal-server.log');
  const cli = await ensureTemporalCli({ env: { ...process.env, TEMPORAL_CLI: config.TEMPORAL_CLI }, log });

  const server = await startDevServer({
    dbFile,
    port,
    // Temporal's own convention: the UI is the gRPC port + 1000 (8233 for the default 7233).
    uiPort: port + 1000,
    ip: host === 'localhost' ? '127.0.0.1' : host,
    namespace: config.TEMPORAL_NAMESPACE,
    cli,
    logFile,
    log,
  });

  const uiHost = host === 'localhost' || host === '127.0.0.1' || host === '0.0.0.0' ? 'localhost' : host;
  console.log(
    [
      '',
      `  Temporal gRPC  ${config.TEMPORAL_ADDRESS}   (namespace ${config.TEMPORAL_NAMESPACE})`,
      `  Web UI         http://${uiHost}:${port + 1000}`,
      `  State          ${dbFile}`,
      `  Server log     ${logFile}`,
      '',
      '  Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );

  const signal = await Promise.race([
    new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    }),
    server.exited.then(() => undefined),
  ]);
  if (!signal) {
    console.error(`[server] the Temporal server exited unexpectedly; see ${logFile}`);
    return 1;
  }
  log(`${signal}: stopping the Temporal server`);
  // A second Ctrl-C while stopping ends it at once.
  process.once('SIGINT', () => process.exit(130));
  await server.stop();
  log('stopped');
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`[server] ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
