import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { SourceProvenance } from '../../domain/types';
import { createC2paHandler, deframer, frame, type C2paHandler } from './c2pa-sidecar.mjs';
import { c2paLayout, nodeRunsC2paInProcess } from './install';

const SIDECAR_SCRIPT = fileURLToPath(new URL('./c2pa-sidecar.mjs', import.meta.url));

/** What the signer is given once: the certificate chain and key (PEM), and where time stamps come from. */
export interface C2paInit {
  certPem?: string;
  keyPem?: string;
  alg?: string;
  tsaUrl?: string;
  /** PEM certificates a read manifest's signer must chain to for `Trusted`. */
  trustAnchorsPem?: string;
}

/** One signing request: the rendition's bytes are passed beside it. */
export interface C2paSignRequest {
  mime: string;
  title: string;
  claimGenerator: { name: string; version: string };
  /** C2PA actions, e.g. `{ action: 'c2pa.cropped', description: '…' }`. */
  actions: Array<Record<string, unknown> & { action: string }>;
  /** The generated image, when it has a manifest of its own to keep as the parent ingredient. */
  ingredient?: { mime: string; title: string; bytes: Uint8Array };
  /**
   * Leave the file untouched and return the manifest store to keep beside it (a `.c2pa`
   * sidecar) instead of the signed file. @default false
   */
  sidecar?: boolean;
}

/** What reading a file's C2PA manifest found, with its ingredients. */
export type C2paReadResult = SourceProvenance & { signedAt?: string; ingredients?: Array<{ title?: string; relationship?: string; hasManifest: boolean }> };

/**
 * The C2PA SDK, loaded in this process (Node >= 22) or in a Node 22 sidecar process (older Node).
 * Both run the same code (c2pa-sidecar.mjs).
 */
export interface C2paEngine {
  readonly mode: 'in-process' | 'sidecar';
  /** The manifest in `bytes`, or in `opts.sidecar` (a `.c2pa` manifest store) checked against `bytes`. */
  read(bytes: Uint8Array, mime: string, opts?: { trustAnchorsPem?: string; sidecar?: Uint8Array }): Promise<C2paReadResult>;
  /** The signed file; with `request.sidecar`, the manifest store to keep beside the unchanged file. */
  sign(request: C2paSignRequest, bytes: Uint8Array): Promise<{ bytes: Buffer; ms: number }>;
  close(): Promise<void>;
}

/** The C2PA SDK failed or its sidecar died. */
export class C2paEngineError extends Error {
  override readonly name = 'C2paEngineError';
}

/** Loads the SDK from an installation directory (see scripts/c2pa.ts) and gives it `init`. */
export async function openC2paEngine(dir: string, init: C2paInit = {}, opts: { mode?: 'in-process' | 'sidecar' } = {}): Promise<C2paEngine> {
  const mode = opts.mode ?? (nodeRunsC2paInProcess() ? 'in-process' : 'sidecar');
  const engine = mode === 'in-process' ? await InProcessEngine.open(dir) : new SidecarEngine(dir);
  await engine.call({ op: 'init', ...init }, []);
  return engine;
}

const asBuffer = (b: Uint8Array) => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));

abstract class BaseEngine implements C2paEngine {
  abstract readonly mode: 'in-process' | 'sidecar';
  abstract call(request: Record<string, unknown> & { op: string }, parts: Buffer[]): Promise<{ result: unknown; bytes?: Buffer; ms: number }>;
  abstract close(): Promise<void>;

  async read(bytes: Uint8Array, mime: string, opts: { trustAnchorsPem?: string; sidecar?: Uint8Array } = {}): Promise<C2paReadResult> {
    const parts = [asBuffer(bytes), ...(opts.sidecar ? [asBuffer(opts.sidecar)] : [])];
    const { result } = await this.call({ op: 'read', mime, ...(opts.trustAnchorsPem ? { trustAnchorsPem: opts.trustAnchorsPem } : {}) }, parts);
    return result as C2paReadResult;
  }

  async sign(request: C2paSignRequest, bytes: Uint8Array): Promise<{ bytes: Buffer; ms: number }> {
    const { ingredient, ...rest } = request;
    const parts = [asBuffer(bytes), ...(ingredient ? [asBuffer(ingredient.bytes)] : [])];
    const out = await this.call({ op: 'sign', ...rest, ...(ingredient ? { ingredient: { mime: ingredient.mime, title: ingredient.title } } : {}) }, parts);
    if (!out.bytes) throw new C2paEngineError('the C2PA SDK returned no signed bytes');
    return { bytes: out.bytes, ms: out.ms };
  }
}

class InProcessEngine extends BaseEngine {
  readonly mode = 'in-process' as const;
  private constructor(private readonly handler: C2paHandler) {
    super();
  }

  static async open(dir: string): Promise<InProcessEngine> {
    const c2pa: unknown = await import(pathToFileURL(c2paLayout(dir).module).href);
    return new InProcessEngine(createC2paHandler(c2pa));
  }

  async call(request: Record<string, unknown> & { op: string }, parts: Buffer[]) {
    const started = performance.now();
    try {
      const out = await this.handler.handle(request, parts);
      return { ...out, ms: performance.now() - started };
    } catch (err) {
      throw new C2paEngineError(`C2PA ${request.op}: ${(err as Error).message}`, { cause: err });
    }
  }

  async close(): Promise<void> {}
}

/**
 * A Node 22 process running c2pa-sidecar.mjs, started on first use and again after it dies (its
 * `init` is replayed). It answers in order, one request at a time.
 */
class SidecarEngine extends BaseEngine {
  readonly mode = 'sidecar' as const;
  private child: ChildProcessWithoutNullStreams | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: { result: unknown; bytes?: Buffer; ms: number }) => void; reject: (e: Error) => void; op: string }>();
  private init: (Record<string, unknown> & { op: string }) | undefined;
  /** The answer to the current process's `init`. */
  private initialised: Promise<{ result: unknown; bytes?: Buffer; ms: number }> | undefined;
  private stderrTail = '';
  private closed = false;

  constructor(private readonly dir: string) {
    super();
  }

  private start(): ChildProcessWithoutNullStreams {
    const { node, module } = c2paLayout(this.dir);
    const child = spawn(node, [SIDECAR_SCRIPT, module], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.stderrTail = '';
    child.stdout.on('data', deframer((json, parts) => {
      const id = json.id as number;
      const waiter = this.pending.get(id);
      if (!waiter) return;
      this.pending.delete(id);
      if (json.ok) waiter.resolve({ result: json.result, bytes: parts[0], ms: json.ms as number });
      else waiter.reject(new C2paEngineError(`C2PA ${waiter.op}: ${String(json.error)}`));
    }));
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString()).slice(-2000);
    });
    const fail = (why: string) => {
      if (this.child === child) this.child = undefined;
      const err = new C2paEngineError(`the C2PA sidecar (${node}) ${why}${this.stderrTail ? `: ${this.stderrTail.trim()}` : ''}`);
      for (const [id, waiter] of this.pending) {
        this.pending.delete(id);
        waiter.reject(err);
      }
    };
    child.on('error', (err) => fail(`could not run: ${err.message}`));
    child.on('exit', (code, signal) => fail(`exited (${signal ?? `code ${code}`})`));
    child.stdin.on('error', () => {}); // a dead sidecar is reported by 'exit'
    // An idle sidecar must never keep a finishing worker (or test) alive (it exits when its stdin
    // closes); one with requests in flight must, or their answers would never arrive.
    this.hold(child, false);
    this.child = child;
    // In order before anything else: a restarted sidecar gets its signer back first.
    if (this.init) this.initialised = this.sendOn(child, this.init, []);
    return child;
  }

  private send(request: Record<string, unknown> & { op: string }, parts: Buffer[]) {
    return this.sendOn(this.child ?? this.start(), request, parts);
  }

  private sendOn(child: ChildProcessWithoutNullStreams, request: Record<string, unknown> & { op: string }, parts: Buffer[]) {
    const id = this.nextId++;
    return new Promise<{ result: unknown; bytes?: Buffer; ms: number }>((resolve, reject) => {
      const settle = () => {
        this.pending.delete(id);
        if (this.pending.size === 0) this.hold(child, false);
      };
      this.pending.set(id, { resolve: (v) => (settle(), resolve(v)), reject: (e) => (settle(), reject(e)), op: request.op });
      this.hold(child, true);
      child.stdin.write(frame({ ...request, id }, parts));
    });
  }

  private hold(child: ChildProcessWithoutNullStreams, busy: boolean): void {
    for (const h of [child, child.stdin, child.stdout, child.stderr] as unknown as Array<{ ref?: () => void; unref?: () => void }>) {
      if (busy) h.ref?.();
      else h.unref?.();
    }
  }

  async call(request: Record<string, unknown> & { op: string }, parts: Buffer[]) {
    if (this.closed) throw new C2paEngineError('the C2PA engine is closed');
    if (request.op === 'init') {
      this.init = request;
      if (!this.child) {
        this.start();
        return this.initialised!;
      }
    }
    return this.send(request, parts);
  }

  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    this.child = undefined;
    if (!child) return;
    this.hold(child, true);
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.stdin.end();
      setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 2000).unref();
    });
  }
}
