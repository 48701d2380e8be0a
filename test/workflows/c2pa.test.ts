import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateBrief } from '../../domain/brief';
import { TRAINED_ALGORITHMIC_MEDIA, type Manifest } from '../../domain/types';
import { FsBlobStore } from '../../activities/blob-store';
import { C2paUnavailableError, openC2paEngine, type C2paEngine } from '../../activities/provenance';
import type { ImageGenerator } from '../../activities/providers';
import { LocalImageGenerator } from '../../activities/providers/local';
import { createDarkroomWorker } from '../../workers/worker';
import { startBrief } from '../../client/briefs';
import { closeTestConnection, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testConfig, testWorkflowBundle, withWorker } from '../support/worker';
import { testBrief } from '../support/briefs';
import { makeTestCa, signingEnv, testC2paDir, type TestCa } from '../support/c2pa';

let dir: string;
let darkroomCa: TestCa;
let vendorCa: TestCa;
let vendor: C2paEngine;
let verifier: C2paEngine;

/** The offline generator, with its images signed the way OpenAI and Google sign theirs. */
function vendorSignedGenerator(): ImageGenerator {
  const inner = new LocalImageGenerator();
  return {
    name: 'vendor-signed-local',
    async generate(input) {
      const out = await inner.generate(input);
      const { bytes } = await vendor.sign({
        mime: out.mime, title: 'generated.png', claimGenerator: { name: 'VendorAI', version: '2.1' },
        actions: [{ action: 'c2pa.created', digitalSourceType: TRAINED_ALGORITHMIC_MEDIA }],
      }, out.image);
      return { ...out, image: bytes };
    },
  };
}

beforeAll(async () => {
  dir = await testC2paDir();
  darkroomCa = makeTestCa('Darkroom Tests');
  vendorCa = makeTestCa('Vendor Tests');
  vendor = await openC2paEngine(dir, { certPem: readFileSync(vendorCa.certFile, 'utf8'), keyPem: readFileSync(vendorCa.keyFile, 'utf8'), alg: 'es256' });
  verifier = await openC2paEngine(dir, { trustAnchorsPem: darkroomCa.rootPem });
  await testWorkflowBundle();
});
afterAll(async () => {
  await Promise.all([vendor?.close(), verifier?.close()]);
  await closeTestConnection();
});

describe('C2PA through a real worker', () => {
  it('publishes every asset signed and verifiable, with the vendor manifest read and kept as ingredient, and the manifest saying so', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('c2pa');
    const dataDir = testDataDir('c2pa');
    // web-hero ships AVIF, WebP and JPEG; email-header JPEG and PNG.
    const brief = validateBrief(testBrief({ channels: ['web-hero', 'email-header'], candidates: 2, topK: 1 }));
    const manifest = await withWorker({ taskQueue, dataDir, env: signingEnv(darkroomCa, dir), providers: { imageGenerators: { local: vendorSignedGenerator() } } }, async () => {
      const { handle } = await startBrief(client, brief, taskQueue, { workflowId: uniqueWorkflowId('c2pa') });
      return handle.result();
    });

    expect(manifest.outcome).toBe('published');
    expect(manifest.selected[0]!.provenance).toMatchObject({
      state: 'read', validation: 'Valid', issuer: 'Vendor Tests', signer: 'Vendor Tests Signer', claimGenerator: 'VendorAI/2.1',
      actions: ['c2pa.created'], digitalSourceType: TRAINED_ALGORITHMIC_MEDIA,
    });
    // web-hero needs more pixels than the offline model makes: the master is an upscaled copy
    // (without the vendor's manifest), and the vendor's manifest is read from the original.
    expect(manifest.selected[0]!.upscaledFrom).toBeDefined();
    expect(manifest.assets.map((a) => a.format).sort()).toEqual(['avif', 'jpeg', 'jpeg', 'png', 'webp']);
    const blobs = new FsBlobStore(path.join(dataDir, 'blobs'));
    for (const a of manifest.assets) {
      expect(a.provenance, a.key).toMatchObject({
        signed: true, claimGenerator: 'Darkroom/0.1.0', ingredient: true, source: 'read',
        signer: { subject: 'CN=Darkroom Tests Signer, O=Darkroom Tests', issuer: 'CN=Darkroom Tests Test Root, O=Darkroom Tests', alg: 'es256' },
      });
      const bytes = await blobs.get(a.key);
      // The manifest's hash is of the signed bytes: signing was the last change to the file.
      expect(createHash('sha256').update(bytes).digest('hex'), a.key).toBe(a.sha256);
      const read = await verifier.read(bytes, a.mime);
      expect(read, a.key).toMatchObject({ state: 'read', validation: 'Trusted', claimGenerator: 'Darkroom/0.1.0', issuer: 'Darkroom Tests' });
      if (read.state !== 'read') throw new Error('unreachable');
      expect(read.actions, a.key).toEqual(a.provenance!.actions);
      expect(read.actions.slice(0, 2)).toEqual(['c2pa.opened', 'c2pa.resized']);
      expect(read.actions).toContain(a.format === 'png' ? 'c2pa.transcoded' : 'c2pa.converted');
      expect(read.ingredients, a.key).toEqual([expect.objectContaining({ relationship: 'parentOf', hasManifest: true })]);
    }
    const stored = JSON.parse((await blobs.get(manifest.manifestKey)).toString()) as Manifest;
    expect(stored.assets.every((a) => a.provenance?.signed === true)).toBe(true);
    expect(stored.selected[0]!.provenance).toEqual(manifest.selected[0]!.provenance);
    // The key stays with the worker.
    const keyBody = readFileSync(darkroomCa.keyFile, 'utf8').split('\n')[1]!;
    expect(JSON.stringify(stored)).not.toContain(keyBody);
    expect(JSON.stringify(stored)).not.toContain(darkroomCa.keyFile);
  });

  it('publishes the print TIFF as encoded with its signed manifest store beside it (<key>.c2pa), which verifies against it', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('c2pa-tiff');
    const dataDir = testDataDir('c2pa-tiff');
    const brief = validateBrief(testBrief({ channels: ['print-a4'], candidates: 1, topK: 1 }));
    const manifest = await withWorker({ taskQueue, dataDir, env: signingEnv(darkroomCa, dir) }, async () => {
      const { handle } = await startBrief(client, brief, taskQueue, { workflowId: uniqueWorkflowId('c2pa-tiff') });
      return handle.result();
    });
    expect(manifest.outcome).toBe('published');
    const blobs = new FsBlobStore(path.join(dataDir, 'blobs'));
    const tiff = manifest.assets.find((a) => a.format === 'tiff')!;
    const png = manifest.assets.find((a) => a.format === 'png')!;
    expect(tiff.provenance).toMatchObject({ signed: true, claimGenerator: 'Darkroom/0.1.0', sidecar: `${tiff.key}.c2pa` });
    expect(png.provenance?.sidecar, 'PNG carries its manifest inside').toBeUndefined();
    const bytes = await blobs.get(tiff.key);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(tiff.sha256);
    expect(await verifier.read(bytes, 'image/tiff')).toMatchObject({ state: 'none' });
    const read = await verifier.read(bytes, 'image/tiff', { sidecar: await blobs.get(tiff.provenance!.sidecar!) });
    expect(read).toMatchObject({ state: 'read', validation: 'Trusted', issuer: 'Darkroom Tests', digitalSourceType: TRAINED_ALGORITHMIC_MEDIA });
    if (read.state !== 'read') throw new Error('unreachable');
    expect(read.actions).toEqual(tiff.provenance!.actions);
    // The other sidecar-less file of the same candidate does not verify with it.
    const other = await verifier.read(await blobs.get(png.key), 'image/png', { sidecar: await blobs.get(tiff.provenance!.sidecar!) }).catch(() => ({ state: 'error' as const }));
    expect(other.state === 'error' || (other.state === 'read' && other.validation === 'Invalid'), JSON.stringify(other)).toBe(true);
  });

  it('does not start a worker whose signing is configured but cannot work', async () => {
    const empty = mkdtempSync(path.join(os.tmpdir(), 'c2pa-empty-'));
    const config = testConfig(uniqueTaskQueue('c2pa-nostart'), testDataDir('c2pa-nostart'), signingEnv(darkroomCa, empty));
    const err = await createDarkroomWorker({ config, workflowBundle: await testWorkflowBundle() }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(C2paUnavailableError);
    expect((err as Error).message).toMatch(/C2PA signing is configured .* not installed .*scripts\/c2pa\.ts/);
  });
});
