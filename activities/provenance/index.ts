import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Config } from '../../domain/config';
import { TRAINED_ALGORITHMIC_MEDIA, type AssetProvenance, type SourceProvenance } from '../../domain/types';
import { openC2paEngine, type C2paEngine } from './engine';
import { C2PA_INSTALL_HINT, c2paInstallProblem, defaultC2paDir, nodeRunsC2paInProcess } from './install';

export { openC2paEngine, type C2paEngine, type C2paReadResult } from './engine';

/** A C2PA action as the signed manifest records it, e.g. `{ action: 'c2pa.cropped', description: '…' }`. */
export type C2paAction = Record<string, unknown> & { action: string };

/** What is known about the generated image a rendition was cut from. */
export interface RenditionSource {
  provenance: SourceProvenance;
  bytes: Uint8Array;
  mime: string;
  /** A file name for the ingredient, e.g. `r1-c00.png`. */
  title: string;
}

export interface SealInput {
  /** The final encoded bytes: nothing may change them after signing. */
  bytes: Buffer;
  mime: string;
  /** A file name for the manifest's title, e.g. `web-hero.jpg`. */
  title: string;
  /** What Darkroom did after the image was made (cropped, resized, placed, converted…), in order. */
  edits: C2paAction[];
  source: RenditionSource;
}

/** A sealed rendition: the bytes to publish, what their provenance is, and a sidecar manifest store when there is one. */
export interface Sealed {
  bytes: Buffer;
  provenance: AssetProvenance;
  sidecar?: Buffer;
}

/**
 * Reads the C2PA manifests vendors put on generated images, and signs every published file with
 * Darkroom's own (when a signing certificate is configured).
 */
export interface Provenance {
  /** True when files are signed; false means {@link seal} returns them as they are, saying why. */
  readonly signing: boolean;
  /** How the C2PA SDK runs, once it has been loaded. */
  readonly mode: 'in-process' | 'sidecar' | 'not loaded';
  /** What C2PA says about a generated image. Never starts the SDK for a file without C2PA data. */
  inspect(bytes: Uint8Array, mime: string): Promise<SourceProvenance>;
  /**
   * Signs one rendition, as the last step before it is stored; the bytes returned are the ones
   * to publish. For {@link SIDECAR_FORMATS} they are the input unchanged and `sidecar` holds the
   * manifest store to publish beside them (at {@link sidecarKey}).
   */
  seal(input: SealInput): Promise<Sealed>;
  close(): Promise<void>;
}

/**
 * The C2PA actions for what the format stage did to one rendition, in order: an upscale, the
 * crop, the resize, anything placed on it, and the encode (`c2pa.converted` when the format
 * changed, `c2pa.transcoded` when only the encoding did).
 */
export function renditionEdits(r: {
  width: number; height: number; mime: string;
  crop: { left: number; top: number; width: number; height: number };
  placed?: Array<{ description: string }>;
}, master: { width: number; height: number }, source: { width: number; height: number; mime: string }): C2paAction[] {
  const edits: C2paAction[] = [];
  if (master.width !== source.width || master.height !== source.height) {
    edits.push({ action: 'c2pa.resized', description: `upscaled from ${source.width}x${source.height} to ${master.width}x${master.height}` });
  }
  const { crop } = r;
  if (crop.left !== 0 || crop.top !== 0 || crop.width !== master.width || crop.height !== master.height) {
    edits.push({ action: 'c2pa.cropped', description: `${crop.width}x${crop.height} at ${crop.left},${crop.top}`, parameters: { ...crop } });
  }
  if (r.width !== crop.width || r.height !== crop.height) edits.push({ action: 'c2pa.resized', description: `to ${r.width}x${r.height}` });
  // Not `c2pa.placed`: C2PA requires that action to name the placed ingredient, and without the
  // logo embedded as one the whole manifest fails validation (assertion.action.ingredientMismatch).
  for (const p of r.placed ?? []) edits.push({ action: 'c2pa.edited', description: `placed ${p.description}` });
  edits.push(r.mime === source.mime ? { action: 'c2pa.transcoded', description: `encoded as ${r.mime}` } : { action: 'c2pa.converted', description: `${source.mime} to ${r.mime}` });
  return edits;
}

/** C2PA signing is configured but cannot work on this machine: the worker must not start. */
export class C2paUnavailableError extends Error {
  override readonly name = 'C2paUnavailableError';
}

export const UNSIGNED_REASON = 'no signing certificate configured';

/**
 * Formats signed with a sidecar manifest (`<file>.c2pa`, the manifest store C2PA defines for
 * files that cannot or should not carry one) instead of an embedded one. The SDK's TIFF writer
 * (c2pa-rs 0.90, in c2pa-node 0.8.0) adds a directory without image fields, which libtiff and
 * everything built on it (libvips, ImageMagick, most print RIPs) then refuse to open
 * (contentauth/c2pa-rs#1894): the print master stays byte for byte as encoded, and its
 * manifest, bound to those bytes by their hash, travels beside it.
 */
export const SIDECAR_FORMATS: ReadonlySet<string> = new Set(['image/tiff']);

/** The media type of a C2PA manifest store (a `.c2pa` file). */
export const C2PA_MIME = 'application/c2pa';

/** The key of a file's sidecar manifest store: the file's own key with `.c2pa` appended. */
export const sidecarKey = (assetKey: string): string => `${assetKey}.c2pa`;

/**
 * Darkroom's {@link Provenance} from the configuration. With DARKROOM_C2PA_CERT/KEY set it loads
 * the SDK now and signs a test image, so that a missing SDK, an unreadable key or a certificate
 * C2PA refuses stops the worker at start rather than publishing unsigned files. Without them it
 * costs nothing: the SDK is loaded only if a generated image turns out to carry C2PA data.
 */
export async function createProvenance(config: Config, opts: { version?: string } = {}): Promise<Provenance> {
  const dir = config.DARKROOM_C2PA_DIR ?? defaultC2paDir();
  const version = opts.version ?? (await darkroomVersion());
  const claimGenerator = { name: 'Darkroom', version };
  const trustAnchorsPem = config.DARKROOM_C2PA_TRUST_ANCHORS ? await readPem('DARKROOM_C2PA_TRUST_ANCHORS', config.DARKROOM_C2PA_TRUST_ANCHORS) : undefined;

  if (!config.DARKROOM_C2PA_CERT || !config.DARKROOM_C2PA_KEY) {
    let engine: Promise<C2paEngine | string> | undefined;
    const loadReader = () => (engine ??= c2paInstallProblem(dir, !nodeRunsC2paInProcess()).then((problem): Promise<C2paEngine | string> | string => problem ?? openC2paEngine(dir, { trustAnchorsPem })));
    return new C2paProvenance(undefined, loadReader, claimGenerator);
  }

  const certPem = await readPem('DARKROOM_C2PA_CERT', config.DARKROOM_C2PA_CERT);
  const keyPem = await readPem('DARKROOM_C2PA_KEY', config.DARKROOM_C2PA_KEY);
  const signer = describeSigner(certPem, config.DARKROOM_C2PA_ALG);
  const problem = await c2paInstallProblem(dir, !nodeRunsC2paInProcess());
  if (problem) throw new C2paUnavailableError(`C2PA signing is configured (DARKROOM_C2PA_CERT), but ${problem}: ${C2PA_INSTALL_HINT}`);
  let engine: C2paEngine;
  try {
    engine = await openC2paEngine(dir, { certPem, keyPem, alg: config.DARKROOM_C2PA_ALG, tsaUrl: config.DARKROOM_C2PA_TSA_URL, trustAnchorsPem });
  } catch (err) {
    throw new C2paUnavailableError(`C2PA signing is configured, but the signer did not load (DARKROOM_C2PA_CERT, DARKROOM_C2PA_KEY, DARKROOM_C2PA_ALG): ${(err as Error).message}`, { cause: err });
  }
  const provenance = new C2paProvenance({ engine, signer }, async () => engine, claimGenerator);
  try {
    await provenance.selfTest();
  } catch (err) {
    await engine.close();
    throw new C2paUnavailableError(`C2PA signing is configured, but a test signature failed (DARKROOM_C2PA_CERT, DARKROOM_C2PA_KEY, DARKROOM_C2PA_ALG): ${(err as Error).message}`, { cause: err });
  }
  return provenance;
}

/** A Provenance that never signs and never reads (for tests and tools that do not publish). */
export function noProvenance(reason = UNSIGNED_REASON): Provenance {
  return {
    signing: false,
    mode: 'not loaded',
    inspect: async () => ({ state: 'unread', reason: 'C2PA reading is off' }),
    seal: async ({ bytes, source }) => ({ bytes, provenance: { signed: false, reason, source: source.provenance.state } }),
    close: async () => {},
  };
}

class C2paProvenance implements Provenance {
  private loaded: C2paEngine | undefined;

  constructor(
    private readonly signer: { engine: C2paEngine; signer: NonNullable<AssetProvenance['signer']> } | undefined,
    private readonly reader: () => Promise<C2paEngine | string>,
    private readonly claimGenerator: { name: string; version: string },
  ) {
    this.loaded = signer?.engine;
  }

  get signing(): boolean {
    return this.signer !== undefined;
  }

  get mode() {
    return this.loaded?.mode ?? 'not loaded';
  }

  async inspect(bytes: Uint8Array, mime: string): Promise<SourceProvenance> {
    if (!mayCarryC2pa(bytes)) return { state: 'none' };
    const engine = await this.reader();
    if (typeof engine === 'string') return { state: 'unread', reason: `the image seems to carry C2PA data, but ${engine}` };
    this.loaded = engine;
    const read = await engine.read(bytes, mime);
    if (read.state !== 'read') return read.state === 'none' ? { state: 'none' } : read;
    const { state, validation, issuer, signer, signedAt, claimGenerator, actions, digitalSourceType, errors } = read;
    return { state, validation, issuer, signer, signedAt, claimGenerator, actions, digitalSourceType, ...(errors?.length ? { errors } : {}) };
  }

  async seal({ bytes, mime, title, edits, source }: SealInput): Promise<Sealed> {
    if (!this.signer) return { bytes, provenance: { signed: false, reason: UNSIGNED_REASON, source: source.provenance.state } };
    const sidecar = SIDECAR_FORMATS.has(mime);
    const fromVendor = source.provenance.state === 'read';
    // A vendor's manifest already says the image was created (by a model): Darkroom's opens it.
    const first: C2paAction = fromVendor
      ? { action: 'c2pa.opened', parameters: { ingredientIds: ['generated'] } }
      : { action: 'c2pa.created', digitalSourceType: TRAINED_ALGORITHMIC_MEDIA, softwareAgent: this.claimGenerator };
    const actions = [first, ...edits];
    const signed = await this.signer.engine.sign({
      mime, title, claimGenerator: this.claimGenerator, actions,
      ...(fromVendor ? { ingredient: { mime: source.mime, title: source.title, bytes: source.bytes } } : {}),
      ...(sidecar ? { sidecar: true } : {}),
    }, bytes);
    return {
      bytes: sidecar ? bytes : signed.bytes,
      provenance: {
        signed: true, signer: this.signer.signer, claimGenerator: `${this.claimGenerator.name}/${this.claimGenerator.version}`,
        actions: actions.map((a) => a.action), ingredient: fromVendor, source: source.provenance.state,
      },
      ...(sidecar ? { sidecar: signed.bytes } : {}),
    };
  }

  /** Signs a tiny PNG and reads it back: a key that does not match its certificate fails here. */
  async selfTest(): Promise<void> {
    const { bytes } = await this.seal({ bytes: TEST_PNG, mime: 'image/png', title: 'self-test.png', edits: [], source: { provenance: { state: 'none' }, bytes: TEST_PNG, mime: 'image/png', title: 'self-test.png' } });
    const read = await this.signer!.engine.read(bytes, 'image/png');
    if (read.state !== 'read' || read.validation === 'Invalid') {
      throw new Error(`the signed test image does not validate${read.state === 'read' && read.errors ? `: ${read.errors.join(', ')}` : ''}`);
    }
  }

  async close(): Promise<void> {
    await this.loaded?.close();
  }
}

/**
 * C2PA data sits in a JUMBF box labelled `c2pa` (JPEG APP11, PNG caBX, RIFF/ISO-BMFF boxes): a file
 * without those four bytes anywhere cannot carry an embedded manifest. Finding them by chance in
 * compressed data only costs a read that comes back `none`.
 */
function mayCarryC2pa(bytes: Uint8Array): boolean {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).includes('c2pa', 0, 'latin1');
}

async function readPem(variable: string, file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new C2paUnavailableError(`${variable}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!text.includes('-----BEGIN ')) throw new C2paUnavailableError(`${variable}: ${file} is not a PEM file (no -----BEGIN line)`);
  return text;
}

/** The signing certificate's public identity, for manifests: never anything about the key. */
function describeSigner(certPem: string, alg: string): NonNullable<AssetProvenance['signer']> {
  const first = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(certPem)?.[0];
  if (!first) throw new C2paUnavailableError('DARKROOM_C2PA_CERT: the file holds no certificate (no -----BEGIN CERTIFICATE----- block)');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(first);
  } catch (err) {
    throw new C2paUnavailableError(`DARKROOM_C2PA_CERT: the first certificate does not parse: ${(err as Error).message}`);
  }
  if (Date.parse(cert.validTo) < Date.now()) throw new C2paUnavailableError(`DARKROOM_C2PA_CERT: the signing certificate expired on ${cert.validTo}`);
  const dn = (s: string) => s.split('\n').filter(Boolean).join(', ');
  return { subject: dn(cert.subject), issuer: dn(cert.issuer), serial: cert.serialNumber, notAfter: new Date(cert.validTo).toISOString(), alg };
}

async function darkroomVersion(): Promise<string> {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

/** 8x8 grey PNG. */
const TEST_PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAgAAAAICAIAAABLbSncAAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAD0lEQVQImWNowAEYhpYEAILzYAEeEbvlAAAAAElFTkSuQmCC', 'base64');
