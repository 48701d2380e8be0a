import { Client, Connection } from '@temporalio/client';
import type { Config } from '../domain/config';
import { codecFromConfig, darkroomDataConverter } from '../temporal/codec';
import {
  checkNamespace,
  explainConnectFailure,
  NamespaceNotFoundError,
  TemporalAuthError,
  temporalConnectionOptions,
  type TemporalConnectionConfig,
} from '../temporal/connection';
import { CliError } from './errors';

/** What the CLI connects with: the server, its TLS or API key, and the payload keys. */
export type ConnectConfig = TemporalConnectionConfig & Partial<Pick<Config, 'DARKROOM_CODEC_KEYS'>>;

/**
 * Connects to Temporal, trying again for up to `withinMs` (a server that has just started may
 * refuse the first connection), or explains how to get a server running. The namespace is
 * checked once connected, so a misspelt one fails here rather than on the first call. Payloads
 * are encrypted when DARKROOM_CODEC_KEYS is set.
 */
export async function connectClient(config: ConnectConfig, withinMs = 0): Promise<Client> {
  let options;
  let dataConverter;
  try {
    options = temporalConnectionOptions(config);
    dataConverter = darkroomDataConverter(codecFromConfig(config));
  } catch (err) {
    throw new CliError((err as Error).message, 2, { cause: err });
  }
  const deadline = Date.now() + withinMs;
  let connection: Connection;
  for (;;) {
    try {
      connection = await Connection.connect({ ...options, connectTimeout: '3s' });
      break;
    } catch (err) {
      if (Date.now() + 500 < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      throw unreachable(await explainConnectFailure(err, options), Boolean(options.tls), err);
    }
  }
  try {
    await checkNamespace(connection, config.TEMPORAL_NAMESPACE, config.TEMPORAL_ADDRESS);
  } catch (err) {
    await connection.close();
    if (err instanceof NamespaceNotFoundError) throw new CliError(err.message, 2, { cause: err });
    if (err instanceof TemporalAuthError) throw new CliError(err.message, 3, { cause: err });
    throw unreachable(await explainConnectFailure(err, options), Boolean(options.tls), err);
  }
  return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter });
}

function unreachable(explained: string, tls: boolean, err: unknown): CliError {
  // A TLS failure means a server answered; how to start a local one is beside the point then.
  const hint = tls || explained.includes('TEMPORAL_TLS=true') ? '' : '\nStart one with "npm run server" (and a worker with "npm run worker"), or set TEMPORAL_ADDRESS.';
  return new CliError(`${explained}${hint}`, 3, { cause: err });
}
