/**
 * Connecting "anywhere": option building and its errors on real files made with openssl, and a
 * real mTLS path — a TLS proxy that requires a client certificate in front of the dev server —
 * through which the CLI's client and a worker run a brief.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { promisify } from 'node:util';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { validateBrief } from '../../domain/brief';
import { parseConfig } from '../../domain/config';
import { startBrief } from '../../client/briefs';
import { connectClient } from '../../client/connect';
import { CliError } from '../../client/errors';
import { describeConnection, NamespaceNotFoundError, TemporalTlsConfigError, temporalConnectionOptions } from '../../temporal/connection';
import { createDarkroomWorker } from '../../workers/worker';
import { testBrief } from '../support/briefs';
import { testAddress, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { makeTestPki, startTlsProxy, type TestPki, type TlsProxy } from '../support/tls';
import { testConfig, testWorkflowBundle } from '../support/worker';

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki();
});

const optionsFor = (env: Record<string, string>) => temporalConnectionOptions(parseConfig(env));
const errorOf = (fn: () => unknown): Error => {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('no error');
};

describe('connection options from the environment', () => {
  it('is plain text by default, so the local quick start needs nothing', () => {
    expect(optionsFor({})).toEqual({ address: 'localhost:7233' });
  });

  it('reads the CA, the client pair and the server name (mTLS)', () => {
    const o = optionsFor({
      TEMPORAL_ADDRESS: 'temporal.example.com:7233',
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
      TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
      TEMPORAL_TLS_SERVER_NAME: pki.serverName,
    });
    expect(Buffer.from(o.tls!.serverRootCACertificate!).toString()).toContain('BEGIN CERTIFICATE');
    expect(Buffer.from(o.tls!.clientCertPair!.crt).toString()).toContain('BEGIN CERTIFICATE');
    expect(Buffer.from(o.tls!.clientCertPair!.key).toString()).toContain('PRIVATE KEY');
    expect(o.tls!.serverNameOverride).toBe(pki.serverName);
    expect(o.apiKey).toBeUndefined();
    expect(describeConnection(o)).toBe(`temporal.example.com:7233 (TLS, client certificate, own CA, server name ${pki.serverName})`);
  });

  it('turns TLS on for an API key (Temporal Cloud) and never shows the key', () => {
    const o = optionsFor({ TEMPORAL_ADDRESS: 'ns.acct.tmprl.cloud:7233', TEMPORAL_API_KEY: 'secret-api-key-123' });
    expect(o).toEqual({ address: 'ns.acct.tmprl.cloud:7233', tls: {}, apiKey: 'secret-api-key-123' });
    expect(describeConnection(o)).toBe('ns.acct.tmprl.cloud:7233 (TLS, API key)');
    expect(optionsFor({ TEMPORAL_TLS: 'true' })).toEqual({ address: 'localhost:7233', tls: {} });
  });

  it('refuses half a client pair, naming both variables', () => {
    const err = errorOf(() => optionsFor({ TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert }));
    expect(err).toBeInstanceOf(TemporalTlsConfigError);
    expect(err.message).toBe('TEMPORAL_TLS_CLIENT_CERT_PATH is set but TEMPORAL_TLS_CLIENT_KEY_PATH is not: a client certificate needs its key (set both, or neither; or TEMPORAL_TLS_CLIENT_KEY_DATA)');
    expect(errorOf(() => optionsFor({ TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey })).message).toMatch(/^TEMPORAL_TLS_CLIENT_KEY_PATH is set but TEMPORAL_TLS_CLIENT_CERT_PATH is not/);
    expect(errorOf(() => optionsFor({ TEMPORAL_TLS_CLIENT_KEY_DATA: readFileSync(pki.clientKey, 'utf8') })).message).toMatch(/^TEMPORAL_TLS_CLIENT_KEY_DATA is set but TEMPORAL_TLS_CLIENT_CERT_PATH is not/);
  });

  it('takes the PEM text itself from the *_DATA variables, refusing one set both ways and never echoing a key', () => {
    const pem = (f: string) => readFileSync(f, 'utf8');
    const fromData = optionsFor({ TEMPORAL_TLS_SERVER_CA_CERT_DATA: pem(pki.caCert), TEMPORAL_TLS_CLIENT_CERT_DATA: pem(pki.clientCert), TEMPORAL_TLS_CLIENT_KEY_DATA: pem(pki.clientKey) });
    const fromFiles = optionsFor({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert, TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey });
    expect(Buffer.from(fromData.tls!.clientCertPair!.key).equals(Buffer.from(fromFiles.tls!.clientCertPair!.key))).toBe(true);
    expect(Buffer.from(fromData.tls!.serverRootCACertificate!).equals(Buffer.from(fromFiles.tls!.serverRootCACertificate!))).toBe(true);
    expect(errorOf(() => optionsFor({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert, TEMPORAL_TLS_SERVER_CA_CERT_DATA: pem(pki.caCert) })).message).toBe(
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH and TEMPORAL_TLS_SERVER_CA_CERT_DATA are both set; set one of them',
    );
    const swapped = errorOf(() => optionsFor({ TEMPORAL_TLS_CLIENT_CERT_DATA: pem(pki.clientKey), TEMPORAL_TLS_CLIENT_KEY_DATA: pem(pki.clientKey) })).message;
    expect(swapped).toBe('TEMPORAL_TLS_CLIENT_CERT_DATA is not a PEM certificate (-----BEGIN CERTIFICATE-----)');
    expect(swapped).not.toContain('PRIVATE KEY-----\n');
  });

  it('refuses TEMPORAL_TLS=false beside settings that need TLS rather than sending a key in plain text', () => {
    expect(errorOf(() => optionsFor({ TEMPORAL_TLS: 'false', TEMPORAL_API_KEY: 'k' })).message).toBe(
      'TEMPORAL_TLS is false but TEMPORAL_API_KEY is set, which needs TLS; unset TEMPORAL_TLS or set it to true',
    );
    expect(errorOf(() => parseConfig({ TEMPORAL_TLS: 'yes please' })).message).toBe('invalid configuration: TEMPORAL_TLS must be true or false');
  });

  it('says which variable names an unusable file, which file, and what is wrong with it', () => {
    const dir = path.join(pki.dir, 'bad');
    mkdirSync(dir, { recursive: true });
    const notPem = path.join(dir, 'notes.txt');
    writeFileSync(notPem, 'hello');
    const missing = path.join(dir, 'missing.pem');
    const pair = { TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey };
    expect(errorOf(() => optionsFor({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: missing })).message).toBe(`TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read ${missing}: no such file`);
    expect(errorOf(() => optionsFor({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: dir })).message).toBe(`TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read ${dir}: it is a directory, not a file`);
    expect(errorOf(() => optionsFor({ TEMPORAL_TLS_CLIENT_CERT_PATH: notPem, ...pair })).message).toBe(`TEMPORAL_TLS_CLIENT_CERT_PATH: ${notPem} is not a PEM certificate (-----BEGIN CERTIFICATE-----)`);
    // The key where the certificate belongs, and the other way round.
    expect(errorOf(() => optionsFor({ TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientKey, ...pair })).message).toBe(`TEMPORAL_TLS_CLIENT_CERT_PATH: ${pki.clientKey} is not a PEM certificate (-----BEGIN CERTIFICATE-----)`);
    expect(errorOf(() => optionsFor({ TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert, TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientCert })).message).toBe(
      `TEMPORAL_TLS_CLIENT_KEY_PATH: ${pki.clientCert} is not a PEM private key (-----BEGIN … PRIVATE KEY-----)`,
    );
    const err = errorOf(() => optionsFor({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: missing })) as TemporalTlsConfigError;
    expect([err.variable, err.path]).toEqual(['TEMPORAL_TLS_SERVER_CA_CERT_PATH', missing]);
  });

  it('the CLI reports a bad file as bad input (exit 2) before trying to connect', async () => {
    const err = await connectClient(parseConfig({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: '/nonexistent/ca.pem' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
    expect((err as CliError).message).toBe('TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read /nonexistent/ca.pem: no such file');
  });
});

describe('mTLS to a real server (a TLS proxy requiring a client certificate, in front of the dev server)', () => {
  let proxy: TlsProxy;
  beforeAll(async () => {
    proxy = await startTlsProxy(pki, testAddress());
    await testWorkflowBundle();
  });
  afterAll(async () => {
    await proxy?.close();
  });

  const mtls = () => ({
    TEMPORAL_ADDRESS: proxy.address,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.caCert,
    TEMPORAL_TLS_CLIENT_CERT_PATH: pki.clientCert,
    TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey,
    TEMPORAL_TLS_SERVER_NAME: pki.serverName,
  });

  it('a worker and the CLI client run a brief through it', async () => {
    const taskQueue = uniqueTaskQueue('mtls');
    const config = testConfig(taskQueue, testDataDir('mtls'), mtls());
    const before = proxy.authorizedClients.length;
    const client = await connectClient(config);
    try {
      // No connection passed: the worker opens its own from the same configuration.
      const { worker, connection } = await createDarkroomWorker({ config, workflowBundle: await testWorkflowBundle(), worker: { shutdownGraceTime: '1s' } });
      try {
        const manifest = await worker.runUntil(async () => {
          const { handle } = await startBrief(client, validateBrief(testBrief({ candidates: 2 })), taskQueue, { workflowId: uniqueWorkflowId('brief-mtls') });
          return await handle.result();
        });
        expect(manifest.outcome).toBe('published');
      } finally {
        await connection.close();
      }
    } finally {
      await client.connection.close();
    }
    // The client's connection and the worker's both came through the proxy with the client certificate.
    expect(proxy.authorizedClients.length - before).toBeGreaterThanOrEqual(2);
    expect(new Set(proxy.authorizedClients.slice(before))).toEqual(new Set(['client']));
  });

  it('the same environment works for the temporal CLI (the variable names are its own)', async () => {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, ...mtls() };
    const run = (e: Record<string, string | undefined>) => promisify(execFile)(inject('temporalCli'), ['workflow', 'count', '--command-timeout', '10s'], { env: e })
      .then((r) => ({ ok: true, out: r.stdout }), (err: { stderr: string }) => ({ ok: false, out: err.stderr }));
    const ok = await run(env);
    expect(ok.out).toMatch(/^Total: \d+/);
    expect(ok.ok).toBe(true);
    // And it does read them: without the client certificate the proxy turns it away.
    const without = await run({ ...env, TEMPORAL_TLS_CLIENT_CERT_PATH: undefined, TEMPORAL_TLS_CLIENT_KEY_PATH: undefined });
    expect(without.ok).toBe(false);
  });

  const failure = async (env: Record<string, string | undefined>) => {
    const picked = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<string, string>;
    const err = await connectClient(parseConfig(picked)).then(async (c) => {
      await c.connection.close();
      return undefined;
    }, (e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(3);
    return (err as CliError).message;
  };

  it('explains a missing client certificate', async () => {
    const msg = await failure({ ...mtls(), TEMPORAL_TLS_CLIENT_CERT_PATH: undefined, TEMPORAL_TLS_CLIENT_KEY_PATH: undefined });
    expect(msg).toMatch(/^the TLS handshake with 127\.0\.0\.1:\d+ \(TLS, own CA, server name temporal\.darkroom\.test\) failed: the server requires a client certificate \(mTLS\) \(ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: .*\)\. Set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH\.$/s);
    expect(msg).not.toContain('npm run server');
  });

  it('explains a client certificate the server does not trust', async () => {
    const msg = await failure({ ...mtls(), TEMPORAL_TLS_CLIENT_CERT_PATH: pki.strangerCert, TEMPORAL_TLS_CLIENT_KEY_PATH: pki.strangerKey });
    expect(msg).toMatch(/completed, then the server closed the connection: it most likely refused the client certificate; TEMPORAL_TLS_CLIENT_CERT_PATH must be signed by a CA the server trusts for clients\.$/);
  });

  it('explains a server certificate from a CA the client does not trust', async () => {
    const msg = await failure({ ...mtls(), TEMPORAL_TLS_SERVER_CA_CERT_PATH: pki.otherCaCert });
    expect(msg).toMatch(/failed: the server's certificate is not signed by a CA this client trusts \(SELF_SIGNED_CERT_IN_CHAIN: .*\)\. TEMPORAL_TLS_SERVER_CA_CERT_PATH names a CA that did not sign it; point it at the one that did\.$/);
  });

  it('explains a server certificate for another name', async () => {
    const msg = await failure({ ...mtls(), TEMPORAL_TLS_SERVER_NAME: undefined });
    expect(msg).toMatch(/failed: the server's certificate is not for the name this client checks \(ERR_TLS_CERT_ALTNAME_INVALID: .*\)\. Set TEMPORAL_TLS_SERVER_NAME to a name the certificate is for\.$/);
  });

  it('explains plain text sent to a TLS server, and TLS sent to a plain-text one', async () => {
    const plainToTls = await failure({ TEMPORAL_ADDRESS: proxy.address });
    expect(plainToTls).toMatch(/^cannot reach a Temporal server at 127\.0\.0\.1:\d+ \(plain text\) \(.*\): the server there speaks TLS; set TEMPORAL_TLS=true /);
    const tlsToPlain = await failure({ TEMPORAL_ADDRESS: testAddress(), TEMPORAL_API_KEY: 'not-a-real-key' });
    expect(tlsToPlain).toMatch(/failed: the server does not speak TLS on that port \(.*wrong version number.*\)\. Set TEMPORAL_TLS=false/s);
    expect(tlsToPlain).not.toContain('not-a-real-key');
  });
});

describe('namespace check', () => {
  it('says the namespace does not exist and how to create it, from the CLI and the worker', async () => {
    const env = { TEMPORAL_ADDRESS: testAddress(), TEMPORAL_NAMESPACE: 'darkroom-no-such-namespace' };
    const err = await connectClient(parseConfig(env)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(2);
    expect((err as CliError).message).toBe(
      `namespace darkroom-no-such-namespace does not exist on ${testAddress()}; create it with "temporal operator namespace create --namespace darkroom-no-such-namespace" or set TEMPORAL_NAMESPACE to one that exists`,
    );
    const config = testConfig(uniqueTaskQueue('nons'), testDataDir('nons'), env);
    await expect(createDarkroomWorker({ config, workflowBundle: await testWorkflowBundle() })).rejects.toThrow(NamespaceNotFoundError);
  });
});

describe('npm run worker', () => {
  const startWorker = (env: Record<string, string>) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'workers/main.ts'], { env: { PATH: process.env.PATH, HOME: process.env.HOME, DARKROOM_DATA_DIR: testDataDir('worker-main'), ...env }, timeout: 60_000 })
      .then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }));

  it('exits 1 with the variable and file at fault, or with why the handshake failed, never showing the API key', async () => {
    const missing = await startWorker({ TEMPORAL_ADDRESS: testAddress(), TEMPORAL_TLS_CLIENT_CERT_PATH: '/nonexistent/client.pem', TEMPORAL_TLS_CLIENT_KEY_PATH: pki.clientKey });
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe('darkroom worker: cannot start: TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read /nonexistent/client.pem: no such file');
    const key = 'tmprl-api-key-that-must-not-show';
    const tlsToPlain = await startWorker({ TEMPORAL_ADDRESS: testAddress(), TEMPORAL_API_KEY: key });
    expect(tlsToPlain.code).toBe(1);
    expect(tlsToPlain.stderr).toMatch(/^darkroom worker: cannot start: the TLS handshake with 127\.0\.0\.1:\d+ \(TLS, API key\) failed: the server does not speak TLS on that port/);
    expect(tlsToPlain.stderr).not.toContain(key);
  });
});
