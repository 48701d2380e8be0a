/**
 * The reviewer tool: a small node:http server that lists the briefs awaiting review, shows
 * each one's candidates, and sends reviewers' decisions to the workflow through the `review`
 * update. It talks to Temporal only through @temporalio/client and reads images only through
 * the BlobStore.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { BlobNotFoundError, BlobTooLargeError, InvalidBlobKeyError, UnsafeBlobError, type BlobStore } from '../../activities/blob-store/types';
import { workflowIdProblem } from '../../domain/naming';
import { clip, preview } from '../../domain/text';
import {
  bulkApprove, decide, DecisionRefusedError, getBrief, InvalidFilterError, listAwaiting, NoWorkerError, VisibilityQueryError,
} from './actions';
import { Auth } from './auth';
import { BlobRequestError, ImageServer, keyFromRawPath, parseThumbWidth, type ImageServerOptions } from './blobs';
import { briefFragmentData, briefPage, errorPage, loginNeededPage, queueFragment, queuePage, type QueueData } from './pages';
import { BodyError, BulkApproveBody, parseBody, parseDecision } from './requests';

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
  /**
   * The address people reach the tool at when that is not its own, e.g. `https://review.example.com`
   * behind a TLS proxy: decisions are accepted from its origin (and from the tool's own address),
   * the login link uses it, and an https one makes the session cookie `Secure`. It must be the
   * root of its host. @default the tool's own address
   */
  publicUrl?: string;
  /** How long a login lasts before the login link is needed again. @default 12 h */
  sessionTtlMs?: number;
  /** Bounds on image work: thumbnail source size, pixels, concurrency. */
  images?: ImageServerOptions;
  /** @default Date.now */
  clock?: () => number;
}

export interface ReviewServer {
  /** `http://host:port/` */
  url: string;
  /** The public URL's origin with a slash, when one was given. */
  publicUrl?: string;
  /** The link that logs a browser in: `<public URL or url>login?token=…`. */
  loginUrl: string;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;
/** Longer request targets are refused: no page or API of the tool needs one (a filter is at most 500 characters). */
const MAX_URL = 4096;
/** Any error text sent back is cut to this; what it quotes from the request is clipped further where it is built. */
const MAX_ERROR = 1000;

/**
 * The origin of a URL the tool can be served at: http(s), no credentials, at the root of its
 * host (its pages link to `/briefs/…`, so a path prefix would break them).
 * @throws Error saying what to write instead
 */
export function publicOrigin(publicUrl: string): string {
  const no = (why: string): never => {
    throw new Error(`the public URL ${preview(publicUrl)} ${why}: write the address people open, e.g. https://review.example.com`);
  };
  let u: URL | undefined;
  try {
    u = new URL(publicUrl);
  } catch {
    return no('is not a URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') no('must start with https:// or http://');
  if (u.username || u.password) no('must not hold a user name or password');
  if (u.pathname !== '/' || u.search || u.hash) no('must be the root of its host (the tool does not serve under a path)');
  return u.origin;
}

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

const tooBig = () => new HttpError(413, `the body may be at most ${MAX_BODY / 1024} KiB`);

/**
 * The body, up to {@link MAX_BODY}. Past that it stops reading without destroying the request,
 * so the 413 still reaches the client; the error handler then closes the connection.
 */
function readBody(req: IncomingMessage): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_BODY) return Promise.reject(tooBig());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > MAX_BODY) {
        done();
        req.pause();
        reject(tooBig());
      } else chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type)) throw new HttpError(415, `send JSON (Content-Type: application/json), not ${preview(type, 60)}`);
  const body = await readBody(req);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new HttpError(400, 'the body is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HttpError(400, `the body is not valid JSON: ${clip((err as Error).message, 120)}`);
  }
}

/** `host:port` as a URL authority (IPv6 in brackets; wildcard addresses as localhost). */
function authority(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return h.includes(':') ? `[${h}]:${port}` : `${h}:${port}`;
}

/** The origins a browser on this machine may use for the tool listening on `host:port`. */
function localOrigins(host: string, port: number): Set<string> {
  const out = new Set([`http://${authority(host, port)}`]);
  if (['127.0.0.1', 'localhost', '::1', '0.0.0.0', '::'].includes(host)) {
    for (const h of ['127.0.0.1', 'localhost', '[::1]']) out.add(`http://${h}:${port}`);
  }
  return out;
}

/**
 * Starts the reviewer tool.
 *
 * Every request but `/login` needs the token (the login cookie or `Authorization: Bearer`);
 * every state change is a POST that also needs the `X-Darkroom: 1` header.
 */
export async function startReviewServer(opts: ReviewServerOptions): Promise<ReviewServer> {
  const { client, taskQueue } = opts;
  const external = opts.publicUrl === undefined ? undefined : publicOrigin(opts.publicUrl);
  const auth = new Auth(opts.token, { sessionTtlMs: opts.sessionTtlMs, secure: external?.startsWith('https:'), clock: opts.clock });
  const images = new ImageServer(opts.blobs, opts.images);
  const host = opts.host ?? '127.0.0.1';
  const log = opts.log ?? (() => {});
  let local = new Set<string>();

  /**
   * Origins decisions are accepted from: the public URL's, exactly, and the tool's own address.
   * Without a public URL the tool cannot know every name it is reached by (a LAN address), so a
   * browser's Host then stands for it, as before.
   */
  function allowedOrigin(origin: string, req: IncomingMessage): boolean {
    if (origin === external || local.has(origin)) return true;
    return external === undefined && origin === `http://${req.headers.host}`;
  }

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
    if (raw.length > MAX_URL) throw new HttpError(414, `the URL is longer than ${MAX_URL} characters`);
    const q = raw.indexOf('?');
    const rawPath = q < 0 ? raw : raw.slice(0, q);
    const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
    const method = req.method ?? 'GET';
    const isApi = rawPath.startsWith('/api/');

    if (!rawPath.startsWith('/') || rawPath.split('/').some((seg) => seg === '..' || seg === '.')) throw new HttpError(400, 'bad path');

    if (rawPath === '/login') {
      if (method !== 'GET') throw new HttpError(405, 'GET only');
      if (!auth.checkToken(params.get('token'))) return sendHtml(res, 401, loginNeededPage(nonce, params.has('token')));
      res.setHeader('Set-Cookie', auth.sessionCookie());
      res.writeHead(303, { Location: '/', 'Cache-Control': 'no-store' });
      return void res.end();
    }
    if (rawPath === '/favicon.ico') return void res.writeHead(204).end();

    const session = auth.session(req);
    if (session !== 'valid') {
      const why = session === 'expired' ? 'your login has expired: open the login link that `darkroom review` printed again' : 'login needed: open the login link that `darkroom review` printed, or send Authorization: Bearer <token>';
      if (isApi || method !== 'GET') return sendJson(res, 401, { error: why });
      if (rawPath.startsWith('/blobs/')) return send(res, 401, 'text/plain; charset=utf-8', 'login needed');
      return sendHtml(res, 401, loginNeededPage(nonce));
    }

    if (method === 'POST') {
      // A cross-site form cannot set a custom header, and a cross-site script that tries must
      // pass a CORS preflight this server never answers.
      if (!Auth.hasCsrfHeader(req)) throw new HttpError(403, 'state changes need the X-Darkroom: 1 header');
      const origin = req.headers.origin;
      if (origin !== undefined && !allowedOrigin(origin, req)) {
        const hint = external ? '' : ': behind a proxy, start the tool with --public-url (or DARKROOM_REVIEW_URL) set to the address people open';
        throw new HttpError(403, `cross-origin request from ${preview(origin, 100)} refused${hint}`);
      }
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
      const headers = { ETag: img.etag, 'Cache-Control': 'private, max-age=300', 'Content-Disposition': 'inline', 'Content-Type': img.mime };
      if (req.headers['if-none-match'] === img.etag) return void res.writeHead(304, headers).end();
      if (img.body || method === 'HEAD') {
        res.writeHead(200, { 'Content-Length': String(img.body?.byteLength ?? img.bytes), ...headers });
        return void res.end(method === 'HEAD' ? undefined : img.body);
      }
      // Full size: streamed from the store, so an image costs a buffer of memory, not its size.
      const { bytes, stream } = await img.open!();
      res.writeHead(200, { 'Content-Length': String(bytes), ...headers });
      // A reader who goes away ends the stream (and closes the file); nothing to report.
      return void (await pipeline(stream, res).catch(() => res.destroy()));
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
      const b = parseBody(BulkApproveBody, await readJson(req), '{"minScore": 80, "filter"?: "...", "dryRun"?: true}');
      try {
        const result = await bulkApprove(client, { filter: b.filter, minScore: b.minScore, dryRun: b.dryRun, reviewer: b.reviewer?.trim() || 'reviewer', taskQueue });
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
        const ack = await decide(client, id, parseDecision(await readJson(req)));
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
      else if (err instanceof InvalidBlobKeyError || err instanceof BodyError) status = 400;
      else if (err instanceof BlobNotFoundError) status = 404;
      else if (err instanceof UnsafeBlobError) status = 403;
      else if (err instanceof BlobTooLargeError) status = 413;
      else log(`darkroom review: ${req.method} ${clip(req.url ?? '', 300)}: ${(err as Error)?.stack ?? message}`);
      if (status === 500) message = `internal error: ${message}`;
      message = clip(message, MAX_ERROR);
      if (res.headersSent) return void res.destroy();
      // A body left unread (too big, or never looked at): close rather than read the rest.
      if (!req.complete) res.setHeader('Connection', 'close');
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
  local = localOrigins(host, port);
  const url = `http://${authority(host, port)}/`;
  const publicUrl = external && `${external}/`;
  return {
    url,
    publicUrl,
    loginUrl: `${publicUrl ?? url}login?token=${encodeURIComponent(opts.token)}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** A workflow id from the path, refused unless it could name a brief: bounded, printable, a plain key segment. */
function decodeId(raw: string): string {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'bad workflow id in the path: not valid percent-encoding');
  }
  const problem = workflowIdProblem(id);
  if (problem) throw new HttpError(400, `bad workflow id ${preview(id, 80)} in the path: it ${problem}`);
  return id;
}
