/**
 * The whole example, as a newcomer runs it: `darkroom catalog start` (the real CLI, its own
 * process) on examples/catalog/products-packshots.csv with template-launch.json (packshots and
 * the fernwood brand kit), offline, with a worker that signs with the certificate
 * `darkroom c2pa dev-cert` made. Every published
 * asset of every row must show the row's real packshot, the exact logo where the manifest says,
 * carry a C2PA manifest that verifies as trusted under that CA, and the manifest must score
 * product fidelity.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCsv } from '../../domain/csv';
import type { Manifest } from '../../domain/types';
import { renderLogo } from '../../activities/images/logo';
import { openC2paEngine, type C2paEngine } from '../../activities/provenance';
import { findProduct, referenceCutout } from '../../activities/providers/local/fidelity';
import type { Cutout } from '../../activities/providers/local/packshot';
import { testC2paDir } from '../support/c2pa';
import { closeTestConnection, testAddress, testDataDir, uniqueTaskQueue } from '../support/temporal';
import { testWorkflowBundle, withWorker } from '../support/worker';

const ROOT = path.resolve(__dirname, '../..');
const EXAMPLE = path.join(ROOT, 'examples/catalog');
const FEED = path.join(EXAMPLE, 'products-packshots.csv');
const TEMPLATE = path.join(EXAMPLE, 'template-launch.json');
const LOGO = readFileSync(path.join(ROOT, 'brands/fernwood/logo.svg'));

/**
 * Most a lossy encoder may move the logo's fully opaque pixels from the logo's own colours, mean
 * absolute difference out of 255: test/activities/logo.test.ts's bound for JPEG, WebP and AVIF.
 * PNG is lossless and must match exactly.
 */
const LOGO_OPAQUE_TOLERANCE = 6;
/** Below this the offline judge does not consider the product found (test/providers/local-references.test.ts). */
const PACKSHOT_FOUND = 50;

/** `darkroom <argv>` as its own process, from the repository root as a newcomer would run it. */
function darkroom(argv: string[], env: Record<string, string>): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/darkroom.js'), ...argv], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out: Buffer.concat(out).toString(), err: Buffer.concat(err).toString() }));
  });
}

let dataDir: string;
let c2paDir: string;
/** What `darkroom c2pa dev-cert` printed: DARKROOM_C2PA_CERT, _KEY and _TRUST_ANCHORS. */
let signing: Record<string, string>;
let verifier: C2paEngine;

beforeAll(async () => {
  c2paDir = await testC2paDir();
  // The signing certificate a newcomer makes: `darkroom c2pa dev-cert`, its lines used as they are.
  const made = await darkroom(['c2pa', 'dev-cert', mkdtempSync(path.join(os.tmpdir(), 'darkroom-dev-cert-'))], {});
  expect(made.code, made.err).toBe(0);
  expect(made.err).toContain('NOT for production');
  signing = Object.fromEntries(made.out.trim().split('\n').map((l) => l.split('=') as [string, string]));
  expect(Object.keys(signing).sort()).toEqual(['DARKROOM_C2PA_CERT', 'DARKROOM_C2PA_KEY', 'DARKROOM_C2PA_TRUST_ANCHORS']);
  verifier = await openC2paEngine(c2paDir, { trustAnchorsPem: readFileSync(signing.DARKROOM_C2PA_TRUST_ANCHORS!, 'utf8') });
  await testWorkflowBundle();
});
afterAll(async () => {
  await verifier?.close();
  await closeTestConnection();
});

/** Mean absolute RGB difference between the asset and the rendered logo over the logo's opaque pixels. */
async function logoDifference(asset: Buffer, box: { x: number; y: number; width: number; height: number }): Promise<{ diff: number; opaque: number }> {
  const region = await sharp(asset).removeAlpha().extract({ left: box.x, top: box.y, width: box.width, height: box.height }).raw().toBuffer();
  const logo = await sharp(await renderLogo(LOGO, box.width, box.height)).raw().toBuffer();
  let sum = 0;
  let opaque = 0;
  for (let p = 0; p < box.width * box.height; p++) {
    if (logo[p * 4 + 3] !== 255) continue;
    opaque++;
    for (let k = 0; k < 3; k++) sum += Math.abs(region[p * 3 + k]! - logo[p * 4 + k]!);
  }
  return { diff: sum / Math.max(1, opaque * 3), opaque };
}

type Box = { x: number; y: number; width: number; height: number };

const inMasters = new Map<string, Promise<Box>>();
/** Where the packshot is in a selected candidate's master (before any crop). */
function productIn(manifest: Manifest, candidateId: string, cut: Cutout): Promise<Box> {
  const master = manifest.selected.find((s) => s.id === candidateId)!.master;
  if (!inMasters.has(master.key)) inMasters.set(master.key, readFile(path.join(dataDir, 'blobs', master.key)).then((b) => findProduct(b, cut)));
  return inMasters.get(master.key)!;
}

/** The part of `box` inside `crop` (master pixels), as a share of its area and as the packshot's rows and columns (0–1). */
function keptPart(box: Box, crop: { left: number; top: number; width: number; height: number }) {
  const x0 = Math.max(box.x, crop.left);
  const y0 = Math.max(box.y, crop.top);
  const x1 = Math.min(box.x + box.width, crop.left + crop.width);
  const y1 = Math.min(box.y + box.height, crop.top + crop.height);
  const w = Math.max(0, x1 - x0);
  const h = Math.max(0, y1 - y0);
  return {
    share: (w * h) / (box.width * box.height),
    box: { x: x0, y: y0, width: w, height: h },
    cols: [(x0 - box.x) / box.width, (x1 - box.x) / box.width] as const,
    rows: [(y0 - box.y) / box.height, (y1 - box.y) / box.height] as const,
  };
}

/** The rows and columns of a cut-out that a crop kept. */
async function partOf(cut: Cutout, rows: readonly [number, number], cols: readonly [number, number]): Promise<Cutout> {
  const left = Math.floor(cols[0] * cut.width);
  const top = Math.floor(rows[0] * cut.height);
  const width = Math.max(1, Math.ceil(cols[1] * cut.width) - left);
  const height = Math.max(1, Math.ceil(rows[1] * cut.height) - top);
  const data = await sharp(cut.data, { raw: { width: cut.width, height: cut.height, channels: 4 } }).extract({ left, top, width, height }).raw().toBuffer();
  return { data, width, height };
}

describe('the example catalog, end to end', () => {
  it('publishes, for every row, signed assets that show the real packshot and the exact logo, with fidelity scored', async () => {
    const taskQueue = uniqueTaskQueue('example');
    dataDir = testDataDir('example-catalog');
    const catalogId = `example-${taskQueue.slice(-8)}`;
    const env = { TEMPORAL_ADDRESS: testAddress(), DARKROOM_TASK_QUEUE: taskQueue, DARKROOM_DATA_DIR: dataDir };
    const csv = parseCsv(readFileSync(FEED, 'utf8'));
    expect(csv.errors).toEqual([]);
    const feed = csv.records.map((r) => Object.fromEntries(csv.header.map((h, i) => [h, r.fields[i]!])));
    expect(feed).toHaveLength(3);

    const t0 = performance.now();
    await withWorker({ taskQueue, dataDir, env: { DARKROOM_C2PA_DIR: c2paDir, ...signing } }, async () => {
      const started = await darkroom(['catalog', 'start', FEED, '--template', TEMPLATE, '--id', catalogId], env);
      expect(started.code, started.err).toBe(0);
      expect(started.err).toContain('uploaded 3 reference images (3 distinct)');
      expect(started.out).toContain(`started catalog ${catalogId}`);
      const watched = await darkroom(['catalog', 'status', catalogId, '--watch'], env);
      expect(watched.code, watched.err).toBe(0);
      expect(watched.out).toContain('3 done · 0 failed');
    });
    const catalogMs = performance.now() - t0;

    const figures: string[] = [`catalog of ${feed.length} rows started by the CLI and finished in ${(catalogMs / 1000).toFixed(1)} s`];
    const blob = (key: string) => readFileSync(path.join(dataDir, 'blobs', key));
    for (const row of feed) {
      const manifest = JSON.parse(blob(`catalog-${catalogId}/${row.sku}/manifest.json`).toString()) as Manifest;
      expect(manifest.outcome, row.sku).toBe('published');
      // (d) product fidelity scored for every candidate and every asset.
      expect(manifest.candidates.length, row.sku).toBeGreaterThan(0);
      for (const c of manifest.candidates) expect(c.fidelity, `${row.sku} candidate ${c.id}`).toBeTypeOf('number');
      for (const s of manifest.selected) expect(s.judge.scores?.fidelity, `${row.sku} selected ${s.id}`).toBeTypeOf('number');
      figures.push(`${row.sku}: candidate fidelity ${manifest.candidates.map((c) => `${c.id}=${c.fidelity}`).join(', ')}`);

      const packshot = await referenceCutout(readFileSync(path.join(EXAMPLE, row.packshot!)));
      const channels = new Set(manifest.assets.map((a) => a.channel));
      expect([...channels].sort(), row.sku).toEqual(['instagram-square', 'og-image', 'story-9x16']);
      for (const asset of manifest.assets) {
        const what = `${row.sku} ${asset.channel}.${asset.format}`;
        const bytes = blob(asset.key);
        const meta = await sharp(bytes).metadata();
        expect([meta.width, meta.height], what).toEqual([asset.width, asset.height]);
        expect(asset.fidelity, what).toBeTypeOf('number');

        // (a) the real packshot is in the asset: found in the master, followed through the crop,
        // and found again in the asset at whatever size the crop and resize left it.
        const inMaster = await productIn(manifest, asset.candidateId, packshot);
        const kept = keptPart(inMaster, asset.crop);
        // The judge located the product and every crop was centred on it: all of it is in frame.
        expect(kept.share, `${what} share of the product the crop kept`).toBeGreaterThan(0.97);
        expect(asset.productKept, `${what} productKept`).toBe(1);
        const found = await findProduct(bytes, kept.share > 0.98 ? packshot : await partOf(packshot, kept.rows, kept.cols));
        expect(found.score, `${what} packshot match`).toBeGreaterThanOrEqual(PACKSHOT_FOUND);
        const sx = asset.width / asset.crop.width;
        const expectedX = (kept.box.x - asset.crop.left) * sx;
        const expectedY = (kept.box.y - asset.crop.top) * sx;
        expect(Math.abs(found.x - expectedX), `${what} packshot x`).toBeLessThan(0.1 * asset.width);
        expect(Math.abs(found.y - expectedY), `${what} packshot y`).toBeLessThan(0.1 * asset.height);

        // (b) the exact logo, where the manifest says it is.
        expect(asset.logo, what).toBeDefined();
        const box = asset.logo!;
        expect(box.x + box.width, what).toBeLessThanOrEqual(asset.width);
        expect(box.y + box.height, what).toBeLessThanOrEqual(asset.height);
        const logo = await logoDifference(bytes, box);
        expect(logo.opaque, what).toBeGreaterThan(box.width * box.height * 0.3);
        if (asset.format === 'png') expect(logo.diff, `${what} logo`).toBe(0);
        else expect(logo.diff, `${what} logo`).toBeLessThan(LOGO_OPAQUE_TOLERANCE);

        // (c) signed by Darkroom, and trusted under the CA the worker's certificate chains to.
        expect(asset.provenance, what).toMatchObject({ signed: true, claimGenerator: 'Darkroom/0.1.0' });
        const read = await verifier.read(bytes, asset.mime);
        expect(read, what).toMatchObject({ state: 'read', validation: 'Trusted', issuer: 'Darkroom Dev', signer: 'Darkroom Dev Signer' });
        if (read.state !== 'read') throw new Error('unreachable');
        expect(read.errors, what).toBeUndefined();
        expect(read.actions, what).toContain('c2pa.edited');

        figures.push(`  ${asset.channel} ${asset.width}x${asset.height} ${asset.format} ${(asset.bytes / 1024).toFixed(0)} kB: packshot at (${found.x},${found.y}) ${found.width}x${found.height} (match ${found.score}${kept.share > 0.98 ? '' : `, crop kept ${(kept.share * 100).toFixed(0)}% of it`}); `
          + `logo ${box.width}x${box.height} at (${box.x},${box.y}), opaque ΔRGB ${logo.diff.toFixed(2)}; fidelity ${asset.fidelity}; ${read.validation} (${read.actions.join(' ')})`);
      }
    }
    console.log(`example catalog:\n${figures.join('\n')}`);
  });
});
