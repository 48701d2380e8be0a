import type { Config } from '../domain/config';

/**
 * Base URL of the Temporal Web UI for this configuration's namespace: `TEMPORAL_UI_URL` when set
 * (a cluster's UI behind its own host name), else Temporal's own convention for a dev server, the
 * frontend's host on its gRPC port + 1000 (8233 for the default 7233).
 */
export function temporalUi(config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_NAMESPACE' | 'TEMPORAL_UI_URL'>): string {
  const namespace = `namespaces/${encodeURIComponent(config.TEMPORAL_NAMESPACE)}`;
  if (config.TEMPORAL_UI_URL) return `${config.TEMPORAL_UI_URL.replace(/\/+$/, '')}/${namespace}`;
  const match = /^(?<host>\[[^\]]+\]|[^:]+)(?::(?<port>\d+))?$/.exec(config.TEMPORAL_ADDRESS);
  const host = match?.groups?.host ?? 'localhost';
  const port = Number(match?.groups?.port ?? 7233) + 1000;
  return `http://${host === '127.0.0.1' ? 'localhost' : host}:${port}/${namespace}`;
}

/** The Web UI page of one workflow. */
export const uiWorkflow = (config: Parameters<typeof temporalUi>[0], workflowId: string) => `${temporalUi(config)}/workflows/${encodeURIComponent(workflowId)}`;

/** The Web UI's workflow list, filtered by a visibility query. */
export const uiQuery = (config: Parameters<typeof temporalUi>[0], query: string) => `${temporalUi(config)}/workflows?query=${encodeURIComponent(query)}`;
