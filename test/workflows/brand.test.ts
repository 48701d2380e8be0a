/**
 * Brand kits end to end on a real dev server and a real worker: the CLI stores the kit, the
 * worker (whose own brands folder is empty) reads it from the blob store, and the published
 * assets carry the exact logo where the manifest says; a brief started without the CLI resolves
 * its kit from the worker's DARKROOM_BRANDS_DIR; an unknown brand or a banned subject fails
 * before any spend, naming the field.
 */
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore } from '../../activities/blob-store';
import { renderLogo } from '../../activities/images/logo';
import { boxAvoidsSafeZone, DEFAULT_SAFE_ZONES } from '../../domain/brand';
import { bannedIn } from '../../domain/brand-words';
import { validateBrief, type BriefInput } from '../../domain/brief';
import { Failure } from '../../domain/failures';
import type { Manifest } from '../../domain/types';
import { templateWithStoredBrand, withStoredBrand } from '../../client/brands';
import { startCatalog } from '../support/catalog';
import { startBrief } from '../../client/briefs';
import { statusQuery } from '../../workflows/messages';
import { testBrief } from '../support/briefs';
import { closeTestConnection, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testConfig, testWorkflowBundle, withWorker } from '../support/worker';

const REPO_BRANDS = path.resolve(__dirname, '../../brands');
const LOGO = readFileSync(path.join(REPO_BRANDS, 'fernwood/logo.svg'));
const BANNED = (JSON.parse(readFileSync(path.join(REPO_BRANDS, 'fernwood.json'), 'utf8')) as { style: { banned: string[] } }).style.banned;

const branded = (over: Partial<BriefInput> = {}): BriefInput => testBrief({
  brand: 'fernwood',
  channels: ['story-9x16', 'email-header'],
  // A banned word in a soft knob is taken out, not refused.
  styleHints: ['clean product photography', 'glossy'],
  lighting: 'soft daylight from the left, no neon',
  candidates: 1,
  topK: 1,
  ...over,
});

beforeAll(async () => {
  await testWorkflowBundle();
});
afterAll(closeTestConnection);

async function expectLogoIn(blobs: FsBlobStore, m: Manifest, assets = 4): Promise<void> {
  expect(m.assets.length).toBe(assets); // e.g. story-9x16 jpeg+png, email-header jpeg+png
  for (const a of m.assets) {
    expect(a.logo, `${a.channel}/${a.format}`).toBeDefined();
    if (a.channel === 'story-9x16') {
      expect(a.logo!.corner).toBe('center-bottom');
      expect(boxAvoidsSafeZone(a.logo!, a.width, a.height, DEFAULT_SAFE_ZONES['story-9x16']!)).toBe(true);
    } else if (a.channel === 'email-header') expect(a.logo).toEqual({ corner: 'top-left', x: 12, y: 12, width: 132, height: 53 });
    else expect(a.logo!.corner).toBe('bottom-right');
    if (a.format !== 'png') continue;
    // Where the logo is opaque, the published PNG shows exactly the logo's pixels.
    const box = a.logo!;
    const region = await sharp(await blobs.get(a.key)).removeAlpha().extract({ left: box.x, top: box.y, width: box.width, height: box.height }).raw().toBuffer();
    const { data: logo } = await sharp(await renderLogo(LOGO, box.width, box.height)).raw().toBuffer({ resolveWithObject: true });
    let opaque = 0;
    for (let p = 0; p < box.width * box.height; p++) {
      if (logo[p * 4 + 3] !== 255) continue;
      opaque++;
      if (region[p * 3] !== logo[p * 4] || region[p * 3 + 1] !== logo[p * 4 + 1] || region[p * 3 + 2] !== logo[p * 4 + 2]) throw new Error(`${a.key}: pixel ${p} of the logo differs`);
    }
    expect(opaque).toBeGreaterThan(box.width * box.height * 0.5);
  }
  for (const text of [m.prompt.text, m.prompt.negative, ...m.assets.map((a) => a.prompt)]) expect(bannedIn(text, BANNED), text).toBeUndefined();
  expect(m.prompt.knobs.style).toContain('natural textures');
  expect(m.prompt.knobs.palette).toContain('(#C8643B, accent)');
  // The judge scored palette fit against the kit's colours too, even for a brief that names none.
  for (const c of m.selected) expect(c.judge.scores).toHaveProperty('palette');
}

describe('brand kits on a real worker', () => {
  it('the CLI stores the kit; a worker with an empty brands folder publishes every asset with the exact logo where the manifest says', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('brand-cli');
    const dataDir = testDataDir('brand-cli');
    const emptyBrands = path.join(dataDir, 'no-brands');
    mkdirSync(emptyBrands);
    const cliConfig = testConfig(taskQueue, dataDir, { DARKROOM_BRANDS_DIR: REPO_BRANDS });
    // No colours of its own: the palette (prompt, generator, judge) is the kit's.
    const brief = await withStoredBrand(cliConfig, validateBrief(branded({ brandColors: [] })), 'brief.json');
    expect(brief.brandKey).toMatch(/^brands\/fernwood\/[0-9a-f]{64}\.json$/);
    const blobs = new FsBlobStore(path.join(dataDir, 'blobs'));
    const m = await withWorker({ taskQueue, dataDir, env: { DARKROOM_BRANDS_DIR: emptyBrands } }, async () => {
      const { handle } = await startBrief(client, brief, taskQueue, { workflowId: uniqueWorkflowId('brief-brand-cli') });
      return handle.result();
    });
    expect(m.outcome).toBe('published');
    await expectLogoIn(blobs, m);
    // The stored manifest records the same placements.
    const stored = JSON.parse((await blobs.get(m.manifestKey)).toString('utf8')) as Manifest;
    expect(stored.assets.map((a) => a.logo)).toEqual(m.assets.map((a) => a.logo));
  });

  it('a brief started without the CLI resolves its brand from the worker\'s DARKROOM_BRANDS_DIR', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('brand-raw');
    const dataDir = testDataDir('brand-raw');
    const brands = path.join(dataDir, 'brands');
    cpSync(REPO_BRANDS, brands, { recursive: true });
    const m = await withWorker({ taskQueue, dataDir, env: { DARKROOM_BRANDS_DIR: brands } }, async () => {
      // What `temporal workflow start --input` sends: the brief as written, no brandKey.
      const handle = await client.workflow.start('briefWorkflow', { taskQueue, workflowId: uniqueWorkflowId('brief-brand-raw'), args: [branded()] });
      return (await handle.result()) as Manifest;
    });
    await expectLogoIn(new FsBlobStore(path.join(dataDir, 'blobs')), m);
  });

  it('the example catalog template: the CLI stores the kit once, every row publishes its assets with the logo', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('brand-catalog');
    const dataDir = testDataDir('brand-catalog');
    const catalogId = `brand-${taskQueue.slice(-8)}`;
    const template = await templateWithStoredBrand(
      testConfig(taskQueue, dataDir, { DARKROOM_BRANDS_DIR: REPO_BRANDS }),
      JSON.parse(readFileSync(path.resolve(__dirname, '../../examples/catalog/template-brand.json'), 'utf8')),
      'template-brand.json',
    ) as Record<string, unknown>;
    expect(template.brandKey).toMatch(/^brands\/fernwood\//);
    const feed = readFileSync(path.resolve(__dirname, '../../examples/catalog/products.csv'), 'utf8').split('\n').slice(0, 3).join('\n');
    const emptyBrands = path.join(dataDir, 'no-brands');
    mkdirSync(emptyBrands);
    await withWorker({ taskQueue, dataDir, env: { DARKROOM_BRANDS_DIR: emptyBrands } }, async () => {
      const handle = await startCatalog(client, { dataDir, taskQueue, catalogId, feed, template: { ...template, candidates: 1 }, window: 2 });
      await handle.result();
    });
    const blobs = new FsBlobStore(path.join(dataDir, 'blobs'));
    for (const sku of ['TEE-ORG-001', 'TEE-ORG-002']) {
      const m = JSON.parse((await blobs.get(`catalog-${catalogId}/${sku}/manifest.json`)).toString('utf8')) as Manifest;
      expect(m.brief.brandKey).toBe(template.brandKey);
      await expectLogoIn(blobs, m, 6); // instagram-square, story-9x16, og-image: jpeg+png each
    }
  });

  it.each([
    ['an unknown brand', { brand: 'no-such-brand' }, /brand no brand kit no-such-brand\.json/],
    ['a banned word in the subject', { subject: 'a cheap glass bottle of olive oil on a stone table' }, /subject uses "cheap", which brand fernwood bans/],
    ['a banned word in must-include', { mustInclude: ['a plastic cap'] }, /mustInclude\[0\] uses "plastic"/],
  ])('%s fails the brief, naming the field, before anything is generated', async (_what, over, message) => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('brand-bad');
    const dataDir = testDataDir('brand-bad');
    const err = await withWorker({ taskQueue, dataDir, env: { DARKROOM_BRANDS_DIR: REPO_BRANDS } }, async () => {
      const handle = await client.workflow.start('briefWorkflow', { taskQueue, workflowId: uniqueWorkflowId('brief-brand-bad'), args: [branded(over)] });
      const e = await handle.result().then(() => undefined, (x: unknown) => x);
      const status = await handle.query(statusQuery);
      expect(status.candidates.generated).toBe(0);
      expect(status.cost.actualUsd).toBe(0);
      return e;
    });
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe(Failure.InvalidBrief);
    expect((cause as ApplicationFailure).nonRetryable).toBe(true);
    expect((cause as ApplicationFailure).message).toMatch(message);
  });
});
