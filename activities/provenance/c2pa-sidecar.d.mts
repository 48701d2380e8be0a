/** Types for c2pa-sidecar.mjs (plain JavaScript so that a bare Node 22 can run it). */
export interface C2paHandler {
  handle(request: Record<string, unknown> & { op: string }, parts: Buffer[]): Promise<{ result: unknown; bytes?: Buffer }>;
}
export function createC2paHandler(c2pa: unknown): C2paHandler;
export function frame(json: Record<string, unknown>, parts?: Buffer[]): Buffer;
export function deframer(onMessage: (json: Record<string, unknown> & { parts?: number[] }, parts: Buffer[]) => void): (chunk: Buffer) => void;
