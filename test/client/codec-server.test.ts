/**
 * Encrypted payloads end to end: a brief run with DARKROOM_CODEC_KEYS leaves no plaintext of the
 * brief in the server's history, a client with the keys reads the result, and `darkroom
 * codec-server` lets the real temporal CLI show the history decrypted.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { ProviderOverrides } from '../../activities/providers';
import proto from '@temporalio/proto';
import { validateBrief } from '../../domain/brief';
import { parseConfig } from '../../domain/config';
import { startBrief } from '../../client/briefs';
import { startCodecServer, type CodecServer } from '../../client/codec-server';
import { main } from '../../client/cli';
import { connectClient } from '../../client/connect';
import { EncryptionCodec, parseCodecKeys } from '../../temporal/codec';
import { testBrief } from '../support/briefs';
import { closeTestConnection, testAddress, testConnection, testDataDir, testNamespace, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testEncryptingWorkflowBundle, testWorkflowBundle, withWorker } from '../support/worker';

const run = promisify(execFile);
const keys = `k2:${randomBytes(32).toString('base64')},k1:${randomBytes(32).toString('base64')}`;
const codec = new EncryptionCodec(parseCodecKeys(keys));
const token = randomBytes(24).toString('base64url');
const uiOrigin = 'http://localhost:8233';

let server: CodecServer;
const logged: string[] = [];
beforeAll(async () => {
  server = await startCodecServer({ codec, token, namespace: testNamespace, corsOrigins: [uiOrigin], port: 0, maxBodyBytes: 64 * 1024, log: (l) => logged.push(l) });
});
afterAll(async () => {
  await server?.close();
  await closeTestConnection();
});

const b64 = (s: string) => Buffer.from(s).toString('base64');
const jsonPayload = (value: unknown) => {
  const p = defaultPayloadConverter.toPayload(value);
  return { metadata: Object.fromEntries(Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])), data: Buffer.from(p.data!).toString('base64') };
};
const post = (path: string, body: unknown, headers: Record<string, string> = { Authorization: `Bearer ${token}` }) =>
  fetch(`${server.url}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

describe('darkroom codec-server over HTTP', () => {
  it('encodes and decodes in the remote codec JSON form', async () => {
    const enc = await post('/encode', { payloads: [jsonPayload({ subject: 'secret tote bag' })] });
    expect(enc.status).toBe(200);
    const encoded = (await enc.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(encoded.payloads).toHaveLength(1);
    expect(encoded.payloads[0]!.metadata).toEqual({ encoding: b64('binary/encrypted'), 'encryption-key-id': b64('k2') });
    expect(Buffer.from(encoded.payloads[0]!.data, 'base64').includes('secret tote bag')).toBe(false);
    const dec = await post('/decode', encoded, { Authorization: `Bearer ${token}`, 'X-Namespace': testNamespace });
    expect(dec.status).toBe(200);
    const decoded = (await dec.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(decoded.payloads[0]!.metadata.encoding).toBe(b64('json/plain'));
    expect(JSON.parse(Buffer.from(decoded.payloads[0]!.data, 'base64').toString())).toEqual({ subject: 'secret tote bag' });
    // Payloads that were never encrypted come back as they are.
    const plain = { payloads: [jsonPayload('plain')] };
    expect(await (await post('/decode', plain)).json()).toEqual(plain);
  });

  it('answers the UI origin\'s preflight with the headers it will send, and no other origin', async () => {
    const ok = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { Origin: uiOrigin, 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization,content-type,x-namespace' } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe(uiOrigin);
    expect(ok.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
    expect(ok.headers.get('access-control-allow-headers')).toBe('Authorization, Content-Type, X-Namespace');
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
    const other = await fetch(`${server.url}/decode`, { method: 'OPTIONS', headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' } });
    expect(other.status).toBe(403);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    // The real request from the UI carries the origin header back too.
    const real = await post('/decode', { payloads: [] }, { Authorization: `Bearer ${token}`, Origin: uiOrigin });
    expect(real.headers.get('access-control-allow-origin')).toBe(uiOrigin);
  });

  it('refuses requests without the token (401), for another namespace (403), too large (413) or malformed (400)', async () => {
    const none = await post('/decode', { payloads: [] }, {});
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    expect(await none.json()).toEqual({ error: 'missing or wrong Authorization: Bearer <token>' });
    expect((await post('/encode', { payloads: [] }, { Authorization: `Bearer ${token}x` })).status).toBe(401);
    expect((await post('/decode', { payloads: [] }, { Authorization: token })).status).toBe(401);
    const ns = await post('/decode', { payloads: [] }, { Authorization: `Bearer ${token}`, 'X-Namespace': 'prod' });
    expect(ns.status).toBe(403);
    expect(await ns.json()).toEqual({ error: `this codec server serves namespace ${testNamespace}, not prod` });
    const big = await post('/encode', { payloads: [{ data: 'A'.repeat(70 * 1024) }] });
    expect(big.status).toBe(413);
    const bad = await post('/decode', '{"payloads": [{"data": "!!"}]}');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/payloads\.0\.data must be base64/);
    expect((await post('/decode', 'not json')).status).toBe(400);
    expect((await fetch(`${server.url}/decode`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(405);
    expect((await post('/other', { payloads: [] })).status).toBe(404);
  });

  it('takes the token as the path segment before the operation, for the Web UI, which sends no Authorization of its own', async () => {
    const ok = await post(`/${token}/decode`, { payloads: [jsonPayload('x')] }, { Origin: uiOrigin, 'X-Namespace': testNamespace });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe(uiOrigin);
    expect((await post('/wrong-token/decode', { payloads: [] }, {})).status).toBe(401);
    expect((await post(`/${token}/other`, { payloads: [] }, {})).status).toBe(404);
    // What it logs of refused requests never includes the token or the path that carried it.
    await post(`/${token}/decode`, 'not json', {});
    expect(logged.length).toBeGreaterThan(0);
    for (const line of logged) expect(line).not.toContain(token);
    expect(logged).toContain('codec-server: POST …/decode: 400 the body is not JSON');
  });

  it('says which key is missing when a payload was sealed with a key it does not have (422)', async () => {
    const [sealed] = await new EncryptionCodec(parseCodecKeys(`k9:${randomBytes(32).toString('base64')}`)).encode([defaultPayloadConverter.toPayload('x')]);
    const body = { payloads: [{ metadata: Object.fromEntries(Object.entries(sealed!.metadata!).map(([k, v]) => [k, Buffer.from(v!).toString('base64')])), data: Buffer.from(sealed!.data!).toString('base64') }] };
    const res = await post('/decode', body);
    expect(res.status).toBe(422);
    expect(((await res.json()) as { error: string }).error).toBe('cannot decode: payload was encrypted with key id k9, which is not in DARKROOM_CODEC_KEYS (it has k2, k1); add that key to decrypt it');
  });
});

/** Every payload's data in `temporal workflow show --output json`, base64-decoded and joined (the CLI prints payloads raw). */
function payloadText(showJson: string): string {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (!v || typeof v !== 'object') return;
    const p = v as { metadata?: unknown; data?: unknown };
    if (p.metadata && typeof p.data === 'string') out.push(Buffer.from(p.data, 'base64').toString('utf8'));
    for (const child of Object.values(v)) walk(child);
  };
  walk(JSON.parse(showJson));
  return out.join('\n');
}

describe('the darkroom codec-server command', () => {
  it('serves with the keys from the environment, prints its endpoint and a random token, and stops', async () => {
    const out: string[] = [];
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    let announced!: () => void;
    const ready = new Promise<void>((r) => (announced = r));
    const code = main(['codec-server', '--port', '0', '--cors-origin', 'https://temporal.example.com'], { DARKROOM_CODEC_KEYS: keys }, {
      out: (s) => {
        out.push(s);
        if (s.includes('Ctrl-C')) announced();
      },
      err: () => {},
      untilStopped: () => stopped,
    });
    await Promise.race([ready, code.then((c) => Promise.reject(new Error(`exited ${c}: ${out.join('\n')}`)))]);
    const text = out.join('\n');
    const url = /darkroom codec-server: (http:\/\/127\.0\.0\.1:\d+) \(namespace default, encrypting with key k2; browsers allowed from https:\/\/temporal\.example\.com\)/.exec(text)![1]!;
    const printed = /token: (\S+)/.exec(text)![1]!;
    expect(text).not.toContain(keys.split(',')[0]!.slice(3));
    const res = await fetch(`${url}/encode`, { method: 'POST', headers: { Authorization: `Bearer ${printed}` }, body: JSON.stringify({ payloads: [jsonPayload('x')] }) });
    expect(res.status).toBe(200);
    const pre = await fetch(`${url}/decode`, { method: 'OPTIONS', headers: { Origin: 'https://temporal.example.com', 'Access-Control-Request-Method': 'POST' } });
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://temporal.example.com');
    stop();
    await expect(code).resolves.toBe(0);
  });

  it('refuses to start without DARKROOM_CODEC_KEYS, or with a bad origin', async () => {
    const err: string[] = [];
    expect(await main(['codec-server', '--port', '0'], {}, { out: () => {}, err: (s) => err.push(s) })).toBe(2);
    expect(err.at(-1)).toBe('darkroom codec-server: DARKROOM_CODEC_KEYS is not set; the codec server decrypts with the same keys as the workers');
    expect(await main(['codec-server', '--cors-origin', 'localhost:8233'], { DARKROOM_CODEC_KEYS: keys }, { out: () => {}, err: (s) => err.push(s) })).toBe(2);
    expect(err.at(-1)).toContain('--cors-origin must be an http(s) origin such as http://localhost:8233');
  });
});

describe('a brief with encrypted payloads on the real server', () => {
  const subject = `a ceramic teapot glazed in ${randomBytes(6).toString('hex')} blue`;

  /** The workflow's whole history as the server stores it, serialized: what anyone with server or database access sees. */
  async function rawHistory(workflowId: string): Promise<Buffer> {
    const plainClient = await testConnection();
    const res = await plainClient.workflowService.getWorkflowExecutionHistory({ namespace: testNamespace, execution: { workflowId } });
    return Buffer.from(proto.temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryResponse.encode(res).finish());
  }

  /** Where in the history a payload is not encrypted, as paths like `events.3.workflowExecutionStartedEventAttributes.searchAttributes…`. */
  /** Every payload in the history that is not encrypted: where it is, and what it holds. */
  async function plainPayloads(workflowId: string): Promise<Array<{ at: string; data: string }>> {
    const plainClient = await testConnection();
    const res = await plainClient.workflowService.getWorkflowExecutionHistory({ namespace: testNamespace, execution: { workflowId } });
    const found: Array<{ at: string; data: string }> = [];
    const walk = (v: unknown, at: string) => {
      if (!v || typeof v !== 'object' || ArrayBuffer.isView(v)) return;
      const { metadata, data } = v as { metadata?: Record<string, Uint8Array>; data?: Uint8Array };
      const enc = metadata?.encoding;
      if (enc && ArrayBuffer.isView(enc)) {
        if (Buffer.from(enc).toString() !== 'binary/encrypted') found.push({ at, data: data ? Buffer.from(data).toString() : '' });
        return;
      }
      for (const [k, child] of Object.entries(v)) walk(child, `${at}.${k}`);
    };
    walk(res.history, 'history');
    return found;
  }

  async function runBrief(env: Record<string, string>, workflowId: string, providers?: ProviderOverrides) {
    const taskQueue = uniqueTaskQueue('codec');
    const config = parseConfig({ TEMPORAL_ADDRESS: testAddress(), ...env });
    const client = await connectClient(config);
    try {
      return await withWorker({ taskQueue, dataDir: testDataDir('codec'), env, providers }, async () => {
        const { handle } = await startBrief(client, validateBrief(testBrief({ subject, candidates: 2 })), taskQueue, { workflowId });
        return await handle.result();
      });
    } finally {
      await client.connection.close();
    }
  }

  beforeAll(async () => {
    await Promise.all([testWorkflowBundle(), testEncryptingWorkflowBundle()]);
  });

  it('without keys the subject is in the history in plain text (the check below can see it)', async () => {
    const workflowId = uniqueWorkflowId('brief-plain');
    const manifest = await runBrief({}, workflowId);
    expect(manifest.outcome).toBe('published');
    expect((await rawHistory(workflowId)).includes(subject)).toBe(true);
  });

  it('with DARKROOM_CODEC_KEYS no plaintext of the brief reaches the server; a client with the keys reads the result, and the temporal CLI shows it through the codec server', async () => {
    const workflowId = uniqueWorkflowId('brief-encrypted');
    const manifest = await runBrief({ DARKROOM_CODEC_KEYS: keys }, workflowId);
    expect(manifest.outcome).toBe('published');
    expect(JSON.stringify(manifest)).toContain(subject);

    const history = await rawHistory(workflowId);
    expect(history.includes(subject)).toBe(false);
    expect(history.includes('teapot')).toBe(false);
    expect(history.includes('binary/encrypted')).toBe(true);
    // Three kinds of payload never go through a codec, and none holds brief text: search
    // attributes (the server indexes them; TemporalChangeVersion lists the patches a run took),
    // the SDK's own patch markers (a patch's name, written when a workflow meets a patched()
    // branch) and its local-activity markers' bookkeeping (sequence, attempt, activity type and
    // times; the local activity's result beside it is encrypted like any other payload).
    const plain = await plainPayloads(workflowId);
    expect(plain.length).toBeGreaterThan(0);
    const searchAttribute = /\.searchAttributes\.indexedFields\.(Darkroom(Stage|Channel|AwaitingReview)|TemporalChangeVersion)$/;
    const patchMarker = /\.markerRecordedEventAttributes\.details\.patch-data\.payloads\.\d+$/;
    const localActivityMarker = /\.markerRecordedEventAttributes\.details\.data\.payloads\.\d+$/;
    expect(plain.filter((p) => !searchAttribute.test(p.at) && !patchMarker.test(p.at) && !localActivityMarker.test(p.at)).map((p) => p.at)).toEqual([]);
    for (const p of plain.filter((x) => patchMarker.test(x.at))) expect(Object.keys(JSON.parse(p.data) as object).sort()).toEqual(['deprecated', 'id']);
    const localMarkers = plain.filter((x) => localActivityMarker.test(x.at)).map((p) => JSON.parse(p.data) as Record<string, unknown>);
    expect(localMarkers.map((m) => m.activity_type)).toEqual(['prepareBrief', 'moderatePrompt', 'publishManifest']);
    for (const m of localMarkers) {
      expect(Object.keys(m).sort()).toEqual(['activity_id', 'activity_type', 'attempt', 'backoff', 'complete_time', 'original_schedule_time', 'seq']);
    }
    for (const p of plain.filter((x) => x.at.endsWith('TemporalChangeVersion'))) {
      const patches = JSON.parse(p.data) as string[];
      for (const id of patches) expect(id).toMatch(/^[a-z0-9-]+$/);
    }

    // A client without the keys cannot read the result.
    const plainClient = await testConnection();
    await expect(plainClient.workflow.getHandle(workflowId).result()).rejects.toThrow();

    const cli = inject('temporalCli');
    const env = { ...process.env, TEMPORAL_ADDRESS: testAddress(), TEMPORAL_NAMESPACE: testNamespace };
    const show = (...extra: string[]) => run(cli, ['workflow', 'show', '--workflow-id', workflowId, '--output', 'json', ...extra], { env, maxBuffer: 64 * 1024 * 1024 });
    const without = await show();
    expect(without.stdout).toContain('YmluYXJ5L2VuY3J5cHRlZA=='); // base64 of binary/encrypted
    expect(payloadText(without.stdout)).not.toContain(subject);
    const decrypted = await show('--codec-endpoint', server.url, '--codec-auth', `Bearer ${token}`);
    expect(payloadText(decrypted.stdout)).toContain(subject);
    // A wrong token gets nothing decrypted: the CLI gives up (it retries the 401 until its timeout).
    const refused = await show('--codec-endpoint', server.url, '--codec-auth', 'Bearer wrong', '--command-timeout', '3s')
      .then((r) => ({ failed: false, ...r }), (e: { stdout: string; stderr: string }) => ({ failed: true, ...e }));
    expect(refused.failed).toBe(true);
    expect(refused.stdout + refused.stderr).not.toContain(subject);
  });

  it('encrypts failure messages too: a vendor error quoting the brief is readable only with the keys', async () => {
    const refusing = {
      name: 'refusing',
      async generate(): Promise<never> {
        throw ApplicationFailure.nonRetryable(`the model refused to draw ${subject}`, 'ContentPolicy');
      },
    };
    const workflowId = uniqueWorkflowId('brief-encrypted-failure');
    const err = await runBrief({ DARKROOM_CODEC_KEYS: keys }, workflowId, { imageGenerators: { local: refusing } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const chain: string[] = [];
    for (let e: unknown = err; e instanceof Error; e = e.cause) chain.push(e.message);
    expect(chain.join(' | ')).toContain(`the model refused to draw ${subject}`);
    const history = await rawHistory(workflowId);
    expect(history.includes(subject)).toBe(false);
    expect(history.includes('refused to draw')).toBe(false);
  });
});
