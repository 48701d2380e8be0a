/**
 * The reviewer tool end to end: a real dev server, a real worker, the tool's HTTP server and a
 * real Chromium clicking through it. Chromium must be at /usr/bin/chromium (.ci/run installs it).
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { chromium, type Browser, type Page } from 'playwright-core';
import { validateBrief, type BriefInput } from '../../domain/brief';
import type { Manifest } from '../../domain/types';
import { FsBlobStore } from '../../activities/blob-store';
import { storeReference } from '../../activities/references';
import { resolveChannel } from '../../domain/channels';
import { startBrief } from '../../client/briefs';
import { decide } from '../../client/review/actions';
import { startReviewServer, type ReviewServer } from '../../client/review/server';
import { focusParam } from '../../client/review/previews';
import { statusQuery } from '../../workflows/messages';
import { closeTestConnection, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testWorkflowBundle, withWorker } from '../support/worker';
import { awaitingRound, testBrief, waitForStatus } from '../support/briefs';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = path.resolve('test-output/screenshots/review-page.png');
const TOKEN = 'e2e-review-token-0123456789abcdef';

const brief: BriefInput = testBrief({ approval: 'human' });

let browser: Browser;
beforeAll(async () => {
  await testWorkflowBundle();
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium" (.ci/run does)`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
});
afterAll(async () => {
  await browser?.close();
  await closeTestConnection();
});


const awaiting = awaitingRound;

/** A raw HTTP request: node's client sends the path exactly as given (no `..` folding, no re-encoding). */
function rawRequest(url: string, rawPath: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path: rawPath, method: opts.method ?? 'GET', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

async function withReviewer<T>(taskQueue: string, dataDir: string, fn: (server: ReviewServer, blobs: FsBlobStore) => Promise<T>): Promise<T> {
  const client = await testConnection();
  const blobs = new FsBlobStore(path.join(dataDir, 'blobs'));
  const server = await startReviewServer({ client, blobs, token: TOKEN, port: 0, taskQueue });
  try {
    return await fn(server, blobs);
  } finally {
    await server.close();
  }
}

async function loggedInPage(server: ReviewServer, reviewer?: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const res = await page.goto(server.loginUrl);
  expect(res?.ok()).toBe(true);
  expect(new URL(page.url()).pathname).toBe('/');
  if (reviewer) {
    await page.fill('#reviewer', reviewer);
    await page.dispatchEvent('#reviewer', 'change');
  }
  return page;
}

/** Waits until every candidate thumbnail on the page has loaded and decoded. */
async function thumbnailsLoaded(page: Page, count: number): Promise<void> {
  // Runs in the page. The page's CSP forbids eval, so this is a function, not a string; the
  // project compiles without the DOM's types, hence the small structural type.
  type Doc = { querySelectorAll(selector: string): ArrayLike<{ complete: boolean; naturalWidth: number }> };
  await page.waitForFunction(
    (n) => {
      const imgs = Array.from((globalThis as unknown as { document: Doc }).document.querySelectorAll('.cand .thumb img'));
      return imgs.length >= n && imgs.every((i) => i.complete && i.naturalWidth > 0);
    },
    count,
    { timeout: 30_000 },
  );
}

describe('reviewer tool in a real browser', () => {
  it('lists a brief awaiting review; a reviewer selects a candidate, approves it, and sees it published', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('reviewer-approve');
    const dataDir = testDataDir('reviewer-approve');
    await withWorker({ taskQueue, dataDir }, () =>
      withReviewer(taskQueue, dataDir, async (server, blobs) => {
        const { handle, workflowId } = await startBrief(client, validateBrief(brief), taskQueue, { workflowId: uniqueWorkflowId('brief-olive-oil') });
        const s = await waitForStatus(handle, awaiting(1), 'review of round 1');
        const page = await loggedInPage(server, 'Ana Reviewer');

        // The queue polls, and visibility trails the workflow by a moment.
        const row = page.locator(`a.qrow[data-workflow-id="${workflowId}"]`);
        await row.waitFor({ timeout: 30_000 });
        await expect(row.textContent()).resolves.toContain(brief.subject);
        await row.click();
        await page.waitForURL(`**/briefs/${encodeURIComponent(workflowId)}`);

        const cards = page.locator('.round[data-round="1"] .cand.selectable');
        await expect(cards.count()).resolves.toBe(3);
        await thumbnailsLoaded(page, 3);
        await expect(page.locator('.pill').textContent()).resolves.toBe('Awaiting review');
        await expect(page.locator('.cand.suggested').count()).resolves.toBe(1);
        await expect(page.locator('.prompt').textContent()).resolves.toContain(s.review!.prompt.version);
        await expect(page.locator('.prompt p').textContent()).resolves.toBe(s.review!.prompt.text);
        await expect(page.locator('.facts').textContent()).resolves.toMatch(/Round\s*1 of 3/);
        await mkdir(path.dirname(SCREENSHOT), { recursive: true });
        await page.screenshot({ path: SCREENSHOT, fullPage: true });

        // Overrule the judge: approve the candidate ranked second.
        const pick = s.review!.candidates.find((c) => c.rank === 2)!.id;
        await page.check(`input[name=candidate][value="${pick}"]`);
        await expect(page.locator('#sel-count').textContent()).resolves.toBe('1');
        await page.fill('#approve-form input[name=comment]', 'the warmer light');
        await page.click('#approve-btn');

        const banner = page.locator('.banner.ok[data-outcome="published"]');
        await banner.waitFor({ timeout: 60_000 });
        await expect(page.locator('.pill').textContent()).resolves.toBe('Published');
        await page.screenshot({ path: SCREENSHOT.replace('review-page', 'review-published'), fullPage: true });

        const manifest = (await handle.result()) as Manifest;
        expect(manifest.outcome).toBe('published');
        expect(manifest.selected.map((c) => c.id)).toEqual([pick]);
        expect(manifest.assets.length).toBeGreaterThan(0);
        for (const a of manifest.assets) {
          expect(a.candidateId).toBe(pick);
          expect(await blobs.head(a.key)).toMatchObject({ sha256: a.sha256, bytes: a.bytes });
        }
        expect(manifest.review?.decisions).toEqual([
          expect.objectContaining({ action: 'approve', candidateIds: [pick], reviewer: 'Ana Reviewer', comment: 'the warmer light', via: 'update', round: 1 }),
        ]);
        // The page links each published asset, served through the tool (the filesystem store cannot presign).
        const links = await Promise.all((await banner.locator('a').all()).map((a) => a.getAttribute('href')));
        expect(links.sort()).toEqual(manifest.assets.map((a) => `/blobs/${a.key}?direct=1`).sort());
        const asset = await page.request.get(new URL(links[0]!, server.url).href);
        expect(asset.status()).toBe(200);
        await page.context().close();
      }),
    );
  });

  it('requests changes from the page and shows round 2 as it arrives; a refused decision shows the reason inline', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('reviewer-revise');
    const dataDir = testDataDir('reviewer-revise');
    await withWorker({ taskQueue, dataDir }, () =>
      withReviewer(taskQueue, dataDir, async (server) => {
        const input = { ...brief, subject: 'a linen tote bag on a wooden peg', review: { maxRounds: 2 } };
        const { handle, workflowId } = await startBrief(client, validateBrief(input), taskQueue, { workflowId: uniqueWorkflowId('brief-tote') });
        await waitForStatus(handle, awaiting(1), 'review of round 1');
        const page = await loggedInPage(server, 'Bo');
        await page.goto(`${server.url}briefs/${encodeURIComponent(workflowId)}`);
        await thumbnailsLoaded(page, 3);

        await page.click('details.decide-more:has(#revise-form) summary');
        await page.fill('#revise-form textarea[name=feedback]', 'more morning light, less clutter');
        await page.click('#revise-btn');

        // Round 2 appears on its own (the page polls), above round 1, which stays visible.
        await page.locator('.round[data-round="2"] .cand.selectable').first().waitFor({ timeout: 60_000 });
        const ids = await page.locator('.cand[data-candidate]').evaluateAll((els) => els.map((e) => e.getAttribute('data-candidate')));
        // Newest round first; within a round, best rank first.
        expect(ids.slice(0, 3).sort()).toEqual(['r2-c01', 'r2-c02', 'r2-c03']);
        expect(ids.slice(3).sort()).toEqual(['r1-c01', 'r1-c02', 'r1-c03']);
        await thumbnailsLoaded(page, 6);
        await expect(page.locator('.round[data-round="2"] .asked').textContent()).resolves.toContain('more morning light, less clutter');
        await expect(page.locator('.audit').textContent()).resolves.toContain('Bo');

        // No rounds left: the workflow's validator refuses, and the page says why.
        await page.fill('#revise-form textarea[name=feedback]', 'once more');
        await page.click('#revise-btn');
        const msg = page.locator('#panel-msg.error');
        await msg.waitFor();
        await expect(msg.textContent()).resolves.toContain('no revision rounds left (this is round 2 of 2)');

        const s = await handle.query(statusQuery);
        expect(s.review?.awaiting).toBe(true);
        expect(s.review?.decisions.map((d) => [d.action, d.reviewer, d.feedback])).toEqual([['requestChanges', 'Bo', 'more morning light, less clutter']]);
        await page.context().close();
        await decide(client, workflowId, { action: 'reject', reason: 'test over', reviewer: 'e2e' });
        await expect(handle.result()).resolves.toMatchObject({ outcome: 'rejected' });
      }),
    );
  });

  it('bulk-approves from the queue page: a dry run first, then for real', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('reviewer-bulk');
    const dataDir = testDataDir('reviewer-bulk');
    await withWorker({ taskQueue, dataDir }, () =>
      withReviewer(taskQueue, dataDir, async (server) => {
        const { handle, workflowId } = await startBrief(client, validateBrief({ ...brief, subject: 'a wool scarf on a chair' }), taskQueue, { workflowId: uniqueWorkflowId('brief-scarf') });
        const s = await waitForStatus(handle, awaiting(1), 'review of round 1');
        const pick = s.review!.candidates.find((c) => c.suggested)!.id;
        const page = await loggedInPage(server, 'Cy');
        await page.locator(`a.qrow[data-workflow-id="${workflowId}"]`).waitFor({ timeout: 30_000 });

        await page.fill('#bulk-form input[name=minScore]', '0');
        await page.click('#bulk-form button');
        await page.locator('#bulk-result td.r-would-approve').waitFor();
        await expect(page.locator('#bulk-result').textContent()).resolves.toContain('Dry run: 1 would be approved, 0 skipped');
        expect((await handle.query(statusQuery)).review?.awaiting).toBe(true);

        await page.uncheck('#bulk-form input[name=dryRun]');
        await page.click('#bulk-form button');
        await page.locator('#bulk-result td.r-approved').waitFor({ timeout: 30_000 });
        await expect(page.locator('#bulk-result').textContent()).resolves.toContain(pick);
        const m = (await handle.result()) as Manifest;
        expect(m.outcome).toBe('published');
        expect(m.selected.map((c) => c.id)).toEqual([pick]);
        expect(m.review?.decisions).toEqual([expect.objectContaining({ action: 'approve', reviewer: 'Cy', candidateIds: [pick] })]);
        // The queue empties on its own.
        await page.locator('.empty-state').waitFor({ timeout: 30_000 });
        await page.context().close();
      }),
    );
  });

  it('shows each candidate\'s crop per channel with the brand\'s logo and safe zones, and the packshot beside it', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('reviewer-crops');
    const dataDir = testDataDir('reviewer-crops');
    const channels = ['email-header', 'story-9x16'];
    await withWorker({ taskQueue, dataDir, env: { DARKROOM_BRANDS_DIR: path.resolve('brands') } }, () =>
      withReviewer(taskQueue, dataDir, async (server, blobs) => {
        const packshot = await storeReference(blobs, await readFile(path.resolve('examples/catalog/packshots/serum-bottle.png')), 'references.product');
        const input = testBrief({ approval: 'human', subject: 'a glass serum bottle on a stone table', channels, candidates: 2, brand: 'fernwood', references: { product: `blob:${packshot.key}` } });
        const { handle, workflowId } = await startBrief(client, validateBrief(input), taskQueue, { workflowId: uniqueWorkflowId('brief-serum-crops') });
        const s = await waitForStatus(handle, awaiting(1), 'review of round 1');
        expect(s.brand?.name).toBe('fernwood');
        expect(s.product?.key).toBe(packshot.key);
        const page = await loggedInPage(server, 'Ana Reviewer');
        await page.goto(new URL(`/briefs/${encodeURIComponent(workflowId)}`, server.url).href);

        // Runs in the page (no DOM types in this project, hence the small structural type).
        type Img = { complete: boolean; naturalWidth: number; naturalHeight: number; getAttribute(n: string): string | null; closest(s: string): { getAttribute(n: string): string | null } | null };
        type Doc = { querySelectorAll(selector: string): ArrayLike<Img> };
        await page.waitForFunction(
          (n) => {
            const imgs = Array.from((globalThis as unknown as { document: Doc }).document.querySelectorAll('.cand .crops img'));
            return imgs.length >= n && imgs.every((i) => i.complete && i.naturalWidth > 0);
          },
          2 * (channels.length + 1),
          { timeout: 60_000 },
        );
        const shown = await page.evaluate(() => Array.from((globalThis as unknown as { document: Doc }).document.querySelectorAll('.cand .crops img')).map((i) => ({
          channel: i.closest('figure')?.getAttribute('data-channel') ?? 'packshot', src: i.getAttribute('src')!, w: i.naturalWidth, h: i.naturalHeight,
        })));
        for (const c of s.review!.candidates) {
          for (const id of channels) {
            const img = shown.find((x) => x.channel === id && x.src.startsWith(`/previews/${id}/${c.key}?brand=`));
            const ch = resolveChannel(id)!;
            // Decoded in the browser at exactly the channel's aspect ratio, with the stored kit named
            // and, where the judge found the product, its region (the crop keeps it in frame).
            const query = new URLSearchParams(img?.src.split('?')[1] ?? '');
            expect({ id, ratio: img && img.w * ch.height === img.h * ch.width, brand: query.get('brand'), focus: query.get('focus') })
              .toEqual({ id, ratio: true, brand: s.brand!.key, focus: c.product ? focusParam(c.product) : null });
          }
        }
        expect(shown.filter((x) => x.channel === 'packshot').map((x) => x.src)).toEqual(s.review!.candidates.map(() => `/blobs/${packshot.key}?w=320`));
        // The story's safe zones are drawn over its previews (Meta's bands), the email header has none.
        await expect(page.locator('figure.crop[data-channel="story-9x16"] svg.zones rect').count()).resolves.toBe(3 * 2);
        await expect(page.locator('figure.crop[data-channel="email-header"] svg.zones').count()).resolves.toBe(0);
        // The overlay lies exactly over the image, so a band marks the pixels it names.
        const story = page.locator('figure.crop[data-channel="story-9x16"]').first();
        const [imgBox, zoneBox] = await Promise.all([story.locator('img').boundingBox(), story.locator('svg.zones').boundingBox()]);
        expect(zoneBox).toEqual(imgBox);
        await mkdir(path.dirname(SCREENSHOT), { recursive: true });
        await page.locator('.round[data-round="1"]').screenshot({ path: SCREENSHOT.replace('review-page', 'review-crops') });
        await page.context().close();
        await handle.terminate('test done');
      }),
    );
  });

  it('refuses requests without the token or the X-Darkroom header, and blob paths that leave the store', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('reviewer-auth');
    const dataDir = testDataDir('reviewer-auth');
    await withWorker({ taskQueue, dataDir }, () =>
      withReviewer(taskQueue, dataDir, async (server, blobs) => {
        const { handle, workflowId } = await startBrief(client, validateBrief({ ...brief, subject: 'a brass door knob' }), taskQueue, { workflowId: uniqueWorkflowId('brief-knob') });
        const s = await waitForStatus(handle, awaiting(1), 'review of round 1');
        const bearer = { Authorization: `Bearer ${TOKEN}` };
        const approve = JSON.stringify({ action: 'approve', candidateIds: [s.review!.candidates[0]!.id], reviewer: 'mallory' });
        const reviewPath = `/api/briefs/${encodeURIComponent(workflowId)}/review`;

        // No token: pages say how to log in, APIs and images refuse.
        const home = await rawRequest(server.url, '/');
        expect(home.status).toBe(401);
        expect(home.body.toString()).toContain('Login needed');
        expect((await rawRequest(server.url, '/api/queue')).status).toBe(401);
        expect((await rawRequest(server.url, `/briefs/${encodeURIComponent(workflowId)}`)).status).toBe(401);
        expect((await rawRequest(server.url, `/blobs/${s.review!.candidates[0]!.key}?w=320`)).status).toBe(401);
        expect((await rawRequest(server.url, '/login?token=wrong-token-wrong-token')).status).toBe(401);
        expect((await rawRequest(server.url, '/', { headers: { Authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401);
        expect((await rawRequest(server.url, '/', { headers: { Cookie: `darkroom_review=${TOKEN}` } })).status).toBe(401);

        // The login link sets an HttpOnly, SameSite=Strict cookie, which then works.
        const login = await rawRequest(server.url, `/login?token=${TOKEN}`);
        expect(login.status).toBe(303);
        expect(login.headers.location).toBe('/');
        const setCookie = String(login.headers['set-cookie']);
        expect(setCookie).toMatch(/HttpOnly/);
        expect(setCookie).toMatch(/SameSite=Strict/);
        expect(setCookie).not.toContain(TOKEN);
        const cookie = { Cookie: setCookie.split(';')[0]! };
        expect((await rawRequest(server.url, '/', { headers: cookie })).status).toBe(200);

        // State changes: no token → 401; token without the custom header → 403 (what a cross-site form could send);
        // a cross-origin Origin → 403; a form-encoded body → 415.
        const json = { 'Content-Type': 'application/json' };
        expect((await rawRequest(server.url, reviewPath, { method: 'POST', headers: { ...json, 'X-Darkroom': '1' }, body: approve })).status).toBe(401);
        expect((await rawRequest(server.url, reviewPath, { method: 'POST', headers: { ...json, ...bearer }, body: approve })).status).toBe(403);
        expect((await rawRequest(server.url, reviewPath, { method: 'POST', headers: { ...json, ...cookie }, body: approve })).status).toBe(403);
        expect((await rawRequest(server.url, reviewPath, { method: 'POST', headers: { ...json, ...cookie, 'X-Darkroom': '1', Origin: 'http://evil.example' }, body: approve })).status).toBe(403);
        expect((await rawRequest(server.url, reviewPath, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', ...cookie, 'X-Darkroom': '1' }, body: 'action=approve' })).status).toBe(415);
        expect((await rawRequest(server.url, '/api/bulk-approve', { method: 'POST', headers: { ...json, ...bearer }, body: JSON.stringify({ minScore: 0 }) })).status).toBe(403);
        const after = await handle.query(statusQuery);
        expect(after.review?.awaiting).toBe(true);
        expect(after.review?.decisions).toEqual([]);
        expect((await handle.describe()).status.name).toBe('RUNNING');

        // A refusal from the workflow's validator is a 409 with its message.
        const refused = await rawRequest(server.url, reviewPath, { method: 'POST', headers: { ...json, ...bearer, 'X-Darkroom': '1' }, body: JSON.stringify({ action: 'approve', candidateIds: ['r9-c99'] }) });
        expect(refused.status).toBe(409);
        expect(JSON.parse(refused.body.toString()).error).toMatch(/unknown candidate r9-c99: choose from r1-c01, r1-c02, r1-c03/);
        // Many long unknown ids: still the validator's refusal, relayed clipped.
        const many = Array.from({ length: 60 }, (_, i) => `r9-c${String(i).padStart(2, '0')}-${'x'.repeat(50)}`);
        const refusedMany = await rawRequest(server.url, reviewPath, { method: 'POST', headers: { ...json, ...bearer, 'X-Darkroom': '1' }, body: JSON.stringify({ action: 'approve', candidateIds: many }) });
        expect(refusedMany.status).toBe(409);
        const manyError = JSON.parse(refusedMany.body.toString()).error as string;
        expect(manyError).toMatch(/unknown candidates r9-c00-x+/);
        expect(manyError.length).toBeLessThan(1100);
        // Control characters in a reason are refused at the door, the field named.
        const ctl = await rawRequest(server.url, reviewPath, { method: 'POST', headers: { ...json, ...bearer, 'X-Darkroom': '1' }, body: JSON.stringify({ action: 'reject', reason: 'bad\u001b]0;pwned\u0007' }) });
        expect(ctl.status).toBe(400);
        expect(JSON.parse(ctl.body.toString()).error).toBe('reason must not contain control characters');

        // Images: only by safe key, only images.
        const key = s.review!.candidates[0]!.key;
        const full = await rawRequest(server.url, `/blobs/${key}`, { headers: bearer });
        expect(full.status).toBe(200);
        expect(full.headers['content-type']).toBe('image/png');
        const thumb = await rawRequest(server.url, `/blobs/${key}?w=320`, { headers: bearer });
        expect(thumb.status).toBe(200);
        expect(thumb.headers['content-type']).toBe('image/webp');
        expect((await sharp(thumb.body).metadata()).width).toBe(320);
        await blobs.put(`${workflowId}/notes/readme.json`, Buffer.from('{"secret":true}'), { mime: 'application/json' });
        for (const p of [
          '/blobs/../../../../etc/passwd',
          `/blobs/${workflowId}/../../../etc/passwd`,
          '/blobs/%2e%2e/%2e%2e/etc/passwd',
          '/blobs/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
          `/blobs/${workflowId}%2f..%2f..%2fetc%2fpasswd`,
          '/blobs//etc/passwd',
          '/blobs/%2fetc%2fpasswd',
          '/blobs/..%5c..%5cetc%5cpasswd',
          `/blobs/.meta/${key}.json`,
          `/blobs/${key}?w=99999`,
          `/blobs/${key}?w=abc`,
        ]) {
          const r = await rawRequest(server.url, p, { headers: bearer });
          expect({ p, status: r.status }).toEqual({ p, status: 400 });
        }
        expect((await rawRequest(server.url, `/blobs/${workflowId}/notes/readme.json`, { headers: bearer })).status).toBe(415);
        expect((await rawRequest(server.url, `/blobs/${workflowId}/candidates/missing.png`, { headers: bearer })).status).toBe(404);

        await decide(client, workflowId, { action: 'reject', reason: 'test over', reviewer: 'e2e' });
        await expect(handle.result()).resolves.toMatchObject({ outcome: 'rejected' });
      }),
    );
  });
});
