/**
 * Activity errors that no retry can change leave as non-retryable ApplicationFailures, so
 * Temporal does not spend minutes retrying them: a blob the store refuses (a symlink or FIFO
 * planted in the data folder, a blob too large to read) and a key the store cannot hold.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActivities } from '../../activities';
import { FsBlobStore } from '../../activities/blob-store/fs';
import { createProviderRegistry } from '../../activities/providers';
import { parseConfig } from '../../domain/config';

let dir: string;
let blobs: FsBlobStore;
let activities: ReturnType<typeof createActivities>;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'darkroom-refusals-'));
  blobs = new FsBlobStore(dir, { maxReadBytes: 1024 });
  const config = parseConfig({ DARKROOM_DATA_DIR: dir });
  activities = createActivities({ blobs, providers: createProviderRegistry(config), config });
  await fs.mkdir(path.join(dir, 'brief-x/candidates'), { recursive: true });
  await fs.symlink('/etc/passwd', path.join(dir, 'brief-x/candidates/linked.png'));
  execFileSync('mkfifo', [path.join(dir, 'brief-x/candidates/piped.png')]);
  await blobs.put('brief-x/candidates/big.png', new Uint8Array(4096), { mime: 'image/png' });
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function refusal(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ApplicationFailure);
  const failure = err as ApplicationFailure;
  expect(failure.nonRetryable).toBe(true);
  expect(failure.message.length).toBeLessThanOrEqual(400);
  return failure;
}

const format = (key: string) =>
  activities.formatCandidate({ workflowId: 'brief-x', candidateId: 'c1', master: { key, mime: 'image/png', sha256: '0', bytes: 1, width: 1, height: 1 }, channels: ['instagram-square'] });

describe('activities refuse what a retry cannot change', () => {
  it.each([
    ['a symlink', 'brief-x/candidates/linked.png', /symbolic link/],
    ['a FIFO', 'brief-x/candidates/piped.png', /FIFO/],
    ['a blob over the read cap', 'brief-x/candidates/big.png', /more than the .* one read may take/],
  ])('%s in the store is UnsafeBlob, not retried', async (_what, key, reason) => {
    const failure = await refusal(format(key));
    expect(failure.type).toBe('UnsafeBlob');
    expect(failure.message).toMatch(reason);
  });

  it('a key the store cannot hold is InvalidWorkflowId, whichever activity meets it', async () => {
    const failure = await refusal(activities.publishManifest({ workflowId: '../escape', assets: [] } as unknown as Parameters<typeof activities.publishManifest>[0]));
    expect(failure.type).toBe('InvalidWorkflowId');
    expect(failure.message).toContain('../escape');
    await expect(fs.stat(path.join(dir, '..', 'escape'))).rejects.toThrow();
  });
});
