import { ResponseTooLargeError } from './errors';

/** `n` bytes for a message: `104857600 bytes (100 MiB)`. */
function bytesText(n: number): string {
  if (n < 1024 * 1024) return `${n} bytes`;
  const mib = n / (1024 * 1024);
  return `${n} bytes (${Number.isInteger(mib) ? mib : mib.toFixed(1)} MiB)`;
}

/** Statuses whose responses have no body, which a Response cannot be built with one. */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * The response cap of one adapter call: every response body it reads from the vendor (API answers
 * through the SDK's fetch, output downloads) is counted as the bytes arrive, whatever the
 * Content-Length says or whether there is one. The first body over the limit is cancelled (its
 * connection dropped) and fails with a {@link ResponseTooLargeError}, which {@link tripped} keeps:
 * an SDK may swallow the read error of an error status's body, or wrap it, and the call's error
 * mapping then reports the cap, not what the SDK made of it.
 */
export class ResponseCap {
  #tripped: ResponseTooLargeError | undefined;

  constructor(
    readonly limit: number,
    /** For messages: `OpenAI`, `Gemini`, `Replicate`. */
    readonly vendor: string,
    readonly provider: string,
    /** For messages: what the call does (`images.generate`, `judging`). */
    readonly what: string,
  ) {}

  /** The cap's error, once a body went over it. */
  get tripped(): ResponseTooLargeError | undefined {
    return this.#tripped;
  }

  #trip(host: string, detail: string): ResponseTooLargeError {
    this.#tripped ??= new ResponseTooLargeError(
      `${this.vendor} ${this.what}: the response from ${host} is over the ${bytesText(this.limit)} limit (${detail}; set DARKROOM_MAX_DOWNLOAD_BYTES to allow more)`,
      this.provider,
      this.limit,
    );
    return this.#tripped;
  }

  /** `base` with every response's body capped ({@link response}); for an SDK's `fetch` option. */
  fetch(base: typeof fetch = globalThis.fetch): typeof fetch {
    return async (input, init) => {
      const res = await base(input, init);
      const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      return this.response(res, hostOf(url));
    };
  }

  /**
   * `res` with its body counted as it is read: past the limit the read fails with the cap's
   * error and the vendor's stream is cancelled. A declared Content-Length over the limit fails
   * the first read without reading anything.
   */
  response(res: Response, host: string): Response {
    const body = res.body;
    if (!body || NULL_BODY.has(res.status) || res.status < 200 || res.status > 599) return res;
    const declared = Number(res.headers.get('content-length') ?? NaN);
    let stream: ReadableStream<Uint8Array>;
    if (Number.isFinite(declared) && declared > this.limit) {
      body.cancel().catch(() => undefined);
      const err = this.#trip(host, `it declares ${declared} bytes; nothing was read`);
      stream = new ReadableStream({ start: (controller) => controller.error(err) });
    } else {
      const reader = body.getReader();
      let read = 0;
      stream = new ReadableStream<Uint8Array>(
        {
          pull: async (controller) => {
            const r = await reader.read();
            if (r.done) return controller.close();
            read += r.value.byteLength;
            if (read > this.limit) {
              const err = this.#trip(host, `refused after ${read} bytes, the connection dropped`);
              reader.cancel(err).catch(() => undefined);
              return controller.error(err);
            }
            controller.enqueue(r.value);
          },
          cancel: (reason) => reader.cancel(reason),
        },
        // Nothing read ahead: a byte is taken from the vendor only when the reader asks for it.
        { highWaterMark: 0 },
      );
    }
    const out = new Response(stream, { status: res.status, statusText: res.statusText, headers: res.headers });
    // The SDKs read these for their messages and logs; a built Response has them empty.
    Object.defineProperty(out, 'url', { value: res.url });
    Object.defineProperty(out, 'redirected', { value: res.redirected });
    return out;
  }

  /**
   * The whole body of `res`, read under the cap: the chunks held never add up to more than the
   * limit (the one that crosses it is dropped with the connection), and are joined once at the end.
   */
  async bytes(res: Response, host: string): Promise<Buffer> {
    const body = this.response(res, host).body;
    if (!body) return Buffer.alloc(0);
    const chunks: Uint8Array[] = [];
    let total = 0;
    const reader = body.getReader();
    for (;;) {
      const r = await reader.read();
      if (r.done) break;
      chunks.push(r.value);
      total += r.value.byteLength;
    }
    return Buffer.concat(chunks, total);
  }
}

function hostOf(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return 'the vendor';
  }
}
