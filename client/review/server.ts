/**
 * The reviewer tool: a small node:http server that lists the briefs awaiting review, shows
 * each one's candidates, and sends reviewers' decisions to the workflow through the `review`
 * update. It talks to Temporal only through @temporalio/client and reads images only through
 * the BlobStore.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { BlobNotFoundError, InvalidBlobKeyError, type BlobStore } from '../../activities/blob-store/types';
import type { ReviewDecision } from '../../domain/review';
import {
  bulkApprove, decide, DecisionRefusedError, getBrief, InvalidFilterError, listAwaiting, NoWorkerError, VisibilityQueryError,
} from './actions';
import { Auth } from './auth';
import { BlobRequestError, ImageServer, keyFromRawPath, parseThumbWidth } from './blobs';
import { briefFragmentData, briefPage, errorPage, loginNeededPage, queueFragment, queuePage, type QueueData } from './pages';

export interface ReviewServerOptions {
  /** Talks to the Temporal namespace the briefs run in. The caller keeps ownership (and closes it). */
  client: Client;
  /** Where the candidates' images are. */
  blobs: BlobStore;
  /** The shared secret of the login link and of `Authorization: Bearer`; at least 16 characters. */
  token: string;
  /** 0 picks a free port. @default 0 */
  port?: number;
  /** Interface to listen on. Anything but loopback exposes the tool to the network. @default 127.0.0.1 */
  host?: string;
  /** Only list briefs on this task queue. @default every task queue */
  taskQueue?: string;
  /** Where unexpected errors are reported. @default nowhere */
  log?: (line: string) => void;
}

export interface ReviewServer {
  /** `http://host:port/` */
  url: string;
  /** The link that logs a browser in: `http://host:port/login?token=…`. */
  loginUrl: string;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function securityHeaders(res: ServerResponse, nonce: string): void {
  res.setHeader('Content-Security-Policy', `default-src 'none'; img-src 'self'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', ...headers });
  res.end(body);
}

const sendHtml = (res: ServerResponse, status: number, html: string) => send(res, status, 'text/html; charset=utf-8', html);
const sendJson = (res: ServerResponse, status: number, value: unknown) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));

async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) throw new HttpError(415, 'send JSON (Content-Type: application/json)');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).byteLength;
    if (size > MAX_BODY) throw new HttpError(413, `the body may be at most ${MAX_BODY / 1024} KiB`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
}

/** `host:port` as a URL authority (IPv6 in brackets; wildcard addresses as localhost). */
function authority(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
}

/**
 * Starts the reviewer tool.
 *
 * Every request but `/login` needs the token (the login cookie or `Authorization: Bearer`);
 * every state change is a POST that also needs the `X-Darkroom: 1` header.
 */
export async function startReviewServer(opts: ReviewServerOptions): Promise<ReviewServer> {
  const { client, taskQueue } = opts;
  const auth = new Auth(opts.token);
  const images = new ImageServer(opts.blobs);
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});

  async function queueData(filter: string | undefined): Promise<{ data: QueueData; status: number }> {
    try {
      return { data: { filter, briefs: await listAwaiting(client, filter, { taskQueue }) }, status: 200 };
    } catch (err) {
      if (err instanceof InvalidFilterError) return { data: { filter, error: err.message }, status: 400 };
      if (err instanceof VisibilityQueryError) return { data: { filter, error: `Temporal refused the filter: ${err.message}` }, status: 400 };
      throw err;
    }
  }

  async function route(req: IncomingMessage, res: ServerResponse, nonce: string): Promise<void> {
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const rawPath = q < 0 ? raw : raw.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
    const method = req.method ?? 'GET';
    const isApi = rawPath.startsWith('/api/');

    if (!rawPath.startsWith('/') || rawPath.split('/').some((seg) => seg === '..' || seg === '.')) throw new HttpError(400, 'bad path');

    if (rawPath === '/login') {
      if (method !== 'GET') throw new HttpError(405, 'GET only');
      if (!auth.checkToken(params.get('token'))) return sendHtml(res, 401, loginNeededPage(nonce, params.has('token')));
      res.setHeader('Set-Cookie', auth.sessionCookie(false));
      res.writeHead(303, { Location: '/', 'Cache-Control': 'no-store' });
      return void res.end();
    }
    if (rawPath === '/favicon.ico') return void res.writeHead(204).end();

    if (!auth.isAuthenticated(req)) {
      if (isApi || method !== 'GET') return sendJson(res, 401, { error: 'login needed: open the login link that `darkroom review` printed, or send Authorization: Bearer <token>' });
      if (rawPath.startsWith('/blobs/')) return send(res, 401, 'text/plain; charset=utf-8', 'login needed');
      return sendHtml(res, 401, loginNeededPage(nonce));
    }

    if (method === 'POST') {
      // A cross-site form cannot set a custom header, and a cross-site script that tries must
      // pass a CORS preflight this server never answers.
      if (!Auth.hasCsrfHeader(req)) throw new HttpError(403, 'state changes need the X-Darkroom: 1 header');
      const origin = req.headers.origin;
      if (origin && origin !== 'null' && origin !== `http://${req.headers.host}`) throw new HttpError(403, `cross-origin request from ${origin} refused`);
      if (origin === 'null') throw new HttpError(403, 'cross-origin request refused');
    } else if (method !== 'GET' && method !== 'HEAD') {
      throw new HttpError(405, `${method} is not allowed`);
    }

    // ── pages ──
    if (rawPath === '/') {
      if (method !== 'GET') throw new HttpError(405, 'GET only');
      const { data, status } = await queueData(params.get('filter') ?? undefined);
      return sendHtml(res, status, queuePage(data, nonce));
    }
    let m = /^\/briefs\/([^/]+)$/.exec(rawPath);
    if (m) {
      if (method !== 'GET') throw new HttpError(405, 'GET only');
      const id = decodeId(m[1]!);
      try {
        return sendHtml(res, 200, briefPage(await getBrief(client, id), nonce));
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return sendHtml(res, 404, errorPage(nonce, 'No such brief', `There is no workflow ${id} in this namespace.`));
        throw err;
      }
    }

    // ── images ──
    if (rawPath.startsWith('/blobs/')) {
      if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'GET only');
      const key = keyFromRawPath(rawPath.slice('/blobs/'.length));
      const img = await images.serve(key, parseThumbWidth(params.get('w')));
      const headers = { ETag: img.etag, 'Cache-Control': 'private, max-age=300', 'Content-Disposition': 'inline' };
      if (req.headers['if-none-match'] === img.etag) return void res.writeHead(304, headers).end();
      res.writeHead(200, { 'Content-Type': img.mime, 'Content-Length': String(img.body.byteLength), ...headers });
      return void res.end(method === 'HEAD' ? undefined : img.body);
    }

    // ── JSON API ──
    if (rawPath === '/api/queue') {
      if (method !== 'GET') throw new HttpError(405, 'GET only');
      const { data, status } = await queueData(params.get('filter') ?? undefined);
      if (params.get('view') === '1') return sendJson(res, status, { html: queueFragment(data), error: data.error });
      return sendJson(res, status, data.error ? { error: data.error } : { briefs: data.briefs });
    }
    if (rawPath === '/api/bulk-approve') {
      if (method !== 'POST') throw new HttpError(405, 'POST only');
      const body = await readJson(req);
      if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'send {"minScore": 80, "filter"?: "...", "dryRun"?: true}');
      const b = body as Record<string, unknown>;
      if (typeof b.minScore !== 'number' || !Number.isFinite(b.minScore) || b.minScore < 0 || b.minScore > 100) throw new HttpError(400, 'minScore must be a number from 0 to 100');
      if (b.filter !== undefined && typeof b.filter !== 'string') throw new HttpError(400, 'filter must be text');
      if (b.dryRun !== undefined && typeof b.dryRun !== 'boolean') throw new HttpError(400, 'dryRun must be true or false');
      if (b.reviewer !== undefined && (typeof b.reviewer !== 'string' || b.reviewer.length > 200)) throw new HttpError(400, 'reviewer must be a name of at most 200 characters');
      try {
        const result = await bulkApprove(client, {
          filter: b.filter as string | undefined,
          minScore: b.minScore,
          dryRun: b.dryRun as boolean | undefined,
          reviewer: (b.reviewer as string | undefined)?.trim() || 'reviewer',
          taskQueue,
        });
        return sendJson(res, 200, result);
      } catch (err) {
        if (err instanceof InvalidFilterError) throw new HttpError(400, err.message);
        if (err instanceof VisibilityQueryError) throw new HttpError(400, `Temporal refused the filter: ${err.message}`);
        throw err;
      }
    }
    m = /^\/api\/briefs\/([^/]+)(\/review)?$/.exec(rawPath);
    if (m) {
      const id = decodeId(m[1]!);
      try {
        if (!m[2]) {
          if (method !== 'GET') throw new HttpError(405, 'GET only');
          const view = await getBrief(client, id);
          return sendJson(res, 200, params.get('view') === '1' ? briefFragmentData(view) : view);
        }
        if (method !== 'POST') throw new HttpError(405, 'POST only');
        const body = await readJson(req);
        const decision = (body && typeof body === 'object' && !Array.isArray(body) ? { ...body } : body) as ReviewDecision;
        if (decision && typeof decision === 'object' && (decision.reviewer === undefined || decision.reviewer === '')) decision.reviewer = 'reviewer';
        const ack = await decide(client, id, decision);
        return sendJson(res, 200, ack);
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new HttpError(404, `no workflow ${id} in this namespace`);
        if (err instanceof DecisionRefusedError) throw new HttpError(409, err.message);
        if (err instanceof NoWorkerError) throw new HttpError(504, err.message);
        throw err;
      }
    }
    throw new HttpError(404, 'not found');
  }

  const server = createServer((req, res) => {
    const nonce = randomBytes(16).toString('base64');
    securityHeaders(res, nonce);
    route(req, res, nonce).catch((err: unknown) => {
      let status = 500;
      let message = (err as Error)?.message ?? String(err);
      if (err instanceof HttpError) status = err.status;
      else if (err instanceof BlobRequestError) status = err.status;
      else if (err instanceof InvalidBlobKeyError) status = 400;
      else if (err instanceof BlobNotFoundError) status = 404;
      else log(`darkroom review: ${req.method} ${req.url}: ${(err as Error)?.stack ?? message}`);
      if (status === 500) message = `internal error: ${message}`;
      if (res.headersSent) return void res.end();
      const wantsHtml = req.method === 'GET' && !(req.url ?? '').startsWith('/api/') && !(req.url ?? '').startsWith('/blobs/');
      if (wantsHtml) sendHtml(res, status, errorPage(nonce, status === 404 ? 'Not found' : 'Something went wrong', message));
      else if ((req.url ?? '').startsWith('/blobs/')) send(res, status, 'text/plain; charset=utf-8', message);
      else sendJson(res, status, { error: message });
    });
  });
  server.headersTimeout = 20_000;
  server.requestTimeout = 60_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new Error(`port ${opts.port} on ${host} is already in use: choose another with --port`, { cause: err }) : err);
    };
    server.once('error', onError);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${authority(host, port)}/`;
  return {
    url,
    loginUrl: `${url}login?token=${encodeURIComponent(opts.token)}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

function decodeId(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'bad workflow id in the path');
  }
}
