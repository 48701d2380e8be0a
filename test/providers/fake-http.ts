/**
 * The HTTP scaffolding the fake vendor servers share: a server on a free port of 127.0.0.1 that
 * reads each request's body, records the request, and hands it to the fake's own handler; and
 * a close() that drops every connection first, since a `timeout` fault leaves a request open
 * for ever and a plain close would wait for it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { RecordedRequest } from './contract/faults';

/** A request as the handler gets it, already recorded. */
export interface ReceivedRequest {
  /** The request URL, resolved against `http://fake`. */
  url: URL;
  method: string;
  /** Parsed JSON when the body was JSON, the raw text when it was not, undefined when empty. */
  body: unknown;
}

export interface RecordingServer {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `127.0.0.1:<port>` */
  host: string;
  /** Every request received, oldest first. */
  requests(): RecordedRequest[];
  /** Drops every connection, then stops listening. */
  close(): Promise<void>;
}

/**
 * Starts the server. `handler` answers each request; when it throws before anything was sent,
 * `onError` answers instead (a 500 in the vendor's own error format).
 */
export async function startRecordingServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, request: ReceivedRequest) => Promise<unknown>,
  onError: (res: http.ServerResponse, err: Error) => void,
): Promise<RecordingServer> {
  const recorded: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown = raw || undefined;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        // not JSON: recorded as text
      }
      const url = new URL(req.url ?? '/', 'http://fake');
      const method = req.method ?? 'GET';
      recorded.push({ method, path: url.pathname + url.search, headers: { ...req.headers }, body, at: Date.now() });
      void handler(req, res, { url, method, body }).catch((err: unknown) => {
        if (!res.headersSent) onError(res, err as Error);
      });
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests: () => [...recorded],
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}

/** Sends `body` as JSON, with its length; `headers` are added last, so they may replace the content type. */
export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}
