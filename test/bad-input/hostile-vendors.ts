/**
 * One local server that speaks the OpenAI, Gemini and Replicate wire formats badly on purpose.
 * A request whose body carries a case's tag (`zqv-<case id>`, put in the brief's subject, so it
 * reaches every prompt) gets that case's hostile answer; OpenAI requests without a tag (the
 * judge and alt-text calls of every other brief in the suite) are passed to the well-behaved
 * fake in test/providers/fake-openai.ts, so the rest of the corpus runs on real adapters too.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FakeOpenAI } from '../providers/fake-openai';
import { expand, type VendorCase } from './corpus';

export const vendorTag = (caseId: string) => `zqv-${caseId}`;
const TAG = /zqv-([a-z0-9.-]+[a-z0-9])/;

/** Bytes the endless download sends before it gives up (an adapter that buffers it all holds this much). */
export const ENDLESS_BYTES = 400 * 1024 * 1024;

export interface HostileVendors {
  url: string;
  host: string;
  /** Requests each case's tag brought in, by case id. */
  hits(caseId: string): number;
  /** Requests that carried no tag and were not OpenAI's (nothing should send them). */
  strays(): string[];
  close(): Promise<void>;
}

type Endpoint = 'image' | 'chat' | 'other';

function endpointOf(pathname: string): Endpoint {
  if (pathname.endsWith('/images/generations')) return 'image';
  if (pathname.endsWith('/chat/completions')) return 'chat';
  if (/:generateContent$/.test(pathname)) return 'image';
  if (/\/predictions$/.test(pathname)) return 'image';
  return 'other';
}

/** The credential a request carried, whichever vendor's header it used. */
function credential(req: http.IncomingMessage): string {
  const bearer = /^(?:Bearer|Token)\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
  return bearer ?? String(req.headers['x-goog-api-key'] ?? '');
}

export async function startHostileVendors(cases: readonly VendorCase[], upstream: FakeOpenAI): Promise<HostileVendors> {
  const byId = new Map(cases.map((c) => [c.id, c]));
  const hits = new Map<string, number>();
  const strays: string[] = [];
  let origin = '';

  async function forward(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): Promise<void> {
    const target = new URL(req.url ?? '/', upstream.baseURL.replace(/\/v1$/, ''));
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === 'string' && !['host', 'content-length', 'connection'].includes(k)) headers[k] = v;
    }
    const answer = await fetch(target, { method: req.method, headers, body: body.length ? body : undefined });
    const out = Buffer.from(await answer.arrayBuffer());
    const h: Record<string, string> = {};
    answer.headers.forEach((v, k) => {
      if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k)) h[k] = v;
    });
    res.writeHead(answer.status, { ...h, 'content-length': String(out.length) });
    res.end(out);
  }

  function sendCanned(res: http.ServerResponse, c: VendorCase, key: string): void {
    const r = c.response!;
    const fill = (s: string) => s.split('{KEY}').join(key);
    const text = r.bodyText !== undefined ? String(expand(r.bodyText)) : JSON.stringify(expand(r.body ?? null));
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    for (const [k, v] of Object.entries(r.headers ?? {})) headers[k.toLowerCase()] = fill(v);
    const bytes = Buffer.from(fill(text));
    res.writeHead(r.status, { ...headers, 'content-length': String(bytes.length) });
    res.end(bytes);
  }

  /** A finished Replicate prediction whose output is the case's URL. */
  function sendPrediction(res: http.ServerResponse, c: VendorCase): void {
    const id = `p${c.id.replace(/[^a-z0-9]/g, '').slice(0, 20)}`;
    const output = c.replicateOutput === 'endless' ? `${origin}/files/endless-${id}.webp` : c.replicateOutput!;
    const now = new Date().toISOString();
    const body = {
      id, model: 'black-forest-labs/flux-schnell', version: 'hostile', input: {}, logs: '', output: [output], data_removed: false, error: null,
      status: 'succeeded', created_at: now, started_at: now, completed_at: now, metrics: { predict_time: 0.1, image_count: 1 },
      urls: { get: `${origin}/v1/predictions/${id}`, cancel: `${origin}/v1/predictions/${id}/cancel`, stream: `${origin}/stream/${id}`, web: `https://replicate.com/p/${id}` },
    };
    const text = JSON.stringify(body);
    res.writeHead(201, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
    res.end(text);
  }

  /** No Content-Length, and bytes until the client stops reading or ENDLESS_BYTES have gone. */
  function sendEndless(res: http.ServerResponse): void {
    res.writeHead(200, { 'content-type': 'image/webp' });
    const chunk = Buffer.alloc(1024 * 1024, 0x41);
    let sent = 0;
    const pump = () => {
      while (sent < ENDLESS_BYTES && !res.destroyed) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => {
      sent = ENDLESS_BYTES;
    });
    pump();
  }

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = Buffer.concat(chunks);
        const url = new URL(req.url ?? '/', 'http://hostile');
        if (url.pathname.startsWith('/files/endless-')) return sendEndless(res);
        const endpoint = endpointOf(url.pathname);
        const tagged = TAG.exec(body.toString('utf8'))?.[1];
        const c = tagged ? byId.get(tagged) : undefined;
        if (c && (c.endpoint ?? 'image') === endpoint) {
          hits.set(c.id, (hits.get(c.id) ?? 0) + 1);
          if (c.replicateOutput) return sendPrediction(res, c);
          return sendCanned(res, c, credential(req));
        }
        if (url.pathname.startsWith('/v1/images/') || url.pathname.startsWith('/v1/chat/') || url.pathname === '/v1/moderations') return forward(req, res, body);
        strays.push(`${req.method} ${url.pathname}`);
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'the hostile vendor did not expect this request', type: 'server_error' } }));
      })().catch((err: Error) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: `hostile vendor: ${err.message}` } }));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  origin = `http://127.0.0.1:${port}`;
  return {
    url: origin,
    host: `127.0.0.1:${port}`,
    hits: (id) => hits.get(id) ?? 0,
    strays: () => [...strays],
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
