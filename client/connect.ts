import { Client, Connection } from '@temporalio/client';
import type { Config } from '../domain/config';
import { CliError } from './errors';

/**
 * Connects to Temporal, trying again for up to `withinMs` (a server that has just started may
 * refuse the first connection), or explains how to get a server running.
 */
export async function connectClient(config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE'>, withinMs = 0): Promise<Client> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS, connectTimeout: '3s' });
      return new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    } catch (err) {
      if (Date.now() + 500 < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      throw unreachable(config.TEMPORAL_ADDRESS, err);
    }
  }
}

function unreachable(address: string, err: unknown): CliError {
  return new CliError(
    `cannot reach a Temporal server at ${address} (${(err as Error).message}).\n` +
      `Start one with "npm run server" (and a worker with "npm run worker"), or set TEMPORAL_ADDRESS.`,
    3,
    { cause: err },
  );
}
