/**
 * A small HTTP proxy in front of an S3-compatible server that fails a seeded share of writes
 * (PUT, and POST for multipart create/complete) the ways a flaky network or an overloaded store
 * does. Headers go through untouched (the Host header too, so SigV4 signatures still verify).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * - `500`, `503`: an S3 error answer (InternalError, SlowDown) before the server sees the request;
 * - `reset`: the connection dropped after the body was read, before the server sees it;
 * - `truncated`: half the body sent to the server, then both connections dropped;
 * - `lostAnswer`: the server stores it, and the connection drops before its answer reaches the client.
 */
export type WriteFault = 500 | 503 | 'reset' | 'truncated' | 'lostAnswer';

export interface FaultProxy {
  /** `http://127.0.0.1:<port>`, for the S3 client's endpoint. */
  endpoint: string;
  /** Write requests seen, and how many of each fault were injected. */
  counts(): { writes: number; faults: Record<string, number> };
  close(): Promise<void>;
}

const S3_ERRORS = { 500: ['InternalError', 'We encountered an internal error. Please try again.'], 503: ['SlowDown', 'Please reduce your request rate.'] } as const;

/** Starts the proxy to `target` (`http://host:port`); `faultFor(i)` decides the i-th write (0-based). */
export async function startFaultProxy(target: string, faultFor: (index: number) => WriteFault | undefined): Promise<FaultProxy> {
  const upstream = new URL(target);
  let writes = 0;
  const faults: Record<string, number> = {};
  const forward = (req: http.IncomingMessage, onResponse: (res: http.IncomingMessage) => void) => {
    const out = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, onResponse);
    out.on('error', () => req.socket.destroy());
    return out;
  };
  const server = http.createServer((req, res) => {
    const isWrite = req.method === 'PUT' || req.method === 'POST';
    const fault = isWrite ? faultFor(writes++) : undefined;
    if (fault !== undefined) faults[String(fault)] = (faults[String(fault)] ?? 0) + 1;
    if (fault === 500 || fault === 503) {
      req.resume();
      req.on('end', () => {
        const [code, message] = S3_ERRORS[fault];
        const xml = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId></Error>`;
        res.writeHead(fault, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) }).end(xml);
      });
      return;
    }
    if (fault === 'reset') {
      req.resume();
      req.on('end', () => req.socket.destroy());
      return;
    }
    if (fault === 'truncated') {
      const out = forward(req, () => undefined);
      const length = Number(req.headers['content-length'] ?? 0);
      let sent = 0;
      req.on('data', (chunk: Buffer) => {
        if (sent >= length / 2) return;
        out.write(chunk.subarray(0, Math.max(0, Math.ceil(length / 2) - sent)));
        sent += chunk.byteLength;
        if (sent >= length / 2) {
          out.destroy();
          req.socket.destroy();
        }
      });
      req.on('end', () => {
        out.destroy();
        req.socket.destroy();
      });
      return;
    }
    const out = forward(req, (up) => {
      if (fault === 'lostAnswer') {
        up.resume();
        up.on('end', () => req.socket.destroy());
        return;
      }
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts: () => ({ writes, faults: { ...faults } }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
