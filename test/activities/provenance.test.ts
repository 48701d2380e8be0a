import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../domain/config';
import type { ChannelPreset } from '../../domain/channels';
import { TRAINED_ALGORITHMIC_MEDIA } from '../../domain/types';
import { formatForChannels } from '../../activities/images/format';
import { C2paUnavailableError, createProvenance, openC2paEngine, renditionEdits, UNSIGNED_REASON, type C2paEngine, type Provenance } from '../../activities/provenance';
import { makeTestCa, signingEnv, testC2paDir, type TestCa } from '../support/c2pa';

/** One channel that ships every format the format stage can make. */
const EVERY_FORMAT: ChannelPreset = {
  id: 'every-format', label: 'every format', width: 480, height: 270, aspect: '16:9', density: 72,
  formats: ['jpeg', 'png', 'webp', 'avif', 'tiff'], note: 'test',
};

let dir: string;
let darkroomCa: TestCa;
let vendorCa: TestCa;
let provenance: Provenance;
/** A verifier that trusts Darkroom's test root only. */
let verifier: C2paEngine;
/** A "vendor" signing its generated images, under its own root. */
let vendor: C2paEngine;
let master: Buffer;

beforeAll(async () => {
  dir = await testC2paDir();
  darkroomCa = makeTestCa('Darkroom Tests');
  vendorCa = makeTestCa('Vendor Tests');
  provenance = await createProvenance(parseConfig(signingEnv(darkroomCa, dir)));
  verifier = await openC2paEngine(dir, { trustAnchorsPem: darkroomCa.rootPem });
  const { readFileSync } = await import('node:fs');
  vendor = await openC2paEngine(dir, { certPem: readFileSync(vendorCa.certFile, 'utf8'), keyPem: readFileSync(vendorCa.keyFile, 'utf8'), alg: 'es256' });
  // A master with EXIF and GPS that must never reach a deliverable.
  master = await sharp({ create: { width: 800, height: 600, channels: 3, background: '#6a8caf' } })
    .composite([{ input: { create: { width: 200, height: 200, channels: 3, background: '#d04020' } }, left: 500, top: 120 }])
    .withExif({ IFD0: { Make: 'Darkroom test camera' }, IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1' } })
    .jpeg().toBuffer();
});

afterAll(async () => {
  await Promise.all([provenance?.close(), verifier?.close(), vendor?.close()]);
});

async function signAll(source: Buffer, sourceMime: string) {
  const sourceProvenance = await provenance.inspect(source, sourceMime);
  const outputs = await formatForChannels(source, [EVERY_FORMAT]);
  const meta = await sharp(source).metadata();
  return Promise.all(outputs.map(async (o) => ({
    o,
    sourceProvenance,
    ...(await provenance.seal({
      bytes: o.data, mime: o.mime, title: `every-format.${o.format}`,
      edits: renditionEdits(o, { width: meta.width, height: meta.height }, { width: meta.width, height: meta.height, mime: sourceMime }),
      source: { provenance: sourceProvenance, bytes: source, mime: sourceMime, title: 'r1-c00.jpg' },
    })),
  })));
}

describe('C2PA signing of the format stage output', () => {
  it('signs JPEG, PNG, WebP and AVIF so that each verifies as trusted under the signing root, with no EXIF, GPS or XMP', async () => {
    const all = await signAll(master, 'image/jpeg');
    expect(all.map((s) => s.o.format).sort()).toEqual(['avif', 'jpeg', 'png', 'tiff', 'webp']);
    const signed = all.filter((s) => s.o.format !== 'tiff');
    for (const { o, bytes, provenance: p } of signed) {
      const read = await verifier.read(bytes, o.mime);
      expect(read, o.format).toMatchObject({ state: 'read', validation: 'Trusted', issuer: 'Darkroom Tests', signer: 'Darkroom Tests Signer', claimGenerator: 'Darkroom/0.1.0' });
      if (read.state !== 'read') throw new Error('unreachable');
      expect(read.errors, o.format).toBeUndefined();
      expect(read.actions, o.format).toEqual(['c2pa.created', 'c2pa.cropped', 'c2pa.resized', o.format === 'jpeg' ? 'c2pa.transcoded' : 'c2pa.converted']);
      expect(read.digitalSourceType).toBe(TRAINED_ALGORITHMIC_MEDIA);
      expect(p).toMatchObject({ signed: true, claimGenerator: 'Darkroom/0.1.0', ingredient: false, source: 'none', actions: read.actions });
      expect(p.signer).toMatchObject({ subject: 'CN=Darkroom Tests Signer, O=Darkroom Tests', issuer: 'CN=Darkroom Tests Test Root, O=Darkroom Tests', alg: 'es256' });

      // Still the same picture, and still nothing from the master's metadata.
      const meta = await sharp(bytes).metadata();
      expect([meta.width, meta.height], o.format).toEqual([EVERY_FORMAT.width, EVERY_FORMAT.height]);
      expect(meta.exif, o.format).toBeUndefined();
      expect(meta.xmp, o.format).toBeUndefined();
      expect(meta.iptc, o.format).toBeUndefined();
      expect(Buffer.from(bytes).includes('Darkroom test camera'), o.format).toBe(false);
      const pixels = await sharp(bytes).raw().toBuffer();
      expect(pixels.equals(await sharp(o.data).raw().toBuffer()), `${o.format}: signing must not change a pixel`).toBe(true);
    }
  });

  it('signs TIFF with a sidecar manifest store: the file stays as encoded (libtiff reads it), the sidecar verifies against it, and a changed file fails', async () => {
    const tiff = (await signAll(master, 'image/jpeg')).find((s) => s.o.format === 'tiff')!;
    expect(tiff.provenance).toMatchObject({ signed: true, claimGenerator: 'Darkroom/0.1.0', source: 'none' });
    expect(tiff.bytes.equals(tiff.o.data), 'the TIFF is published byte for byte as encoded').toBe(true);
    expect(tiff.sidecar?.length).toBeGreaterThan(1000);
    // libvips (libtiff) still opens it, and it carries no embedded manifest.
    expect((await sharp(tiff.bytes).metadata()).width).toBe(EVERY_FORMAT.width);
    expect(await verifier.read(tiff.bytes, 'image/tiff')).toMatchObject({ state: 'none' });
    const read = await verifier.read(tiff.bytes, 'image/tiff', { sidecar: tiff.sidecar! });
    expect(read).toMatchObject({ state: 'read', validation: 'Trusted', issuer: 'Darkroom Tests', claimGenerator: 'Darkroom/0.1.0', digitalSourceType: TRAINED_ALGORITHMIC_MEDIA });
    if (read.state !== 'read') throw new Error('unreachable');
    expect(read.errors).toBeUndefined();
    expect(read.actions).toEqual(['c2pa.created', 'c2pa.cropped', 'c2pa.resized', 'c2pa.converted']);
    const tampered = Buffer.from(tiff.bytes);
    tampered.writeUInt8(tampered.readUInt8(tampered.length - 40) ^ 0x55, tampered.length - 40);
    const bad = await verifier.read(tampered, 'image/tiff', { sidecar: tiff.sidecar! });
    expect(bad).toMatchObject({ state: 'read', validation: 'Invalid' });
    if (bad.state === 'read') expect(bad.errors?.join(' ')).toMatch(/mismatch/);
  });

  it('fails validation when a signed file is changed after signing', async () => {
    const signed = await signAll(master, 'image/jpeg');
    for (const { o, bytes } of signed.filter((s) => s.o.format !== 'tiff')) {
      const tampered = Buffer.from(bytes);
      // A byte of image data near the end, away from the manifest.
      const at = tampered.length - 40;
      tampered.writeUInt8(tampered.readUInt8(at) ^ 0x55, at);
      const read = await verifier.read(tampered, o.mime).catch((err: Error) => ({ state: 'error' as const, message: err.message }));
      expect(read.state === 'error' || (read.state === 'read' && read.validation === 'Invalid'), `${o.format}: ${JSON.stringify(read)}`).toBe(true);
      // Which check trips depends on where the byte sits (image data: a hash; the manifest: its signature).
      if (read.state === 'read') expect(read.errors?.join(' '), o.format).toMatch(/mismatch/);
    }
  });

  it("reads a vendor's manifest on a generated image and keeps it as the signed file's parent ingredient", async () => {
    const generated = (await vendor.sign({
      mime: 'image/jpeg', title: 'generated.jpg', claimGenerator: { name: 'VendorAI', version: '2.1' },
      actions: [{ action: 'c2pa.created', digitalSourceType: TRAINED_ALGORITHMIC_MEDIA }],
    }, master)).bytes;

    const signed = await signAll(generated, 'image/jpeg');
    expect(signed[0]!.sourceProvenance).toMatchObject({
      state: 'read', validation: 'Valid', issuer: 'Vendor Tests', signer: 'Vendor Tests Signer', claimGenerator: 'VendorAI/2.1',
      actions: ['c2pa.created'], digitalSourceType: TRAINED_ALGORITHMIC_MEDIA,
    });
    for (const { o, bytes, provenance: p } of signed.filter((s) => s.o.format !== 'tiff')) {
      expect(p).toMatchObject({ signed: true, ingredient: true, source: 'read' });
      const read = await verifier.read(bytes, o.mime);
      expect(read, o.format).toMatchObject({ state: 'read', validation: 'Trusted', claimGenerator: 'Darkroom/0.1.0' });
      if (read.state !== 'read') throw new Error('unreachable');
      expect(read.actions[0]).toBe('c2pa.opened');
      expect(read.ingredients, o.format).toEqual([{ title: 'r1-c00.jpg', relationship: 'parentOf', hasManifest: true }]);
    }
    // With the vendor's root in DARKROOM_C2PA_TRUST_ANCHORS, its manifest counts as trusted.
    const trusting = await createProvenance(parseConfig({ DARKROOM_C2PA_DIR: dir, DARKROOM_C2PA_TRUST_ANCHORS: vendorCa.rootFile }));
    try {
      expect(await trusting.inspect(generated, 'image/jpeg')).toMatchObject({ state: 'read', validation: 'Trusted', issuer: 'Vendor Tests' });
    } finally {
      await trusting.close();
    }
  });

  it('signs the same way in-process (how it runs on Node 22, e.g. the Docker image)', async () => {
    const inProcess = await openC2paEngine(dir, { certPem: readFileSync(darkroomCa.certFile, 'utf8'), keyPem: readFileSync(darkroomCa.keyFile, 'utf8'), alg: 'es256' }, { mode: 'in-process' });
    expect(inProcess.mode).toBe('in-process');
    const png = await sharp(master).png().toBuffer();
    const { bytes } = await inProcess.sign({ mime: 'image/png', title: 'x.png', claimGenerator: { name: 'Darkroom', version: '0.1.0' }, actions: [{ action: 'c2pa.created', digitalSourceType: TRAINED_ALGORITHMIC_MEDIA }] }, png);
    expect(await verifier.read(bytes, 'image/png')).toMatchObject({ state: 'read', validation: 'Trusted' });
  });
});

describe('the Node 22 sidecar', () => {
  it('is started again, with its signer, after it dies', async () => {
    const engine = await openC2paEngine(dir, { certPem: readFileSync(darkroomCa.certFile, 'utf8'), keyPem: readFileSync(darkroomCa.keyFile, 'utf8'), alg: 'es256' }, { mode: 'sidecar' });
    try {
      const png = await sharp(master).png().toBuffer();
      const request = { mime: 'image/png', title: 'x.png', claimGenerator: { name: 'Darkroom', version: '0.1.0' }, actions: [{ action: 'c2pa.created', digitalSourceType: TRAINED_ALGORITHMIC_MEDIA }] };
      await engine.sign(request, png);
      const child = (engine as unknown as { child: ChildProcess }).child;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
      const { bytes } = await engine.sign(request, png);
      expect(await verifier.read(bytes, 'image/png')).toMatchObject({ state: 'read', validation: 'Trusted' });
      expect((engine as unknown as { child: { pid: number } }).child.pid).not.toBe(child.pid);
    } finally {
      await engine.close();
    }
  });
});

describe('provenance without signing', () => {
  it('publishes files unchanged and says why they are unsigned; images without C2PA data read as none without loading the SDK', async () => {
    const unsigned = await createProvenance(parseConfig({ DARKROOM_C2PA_DIR: path.join(os.tmpdir(), 'no-such-c2pa-dir') }));
    const jpeg = await sharp(master).jpeg().toBuffer();
    expect(unsigned.signing).toBe(false);
    expect(await unsigned.inspect(jpeg, 'image/jpeg')).toEqual({ state: 'none' });
    expect(unsigned.mode).toBe('not loaded');
    const out = await unsigned.seal({ bytes: jpeg, mime: 'image/jpeg', title: 'x.jpg', edits: [], source: { provenance: { state: 'none' }, bytes: jpeg, mime: 'image/jpeg', title: 'g.jpg' } });
    expect(createHash('sha256').update(out.bytes).digest('hex')).toBe(createHash('sha256').update(jpeg).digest('hex'));
    expect(out.provenance).toEqual({ signed: false, reason: UNSIGNED_REASON, source: 'none' });
    await unsigned.close();
  });

  it('records a C2PA-carrying image as unread, with the reason, when the SDK is not installed', async () => {
    const signed = await signAll(master, 'image/jpeg');
    const unsigned = await createProvenance(parseConfig({ DARKROOM_C2PA_DIR: path.join(os.tmpdir(), 'no-such-c2pa-dir') }));
    const got = await unsigned.inspect(signed[0]!.bytes, signed[0]!.o.mime);
    expect(got.state).toBe('unread');
    expect(got.state === 'unread' && got.reason).toMatch(/scripts\/c2pa\.ts|not installed/);
  });
});

describe('signing configuration errors', () => {
  it('names the missing half of a signing identity', () => {
    expect(() => parseConfig({ DARKROOM_C2PA_CERT: darkroomCa.certFile })).toThrow(/DARKROOM_C2PA_KEY is required when DARKROOM_C2PA_CERT is set/);
    expect(() => parseConfig({ DARKROOM_C2PA_KEY: darkroomCa.keyFile })).toThrow(/DARKROOM_C2PA_CERT is required when DARKROOM_C2PA_KEY is set/);
    expect(() => parseConfig({ DARKROOM_C2PA_ALG: 'rsa' })).toThrow(/DARKROOM_C2PA_ALG must be one of es256/);
  });

  it('refuses to start signing without the SDK, with how to install it', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'c2pa-empty-'));
    const err = await createProvenance(parseConfig(signingEnv(darkroomCa, empty))).catch((e: Error) => e);
    expect(err).toBeInstanceOf(C2paUnavailableError);
    expect((err as Error).message).toMatch(/C2PA signing is configured \(DARKROOM_C2PA_CERT\), but the C2PA SDK .* is not installed in .*c2pa-empty-.*npx tsx scripts\/c2pa\.ts/);
  });

  it('refuses a key that does not belong to the certificate, and an unreadable key file', async () => {
    const other = makeTestCa('Other');
    const mismatched = await createProvenance(parseConfig({ ...signingEnv(darkroomCa, dir), DARKROOM_C2PA_KEY: other.keyFile })).catch((e: Error) => e);
    expect(mismatched).toBeInstanceOf(C2paUnavailableError);
    expect((mismatched as Error).message).toMatch(/DARKROOM_C2PA_CERT, DARKROOM_C2PA_KEY/);
    const missing = await createProvenance(parseConfig({ ...signingEnv(darkroomCa, dir), DARKROOM_C2PA_KEY: '/nonexistent/key.pem' })).catch((e: Error) => e);
    expect((missing as Error).message).toMatch(/^DARKROOM_C2PA_KEY: cannot read \/nonexistent\/key\.pem: ENOENT/);
  });
});
