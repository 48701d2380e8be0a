import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { postSigned, webhookSignature } from '../../activities/webhook';
import { validateBrief } from '../../domain/brief';
import { parseConfig } from '../../domain/config';
import { briefDetails, briefSummary } from '../../domain/webhooks';
import { verifySignature } from '../../examples/delivery-receiver/server';
import { statusBlock } from '../../client/render';

describe('webhook configuration', () => {
  it('refuses an events or delivery webhook without a signing secret, naming the variable', () => {
    expect(() => parseConfig({ DARKROOM_EVENTS_WEBHOOK: 'http://127.0.0.1:1/e' })).toThrow(/DARKROOM_WEBHOOK_SECRET is required when DARKROOM_EVENTS_WEBHOOK is set/);
    expect(() => parseConfig({ DARKROOM_DELIVERY_WEBHOOK: 'http://127.0.0.1:1/d' })).toThrow(/DARKROOM_WEBHOOK_SECRET is required when DARKROOM_DELIVERY_WEBHOOK is set/);
    expect(() => parseConfig({ DARKROOM_DELIVERY_WEBHOOK: 'ftp://x/d', DARKROOM_WEBHOOK_SECRET: 'x'.repeat(16) })).toThrow(/DARKROOM_DELIVERY_WEBHOOK/);
    expect(() => parseConfig({ DARKROOM_WEBHOOK_SECRET: 'short' })).toThrow(/DARKROOM_WEBHOOK_SECRET must be at least 16 characters/);
    expect(parseConfig({}).DARKROOM_EVENTS_WEBHOOK).toBeUndefined();
  });
});

describe('the Temporal UI summary and details', () => {
  it('keeps the summary on one line and shows markdown in brief text as text', () => {
    const brief = validateBrief({ subject: 'a *bold* [link](http://x)\nmug', channels: ['og-image', 'email-header'], budgetUsd: 2.5, sku: 'MUG_1' });
    expect(briefSummary(brief)).toBe('Brief: MUG\\_1 · a \\*bold\\* \\[link\\]\\(http://x\\) mug → og-image, email-header');
    expect(briefDetails(brief)).toContain('**Budget:** 2.50 USD');
    expect(briefDetails(brief)).toContain('**SKU:** MUG\\_1');
    expect(briefSummary(validateBrief({ subject: 'x'.repeat(500), channels: ['og-image'] })).length).toBeLessThanOrEqual(200);
  });
});

describe('postSigned', () => {
  let answer = 200;
  let retryAfter: string | undefined;
  const seen: Array<{ headers: Record<string, unknown>; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ headers: req.headers, body });
      res.writeHead(answer, retryAfter ? { 'retry-after': retryAfter } : {}).end();
    });
  });
  let url = '';
  beforeAll(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));
  const send = () => postSigned({ url, secret: 's'.repeat(16), eventId: 'wf/run/brief.completed', eventType: 'brief.completed', body: '{"a":1}', timestamp: 1_800_000_000 });

  it('signs the timestamp and body, and the example receiver accepts it only inside its window', async () => {
    answer = 204;
    await expect(send()).resolves.toEqual({ status: 204 });
    const h = seen.at(-1)!.headers;
    expect(h['x-darkroom-signature']).toBe(`t=1800000000,v1=${webhookSignature('s'.repeat(16), 1_800_000_000, '{"a":1}')}`);
    expect(h['x-darkroom-event-id']).toBe('wf/run/brief.completed');
    const headers = h as Parameters<typeof verifySignature>[1];
    expect(verifySignature('s'.repeat(16), headers, Buffer.from('{"a":1}'), 1_800_000_100_000)).toBeUndefined();
    expect(verifySignature('s'.repeat(16), headers, Buffer.from('{"a":2}'), 1_800_000_100_000)).toBe('bad signature');
    expect(verifySignature('s'.repeat(16), headers, Buffer.from('{"a":1}'), 1_800_001_000_000)).toBe('timestamp too old or too far ahead');
    expect(verifySignature('t'.repeat(16), headers, Buffer.from('{"a":1}'), 1_800_000_100_000)).toBe('bad signature');
  });

  it.each([
    [400, true], [401, true], [404, true], [410, true], [422, true],
    [408, false], [429, false], [500, false], [502, false], [503, false],
  ])('an answer of %i is non-retryable: %s', async (status, nonRetryable) => {
    answer = status;
    retryAfter = undefined;
    const err = await send().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect((err as ApplicationFailure).nonRetryable).toBe(nonRetryable);
    expect((err as ApplicationFailure).type).toBe('WebhookFailed');
  });

  it('waits as long as Retry-After asks, up to a minute', async () => {
    answer = 429;
    retryAfter = '7';
    expect(((await send().catch((e: unknown) => e)) as ApplicationFailure).nextRetryDelay).toBe(7000);
    retryAfter = '99999';
    expect(((await send().catch((e: unknown) => e)) as ApplicationFailure).nextRetryDelay).toBe(60_000);
  });

  it('counts a receiver that cannot be reached as retryable', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = (await postSigned({ url: `http://127.0.0.1:${port}/`, secret: 's'.repeat(16), eventId: 'x', eventType: 'brief.failed', body: '{}' }).catch((e: unknown) => e)) as ApplicationFailure;
    expect(err.nonRetryable).toBe(false);
    expect(err.message).toMatch(/brief.failed webhook unreachable: fetch failed \(ECONNREFUSED\)/);
  });
});

describe('darkroom status', () => {
  it('shows a failed delivery and a failed event, with control characters from the receiver made visible', () => {
    const out = statusBlock({
      workflowId: 'brief-x-1', stage: 'done', round: 1, subject: 'x', channels: ['og-image'], approval: 'auto',
      candidates: { total: 1, generated: 1, rejected: 0, judged: 1, selected: 1 }, assets: { total: 2, done: 2 }, cost: { forecastUsd: 0, actualUsd: 0, budgetUsd: 5 },
      manifestKey: 'brief-x-1/manifest.json',
      delivery: { state: 'failed', eventId: 'brief-x-1/r/brief.delivered', assets: 2, recordKey: 'brief-x-1/delivery.json', error: 'brief.delivered webhook answered 503\u001b[2J' },
      webhookFailures: [{ type: 'brief.completed', eventId: 'brief-x-1/r/brief.completed', error: 'brief.completed webhook answered 400 (not retried: the receiver refused the call)' }],
    });
    expect(out).toContain('delivery   FAILED — brief.delivered webhook answered 503\\u001b[2J · record brief-x-1/delivery.json');
    expect(out).toContain('webhook    brief.completed not delivered — brief.completed webhook answered 400');
    expect(out).not.toContain('\u001b');
  });
});
