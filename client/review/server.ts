/**
 * The reviewer tool: a small node:http server that lists the briefs awaiting review, shows
 * each one's candidates, and sends reviewers' decisions to the workflow through the `review`
 * update. It talks to Temporal only through @temporalio/client and reads images only through
 * the BlobStore.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import { BlobNotFoundError, BlobTooLargeError, InvalidBlobKeyError, UnsafeBlobError, type BlobStore } from '../../activities/blob-store/types';
import { clip, preview } from '../../domain/text';
import { Auth } from './auth';
import { BlobRequestError, ImageServer, type ImageServerOptions } from './blobs';
import { CropPreviews } from './previews';
import { HttpError, securityHeaders, sendHtml, sendJson, sendText } from './http';
import { errorPage, loginNeededPage } from './pages';
import { BodyError } from './requests';
import { Router } from './router';
import { reviewRoutes } from './routes';

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
  const { client } = opts;
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

  const router = new Router(reviewRoutes({ client, auth, images, previews: new CropPreviews(opts.blobs), taskQueue: opts.taskQueue }));

  /** True with a live login; otherwise answers 401 (the login page, for a browser) and returns false. */
  function loggedIn(req: IncomingMessage, res: ServerResponse, path: string, nonce: string): boolean {
    const session = auth.session(req);
    if (session === 'valid') return true;
    const why = session === 'expired' ? 'your login has expired: open the login link that `darkroom review` printed again' : 'login needed: open the login link that `darkroom review` printed, or send Authorization: Bearer <token>';
    if (path.startsWith('/api/') || req.method !== 'GET') sendJson(res, 401, { error: why });
    else if (path.startsWith('/blobs/') || path.startsWith('/previews/')) sendText(res, 401, 'login needed');
    else sendHtml(res, 401, loginNeededPage(nonce));
    return false;
  }

  /** Refuses (403) a state change without the header only same-origin scripts can set, or from another origin. */
  function checkStateChange(req: IncomingMessage): void {
    // A cross-site form cannot set a custom header, and a cross-site script that tries must
    // pass a CORS preflight this server never answers.
    if (!Auth.hasCsrfHeader(req)) throw new HttpError(403, 'state changes need the X-Darkroom: 1 header');
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigin(origin, req)) {
      const hint = external ? '' : ': behind a proxy, start the tool with --public-url (or DARKROOM_REVIEW_URL) set to the address people open';
      throw new HttpError(403, `cross-origin request from ${preview(origin, 100)} refused${hint}`);
    }
  }

  async function handle(req: IncomingMessage, res: ServerResponse, nonce: string): Promise<void> {
    const raw = req.url ?? '/';
    if (raw.length > MAX_URL) throw new HttpError(414, `the URL is longer than ${MAX_URL} characters`);
    const q = raw.indexOf('?');
    const path = q < 0 ? raw : raw.slice(0, q);
    if (!path.startsWith('/') || path.split('/').some((seg) => seg === '..' || seg === '.')) throw new HttpError(400, 'bad path');
    const method = req.method ?? 'GET';
    const match = router.match(method, path);
    if (!match.public) {
      if (!loggedIn(req, res, path, nonce)) return;
      if (method === 'POST') checkStateChange(req);
    }
    if (match.status === 404) throw new HttpError(404, 'not found');
    if (match.status === 405) throw new HttpError(405, `${method} is not allowed here: use ${match.allow.join(' or ')}`, { Allow: match.allow.join(', ') });
    await match.route.handler({ req, res, method, query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)), nonce }, match.params);
  }

  const server = createServer((req, res) => {
    const nonce = randomBytes(16).toString('base64');
    securityHeaders(res, nonce);
    handle(req, res, nonce).catch((err: unknown) => {
      const { status, message } = errorReply(err);
      if (status === 500) log(`darkroom review: ${req.method} ${clip(req.url ?? '', 300)}: ${(err as Error)?.stack ?? message}`);
      if (res.headersSent) return void res.destroy();
      // A body left unread (too big, or never looked at): close rather than read the rest.
      if (!req.complete) res.setHeader('Connection', 'close');
      if (err instanceof HttpError) for (const [name, value] of Object.entries(err.headers)) res.setHeader(name, value);
      const url = req.url ?? '';
      if (url.startsWith('/blobs/') || url.startsWith('/previews/')) sendText(res, status, message);
      else if (req.method === 'GET' && !url.startsWith('/api/')) sendHtml(res, status, errorPage(nonce, status === 404 ? 'Not found' : 'Something went wrong', message));
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

/** The status and the text to answer an error with: the tool's refusals as they are, anything else a 500. */
function errorReply(err: unknown): { status: number; message: string } {
  const message = (err as Error)?.message ?? String(err);
  let status = 500;
  if (err instanceof HttpError || err instanceof BlobRequestError) status = err.status;
  else if (err instanceof InvalidBlobKeyError || err instanceof BodyError) status = 400;
  else if (err instanceof BlobNotFoundError) status = 404;
  else if (err instanceof UnsafeBlobError) status = 403;
  else if (err instanceof BlobTooLargeError) status = 413;
  return { status, message: clip(status === 500 ? `internal error: ${message}` : message, MAX_ERROR) };
}
