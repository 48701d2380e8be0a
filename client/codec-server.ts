/**
 * `darkroom codec-server`: Temporal's remote codec protocol over HTTP, so the Web UI and the
 * temporal CLI can show encrypted payloads decrypted (and encode input they send) without the
 * keys ever leaving this process. POST /decode and POST /encode take and return
 * `{ "payloads": [{ "metadata": { "<key>": "<base64>" }, "data": "<base64>" }] }`. Every call
 * needs the token: `Authorization: Bearer <token>` (the CLI's --codec-auth), or as the path
 * segment before the operation (`http://host:port/<token>` as the UI's codec endpoint).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { safeEqual } from './review/auth';

/** The port `darkroom codec-server` listens on unless told otherwise. */
export const DEFAULT_CODEC_PORT = 8235;

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** The token every encode/decode request must carry (Bearer header or path segment). A secret. */
  token: string;
  /** The one namespace served; a request whose X-Namespace names another is refused. */
  namespace: string;
  /** Browser origins allowed to call it (the Temporal UI's), e.g. `http://localhost:8233`. */
  corsOrigins: readonly string[];
  /** @default 127.0.0.1 */
  host?: string;
  /** 0 picks a free port. @default 8235 */
  port?: number;
  /** Largest request body read. @default 8388608 (8 MiB) */
  maxBodyBytes?: number;
  /** Where one line per refused or failed request goes (never a payload or the token). */
  log?: (line: string) => void;
}

export interface CodecServer {
  /** `http://host:port`, the value of --codec-endpoint and the UI's codec endpoint. */
  url: string;
  close(): Promise<void>;
}

const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, { error: 'must be base64' });
const Body = z.object({
  payloads: z.array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() }).loose()),
});

const ALLOWED_HEADERS = 'Authorization, Content-Type, X-Namespace';

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function toPayload(p: z.output<typeof Body>['payloads'][number]): Payload {
  const metadata: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) metadata[k] = new Uint8Array(Buffer.from(v, 'base64'));
  return { metadata, data: new Uint8Array(Buffer.from(p.data ?? '', 'base64')) };
}

function fromPayload(p: Payload): { metadata: Record<string, string>; data: string } {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {})) if (v) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}

async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new HttpError(413, `request body over ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `request body over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Starts the codec server; resolves once it listens. */
export async function startCodecServer(opts: CodecServerOptions): Promise<CodecServer> {
  const host = opts.host ?? '127.0.0.1';
  const limit = opts.maxBodyBytes ?? 8 * 1024 * 1024;
  const origins = new Set(opts.corsOrigins.map((o) => new URL(o).origin));
  const log = opts.log ?? (() => {});

  const cors = (req: IncomingMessage, res: ServerResponse): boolean => {
    const origin = req.headers.origin;
    res.setHeader('Vary', 'Origin');
    if (!origin || !origins.has(origin)) return false;
    res.setHeader('Access-Control-Allow-Origin', origin);
    // The UI's "include cross-origin credentials" setting sends cookies; allowing it costs nothing here.
    res.setHeader('Access-Control-Allow-Credentials', 'true');
    return true;
  };

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const allowedOrigin = cors(req, res);
    // Only the last segment names the operation (the protocol lets a server be mounted at any depth).
    const segments = new URL(req.url ?? '/', 'http://x').pathname.split('/').filter(Boolean);
    const last = segments.at(-1);
    const op = last === 'encode' ? 'encode' : last === 'decode' ? 'decode' : undefined;
    if (req.method === 'OPTIONS') {
      if (req.headers.origin && !allowedOrigin) throw new HttpError(403, `origin ${req.headers.origin} is not allowed (see --cors-origin)`);
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'POST, OPTIONS',
        'Access-Control-Allow-Headers': ALLOWED_HEADERS,
        'Access-Control-Max-Age': '600',
      });
      res.end();
      return;
    }
    if (!op) throw new HttpError(404, 'not found: POST /encode or /decode');
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST, OPTIONS');
      throw new HttpError(405, `${op} takes POST`);
    }
    // The Web UI sends an Authorization header only from its own login, so it may carry the
    // token as the path segment before the operation instead: endpoint http://host:port/<token>.
    const auth = req.headers.authorization ?? '';
    const pathToken = segments.length >= 2 ? decodeURIComponent(segments.at(-2)!) : undefined;
    if (!safeEqual(auth, `Bearer ${opts.token}`) && !(pathToken !== undefined && safeEqual(pathToken, opts.token))) {
      res.setHeader('WWW-Authenticate', 'Bearer');
      throw new HttpError(401, 'missing or wrong Authorization: Bearer <token>');
    }
    const namespace = req.headers['x-namespace'];
    if (typeof namespace === 'string' && namespace !== '' && namespace !== opts.namespace) {
      throw new HttpError(403, `this codec server serves namespace ${opts.namespace}, not ${namespace}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(await readBody(req, limit));
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(400, 'the body is not JSON');
    }
    const parsed = Body.safeParse(json);
    if (!parsed.success) {
      throw new HttpError(400, `the body must be {"payloads": [{"metadata": {…}, "data": "<base64>"}]}: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`);
    }
    const payloads = parsed.data.payloads.map(toPayload);
    let out: Payload[];
    try {
      out = op === 'encode' ? await opts.codec.encode(payloads) : await opts.codec.decode(payloads);
    } catch (err) {
      throw new HttpError(422, `cannot ${op}: ${(err as Error).message}`);
    }
    send(res, 200, { payloads: out.map(fromPayload) });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof HttpError ? err.message : 'internal error';
      // Never the URL itself: it may carry the token.
      const what = `${req.method} …/${new URL(req.url ?? '/', 'http://x').pathname.split('/').filter(Boolean).at(-1) ?? ''}`;
      if (status >= 500) log(`codec-server: ${what}: ${(err as Error).message}`);
      else if (status !== 404) log(`codec-server: ${what}: ${status} ${message}`);
      if (res.headersSent) return res.destroy();
      // Stop reading a body that is too large; the client still gets the answer.
      if (status === 413) res.setHeader('Connection', 'close');
      send(res, status, { error: message });
    });
  });
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? DEFAULT_CODEC_PORT, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
