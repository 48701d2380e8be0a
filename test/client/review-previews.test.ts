/**
 * The reviewer's crop previews against the formatting stage, in-process on a real dev server
 * connection and a real blob store: a preview is the very crop (and logo) a channel ships, at the
 * channel's exact aspect ratio, behind the login, and refuses keys and channels it cannot serve.
 */
import { mkdir, mkdtemp } from 'node:fs/promises';
import { request } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { FsBlobStore } from '../../activities/blob-store';
import { loadStoredBrand, storeBrandKit } from '../../activities/brands';
import { formatForChannels } from '../../activities/images/format';
import { logoRuleFor, placeLogo, type LogoBox } from '../../domain/brand';
import { resolveChannel, type ChannelPreset } from '../../domain/channels';
import type { BlobRef } from '../../domain/types';
import { briefPage } from '../../client/review/pages';
import { previewHref } from '../../client/review/brief-sections';
import { focusParam, parseFocus, previewSize } from '../../client/review/previews';
import { startReviewServer, type ReviewServer } from '../../client/review/server';
import { closeTestConnection, testConnection } from '../support/temporal';

const TOKEN = 'review-previews-test-token-0123456789';
const bearer = { Authorization: `Bearer ${TOKEN}` };
const BRANDS = path.resolve('brands');
const CHANNELS = ['story-9x16', 'web-hero', 'email-header', 'instagram-portrait'] as const;

let root: string;
let blobs: FsBlobStore;
let server: ReviewServer;
let candidate: BlobRef;
let brandKey: string;

function get(rawPath: string, headers: Record<string, string> = bearer): Promise<{ status: number; type?: string; body: Buffer }> {
  const u = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: rawPath, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, type: res.headers['content-type'], body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** A master with something for the attention crop to find off-centre: a bright, detailed object right of centre on a plain gradient. */
async function makeMaster(): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="1536" height="1024">
    <defs><linearGradient id="g" x1="0" x2="1"><stop offset="0" stop-color="#2b3a55"/><stop offset="1" stop-color="#8a9bb8"/></linearGradient></defs>
    <rect width="1536" height="1024" fill="url(#g)"/>
    <circle cx="1080" cy="430" r="170" fill="#f2c12e"/><circle cx="1080" cy="430" r="90" fill="#c0392b"/>
    <rect x="990" y="640" width="180" height="220" fill="#27ae60"/>
    ${Array.from({ length: 12 }, (_, i) => `<line x1="${930 + i * 25}" y1="250" x2="${950 + i * 25}" y2="900" stroke="#fff" stroke-width="3"/>`).join('')}
  </svg>`;
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** Raw RGB of an image resized to `size` exactly (how a PNG of the shipped crop is brought to the preview's size). */
async function rgb(img: Buffer, size: { width: number; height: number }): Promise<Buffer> {
  return sharp(img).removeAlpha().resize(size.width, size.height, { fit: 'fill', kernel: 'lanczos3' }).raw().toBuffer();
}

/** Mean absolute difference per channel value (0–255), over the whole image or a box of it. */
function meanAbsDiff(a: Buffer, b: Buffer, width: number, box?: { x: number; y: number; width: number; height: number }): number {
  const r = box ?? { x: 0, y: 0, width, height: a.length / 3 / width };
  let sum = 0;
  let n = 0;
  for (let y = r.y; y < r.y + r.height; y++) {
    for (let x = r.x; x < r.x + r.width; x++) {
      for (let c = 0; c < 3; c++) {
        const i = (y * width + x) * 3 + c;
        sum += Math.abs(a[i]! - b[i]!);
        n++;
      }
    }
  }
  return sum / n;
}

/** What the formatting stage ships for `channel` (as PNG, so lossless), with the logo at the prepare stage's placement when `logo`. */
async function shipped(master: Buffer, channel: ChannelPreset, logo?: { image: Buffer; box: LogoBox }): Promise<Buffer> {
  const [out] = await formatForChannels(master, [{ ...channel, formats: ['png'] }], logo ? { logo: { image: logo.image, placements: { [channel.id]: logo.box } } } : {});
  expect(out).toMatchObject({ width: channel.width, height: channel.height, format: 'png' });
  return out!.data;
}

beforeAll(async () => {
  root = path.join(await mkdtemp(path.join(os.tmpdir(), 'darkroom-review-previews-')), 'blobs');
  await mkdir(root, { recursive: true });
  blobs = new FsBlobStore(root);
  const master = await makeMaster();
  candidate = await blobs.put('brief-previews-1/candidates/r1-c01.png', master, { mime: 'image/png', width: 1536, height: 1024 });
  brandKey = await storeBrandKit(blobs, BRANDS, 'fernwood');
  server = await startReviewServer({ client: await testConnection(), blobs, token: TOKEN, port: 0, taskQueue: 'review-previews-none' });
});
afterAll(async () => {
  await server?.close();
  await closeTestConnection();
});

describe('crop previews: what the reviewer approves is what ships', () => {
  it('each channel\'s preview has exactly its aspect ratio and the pixels the format stage ships (no brand)', async () => {
    const master = await blobs.get(candidate.key);
    for (const id of CHANNELS) {
      const channel = resolveChannel(id)!;
      const r = await get(previewHref(candidate.key, id));
      expect({ id, status: r.status, type: r.type }).toEqual({ id, status: 200, type: 'image/webp' });
      const meta = await sharp(r.body).metadata();
      expect(meta.format).toBe('webp');
      // Exactly the channel's ratio, not one rounded to a pixel; about 480 wide.
      expect(meta.width * channel.height).toBe(meta.height * channel.width);
      expect({ width: meta.width, height: meta.height }).toEqual(previewSize(channel));
      expect(meta.width).toBeGreaterThan(400);
      expect(meta.width).toBeLessThanOrEqual(480);

      const size = { width: meta.width, height: meta.height };
      const preview = await rgb(r.body, size);
      const ships = await rgb(await shipped(master, channel), size);
      expect({ id, diff: meanAbsDiff(preview, ships, size.width) < 2.5 }).toEqual({ id, diff: true });
      // The comparison can fail: the centre crop (what a crop without attention would give) is visibly different.
      const centre = await sharp(master).resize(channel.width, channel.height, { fit: 'cover', position: 'centre' }).png().toBuffer();
      if (channel.width / channel.height < 1536 / 1024 - 0.01) expect(meanAbsDiff(preview, await rgb(centre, size), size.width)).toBeGreaterThan(8);
    }
  });

  it('a brand brief\'s preview carries the kit\'s logo at its placement, as the format stage composites it', async () => {
    const master = await blobs.get(candidate.key);
    const stored = await loadStoredBrand(blobs, 'fernwood', brandKey);
    const logoImage = await blobs.get(stored.logo.key);
    for (const id of ['story-9x16', 'email-header'] as const) {
      const channel = resolveChannel(id)!;
      const placed = placeLogo(channel, stored.logo, logoRuleFor(stored.kit.logo, id));
      if (!placed.ok) throw new Error(placed.reason);
      const r = await get(previewHref(candidate.key, id, brandKey));
      expect(r.status).toBe(200);
      const size = previewSize(channel);
      const branded = await rgb(r.body, size);
      expect(meanAbsDiff(branded, await rgb(await shipped(master, channel, { image: logoImage, box: placed.box }), size), size.width)).toBeLessThan(2.5);

      // Against the plain preview: the logo's box changed, the rest did not.
      const plain = await rgb((await get(previewHref(candidate.key, id))).body, size);
      const k = size.width / channel.width;
      const box = { x: Math.round(placed.box.x * k), y: Math.round(placed.box.y * k), width: Math.floor(placed.box.width * k), height: Math.floor(placed.box.height * k) };
      expect(meanAbsDiff(branded, plain, size.width, box)).toBeGreaterThan(10);
      const away = { x: 0, y: placed.box.y * k > size.height / 2 ? 0 : size.height - box.height, width: size.width, height: box.height };
      expect(meanAbsDiff(branded, plain, size.width, away)).toBeLessThan(1.5);
    }
  });

  it('needs the login: 401 without it, and the image is not sent', async () => {
    const r = await get(previewHref(candidate.key, 'web-hero'), {});
    expect(r.status).toBe(401);
    expect(r.type).toMatch(/^text\/plain/);
    expect(r.body.toString()).toBe('login needed');
  });

  it('with the product\'s region (the judge\'s `product`), the preview keeps it in frame with the format stage\'s very crop', async () => {
    const master = await blobs.get(candidate.key);
    // A region at the far left: the attention crop of a tall channel would not keep it.
    const focus = { left: 0.02, top: 0.3, width: 0.12, height: 0.4 };
    expect(parseFocus(focusParam(focus))).toEqual(focus);
    for (const id of ['story-9x16', 'instagram-portrait'] as const) {
      const channel = resolveChannel(id)!;
      const [out] = await formatForChannels(master, [{ ...channel, formats: ['png'] }], { focus });
      expect(out!.productKept, id).toBe(1);
      const r = await get(previewHref(candidate.key, id, undefined, focus));
      expect({ id, status: r.status }).toEqual({ id, status: 200 });
      const meta = await sharp(r.body).metadata();
      const size = { width: meta.width, height: meta.height };
      const preview = await rgb(r.body, size);
      expect(meanAbsDiff(preview, await rgb(out!.data, size), size.width), id).toBeLessThan(2.5);
      // Without the region the crop is elsewhere: the same comparison fails.
      const plain = await get(previewHref(candidate.key, id));
      expect(meanAbsDiff(preview, await rgb(plain.body, size), size.width), id).toBeGreaterThan(8);
    }
  });

  it('refuses unknown channels (404), unsafe or missing candidate keys (400/404) and bad brand keys (400), never naming the folder', async () => {
    const cases: Array<[string, number]> = [
      [`/previews/no-such-channel/${candidate.key}`, 404],
      [`/previews/WEB-HERO/${candidate.key}`, 404],
      [`/previews/custom-99999x10/${candidate.key}`, 404],
      ['/previews/web-hero/brief-previews-1/candidates/r9-c99.png', 404],
      ['/previews/web-hero/brief-previews-1/../../../etc/passwd', 400],
      ['/previews/web-hero/brief-previews-1/%2e%2e/%2e%2e/etc/passwd.png', 400],
      ['/previews/web-hero/brief-previews-1\\..\\x.png', 400],
      ['/previews/web-hero/.meta/brief-previews-1/candidates/r1-c01.png.json', 400],
      [`/previews/web-hero/${brandKey}`, 404],
      [`/previews/web-hero/${candidate.key}?brand=../../etc/passwd`, 400],
      [`/previews/web-hero/${candidate.key}?brand=brands/fernwood/${'0'.repeat(64)}.json`, 404],
      ['/previews/web-hero/', 400],
      [`/previews/web-hero/${candidate.key}?focus=10,20,30`, 400],
      [`/previews/web-hero/${candidate.key}?focus=900,0,200,100`, 400],
      [`/previews/web-hero/${candidate.key}?focus=0,0,0,100`, 400],
      [`/previews/web-hero/${candidate.key}?focus=-1,0,10,10`, 400],
    ];
    for (const [p, status] of cases) {
      const r = await get(p);
      expect({ p, status: r.status }).toEqual({ p, status });
      expect(r.type).toMatch(/^text\/plain/);
      expect(r.body.toString()).not.toContain(root);
      expect(r.body.toString()).not.toContain(os.tmpdir());
    }
  });

  it('the brief page lists each channel\'s preview with its safe-zone overlay, and the packshot', async () => {
    const product = await blobs.put('references/abc.png', await sharp({ create: { width: 400, height: 600, channels: 3, background: '#ddd' } }).png().toBuffer(), { mime: 'image/png', width: 400, height: 600 });
    const view = {
      workflowId: 'brief-previews-1', runId: 'r', execution: 'RUNNING', startTime: new Date(0).toISOString(),
      status: {
        workflowId: 'brief-previews-1', stage: 'review', round: 1, candidates: { total: 1, generated: 1, rejected: 0, judged: 1, selected: 1 }, assets: { total: 0, done: 0 },
        cost: { forecastUsd: 0, actualUsd: 0, budgetUsd: 1 }, subject: 'a bottle', channels: ['story-9x16', 'web-hero'], approval: 'human' as const, brand: { name: 'fernwood', key: brandKey }, product,
        review: {
          awaiting: true, round: 1, maxRounds: 3, maxApprovals: 1, onDeadline: 'wait' as const, remindersSent: 0, prompt: { version: 'v1', text: 'p' },
          candidates: [{ id: 'r1-c01', round: 1, promptVersion: 'v1', key: candidate.key, width: 1536, height: 1024, score: 90, rank: 1, reasons: [], suggested: true }],
          reviewable: ['r1-c01'], decisions: [], ignoredSignals: [],
        },
      },
    };
    const stored = await loadStoredBrand(blobs, 'fernwood', brandKey);
    const zones = { 'story-9x16': logoRuleFor(stored.kit.logo, 'story-9x16').safeZone, 'web-hero': logoRuleFor(stored.kit.logo, 'web-hero').safeZone };
    const page = briefPage(view as never, 'nonce', { brand: { name: 'fernwood', key: brandKey }, product, safeZones: zones });
    for (const id of ['story-9x16', 'web-hero']) {
      expect(page).toContain(`<figure class="crop" data-channel="${id}">`);
      expect(page).toContain(`src="${previewHref(candidate.key, id, brandKey).replaceAll('&', '&amp;')}"`);
    }
    // Story has Meta's bands (top 14%, bottom 20%, right 16%); the web hero has none to draw.
    expect(page).toMatch(/data-channel="story-9x16">.*<svg class="zones"[^>]*data-safe-top="14" data-safe-bottom="20" data-safe-left="0" data-safe-right="16"><rect x="0" y="0" width="100" height="14"\/><rect x="0" y="80" width="100" height="20"\/><rect x="84" y="0" width="16" height="100"\/><\/svg>/s);
    expect(page).not.toMatch(/data-channel="web-hero"><div class="crop-frame"><img[^>]*><svg/);
    expect(page).toContain(`<img src="/blobs/${product.key}?w=320" alt="Reference packshot"`);
  });
});

describe('crop previews through the routes', () => {
  it('serves the page\'s preview URLs with the zones the stored kit gives (a kit\'s own zone replaces the default)', async () => {
    const stored = await loadStoredBrand(blobs, 'fernwood', brandKey);
    expect(logoRuleFor(stored.kit.logo, 'story-9x16').safeZone).toEqual({ top: 14, bottom: 20, left: 0, right: 16 });
    const r = await get(previewHref(candidate.key, 'story-9x16', brandKey));
    expect(r.status).toBe(200);
    // Cached: the second answer is the same bytes.
    expect((await get(previewHref(candidate.key, 'story-9x16', brandKey))).body.equals(r.body)).toBe(true);
  });
});
