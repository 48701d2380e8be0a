/**
 * The Temporal Web UI shows an encrypted brief decrypted through `darkroom codec-server`, and
 * only through it. The run's dev server is headless, so this file starts its own with the UI,
 * its codec endpoint set the way the README says (the token as the path segment).
 * Chromium must be at /usr/bin/chromium (.ci/run installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { validateBrief } from '../../domain/brief';
import { parseConfig } from '../../domain/config';
import { startBrief } from '../../client/briefs';
import { startCodecServer, type CodecServer } from '../../client/codec-server';
import { connectClient } from '../../client/connect';
import { EncryptionCodec, parseCodecKeys } from '../../temporal/codec';
import { createDarkroomWorker } from '../../workers/worker';
import { searchAttributeArgs } from '../../scripts/dev-server';
import { testBrief } from '../support/briefs';
import { testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testConfig, testWorkflowBundle } from '../support/worker';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = path.resolve('test-output/screenshots/codec-ui.png');
const keys = `k1:${randomBytes(32).toString('base64')}`;
const token = randomBytes(24).toString('base64url');

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

let browser: Browser;
let codecServer: CodecServer | undefined;
let server: ChildProcess | undefined;
let address = '';
let uiUrl = '';

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install it with "apt-get install -y chromium" (.ci/run does)`);
  const [port, uiPort] = [await freePort(), await freePort()];
  address = `127.0.0.1:${port}`;
  uiUrl = `http://localhost:${uiPort}`;
  codecServer = await startCodecServer({ codec: new EncryptionCodec(parseCodecKeys(keys)), token, namespace: 'default', corsOrigins: [uiUrl], port: 0 });
  server = spawn(inject('temporalCli'), [
    'server', 'start-dev', '--ip', '127.0.0.1', '--port', String(port), '--ui-port', String(uiPort),
    '--db-filename', path.join(testDataDir('codec-ui-server'), 'temporal.sqlite'), '--log-level', 'error',
    '--ui-codec-endpoint', `${codecServer.url}/${token}`, ...searchAttributeArgs(),
  ], { stdio: 'ignore' });
  await testWorkflowBundle();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
});

afterAll(async () => {
  await browser?.close();
  await codecServer?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGTERM');
    await exited;
  }
});

describe('the Temporal Web UI with darkroom codec-server as its codec endpoint', () => {
  it('shows the brief decrypted while the codec server runs, and ciphertext without it', async () => {
    const subject = `a linen apron hung on a brass hook ${randomBytes(4).toString('hex')}`;
    const taskQueue = uniqueTaskQueue('codec-ui');
    const env = { TEMPORAL_ADDRESS: address, DARKROOM_CODEC_KEYS: keys };
    const client = await connectClient(parseConfig(env), 60_000);
    const workflowId = uniqueWorkflowId('brief-codec-ui');
    try {
      const { worker, connection } = await createDarkroomWorker({ config: testConfig(taskQueue, testDataDir('codec-ui'), env), workflowBundle: await testWorkflowBundle(), worker: { shutdownGraceTime: '1s' } });
      try {
        await worker.runUntil(async () => {
          const { handle } = await startBrief(client, validateBrief(testBrief({ subject, candidates: 2 })), taskQueue, { workflowId });
          expect((await handle.result()).outcome).toBe('published');
        });
      } finally {
        await connection.close();
      }
    } finally {
      await client.connection.close();
    }

    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    try {
      await page.goto(`${uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`);
      await page.getByText(subject).first().waitFor({ timeout: 60_000 });
      await mkdir(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT });

      await codecServer!.close();
      codecServer = undefined;
      await page.reload();
      // Without it the page shows the payloads as stored: the key id, the ciphertext, and a warning.
      await page.getByText('encryption-key-id').first().waitFor({ timeout: 60_000 });
      expect(await page.getByText('Codec Server could not connect').count()).toBeGreaterThan(0);
      expect(await page.getByText(subject).count()).toBe(0);
    } finally {
      await page.close();
    }
  });
});
