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
  /** Parsed JSON when the body was JSON, a {@link MultipartBody} for multipart/form-data, the raw text otherwise, undefined when empty. */
  body: unknown;
}

/** One file part of a multipart/form-data body, its bytes as sent. */
export interface MultipartFile {
  /** The form field name, e.g. `image[]`. */
  field: string;
  filename?: string;
  type?: string;
  data: Buffer;
}

/** A multipart/form-data body: its text fields (the last value of each name) and its files, in order. */
export interface MultipartBody {
  multipart: true;
  fields: Record<string, string>;
  files: MultipartFile[];
}

/** Parses a multipart/form-data body (RFC 7578) as a server would, bytes kept exact. */
export function parseMultipart(raw: Buffer, contentType: string): MultipartBody {
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (!boundary) throw new Error('multipart body without a boundary');
  const delimiter = Buffer.from(`--${boundary[1] ?? boundary[2]!.trim()}`);
  const out: MultipartBody = { multipart: true, fields: {}, files: [] };
  let at = raw.indexOf(delimiter);
  while (at !== -1) {
    const start = at + delimiter.length;
    if (raw.subarray(start, start + 2).toString() === '--') break;
    const next = raw.indexOf(delimiter, start);
    if (next === -1) break;
    // Each part: CRLF, headers, CRLF CRLF, content, CRLF before the next delimiter.
    const part = raw.subarray(start + 2, next - 2);
    const split = part.indexOf('\r\n\r\n');
    const headers = part.subarray(0, split).toString('utf8');
    const data = Buffer.from(part.subarray(split + 4));
    const disposition = /content-disposition:[^\r\n]*/i.exec(headers)?.[0] ?? '';
    const name = /\bname="([^"]*)"/i.exec(disposition)?.[1] ?? '';
    const filename = /\bfilename="([^"]*)"/i.exec(disposition)?.[1];
    const type = /content-type:\s*([^\r\n]+)/i.exec(headers)?.[1]?.trim();
    if (filename !== undefined) out.files.push({ field: name, filename, type, data });
    else out.fields[name] = data.toString('utf8');
    at = next;
  }
  return out;
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
      const bytes = Buffer.concat(chunks);
      const raw = bytes.toString('utf8');
      let body: unknown = raw || undefined;
      const type = req.headers['content-type'] ?? '';
      if (/^multipart\/form-data/i.test(type)) {
        try {
          body = parseMultipart(bytes, type);
        } catch {
          // unparseable: recorded as text, and the fake answers it as the vendor would a bad body
        }
      } else {
        try {
          body = raw ? JSON.parse(raw) : undefined;
        } catch {
          // not JSON: recorded as text
        }
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

/** A body sent in 64 KiB chunks as the client reads them (backpressure), so a test can see how much a client took. */
export interface StreamedBody {
  /** Bytes to send in all, prefix included. */
  total: number;
  /** What the body starts with (the start of a JSON document, say); `fill` makes up the rest. @default '' */
  prefix?: string;
  /** @default 'A' */
  fill?: string;
  /** A declared Content-Length; without one the body is sent chunked. */
  contentLength?: number;
  /** Stop sending after this many bytes and keep the connection open: a vendor that hangs mid-body. */
  stallAfter?: number;
  /** Wait this long before each chunk: a vendor that answers slowly. @default 0 */
  chunkDelayMs?: number;
}

/** An exact answer for a test: status, headers, and a body sent as it is (text or bytes) or streamed. */
export interface RawResponse {
  status: number;
  headers?: Record<string, string>;
  body: string | Buffer | StreamedBody;
}

/** What the server did with one streamed body. */
export interface StreamReport {
  /** Bytes handed to the socket. */
  written: number;
  /** The client went away (or close() dropped it) before the body was finished. */
  closed: boolean;
  /** The whole body was sent. */
  finished: boolean;
  /** Settles when the connection is closed or the body finished. */
  done: Promise<void>;
}

const CHUNK = 64 * 1024;

/** Answers with `r`; a streamed body reports how far it got. */
export function sendRaw(res: http.ServerResponse, r: RawResponse): StreamReport | undefined {
  const body = r.body;
  if (typeof body === 'string' || Buffer.isBuffer(body)) {
    res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers });
    res.end(body);
    return undefined;
  }
  const report: StreamReport = { written: 0, closed: false, finished: false, done: Promise.resolve() };
  res.on('error', () => undefined);
  const closed = new Promise<void>((resolve) =>
    res.once('close', () => {
      if (!report.finished) report.closed = true;
      resolve();
    }),
  );
  res.writeHead(r.status, { 'content-type': 'application/json', ...r.headers, ...(body.contentLength !== undefined ? { 'content-length': String(body.contentLength) } : {}) });
  const chunk = Buffer.alloc(CHUNK, body.fill ?? 'A');
  report.done = (async () => {
    if (body.prefix) {
      res.write(body.prefix);
      report.written += Buffer.byteLength(body.prefix);
    }
    while (report.written < body.total && !report.closed) {
      if (body.stallAfter !== undefined && report.written >= body.stallAfter) return closed;
      if (body.chunkDelayMs) await Promise.race([new Promise((resolve) => setTimeout(resolve, body.chunkDelayMs)), closed]);
      if (report.closed) break;
      const n = Math.min(CHUNK, body.total - report.written);
      const flushed = res.write(n === CHUNK ? chunk : chunk.subarray(0, n));
      report.written += n;
      if (!flushed) await Promise.race([new Promise((resolve) => res.once('drain', resolve)), closed]);
    }
    if (!report.closed) {
      report.finished = true;
      res.end();
    }
    return closed;
  })();
  return report;
}

/**
 * The one-shot answers every fake shares: a leaky one (`leakNext`, or the fake's standing
 * `leak` on every request) and an exact raw one (`rawNext`), each for the next request only.
 * `answer` sends whichever is due (true) or nothing (false); `send` answers with a raw response
 * any time. Streamed bodies are reported in `streams()`.
 */
export function oneShotAnswers<K>(standingLeak: K | undefined, leakAnswer: (kind: K, req: http.IncomingMessage) => RawResponse) {
  let leak: K | undefined;
  let raw: RawResponse | undefined;
  const streams: StreamReport[] = [];
  const send = (res: http.ServerResponse, r: RawResponse) => {
    const report = sendRaw(res, r);
    if (report) streams.push(report);
  };
  return {
    send,
    answer(req: http.IncomingMessage, res: http.ServerResponse): boolean {
      const kind = leak ?? standingLeak;
      leak = undefined;
      if (kind !== undefined) {
        sendRaw(res, leakAnswer(kind, req));
        return true;
      }
      if (!raw) return false;
      const r = raw;
      raw = undefined;
      send(res, r);
      return true;
    },
    controls: {
      leakNext(kind: K) {
        leak = kind;
      },
      rawNext(r: RawResponse) {
        raw = r;
      },
      streams: () => [...streams],
    },
  };
}

/**
 * How a careless gateway or proxy might answer a request: an error status repeating the key, a
 * 200 whose JSON does not fit the vendor's schema and repeats it, or a 200 that is not JSON at all.
 */
export type LeakKind = number | 'malformed' | 'garbage';

/** The spellings of a key an echoing gateway might use: as is, URL-encoded, base64, inside a Basic credential. */
export function echoesOf(key: string) {
  return {
    raw: key,
    url: encodeURIComponent(key),
    base64: Buffer.from(key).toString('base64'),
    basic: `Basic ${Buffer.from(`user:${key}`).toString('base64')}`,
  };
}

/** Response headers that repeat the key. */
export function leakyHeaders(key: string): Record<string, string> {
  const e = echoesOf(key);
  return {
    'x-echo-key': e.raw,
    'x-echo-url': e.url,
    'x-echo-basic': e.basic,
    'www-authenticate': `Bearer realm="gateway", error="invalid_token", token="${e.raw}"`,
    link: `<https://gateway.example/retry?key=${e.url}>; rel="retry"`,
  };
}

/** Nested data that repeats the key at every level, in every spelling, as a value and as a field name. */
export function leakyTree(key: string): Record<string, unknown> {
  const e = echoesOf(key);
  return {
    key,
    forms: e,
    nested: { deeper: { deepest: [key, { key, url: e.url }, [e.base64]] } },
    list: [key, e.url, e.basic],
    [`field-${key}`]: 'the key as a field name',
    request: { headers: { authorization: `Bearer ${key}` }, url: `https://gateway.example/v1?key=${e.url}` },
  };
}
