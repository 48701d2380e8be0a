/**
 * Each vendor's adapters, every capability, pointed at that vendor's fake: for the suites that
 * run the same hostile answers through every door (key echoes, huge and malformed bodies).
 */
import sharp from 'sharp';
import type { GenerateImageInput } from '../../../activities/providers';
import { GeminiAltTextWriter, GeminiImageGenerator, GeminiVisionJudge } from '../../../activities/providers/gemini';
import { OpenAIAltTextWriter, OpenAIImageGenerator, OpenAIVisionJudge } from '../../../activities/providers/openai';
import { ReplicateImageGenerator, ReplicateUpscaler } from '../../../activities/providers/replicate';
import { ImagenImageGenerator, ImagenUpscaler } from '../../../activities/providers/vertex';
import { validateBrief } from '../../../domain/brief';
import { startFakeGemini } from '../fake-gemini';
import type { LeakKind, RawResponse, StreamReport } from '../fake-http';
import { startFakeOpenAI } from '../fake-openai';
import { startFakeReplicate, type ReplicateLeakKind } from '../fake-replicate';
import { startFakeVertex } from '../fake-vertex';

export type VendorName = 'openai' | 'gemini' | 'replicate' | 'vertex';
export const VENDORS: readonly VendorName[] = ['openai', 'gemini', 'replicate', 'vertex'];

/** The capabilities each vendor's adapters have that send a request ({@link VendorUnderTest.calls}). */
export const CAPABILITIES: Record<VendorName, readonly string[]> = {
  openai: ['generate', 'edit', 'judge', 'alt text'],
  gemini: ['generate', 'edit', 'judge', 'alt text'],
  replicate: ['generate', 'edit', 'upscale (real-esrgan)', 'upscale (recraft)'],
  // Imagen takes no reference images (an edit is refused before any request) and judges nothing.
  vertex: ['generate', 'upscale'],
};

/** A call to one capability; `signal` is the caller's (the activity's cancellation). */
export type CapabilityCall = (signal?: AbortSignal) => Promise<unknown>;

export interface VendorUnderTest {
  vendor: VendorName;
  key: string;
  /** Every capability the vendor's adapters have, by name: generate, edit (reference images), judge, alt text, upscale. */
  calls: Record<string, CapabilityCall>;
  /** The next API request is answered by a gateway that echoes the key. */
  leakNext(kind: LeakKind | ReplicateLeakKind): void;
  /** The next API request gets exactly this. */
  rawNext(r: RawResponse): void;
  /** Streamed bodies the fake sent. */
  streams(): StreamReport[];
  close(): Promise<void>;
}

/** Keys with characters that URL-encoding and base64 change, so each spelling is a different string. */
export const LEAK_KEYS: Record<VendorName, string> = {
  openai: 'sk-proj-Leak+Test/Key=0123456789abcdefXYZ',
  gemini: 'AIzaLeak+Test/Key=0123456789abcdefghijklm',
  replicate: 'r8_Leak+Test/Token=0123456789abcdefghij',
  // A Vertex AI express-mode key (Google API key shape).
  vertex: 'AIzaLeak+Vertex/Key=0123456789abcdefghij',
};

export const brief = validateBrief({
  subject: 'a ceramic teapot on a linen cloth',
  channels: ['og-image'],
  brandColors: ['#0B3D91', '#F4B400'],
  mustInclude: ['steam from the spout'],
  mustAvoid: ['text'],
});

let png: Promise<Buffer> | undefined;
/** A small real image for the judge, alt text and upscale calls. */
export function testPng(): Promise<Buffer> {
  png ??= sharp({ create: { width: 200, height: 100, channels: 3, background: { r: 40, g: 90, b: 160 } } }).png().toBuffer();
  return png;
}

const genInput = (model: string, width: number, height: number, signal?: AbortSignal, references?: GenerateImageInput['references']): GenerateImageInput => ({
  model,
  prompt: 'a ceramic teapot on linen',
  negativePrompt: 'text',
  width,
  height,
  seed: 3,
  palette: [],
  signal,
  ...(references ? { references } : {}),
});

/** A call on the vendor's edit path: one product packshot as reference. */
const editInput = async (model: string, width: number, height: number, signal?: AbortSignal): Promise<GenerateImageInput> =>
  genInput(model, width, height, signal, [{ role: 'product', image: await testPng(), mime: 'image/png' }]);

export interface VendorOptions {
  timeoutMs: number;
  /** The adapters' response cap, lowered for tests. */
  maxResponseBytes?: number;
}

export async function startVendor(vendor: VendorName, o: VendorOptions): Promise<VendorUnderTest> {
  const key = LEAK_KEYS[vendor];
  const judge = (j: { judge: (i: Parameters<OpenAIVisionJudge['judge']>[0]) => Promise<unknown> }): CapabilityCall => async (signal) =>
    j.judge({ brief, candidates: [{ id: 'r1-c01', image: await testPng(), mime: 'image/png' }], signal });
  const alt = (w: { write: (i: Parameters<OpenAIAltTextWriter['write']>[0]) => Promise<unknown> }): CapabilityCall => async (signal) =>
    w.write({ brief, image: await testPng(), mime: 'image/png', signal });
  const limits = { timeoutMs: o.timeoutMs, ...(o.maxResponseBytes ? { maxResponseBytes: o.maxResponseBytes } : {}) };

  if (vendor === 'openai') {
    const fake = await startFakeOpenAI({ apiKey: key });
    const opts = { apiKey: key, baseURL: fake.baseURL, ...limits };
    const gen = new OpenAIImageGenerator(opts);
    return {
      vendor,
      key,
      calls: {
        generate: (signal) => gen.generate(genInput('gpt-image-1.5', 1024, 1024, signal)),
        edit: async (signal) => gen.generate(await editInput('gpt-image-1.5', 1024, 1024, signal)),
        judge: judge(new OpenAIVisionJudge(opts)),
        'alt text': alt(new OpenAIAltTextWriter(opts)),
      },
      leakNext: (k) => fake.leakNext(k as LeakKind),
      rawNext: fake.rawNext,
      streams: fake.streams,
      close: fake.close,
    };
  }
  if (vendor === 'gemini') {
    const fake = await startFakeGemini({ apiKey: key });
    const opts = { apiKey: key, baseUrl: fake.baseUrl, ...limits };
    const gen = new GeminiImageGenerator(opts);
    return {
      vendor,
      key,
      calls: {
        generate: (signal) => gen.generate(genInput('gemini-2.5-flash-image', 1024, 1024, signal)),
        edit: async (signal) => gen.generate(await editInput('gemini-3.1-flash-image', 1024, 1024, signal)),
        judge: judge(new GeminiVisionJudge(opts)),
        'alt text': alt(new GeminiAltTextWriter(opts)),
      },
      leakNext: (k) => fake.leakNext(k as LeakKind),
      rawNext: fake.rawNext,
      streams: fake.streams,
      close: fake.close,
    };
  }
  if (vendor === 'vertex') {
    const fake = await startFakeVertex({ project: 'darkroom-test', apiKey: key });
    const opts = { apiKey: key, baseUrl: fake.baseUrl, ...limits };
    const gen = new ImagenImageGenerator(opts);
    const upscaler = new ImagenUpscaler(opts);
    return {
      vendor,
      key,
      calls: {
        generate: (signal) => gen.generate(genInput('imagen-4', 1024, 1024, signal)),
        upscale: async (signal) => upscaler.upscale({ image: await testPng(), minWidth: 700, minHeight: 300, signal }),
      },
      leakNext: (k) => fake.leakNext(k as LeakKind),
      rawNext: fake.rawNext,
      streams: fake.streams,
      close: fake.close,
    };
  }
  const fake = await startFakeReplicate({ apiToken: key });
  const opts = { apiToken: key, baseUrl: fake.baseUrl, pollIntervalMs: 20, outputHosts: [`http://${fake.host}`], ...limits };
  const gen = new ReplicateImageGenerator(opts);
  const upscale = (model: 'real-esrgan' | 'recraft-crisp-upscale'): CapabilityCall => async (signal) =>
    // A new upscaler each call: Real-ESRGAN's first request then looks up its version, one more door.
    new ReplicateUpscaler({ ...opts, model }).upscale({ image: await testPng(), minWidth: 700, minHeight: 300, signal });
  return {
    vendor,
    key,
    calls: {
      generate: (signal) => gen.generate(genInput('flux-1.1-pro', 1024, 1024, signal)),
      edit: async (signal) => gen.generate(await editInput('flux-kontext-pro', 1024, 1024, signal)),
      'upscale (real-esrgan)': upscale('real-esrgan'),
      'upscale (recraft)': upscale('recraft-crisp-upscale'),
    },
    leakNext: (k) => fake.leakNext(k),
    rawNext: fake.rawNext,
    streams: fake.streams,
    close: fake.close,
  };
}

/** The rejection of `p`; fails when it resolves. */
export const rejection = (p: Promise<unknown>): Promise<Error> =>
  p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e as Error,
  );
