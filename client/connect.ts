import { Client, Connection } from '@temporalio/client';
import type { Config } from '../domain/config';
import { CliError } from './errors';

/** Connects to Temporal, or explains how to get a server running. */
export async function connectClient(config: Config): Promise<Client> {
  try {
    const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS, connectTimeout: '3s' });
    return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  } catch (err) {
    throw new CliError(
      `cannot reach a Temporal server at ${config.TEMPORAL_ADDRESS} (${(err as Error).message}).\n` +
        `Start one with "npm run server" (and a worker with "npm run worker"), or set TEMPORAL_ADDRESS.`,
      3,
      { cause: err },
    );
  }
}
