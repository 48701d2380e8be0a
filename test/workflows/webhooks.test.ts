import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { validateBrief } from '../../domain/brief';
import type { BriefEvent, DeliveryEvent } from '../../domain/webhooks';
import { startBrief } from '../../client/briefs';
import { reviewUpdate, statusQuery } from '../../workflows/messages';
import { closeTestConnection, testAddress, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testWorkflowBundle, withWorker } from '../support/worker';
import { awaitingRound, testBrief, waitFor, waitForStatus } from '../support/briefs';
import { startVersitygw } from '../support/versitygw';

const secret = 'webhook-secret-0123456789';

interface Call { headers: IncomingHttpHeaders; body: string }

/** A local receiver that records every call and answers what `answer` says. */
async function recorder(answer: (call: Call, calls: Call[]) => number): Promise<{ url: string; calls: Call[]; server: Server }> {
  const calls: Call[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const call = { headers: req.headers, body };
      calls.push(call);
      res.writeHead(answer(call, calls), { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, calls, server };
}

/** Checks a call the way a receiver should: `v1` is HMAC-SHA256 over `<t>.<body>`, and `t` is the timestamp header. */
function expectSigned(call: Call): void {
  const sig = String(call.headers['x-darkroom-signature']);
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
  expect(m, sig).not.toBeNull();
  expect(call.headers['x-darkroom-timestamp']).toBe(m![1]);
  expect(m![2]).toBe(createHmac('sha256', secret).update(`${m![1]}.${call.body}`).digest('hex'));
  expect(call.headers['x-darkroom-event-id']).toBe((JSON.parse(call.body) as { id: string }).id);
}

/** Runs the example receiver as its README says, on a free port; resolves with its URL. */
async function startExampleReceiver(productsDir: string): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(path.resolve('node_modules/.bin/tsx'), ['examples/delivery-receiver/server.ts'], {
    env: { ...process.env, PORT: '0', PRODUCTS_DIR: productsDir, DARKROOM_WEBHOOK_SECRET: secret },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    proc.stdout!.on('data', (c) => {
      out += c;
      const m = /delivery receiver on (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out);
      if (m) resolve(m[1]!);
    });
    proc.stderr!.on('data', (c) => (out += c));
    proc.on('exit', (code) => reject(new Error(`the example receiver exited (${code}): ${out}`)));
  });
  return { url, proc };
}

async function post(url: string, body: string, headers: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const signedHeaders = (body: string, id: string, t = Math.floor(Date.now() / 1000), key = secret) => ({
  'x-darkroom-event-id': id,
  'x-darkroom-timestamp': String(t),
  'x-darkroom-signature': `t=${t},v1=${createHmac('sha256', key).update(`${t}.${body}`).digest('hex')}`,
});

beforeAll(async () => {
  await testWorkflowBundle();
});
afterAll(closeTestConnection);

describe('events and delivery webhooks, and what the Temporal UI shows', () => {
  it('delivers a reviewed brief to the example receiver, sends signed events, and describes itself to the UI', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('hooks');
    const dataDir = testDataDir('hooks');
    const productsDir = path.join(dataDir, 'products');
    mkdirSync(productsDir, { recursive: true });
    writeFileSync(path.join(productsDir, 'OLIVE-500.json'), JSON.stringify({ sku: 'OLIVE-500', title: 'Olive oil, 500 ml', price: 12.5 }));
    // Every event's first attempt is refused with a 503, so each one is retried with the same id.
    const events = await recorder((call, calls) => (calls.filter((c) => c.headers['x-darkroom-event-id'] === call.headers['x-darkroom-event-id']).length === 1 ? 503 : 200));
    const receiver = await startExampleReceiver(productsDir);
    try {
      const env = { DARKROOM_EVENTS_WEBHOOK: events.url, DARKROOM_DELIVERY_WEBHOOK: receiver.url, DARKROOM_WEBHOOK_SECRET: secret };
      const brief = validateBrief(testBrief({ sku: 'OLIVE-500', channels: ['email-header', 'og-image'], approval: 'human', review: { deadline: '10m' } }));
      const workflowId = uniqueWorkflowId('hooks-olive');
      const { manifest, metadataInReview, metadataDone, describeOut } = await withWorker({ taskQueue, dataDir, env }, async () => {
        const { handle } = await startBrief(client, brief, taskQueue, { workflowId });
        const s = await waitForStatus(handle, awaitingRound(1), 'review');
        const metadataInReview = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
        // The review_needed event is not awaited by the workflow: let its retry land before deciding.
        await waitFor('review_needed accepted', async () => (events.calls.filter((c) => c.headers['x-darkroom-event'] === 'brief.review_needed').length === 2 ? true : undefined));
        await handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: [s.review!.candidates[0]!.id], reviewer: 'ines' }] });
        const manifest = await handle.result();
        const metadataDone = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
        const describeOut = await promisify(execFile)(inject('temporalCli'), ['workflow', 'describe', '--address', testAddress(), '-w', workflowId]);
        return { manifest, metadataInReview, metadataDone, describeOut: describeOut.stdout };
      });

      // Delivery: the example receiver verified the call and wrote the images into the product record.
      expect(manifest.outcome).toBe('published');
      expect(manifest.delivery).toMatchObject({ state: 'delivered', assets: manifest.assets.length, recordKey: `${workflowId}/delivery.json` });
      const product = JSON.parse(readFileSync(path.join(productsDir, 'OLIVE-500.json'), 'utf8'));
      expect(product).toMatchObject({ sku: 'OLIVE-500', title: 'Olive oil, 500 ml', price: 12.5, imagesFrom: { workflowId } });
      expect(product.images).toHaveLength(manifest.assets.length);
      expect(new Set(product.images.map((i: { channel: string }) => i.channel))).toEqual(new Set(['email-header', 'og-image']));
      for (const image of product.images as Array<{ url: string; sha256: string; width: number; height: number; alt: string }>) {
        const file = fileURLToPath(image.url);
        expect(createHash('sha256').update(readFileSync(file)).digest('hex')).toBe(image.sha256);
        expect(image.alt).toBe(manifest.selected[0]!.altText);
        expect(manifest.assets.some((a) => a.sha256 === image.sha256 && a.width === image.width && a.height === image.height)).toBe(true);
      }
      expect(JSON.parse(readFileSync(path.join(dataDir, 'blobs', workflowId, 'delivery.json'), 'utf8'))).toMatchObject({ state: 'delivered', receiverStatus: 200 });

      // The receiver refuses a bad signature and a stale timestamp, and acts once per event id.
      const replay = JSON.stringify({ id: product.imagesFrom.eventId, type: 'brief.delivered', workflowId, brief: { subject: 'x', sku: 'OLIVE-500' }, assets: [] });
      expect((await post(receiver.url, replay, signedHeaders(replay, product.imagesFrom.eventId, undefined, 'not-the-secret-0123456789'))).status).toBe(401);
      expect((await post(receiver.url, replay, signedHeaders(replay, product.imagesFrom.eventId, Math.floor(Date.now() / 1000) - 3600))).status).toBe(401);
      expect((await post(receiver.url, replay, { 'x-darkroom-event-id': product.imagesFrom.eventId })).status).toBe(401);
      expect(await post(receiver.url, replay, signedHeaders(replay, product.imagesFrom.eventId))).toEqual({ status: 200, json: { duplicate: true } });
      expect(JSON.parse(readFileSync(path.join(productsDir, 'OLIVE-500.json'), 'utf8')).images).toHaveLength(manifest.assets.length);

      // Events: review_needed then completed, each retried once after the 503 with the same id and body id.
      for (const call of events.calls) expectSigned(call);
      const bodies = events.calls.map((c) => JSON.parse(c.body) as BriefEvent);
      expect(bodies.map((b) => b.type)).toEqual(['brief.review_needed', 'brief.review_needed', 'brief.completed', 'brief.completed']);
      expect(bodies[0]!.id).toBe(bodies[1]!.id);
      expect(bodies[0]!.time).toBe(bodies[1]!.time);
      expect(bodies[0]).toMatchObject({ workflowId, brief: { subject: brief.subject, channels: ['email-header', 'og-image'], sku: 'OLIVE-500' }, data: { round: 1, candidates: 3 } });
      expect(bodies[2]).toMatchObject({ data: { outcome: 'published', manifestKey: manifest.manifestKey, delivery: 'delivered', assets: manifest.assets.length } });
      expect(existsSync(fileURLToPath(bodies[2]!.data.manifestUrl as string))).toBe(true);
      expect(manifest.webhookFailures).toBeUndefined();

      // The Temporal UI: a summary line and the brief's details from the start call, live details from the workflow.
      const desc = await client.workflow.getHandle(workflowId).describe();
      expect(await desc.staticSummary()).toBe('Brief: OLIVE-500 · a glass bottle of olive oil on a stone table → email-header, og-image');
      const details = await desc.staticDetails();
      expect(details).toContain('**Channels:** email-header, og-image');
      expect(details).toContain('**Candidates:** 3 per round, keep 1');
      expect(details).toContain('**Budget:** 5.00 USD');
      expect(details).toContain('**Approval:** human');
      expect(details).toContain('**Model:** auto');
      expect(metadataInReview.currentDetails).toContain('**Stage:** review (round 1)');
      expect(metadataInReview.currentDetails).toContain('**Candidates:** 3 of 3 generated, 0 rejected, 3 judged, 1 selected');
      expect(metadataInReview.currentDetails).toContain('**Waiting for review** until');
      expect(metadataDone.currentDetails).toContain('**Stage:** done (round 1)');
      expect(metadataDone.currentDetails).toContain('**Delivery:** delivered');
      expect(metadataDone.currentDetails).toMatch(/\*\*Spend:\*\* \d+\.\d\d USD of 5\.00 USD budget/);
      // The real CLI shows the same summary and details.
      expect(describeOut).toContain('a glass bottle of olive oil on a stone table');
      expect(describeOut).toContain('Candidates:** 3 per round');
    } finally {
      receiver.proc.kill('SIGTERM');
      events.server.close();
    }
  });

  it('on the S3 store, delivers presigned URLs the receiver can fetch without credentials, and a public base URL when one is set', async () => {
    const client = await testConnection();
    const s3 = await startVersitygw();
    // The worker's S3 client takes its credentials from the SDK's default chain, as in production.
    process.env.AWS_ACCESS_KEY_ID = s3.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3.credentials.secretAccessKey;
    const delivery = await recorder(() => 200);
    try {
      const store = s3.config('hooks/');
      const env = { ...store, DARKROOM_DELIVERY_WEBHOOK: delivery.url, DARKROOM_WEBHOOK_SECRET: secret };
      const taskQueue = uniqueTaskQueue('hooks-s3');
      const workflowId = uniqueWorkflowId('hooks-s3');
      const manifest = await withWorker({ taskQueue, dataDir: testDataDir('hooks-s3'), env }, async () =>
        (await startBrief(client, validateBrief(testBrief({ sku: 'S3-1' })), taskQueue, { workflowId })).handle.result());
      expect(manifest.delivery?.state).toBe('delivered');
      const payload = JSON.parse(delivery.calls[0]!.body) as DeliveryEvent;
      expect(payload.assets.length).toBe(manifest.assets.length);
      for (const a of payload.assets) {
        expect(a.url).toMatch(/X-Amz-Signature=/);
        expect(Date.parse(a.urlExpiresAt!)).toBeGreaterThan(Date.now() + 6 * 24 * 3600 * 1000);
        const res = await fetch(a.url);
        expect(res.status).toBe(200);
        expect(createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex')).toBe(a.sha256);
      }
      expect((await fetch(payload.manifest.url)).status).toBe(200);

      const publicEnv = { ...env, DARKROOM_PUBLIC_BASE_URL: 'https://cdn.example.com/assets/' };
      const publicId = uniqueWorkflowId('hooks-cdn');
      await withWorker({ taskQueue, dataDir: testDataDir('hooks-cdn'), env: publicEnv }, async () =>
        (await startBrief(client, validateBrief(testBrief({ sku: 'S3-2' })), taskQueue, { workflowId: publicId })).handle.result());
      const cdn = JSON.parse(delivery.calls.at(-1)!.body) as DeliveryEvent;
      expect(cdn.workflowId).toBe(publicId);
      for (const a of cdn.assets) {
        expect(a.url).toBe(`https://cdn.example.com/assets/${a.key}`);
        expect(a.urlExpiresAt).toBeUndefined();
      }
    } finally {
      delete process.env.AWS_ACCESS_KEY_ID;
      delete process.env.AWS_SECRET_ACCESS_KEY;
      delivery.server.close();
      await s3.stop();
    }
  });

  it('a receiver that refuses or is down never loses the brief: the failure is shown, the assets stay published', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('hooks-down');
    const dataDir = testDataDir('hooks-down');
    const events = await recorder(() => 400);
    const delivery = await recorder(() => 503);
    try {
      const env = { DARKROOM_EVENTS_WEBHOOK: events.url, DARKROOM_DELIVERY_WEBHOOK: delivery.url, DARKROOM_WEBHOOK_SECRET: secret };
      const workflowId = uniqueWorkflowId('hooks-down');
      const failedId = uniqueWorkflowId('hooks-failed');
      const { manifest, status, failure } = await withWorker({ taskQueue, dataDir, env }, async () => {
        const { handle } = await startBrief(client, validateBrief(testBrief({ sku: 'MUG-1' })), taskQueue, { workflowId });
        const manifest = await handle.result();
        const status = await handle.query(statusQuery);
        // A brief that fails after validation tells the events webhook too.
        const failed = await startBrief(client, validateBrief({ subject: 'a lonely teapot', channels: ['og-image'], minPromptScore: 6, lighting: 'hard noon sun' }), taskQueue, { workflowId: failedId });
        const failure = await failed.handle.result().then(() => undefined, (err: unknown) => err);
        return { manifest, status, failure };
      });
      expect(manifest.outcome).toBe('published');
      expect(manifest.delivery).toMatchObject({ state: 'failed', error: expect.stringMatching(/answered 503/) });
      expect(status.stage).toBe('done');
      expect(status.delivery).toEqual(manifest.delivery);
      expect(status.webhookFailures).toEqual([{ type: 'brief.completed', eventId: `${workflowId}/${manifest.runId}/brief.completed`, error: expect.stringMatching(/answered 400 \(not retried/) }]);
      // The manifest and every asset stay published; the failed delivery is on record beside them.
      const blobs = path.join(dataDir, 'blobs');
      expect(existsSync(path.join(blobs, manifest.manifestKey))).toBe(true);
      for (const a of manifest.assets) expect(existsSync(path.join(blobs, a.key))).toBe(true);
      expect(JSON.parse(readFileSync(path.join(blobs, workflowId, 'delivery.json'), 'utf8'))).toMatchObject({ state: 'failed', error: expect.stringMatching(/503/) });
      // 503 is retried to the worker's DARKROOM_RETRY_MAX_ATTEMPTS (5 in tests), always as the same event; a 400 is not retried.
      expect(delivery.calls).toHaveLength(5);
      for (const call of delivery.calls) expectSigned(call);
      expect(new Set(delivery.calls.map((c) => c.headers['x-darkroom-event-id']))).toEqual(new Set([`${workflowId}/${manifest.runId}/brief.delivered`]));
      const payload = JSON.parse(delivery.calls[0]!.body) as DeliveryEvent;
      expect(payload).toMatchObject({ type: 'brief.delivered', workflowId, brief: { sku: 'MUG-1', channels: ['email-header'] }, manifest: { key: manifest.manifestKey } });
      expect(payload.assets.map((a) => a.sha256).sort()).toEqual(manifest.assets.map((a) => a.sha256).sort());
      expect(payload.assets[0]).toMatchObject({ channel: 'email-header', url: expect.stringMatching(/^file:\/\//), altText: manifest.selected[0]!.altText });

      expect(failure).toBeInstanceOf(WorkflowFailedError);
      const failedCalls = events.calls.map((c) => JSON.parse(c.body) as BriefEvent).filter((b) => b.workflowId === failedId);
      expect(failedCalls).toHaveLength(1);
      expect(failedCalls[0]).toMatchObject({ type: 'brief.failed', brief: { subject: 'a lonely teapot' }, data: { error: expect.stringMatching(/prompt scores/) } });
      expect(events.calls.filter((c) => JSON.parse(c.body).workflowId === workflowId)).toHaveLength(1);
    } finally {
      events.server.close();
      delivery.server.close();
    }
  });
});
