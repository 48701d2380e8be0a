/**
 * The reviewer tool's pieces that need no workflow: filter checks, rendering (with hostile
 * text), the image server, auth rules, and the CLI's usage errors.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import type { BlobRef, BriefStatus, ReviewStatus } from '../../domain/types';
import type { BlobMeta, BlobStore } from '../../activities/blob-store';
import { BlobNotFoundError } from '../../activities/blob-store';
import {
  awaitingQuery, checkFilter, InvalidFilterError, suggestedCandidates, topCandidate, type BriefView,
} from '../../client/review/actions';
import { Auth, parseCookies, safeEqual } from '../../client/review/auth';
import { BlobRequestError, ImageServer, keyFromRawPath, parseThumbWidth } from '../../client/review/blobs';
import { briefFragment, briefPage, briefState, queueFragment } from '../../client/review/pages';
import { reviewBlock } from '../../client/review/text';
import { main } from '../../client/cli';
import { AWAITING_REVIEW_QUERY } from '../../workflows/messages';

const XSS = '<img src=x onerror=alert(1)>"\'&';

function review(over: Partial<ReviewStatus> = {}): ReviewStatus {
  return {
    awaiting: true,
    round: 2,
    maxRounds: 3,
    maxApprovals: 1,
    deadlineAt: '2031-01-02T03:04:05.000Z',
    onDeadline: 'remind',
    remindersSent: 0,
    prompt: { version: 'pv-2', text: `a bottle ${XSS}` },
    candidates: [
      { id: 'r1-c01', round: 1, promptVersion: 'pv-1', key: 'brief-x/candidates/r1-c01.png', width: 1024, height: 768, score: 91, rank: 1, reasons: ['old'], suggested: true },
      { id: 'r2-c01', round: 2, promptVersion: 'pv-2', key: 'brief-x/candidates/r2-c01.png', width: 1024, height: 768, score: 70, rank: 2, reasons: [`too dark ${XSS}`], suggested: false },
      { id: 'r2-c02', round: 2, promptVersion: 'pv-2', key: 'brief-x/candidates/r2-c02.png', width: 1024, height: 768, score: 84.5, rank: 1, reasons: ['on palette'], suggested: true },
    ],
    reviewable: ['r2-c01', 'r2-c02'],
    decisions: [{ action: 'requestChanges', reviewer: `eve ${XSS}`, at: '2030-01-01T00:00:00.000Z', round: 1, via: 'update', feedback: `warmer ${XSS}`, keep: [] }],
    ignoredSignals: [],
    ...over,
  };
}

function status(r: ReviewStatus | undefined = review()): BriefStatus {
  return {
    workflowId: 'brief-x-1234abcd',
    stage: 'review',
    round: 2,
    promptVersion: 'pv-2',
    promptScore: 8,
    candidates: { total: 6, generated: 6, rejected: 0, judged: 6, selected: 1 },
    assets: { total: 0, done: 0 },
    cost: { forecastUsd: 0.4, actualUsd: 0.2, budgetUsd: 5 },
    subject: `olive oil ${XSS}`,
    channels: ['email-header'],
    approval: 'human',
    review: r,
  };
}

const view = (s: BriefStatus | undefined = status(), over: Partial<BriefView> = {}): BriefView => ({
  workflowId: 'brief-x-1234abcd', runId: 'run', execution: 'RUNNING', startTime: '2030-01-01T00:00:00.000Z', status: s, ...over,
});

describe('filters', () => {
  it('accepts a search-attribute clause and ANDs it in parentheses', () => {
    expect(awaitingQuery("DarkroomCatalogId = 'spring'")).toBe(`${AWAITING_REVIEW_QUERY} AND (DarkroomCatalogId = 'spring')`);
    expect(awaitingQuery('  ')).toBe(AWAITING_REVIEW_QUERY);
    expect(awaitingQuery(undefined, 'tq-1')).toBe(`${AWAITING_REVIEW_QUERY} AND TaskQueue = 'tq-1'`);
    expect(checkFilter("DarkroomCostUsd < 1 AND DarkroomChannel IN ('og-image', 'web-hero')")).toBeTruthy();
    expect(checkFilter("DarkroomCatalogId = 'a;b'")).toBe("DarkroomCatalogId = 'a;b'");
  });

  it.each([
    ["DarkroomCatalogId = 'x'; DROP", '";" is not allowed'],
    ["DarkroomCatalogId = 'x", "' quote is not closed"],
    ["DarkroomCatalogId = 'x') OR (true", 'closes nothing'],
    ["(DarkroomCatalogId = 'x'", '"(" is not closed'],
    ["DarkroomCatalogId = 'x' ORDER BY StartTime", 'ORDER BY'],
    ["DarkroomCatalogId = 'x' AND", 'AND/OR/NOT'],
    ['OR true', 'AND/OR/NOT'],
    ['spring', 'compares nothing'],
    // Temporal reads \' as a quote inside a value: this would end the value where the check
    // thinks it goes on, and OR the awaiting-review query away.
    [`DarkroomCatalogId = 'a\\' = ') OR (WorkflowId != "zz" OR DarkroomCatalogId = 'b\\'`, 'backslash'],
  ])('refuses %j', (filter, reason) => {
    expect(() => checkFilter(filter)).toThrow(InvalidFilterError);
    expect(() => checkFilter(filter)).toThrow(reason);
  });
});

describe('review helpers', () => {
  it('finds the top candidate and the suggestion of the latest round only', () => {
    const r = review();
    expect(topCandidate(r)?.id).toBe('r2-c02');
    expect(suggestedCandidates(r).map((c) => c.id)).toEqual(['r2-c02']);
    expect(topCandidate(review({ candidates: [{ ...r.candidates[1]!, score: undefined, rank: undefined }] }))).toBeUndefined();
  });
});

describe('pages', () => {
  it('renders the brief page grouped by round, latest first, with every brief-supplied text escaped', () => {
    const html = briefPage(view(), 'NONCE');
    expect(html).not.toContain('<img src=x');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;&quot;&#39;&amp;');
    expect(html.indexOf('data-round="2"')).toBeLessThan(html.indexOf('data-round="1"'));
    expect(html).toContain('<script nonce="NONCE">');
    expect(html).toContain('src="/blobs/brief-x/candidates/r2-c02.png?w=320"');
    // Only the reviewable candidates get a checkbox.
    expect(html.match(/name="candidate"/g)).toHaveLength(2);
    expect(html).toContain('value="r2-c02"');
    expect(html).not.toContain('value="r1-c01"');
    // The page data cannot close its script tag.
    const data = /<script type="application\/json" id="page-data">(.*?)<\/script>/s.exec(html)![1]!;
    expect(data).not.toContain('<');
    expect(JSON.parse(data)).toMatchObject({ page: 'brief', workflowId: 'brief-x-1234abcd', state: { awaiting: true, maxApprovals: 1, reviewable: ['r2-c01', 'r2-c02'] } });
  });

  it('says what the brief is doing when it is not awaiting review, and shows the next round coming', () => {
    const s = { ...status(review({ awaiting: false, round: 1 })), stage: 'generating' as const, round: 2, candidates: { total: 6, generated: 4, rejected: 0, judged: 3, selected: 1 } };
    expect(briefState(view(s))).toMatchObject({ kind: 'working', label: 'Generating round 2 (4/6)', awaiting: false, done: false });
    const html = briefFragment(view(s));
    expect(html).toContain('Round 2 <span class="muted">· on its way</span>');
    expect(html).not.toContain('name="candidate"');
    expect(briefState(view(status(), { execution: 'FAILED', failure: 'boom' }))).toMatchObject({ kind: 'failed', done: true });
    expect(briefState(view(status(), { status: undefined, statusError: 'no worker' }))).toMatchObject({ kind: 'unknown', awaiting: false });
  });

  it('renders the queue, its empty state and its errors escaped', () => {
    const html = queueFragment({ briefs: [{ workflowId: 'brief-x-1234abcd', runId: 'r', startTime: '2030-01-01T00:00:00Z', taskQueue: 'q', status: status(), topScore: 84.5 }] });
    expect(html).toContain('1 brief awaiting review');
    expect(html).toContain('href="/briefs/brief-x-1234abcd"');
    expect(html).toContain('round 2 of 3');
    expect(html).not.toContain('<img src=x');
    expect(queueFragment({ briefs: [] })).toContain('Nothing is waiting for review');
    expect(queueFragment({ error: `bad ${XSS}` })).toContain('bad &lt;img');
  });

  it('prints a brief for the terminal with what to type next', () => {
    const text = reviewBlock(view());
    expect(text).toContain('state      awaiting review — round 2 of 3, approve up to 1');
    expect(text).toMatch(/round 2 · prompt pv-2\n {2}★ r2-c02 +85\/100 +rank 1 of 2 +\(suggested, reviewable\)/);
    expect(reviewBlock(view({ ...status(), subject: 'evil \u001b[2J\u001b]0;pwned\u0007' }))).not.toContain('\u001b');
    expect(text).toContain('darkroom approve brief-x-1234abcd r2-c02');
  });
});

/** A BlobStore in memory, for the image server. */
class MemoryBlobs implements BlobStore {
  readonly location = 'memory://';
  readonly data = new Map<string, { bytes: Buffer; ref: BlobRef }>();
  gets = 0;
  async put(key: string, bytes: Uint8Array, meta: BlobMeta): Promise<BlobRef> {
    const ref = { key, sha256: `sha-${key}`, bytes: bytes.byteLength, width: meta.width ?? 0, height: meta.height ?? 0, mime: meta.mime };
    this.data.set(key, { bytes: Buffer.from(bytes), ref });
    return ref;
  }
  async get(key: string): Promise<Buffer> {
    this.gets++;
    const b = this.data.get(key);
    if (!b) throw new BlobNotFoundError(key);
    return b.bytes;
  }
  async openRead(key: string) {
    const b = this.data.get(key);
    if (!b) throw new BlobNotFoundError(key);
    return { bytes: b.bytes.byteLength, stream: Readable.from([b.bytes]) };
  }
  async head(key: string) {
    return this.data.get(key)?.ref;
  }
  async list(prefix: string) {
    return [...this.data.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
  async delete(key: string) {
    this.data.delete(key);
  }
}

describe('image server', () => {
  it('makes WebP thumbnails once and serves only raster images by safe key', async () => {
    const blobs = new MemoryBlobs();
    const png = await sharp({ create: { width: 1024, height: 512, channels: 3, background: '#556B2F' } }).png().toBuffer();
    await blobs.put('b/candidates/r1-c01.png', png, { mime: 'image/png', width: 1024, height: 512 });
    await blobs.put('b/evil.svg', Buffer.from('<svg onload="alert(1)"/>'), { mime: 'image/svg+xml' });
    await blobs.put('b/manifest.json', Buffer.from('{}'), { mime: 'application/json' });
    const images = new ImageServer(blobs);

    const [a, b] = await Promise.all([images.serve('b/candidates/r1-c01.png', 320), images.serve('b/candidates/r1-c01.png', 320)]);
    expect(a.mime).toBe('image/webp');
    expect(await sharp(a.body).metadata()).toMatchObject({ width: 320, height: 160, format: 'webp' });
    expect(b.body).toBe(a.body);
    await images.serve('b/candidates/r1-c01.png', 320);
    expect(blobs.gets).toBe(1);
    expect(images.cachedThumbnails).toBe(1);
    // Never enlarged.
    expect((await sharp((await images.serve('b/candidates/r1-c01.png', 2048)).body).metadata()).width).toBe(1024);
    expect((await images.serve('b/candidates/r1-c01.png')).mime).toBe('image/png');

    await expect(images.serve('b/evil.svg')).rejects.toMatchObject({ status: 415 });
    await expect(images.serve('b/manifest.json')).rejects.toMatchObject({ status: 415 });
    await expect(images.serve('b/none.png')).rejects.toMatchObject({ status: 404 });
  });

  it('makes a bounded number of thumbnails at once: past the line, 503 at once', async () => {
    const blobs = new MemoryBlobs();
    const png = await sharp({ create: { width: 1200, height: 800, channels: 3, background: '#556B2F' } }).png().toBuffer();
    for (const k of ['a', 'b', 'c']) await blobs.put(`b/${k}.png`, png, { mime: 'image/png', width: 1200, height: 800 });
    const images = new ImageServer(blobs, { thumbConcurrency: 1, thumbQueue: 1 });
    const results = await Promise.allSettled(['a', 'b', 'c'].map((k) => images.serve(`b/${k}.png`, 100)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected']);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ status: 503 });
    // The line moves on: the refused one is made when asked again.
    expect((await images.serve('b/c.png', 100)).mime).toBe('image/webp');
    await expect(new ImageServer(blobs, { maxThumbSourceBytes: 100 }).serve('b/a.png', 100)).rejects.toMatchObject({ status: 413 });
    expect((await new ImageServer(blobs, { maxThumbSourceBytes: 100 }).serve('b/a.png')).open).toBeTypeOf('function');
  });

  it('refuses keys that are not plain safe keys', () => {
    for (const raw of ['../etc/passwd', '%2e%2e/x.png', 'a%2fb.png', 'a\\b.png', '/etc/passwd', 'a//b.png', '.meta/a.png', 'a/./b.png']) {
      expect(() => keyFromRawPath(raw), raw).toThrow(BlobRequestError);
    }
    expect(keyFromRawPath('brief-x/candidates/r1-c01-pv-1-s42.png')).toBe('brief-x/candidates/r1-c01-pv-1-s42.png');
    expect(parseThumbWidth(null)).toBeUndefined();
    expect(parseThumbWidth('320')).toBe(320);
    for (const w of ['0', '-1', '1e3', '99999', '32.5', 'x']) expect(() => parseThumbWidth(w), w).toThrow(BlobRequestError);
  });
});

describe('auth', () => {
  it('compares tokens in constant time and keeps the token out of the cookie', () => {
    expect(safeEqual('abc', 'abc')).toBe(true);
    expect(safeEqual('abc', 'abd')).toBe(false);
    expect(safeEqual('abc', 'abcd')).toBe(false);
    const auth = new Auth('0123456789abcdef-token');
    const cookie = auth.sessionCookie();
    expect(cookie).toMatch(/^darkroom_review=[0-9a-z]+\.[\w-]+; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict$/);
    expect(cookie).not.toContain('0123456789abcdef-token');
    const req = (headers: Record<string, string>) => ({ headers }) as unknown as Parameters<Auth['isAuthenticated']>[0];
    expect(auth.isAuthenticated(req({ cookie: `other=1; ${cookie.split(';')[0]}` }))).toBe(true);
    expect(auth.isAuthenticated(req({ authorization: 'Bearer 0123456789abcdef-token' }))).toBe(true);
    expect(auth.isAuthenticated(req({ authorization: 'Bearer nope' }))).toBe(false);
    expect(auth.isAuthenticated(req({ cookie: 'darkroom_review=0123456789abcdef-token' }))).toBe(false);
    expect(parseCookies('a=1; b=%ZZ; c = 3')).toEqual(new Map([['a', '1'], ['c', '3']]));
    expect(() => new Auth('short')).toThrow(/at least 16/);
  });
});

describe('darkroom CLI review commands: usage errors', () => {
  async function run(...argv: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    // An address nothing listens on: these must all fail before connecting.
    const code = await main(argv, { TEMPORAL_ADDRESS: '127.0.0.1:1', USER: 'tester' }, { out: (s) => out.push(s), err: (s) => err.push(s) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }

  it.each([
    [['reject', 'brief-x'], /darkroom reject: missing --reason TEXT/],
    [['reject', 'brief-x', '--reason', '  '], /missing --reason TEXT/],
    [['reject', 'brief-x', 'because'], /put the reason in --reason/],
    [['reject'], /darkroom reject: missing <workflowId>/],
    [['revise', 'brief-x'], /darkroom revise: missing --feedback TEXT/],
    [['revise', 'brief-x', '--keep', 'r1-c01'], /missing --feedback TEXT/],
    [['approve', 'brief-x'], /darkroom approve: missing <candidate…>/],
    [['approve'], /darkroom approve: missing <workflowId>/],
    [['review', 'show'], /darkroom review show: missing <workflowId>/],
    [['review', 'bulk-approve'], /missing --min-score N/],
    [['review', 'bulk-approve', '--min-score', 'lots'], /--min-score must be a number from 0 to 100, not "lots"/],
    [['review', 'bulk-approve', '--min-score', '101'], /--min-score must be a number from 0 to 100/],
    [['review', 'list', '--filter', "DarkroomCatalogId = 'x'; DROP"], /invalid filter .*";" is not allowed/],
    [['review', 'bulk-approve', '--min-score', '80', '--filter', "(DarkroomCatalogId = 'x'"], /"\(" is not closed/],
    [['review', '--port', 'http'], /--port must be a port number/],
    [['review', '--public-url', 'https://review.example.com/review/'], /--public-url: the public URL "https:\/\/review.example.com\/review\/" must be the root of its host/],
    [['review', '--public-url', 'ftp://review.example.com'], /--public-url: .* must start with https:\/\/ or http:\/\//],
    [['review', 'nonsense'], /unknown command "review nonsense"/],
    [['approve', 'brief-x', 'r1-c01', '--reason', 'x'], /darkroom approve: --reason does not apply here/],
    [['reject', 'brief-x', '--reason'], /argument missing/],
    [['review', 'list', '--colour'], /Unknown option '--colour'/],
  ])('%j exits 2 naming the problem', async (argv, message) => {
    const r = await run(...argv);
    expect(r.err).toMatch(message);
    expect(r.err, 'says "darkroom" once').not.toMatch(/darkroom: darkroom/);
    expect(r.code).toBe(2);
  });

  it('documents the review commands in --help', async () => {
    const r = await run('--help');
    expect(r.code).toBe(0);
    for (const cmd of ['darkroom review [--port N]', 'darkroom review list', 'darkroom review show', 'darkroom approve', 'darkroom reject', 'darkroom revise', 'darkroom review bulk-approve', 'DARKROOM_REVIEW_TOKEN']) {
      expect(r.out).toContain(cmd);
    }
  });
});
