import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResponseTooLargeError } from '../../activities/providers';
import { ReplicateImageGenerator, ReplicateUpscaler } from '../../activities/providers/replicate';
import { OpenAIImageGenerator } from '../../activities/providers/openai';
import { DEFAULT_MAX_RESPONSE_BYTES } from '../../activities/providers/shared';
import { parseConfig } from '../../domain/config';
import { CAPABILITIES, rejection, startVendor, testPng, VENDORS, type VendorUnderTest } from './contract/vendors';
import { startFakeReplicate, type FakeReplicate } from './fake-replicate';

/**
 * Every response body an adapter reads from a vendor is capped, counted as the bytes arrive: a
 * vendor (or a gateway) that sends more than the cap, with a Content-Length or without one, fails
 * the call with a non-retryable ResponseTooLargeError and has its connection dropped, and the
 * worker never holds more than the cap and the chunk that crossed it.
 */
const CAP = 256 * 1024;
const HUGE = 32 * 1024 * 1024;

function expectRefused(err: Error, vendor: string, cap: number): asserts err is ResponseTooLargeError {
  expect(err).toBeInstanceOf(ResponseTooLargeError);
  const e = err as ResponseTooLargeError;
  expect(e.retryable).toBe(false);
  expect(e.type).toBe('ResponseTooLarge');
  expect(e.limitBytes).toBe(cap);
  expect(e.message).toContain(vendor);
  expect(e.message).toContain(`${cap} bytes`);
  expect(e.message).toContain('DARKROOM_MAX_DOWNLOAD_BYTES');
}

const VENDOR_NAME = { openai: 'OpenAI', gemini: 'Gemini', replicate: 'Replicate', vertex: 'Vertex AI' } as const;

for (const vendor of VENDORS) {
  describe(`${vendor}: API answers over the response cap`, () => {
    let v: VendorUnderTest;
    beforeAll(async () => {
      v = await startVendor(vendor, { timeoutMs: 10_000, maxResponseBytes: CAP });
    });
    afterAll(async () => {
      await v?.close();
    });

    for (const capability of CAPABILITIES[vendor]) {
      it(`${capability}: a 200 with no Content-Length is refused once past the cap, and the connection dropped`, async () => {
        const before = v.streams().length;
        v.rawNext({ status: 200, body: { total: HUGE, prefix: '{"data": "' } });
        const err = await rejection(v.calls[capability]!());
        expectRefused(err, VENDOR_NAME[vendor], CAP);
        expect(err.message).toMatch(/refused after \d+ bytes/);
        const report = v.streams()[before]!;
        await report.done;
        expect(report.finished).toBe(false);
        expect(report.closed).toBe(true);
        expect(report.written).toBeLessThan(HUGE);
      });
    }

    it('an error status with a huge body is refused too (not taken for the SDK’s reading of it)', async () => {
      v.rawNext({ status: 500, body: { total: HUGE, prefix: '{"error": {"message": "' } });
      const err = await rejection(v.calls.generate!());
      expectRefused(err, VENDOR_NAME[vendor], CAP);
    });

    it('a declared Content-Length over the cap is refused before reading the body', async () => {
      v.rawNext({ status: 200, body: { total: HUGE, contentLength: HUGE, prefix: '{"data": "' } });
      const err = await rejection(v.calls.generate!());
      expectRefused(err, VENDOR_NAME[vendor], CAP);
      expect(err.message).toContain(`declares ${HUGE} bytes`);
    });

    it('answers under the cap are read as before', async () => {
      await expect(v.calls[{ openai: 'judge', gemini: 'judge', replicate: 'upscale (recraft)', vertex: 'upscale' }[vendor]]!()).resolves.toBeDefined();
    });
  });
}

/** A fetch that counts the bytes the adapter pulls from each output download, chunk by chunk. */
function countingFetch() {
  const downloads: Array<{ read: number; largestChunk: number }> = [];
  const counting: typeof fetch = async (input, init) => {
    const res = await fetch(input, init);
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (!url.includes('/files/') || !res.body) return res;
    const seen = { read: 0, largestChunk: 0 };
    downloads.push(seen);
    const reader = res.body.getReader();
    // Pulls one chunk from the network only when the adapter asks for one: `read` is what it took.
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          const r = await reader.read();
          if (r.done) return controller.close();
          seen.read += r.value.byteLength;
          seen.largestChunk = Math.max(seen.largestChunk, r.value.byteLength);
          controller.enqueue(r.value);
        },
        cancel: (reason) => reader.cancel(reason),
      },
      { highWaterMark: 0 },
    );
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  return { fetch: counting, downloads };
}

describe('Replicate output downloads over the response cap', () => {
  const TOKEN = 'r8_CapTestToken0123456789abcdefghijklmn';
  const DOWNLOAD_CAP = 1024 * 1024;
  const OUTPUT = 64 * 1024 * 1024;
  let fake: FakeReplicate;
  const watch = countingFetch();
  let gen: ReplicateImageGenerator;
  const input = { model: 'flux-1.1-pro', prompt: 'a teapot', negativePrompt: '', width: 1024, height: 1024, seed: 1, palette: [] };

  beforeAll(async () => {
    fake = await startFakeReplicate({ apiToken: TOKEN });
    gen = new ReplicateImageGenerator({
      apiToken: TOKEN,
      baseUrl: fake.baseUrl,
      timeoutMs: 20_000,
      pollIntervalMs: 20,
      outputHosts: [`http://${fake.host}`],
      maxResponseBytes: DOWNLOAD_CAP,
      fetch: watch.fetch,
    });
  });
  afterAll(async () => {
    await fake?.close();
  });

  it('an output with no Content-Length larger than the cap is refused, having read at most the cap and one chunk', async () => {
    const before = fake.streams().length;
    fake.serveNext({ status: 200, headers: { 'content-type': 'image/png' }, body: { total: OUTPUT } });
    const err = await rejection(gen.generate(input));
    expectRefused(err, 'Replicate', DOWNLOAD_CAP);
    const seen = watch.downloads.at(-1)!;
    expect(seen.read).toBeGreaterThan(DOWNLOAD_CAP);
    expect(seen.read).toBeLessThanOrEqual(DOWNLOAD_CAP + seen.largestChunk);
    // The connection is dropped: the fake stops long before the end of its 64 MiB.
    const report = fake.streams()[before]!;
    await report.done;
    expect(report.closed).toBe(true);
    expect(report.finished).toBe(false);
    expect(report.written).toBeLessThan(OUTPUT);
    console.info(`download cap ${DOWNLOAD_CAP} bytes: refused after reading ${seen.read} bytes (largest chunk ${seen.largestChunk}); the fake wrote ${report.written} of ${OUTPUT}`);
  });

  it('an output declaring a Content-Length over the cap is refused without reading it', async () => {
    fake.serveNext({ status: 200, headers: { 'content-type': 'image/png' }, body: { total: OUTPUT, contentLength: OUTPUT } });
    const err = await rejection(gen.generate(input));
    expectRefused(err, 'Replicate', DOWNLOAD_CAP);
    expect(watch.downloads.at(-1)!.read).toBe(0);
  });

  it('an output under the cap downloads whole', async () => {
    const out = await new ReplicateUpscaler({
      apiToken: TOKEN,
      baseUrl: fake.baseUrl,
      model: 'recraft-crisp-upscale',
      pollIntervalMs: 20,
      outputHosts: [`http://${fake.host}`],
      maxResponseBytes: DOWNLOAD_CAP,
      fetch: watch.fetch,
    }).upscale({ image: await testPng(), minWidth: 300, minHeight: 150 });
    expect(out.width).toBeGreaterThanOrEqual(300);
    expect(watch.downloads.at(-1)!.read).toBeLessThanOrEqual(DOWNLOAD_CAP);
  });
});

describe('DARKROOM_MAX_DOWNLOAD_BYTES', () => {
  it('defaults to 100 MiB, the adapters’ own default', () => {
    expect(parseConfig({}).DARKROOM_MAX_DOWNLOAD_BYTES).toBe(100 * 1024 * 1024);
    expect(DEFAULT_MAX_RESPONSE_BYTES).toBe(100 * 1024 * 1024);
    expect(parseConfig({ DARKROOM_MAX_DOWNLOAD_BYTES: '2097152' }).DARKROOM_MAX_DOWNLOAD_BYTES).toBe(2097152);
  });

  it('refuses a value that is not a whole number of bytes, naming the variable', () => {
    for (const bad of ['lots', '1.5', '100MB', '0', '-5', '512']) {
      expect(() => parseConfig({ DARKROOM_MAX_DOWNLOAD_BYTES: bad })).toThrow(/DARKROOM_MAX_DOWNLOAD_BYTES/);
    }
  });

  it('an adapter given an unusable cap refuses to start, naming the variable', () => {
    expect(() => new OpenAIImageGenerator({ apiKey: 'sk-test-0123456789', maxResponseBytes: 0 })).toThrow(/DARKROOM_MAX_DOWNLOAD_BYTES/);
    expect(() => new ReplicateImageGenerator({ apiToken: 'r8_test0123456789', maxResponseBytes: 1.5 })).toThrow(/DARKROOM_MAX_DOWNLOAD_BYTES/);
  });
});
