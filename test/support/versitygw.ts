/**
 * A real S3-compatible server for tests that run whole briefs on the S3 blob store: versitygw
 * (posix backend in a temp folder) on 127.0.0.1 with one bucket. No skipping: CI installs it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { versitygwCacheDir } from '../../scripts/versitygw';

export interface RunningS3 {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function startVersitygw(bucket = 'darkroom-test'): Promise<RunningS3> {
  const bin = process.env.VERSITYGW || path.join(versitygwCacheDir(), 'versitygw');
  if (!existsSync(bin)) throw new Error(`no versitygw at ${bin}: run \`npx tsx scripts/versitygw.ts\` and set VERSITYGW to the path it prints`);
  const accessKeyId = 'darkroomtestaccess';
  const secretAccessKey = 'darkroomtestsecret0123456789';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'darkroom-s3-'));
  await mkdir(path.join(dir, 'root'));
  await mkdir(path.join(dir, 'meta'));
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const gw = spawn(bin, ['--port', `127.0.0.1:${port}`, '--access', accessKeyId, '--secret', secretAccessKey, '--quiet', 'posix', '--sidecar', path.join(dir, 'meta'), path.join(dir, 'root')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (c: Buffer) => (output = (output + c.toString()).slice(-4000));
  gw.stdout!.on('data', keep);
  gw.stderr!.on('data', keep);
  const admin = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId, secretAccessKey }, maxAttempts: 1 });
  const stop = async () => {
    admin.destroy();
    if (gw.exitCode === null) {
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
  return { endpoint, bucket, accessKeyId, secretAccessKey, stop };
}
