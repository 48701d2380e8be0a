/** What the reviewer tool answers: its route table and the handlers behind it. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { workflowIdProblem } from '../../domain/naming';
import { preview } from '../../domain/text';
import {
  bulkApprove, decide, DecisionRefusedError, getBrief, InvalidFilterError, listAwaiting, NoWorkerError, VisibilityQueryError,
} from './actions';
import type { Auth } from './auth';
import { keyFromRawPath, parseThumbWidth, type ImageServer } from './blobs';
import { HttpError, readJson, sendHtml, sendJson } from './http';
import { briefFragmentData, briefPage, errorPage, loginNeededPage, queueFragment, queuePage, type QueueData } from './pages';
import { BulkApproveBody, parseBody, parseDecision } from './requests';
import { parseBrandKey, parseChannel, parseFocus, type CropPreviews } from './previews';
import type { BriefView } from './actions';
import type { PreviewContext } from './brief-sections';
import { route, type HttpRoute } from './router';

/** One request, as a handler sees it. */
export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  query: URLSearchParams;
  /** The response's CSP nonce, for the page's style and script. */
  nonce: string;
}

export interface RouteDeps {
  client: Client;
  auth: Auth;
  images: ImageServer;
  /** Each candidate's crop per channel, as it will ship. */
  previews: CropPreviews;
  /** Only list briefs on this task queue. */
  taskQueue?: string;
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

/** A refusal about a filter, in the words the queue and bulk approve show; undefined for any other error. */
function filterProblem(err: unknown): string | undefined {
  if (err instanceof InvalidFilterError) return err.message;
  if (err instanceof VisibilityQueryError) return `Temporal refused the filter: ${err.message}`;
  return undefined;
}

export function reviewRoutes({ client, auth, images, previews, taskQueue }: RouteDeps): HttpRoute<Exchange>[] {
  async function queueData(filter: string | undefined): Promise<{ data: QueueData; status: number }> {
    try {
      return { data: { filter, briefs: await listAwaiting(client, filter, { taskQueue }) }, status: 200 };
    } catch (err) {
      const problem = filterProblem(err);
      if (problem === undefined) throw err;
      return { data: { filter, error: problem }, status: 400 };
    }
  }

  /** What the page needs to draw crop previews: the brief's brand, packshot and channels' safe zones. */
  async function previewContext(view: BriefView): Promise<PreviewContext> {
    const s = view.status;
    const brief = view.manifest?.brief;
    const brand = s?.brand ?? (brief?.brand && brief.brandKey ? { name: brief.brand, key: brief.brandKey } : undefined);
    const channels = s?.channels ?? brief?.channels ?? [];
    const product = s?.product ?? view.manifest?.references?.product;
    return { brand, product, safeZones: await previews.safeZones(channels, brand) };
  }

  /** Runs `fn` on one brief, answering its refusals with their statuses. */
  async function onBrief<T>(id: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new HttpError(404, `no workflow ${id} in this namespace`);
      if (err instanceof DecisionRefusedError) throw new HttpError(409, err.message);
      if (err instanceof NoWorkerError) throw new HttpError(504, err.message);
      throw err;
    }
  }

  function login({ res, query, nonce }: Exchange): void {
    if (!auth.checkToken(query.get('token'))) return sendHtml(res, 401, loginNeededPage(nonce, query.has('token')));
    res.setHeader('Set-Cookie', auth.sessionCookie());
    res.writeHead(303, { Location: '/', 'Cache-Control': 'no-store' }).end();
  }

  async function queue({ res, query, nonce }: Exchange): Promise<void> {
    const { data, status } = await queueData(query.get('filter') ?? undefined);
    sendHtml(res, status, queuePage(data, nonce));
  }

  async function brief({ res, nonce }: Exchange, params: { id: string }): Promise<void> {
    const id = decodeId(params.id);
    try {
      const view = await getBrief(client, id);
      sendHtml(res, 200, briefPage(view, nonce, await previewContext(view)));
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
      sendHtml(res, 404, errorPage(nonce, 'No such brief', `There is no workflow ${id} in this namespace.`));
    }
  }

  async function blob({ req, res, method, query }: Exchange, { rest }: { rest: string }): Promise<void> {
    // `?direct=1` (the "full size" links): to the bucket itself when the store can sign a URL.
    if (method === 'GET' && query.get('direct') === '1') {
      const url = await images.directUrl(keyFromRawPath(rest));
      if (url) return void res.writeHead(302, { Location: url, 'Cache-Control': 'no-store' }).end();
    }
    const img = await images.serve(keyFromRawPath(rest), parseThumbWidth(query.get('w')));
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
    await pipeline(stream, res).catch(() => res.destroy());
  }

  async function preview({ req, res, query }: Exchange, { channel, rest }: { channel: string; rest: string }): Promise<void> {
    const img = await previews.render(keyFromRawPath(rest), parseChannel(channel), parseBrandKey(query.get('brand')), parseFocus(query.get('focus')));
    const headers = { ETag: img.etag, 'Cache-Control': 'private, max-age=300', 'Content-Disposition': 'inline', 'Content-Type': img.mime };
    if (req.headers['if-none-match'] === img.etag) return void res.writeHead(304, headers).end();
    res.writeHead(200, { 'Content-Length': String(img.body!.byteLength), ...headers });
    res.end(img.body);
  }

  async function apiQueue({ res, query }: Exchange): Promise<void> {
    const { data, status } = await queueData(query.get('filter') ?? undefined);
    if (query.get('view') === '1') return sendJson(res, status, { html: queueFragment(data), error: data.error });
    sendJson(res, status, data.error ? { error: data.error } : { briefs: data.briefs });
  }

  async function apiBulkApprove({ req, res }: Exchange): Promise<void> {
    const b = parseBody(BulkApproveBody, await readJson(req), '{"minScore": 80, "filter"?: "...", "dryRun"?: true}');
    try {
      sendJson(res, 200, await bulkApprove(client, { filter: b.filter, minScore: b.minScore, dryRun: b.dryRun, reviewer: b.reviewer?.trim() || 'reviewer', taskQueue }));
    } catch (err) {
      const problem = filterProblem(err);
      if (problem === undefined) throw err;
      throw new HttpError(400, problem);
    }
  }

  async function apiBrief({ res, query }: Exchange, params: { id: string }): Promise<void> {
    const id = decodeId(params.id);
    const view = await onBrief(id, () => getBrief(client, id));
    sendJson(res, 200, query.get('view') === '1' ? briefFragmentData(view, await previewContext(view)) : view);
  }

  async function apiReview({ req, res }: Exchange, params: { id: string }): Promise<void> {
    const id = decodeId(params.id);
    const decision = parseDecision(await readJson(req));
    sendJson(res, 200, await onBrief(id, () => decide(client, id, decision)));
  }

  const noIcon = ({ res }: Exchange) => void res.writeHead(204).end();

  return [
    route('GET', '/login', login, { public: true }),
    route('GET', '/favicon.ico', noIcon, { public: true }),
    route('HEAD', '/favicon.ico', noIcon, { public: true }),
    // pages
    route('GET', '/', queue),
    route('GET', '/briefs/:id', brief),
    // images
    route('GET', '/blobs/*', blob),
    route('HEAD', '/blobs/*', blob),
    route('GET', '/previews/:channel/*', preview),
    // JSON API
    route('GET', '/api/queue', apiQueue),
    route('POST', '/api/bulk-approve', apiBulkApprove),
    route('GET', '/api/briefs/:id', apiBrief),
    route('POST', '/api/briefs/:id/review', apiReview),
  ];
}
