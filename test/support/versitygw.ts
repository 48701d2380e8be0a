/**
 * A real S3-compatible server for tests and benches: versitygw (posix backend in a temp folder)
 * on a free 127.0.0.1 port, with one bucket made. Test files start one each (`beforeAll`) and
 * stop it after; nothing here reaches beyond loopback.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { S3BlobStore, type S3BlobStoreOptions } from '../../activities/blob-store';
import { freePort } from '../../scripts/dev-server';
import { versitygwCacheDir } from '../../scripts/versitygw';

export { freePort };

const ACCESS = 'darkroomtestaccess';
const SECRET = 'darkroomtestsecret0123456789';

/** VERSITYGW, or the binary scripts/versitygw.ts caches. No skipping: CI installs it. */
export function versitygwBinary(): string {
  const fromEnv = process.env.VERSITYGW;
  const bin = fromEnv || path.join(versitygwCacheDir(), 'versitygw');
  if (!existsSync(bin)) {
    throw new Error(
      `no versitygw at ${bin}${fromEnv ? ' (from VERSITYGW)' : ''}: the S3 blob store tests need one. ` +
        'Run `npx tsx scripts/versitygw.ts` (it builds the pinned version with Go once) and set VERSITYGW to the path it prints.',
    );
  }
  return bin;
}


export interface Versitygw {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  bucket: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  /** A client with the gateway's credentials, for checks behind the store's back. */
  admin: S3Client;
  /** An S3BlobStore on the bucket (path-style, us-east-1, the gateway's credentials). */
  store(options?: Partial<S3BlobStoreOptions>): S3BlobStore;
  /** The DARKROOM_S3_* settings that name this bucket (credentials are not among them). */
  config(prefix?: string): Record<string, string>;
  /** The gateway's last output, for error messages. */
  output(): string;
  stop(): Promise<void>;
}

export interface StartVersitygwOptions {
  /** @default darkroom-test */
  bucket?: string;
  /** @default {@link versitygwBinary} */
  binary?: string;
}

/** Starts versitygw, waits until it answers, and makes the bucket. */
export async function startVersitygw(opts: StartVersitygwOptions = {}): Promise<Versitygw> {
  const bin = opts.binary ?? versitygwBinary();
  const bucket = opts.bucket ?? 'darkroom-test';
  const credentials = { accessKeyId: ACCESS, secretAccessKey: SECRET };
  const dir = await mkdtemp(path.join(os.tmpdir(), 'darkroom-s3-'));
  await mkdir(path.join(dir, 'root'));
  await mkdir(path.join(dir, 'meta'));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const gw: ChildProcess = spawn(bin, ['--port', `127.0.0.1:${port}`, '--access', ACCESS, '--secret', SECRET, '--quiet', 'posix', '--sidecar', path.join(dir, 'meta'), path.join(dir, 'root')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (c: Buffer) => (output = (output + c.toString()).slice(-4000));
  gw.stdout!.on('data', keep);
  gw.stderr!.on('data', keep);
  const admin = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials, maxAttempts: 1 });

  const stop = async () => {
    admin.destroy();
    if (gw.exitCode === null && gw.signalCode === null) {
      const exited = new Promise((r) => gw.once('exit', r));
      gw.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  };

  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (gw.exitCode !== null) throw new Error(`versitygw exited (${gw.exitCode}): ${output}`);
      try {
        await admin.send(new ListBucketsCommand({}));
        break;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`versitygw did not answer on ${endpoint} within 30s: ${String(err)}\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    await stop();
    throw err;
  }

  return {
    endpoint,
    bucket,
    credentials,
    admin,
    store: (options = {}) => new S3BlobStore({ bucket, region: 'us-east-1', endpoint, forcePathStyle: true, credentials, ...options }),
    config: (prefix) => ({
      DARKROOM_BLOB_STORE: 's3', DARKROOM_S3_BUCKET: bucket, DARKROOM_S3_REGION: 'us-east-1', DARKROOM_S3_ENDPOINT: endpoint, DARKROOM_S3_FORCE_PATH_STYLE: 'true',
      ...(prefix ? { DARKROOM_S3_PREFIX: prefix } : {}),
    }),
    output: () => output,
    stop,
  };
}
