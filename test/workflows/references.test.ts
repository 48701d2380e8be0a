/**
 * Briefs with a product packshot through a real worker on the dev server: the CLI uploads the
 * local file, the offline generator places it, the offline judge scores fidelity, and the
 * manifest records the score and the reference keys. A raw start naming a local path fails
 * with the field named; the example catalog feed with packshots publishes every row.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore } from '../../activities/blob-store/fs';
import { main } from '../../client/cli';
import { Failure } from '../../domain/failures';
import type { Manifest } from '../../domain/types';
import type { catalogWorkflow } from '../../workflows/catalog';
import { testBrief } from '../support/briefs';
import { closeTestConnection, testAddress, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testWorkflowBundle, withWorker } from '../support/worker';

const EXAMPLES = path.join(__dirname, '../../examples/catalog');

beforeAll(async () => {
  await testWorkflowBundle();
});
afterAll(closeTestConnection);

function setup(name: string) {
  const taskQueue = uniqueTaskQueue(name);
  const dataDir = testDataDir(name);
  const env = { TEMPORAL_ADDRESS: testAddress(), DARKROOM_TASK_QUEUE: taskQueue, DARKROOM_DATA_DIR: dataDir };
  const run = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, env, { out: (s) => out.push(s), err: (s) => err.push(s) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  return { taskQueue, dataDir, run };
}

describe('briefs with a product packshot on a real worker', () => {
  it('darkroom run uploads the local packshot, and the published manifest scores fidelity and names the reference', async () => {
    const { taskQueue, dataDir, run } = setup('refs-run');
    copyFileSync(path.join(EXAMPLES, 'packshots/serum-bottle.png'), path.join(dataDir, 'serum.png'));
    const briefFile = path.join(dataDir, 'brief.json');
    writeFileSync(briefFile, JSON.stringify(testBrief({ subject: 'studio product shot of a vitamin C serum bottle', candidates: 2, references: { product: 'serum.png' } })));
    const sha = createHash('sha256').update(readFileSync(path.join(dataDir, 'serum.png'))).digest('hex');
    const key = `references/${sha}.png`;

    const result = await withWorker({ taskQueue, dataDir }, () => run('run', briefFile, '--json'));
    expect(result.err).toContain(`uploaded references.product: ${path.join(dataDir, 'serum.png')} → blob:${key}`);
    expect(result.code).toBe(0);
    const manifest = JSON.parse(result.out) as Manifest;
    expect(manifest.outcome).toBe('published');
    expect(manifest.brief.references).toEqual({ product: `blob:${key}` });
    expect(manifest.references?.product).toMatchObject({ key, sha256: sha, mime: 'image/png', width: 240, height: 400 });
    expect(manifest.selected).toHaveLength(1);
    const selected = manifest.selected[0]!;
    expect(selected.fidelity).toBeGreaterThanOrEqual(70);
    expect(selected.judge.scores.fidelity).toBe(selected.fidelity);
    expect(selected.referenceKeys).toEqual([key]);
    expect(selected.judge.reasons[0]).toMatch(/^Product packshot found at/);
    for (const c of manifest.candidates) expect(c).toMatchObject({ fidelity: expect.any(Number), referenceKeys: [key] });
    expect(manifest.assets.length).toBeGreaterThan(0);
    for (const a of manifest.assets) expect(a).toMatchObject({ fidelity: selected.fidelity, referenceKeys: [key] });
    expect(manifest.judgeUnchecked.some((u) => u.includes('label text'))).toBe(true);
    // The file as published says the same.
    const stored = JSON.parse(readFileSync(path.join(dataDir, 'blobs', manifest.manifestKey), 'utf8')) as Manifest;
    expect(stored.selected[0]!.fidelity).toBe(selected.fidelity);
    expect(stored.references?.product?.key).toBe(key);
  });

  it('a raw start naming a local path fails at once, non-retryably, naming references.product', async () => {
    const { taskQueue, dataDir } = setup('refs-raw');
    const client = await testConnection();
    const err = await withWorker({ taskQueue, dataDir }, async () => {
      const handle = await client.workflow.start('briefWorkflow', {
        taskQueue, workflowId: uniqueWorkflowId('brief-refs-raw'), args: [testBrief({ references: { product: './packshots/serum-bottle.png' } })],
      });
      return handle.result().then(() => undefined, (e: unknown) => e);
    });
    expect(err).toBeInstanceOf(WorkflowFailedError);
    const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe(Failure.InvalidBrief);
    expect(cause.message).toContain('references.product is a local file path ("./packshots/serum-bottle.png"), which a worker cannot read');
  });

  it('the example catalog feed with packshots publishes every row with the packshot placed and scored', async () => {
    const { taskQueue, dataDir, run } = setup('refs-cat');
    const catalogId = `packshots-${taskQueue.slice(-8)}`;
    const client = await testConnection();
    const result = await withWorker({ taskQueue, dataDir }, async () => {
      const started = await run('catalog', 'start', path.join(EXAMPLES, 'products-packshots.csv'), '--template', path.join(EXAMPLES, 'template-packshots.json'), '--id', catalogId, '--window', '3');
      expect(started.code).toBe(0);
      expect(started.err).toContain('uploaded 3 reference images (3 distinct) to the blob store');
      return client.workflow.getHandle<typeof catalogWorkflow>(`catalog-${catalogId}`).result();
    });
    expect(result).toMatchObject({ outcome: 'completed', counts: { done: 3 } });
    // The stored feed names blobs, not paths on this disk.
    const feed = readFileSync(path.join(dataDir, 'blobs', 'catalogs', catalogId, 'feed.csv'), 'utf8');
    expect(feed).not.toContain('packshots/');
    expect(feed.match(/blob:references\/[0-9a-f]{64}\.png/g)).toHaveLength(3);
    const blobs = new FsBlobStore(path.join(dataDir, 'blobs'));
    const manifests = (await blobs.list(`catalog-${catalogId}`)).filter((k) => k.endsWith('/manifest.json'));
    expect(manifests).toHaveLength(3);
    for (const k of manifests) {
      const m = JSON.parse((await blobs.get(k)).toString('utf8')) as Manifest;
      expect(m.outcome).toBe('published');
      expect(m.selected[0]!.fidelity, k).toBeGreaterThanOrEqual(70);
      expect(m.selected[0]!.referenceKeys).toEqual([m.references!.product!.key]);
    }
  });
});
