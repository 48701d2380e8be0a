import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { validateBrief, type BriefInput } from '../../domain/brief';
import { CHANNEL_PRESETS } from '../../domain/channels';
import type { Manifest } from '../../domain/types';
import { FsBlobStore } from '../../activities/blob-store';
import { readLedger } from '../../activities';
import type { ImageGenerator } from '../../activities/providers';
import { LocalImageGenerator } from '../../activities/providers/local';
import { startBrief } from '../../client/briefs';
import { SA, statusQuery } from '../../workflows/messages';
import { closeTestConnection, testAddress, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testWorkflowBundle, withWorker } from '../support/worker';
import { testBrief } from '../support/briefs';
import { activityAttempts } from '../support/history';

const complete: BriefInput = testBrief({ channels: ['email-header', 'og-image'], topK: 2 });

/** Counts provider calls, to prove nothing is generated twice. */
function countingGenerator(delayMs = 0): ImageGenerator & { calls: number } {
  const inner = new LocalImageGenerator();
  const g = {
    name: 'counting-local',
    calls: 0,
    async generate(input: Parameters<ImageGenerator['generate']>[0]) {
      g.calls++;
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      return inner.generate(input);
    },
  };
  return g;
}

beforeAll(async () => {
  await testWorkflowBundle();
});
afterAll(closeTestConnection);

describe('briefWorkflow on a real dev server', () => {
  it('turns a brief into exact-size, metadata-free assets and a manifest that accounts for each', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('brief-happy');
    const dataDir = testDataDir('happy');
    const brief = validateBrief(complete);
    const manifest = await withWorker({ taskQueue, dataDir }, async () => {
      const { handle } = await startBrief(client, brief, taskQueue, { workflowId: uniqueWorkflowId('brief-happy') });
      const m = await handle.result();
      const status = await handle.query(statusQuery);
      expect(status.stage).toBe('done');
      expect(status.candidates).toMatchObject({ total: 3, generated: 3, judged: 3, selected: 2 });
      const desc = await handle.describe();
      expect(desc.typedSearchAttributes.get(SA.stage)).toBe('done');
      expect(desc.typedSearchAttributes.get(SA.channel)).toBe('email-header');
      // The cheap steps run as local activities (one marker each, no round trip through the
      // server); the image work as activities any worker on the queue can take.
      const steps = activityAttempts((await handle.fetchHistory()).events ?? []);
      expect(steps.filter((a) => a.local).map((a) => a.activity)).toEqual(['prepareBrief', 'moderatePrompt', 'publishManifest']);
      expect(new Set(steps.filter((a) => !a.local).map((a) => a.activity))).toEqual(new Set(['generateCandidate', 'judgeCandidates', 'formatCandidate', 'writeAltText']));
      return m;
    });

    // 2 kept candidates × (email-header: jpeg+png, og-image: jpeg+png)
    expect(manifest.outcome).toBe('published');
    expect(manifest.selected.map((s) => s.judge.rank)).toEqual([1, 2]);
    expect(manifest.assets).toHaveLength(8);
    expect(manifest.candidates).toHaveLength(3);
    const blobs = new FsBlobStore(path.join(dataDir, 'blobs'));
    for (const a of manifest.assets) {
      const preset = CHANNEL_PRESETS[a.channel]!;
      expect(a.key).toBe(`${manifest.workflowId}/${a.channel}/${a.candidateId}.${a.format === 'jpeg' ? 'jpg' : a.format}`);
      const data = await blobs.get(a.key);
      const meta = await sharp(data).metadata();
      expect([meta.width, meta.height]).toEqual([preset.width, preset.height]);
      expect(meta.format).toBe(a.format);
      expect(meta.exif).toBeUndefined();
      expect(data.byteLength).toBe(a.bytes);
      expect(a.altText).toMatch(/\.$/);
      expect(a.judgeReasons.length).toBeGreaterThan(0);
      expect(a.promptVersion).toBe(manifest.prompt.version);
    }
    const stored = JSON.parse((await blobs.get(manifest.manifestKey)).toString()) as Manifest;
    expect(stored.assets.map((a) => a.key).sort()).toEqual(manifest.assets.map((a) => a.key).sort());
    expect(stored.timings.map((t) => t.stage)).toEqual(expect.arrayContaining(['validate', 'generate', 'judge', 'format']));
    expect(stored.runId).toBeTruthy();
    expect(stored.cost).toMatchObject({ forecastUsd: 0, actualUsd: 0, currency: 'USD' });
  });

  it('fails fast at the score gate, naming the missing knobs, before generating anything', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('brief-gate');
    const dataDir = testDataDir('gate');
    const gen = countingGenerator();
    const brief = validateBrief({ subject: 'a lonely teapot', channels: ['og-image'], minPromptScore: 6, lighting: 'hard noon sun' });
    await withWorker({ taskQueue, dataDir, providers: { imageGenerators: { local: gen } } }, async () => {
      const { handle } = await startBrief(client, brief, taskQueue, { workflowId: uniqueWorkflowId('brief-gate') });
      const err = await handle.result().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(WorkflowFailedError);
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause.type).toBe('PromptScoreTooLow');
      expect(cause.nonRetryable).toBe(true);
      expect(cause.message).toMatch(/scores 2\/8, below this brief's minimum of 6: missing composition, style, camera, lens, palette, negatives/);
      expect((await handle.describe()).typedSearchAttributes.get(SA.stage)).toBe('failed');
    });
    expect(gen.calls).toBe(0);
  });

  it('refuses invalid input started raw (as from `temporal workflow start`), listing each bad field, without retrying', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('brief-raw');
    await withWorker({ taskQueue, dataDir: testDataDir('raw') }, async () => {
      const handle = await client.workflow.start('briefWorkflow', {
        taskQueue,
        workflowId: uniqueWorkflowId('brief-raw'),
        args: [{ subject: '', channels: ['tiktok'], candidates: 500, brandColors: ['navy'], colour: 'red' }],
      });
      const err = await handle.result().then(() => undefined, (e: unknown) => e);
      const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
      expect(cause.type).toBe('InvalidBrief');
      expect(cause.nonRetryable).toBe(true);
      for (const field of ['subject', 'channels[0]', 'candidates', 'brandColors[0]', 'colour']) expect(cause.message).toContain(field);
      const issues = cause.details?.[0] as Array<{ field: string }>;
      expect(issues.map((i) => i.field)).toEqual(expect.arrayContaining(['subject', 'channels[0]', 'candidates', 'brandColors[0]', 'colour']));
      // One attempt of one step, the brief's check (a local activity): a bad brief is not retried.
      const history = await handle.fetchHistory();
      expect(activityAttempts(history.events ?? [])).toEqual([expect.objectContaining({ activity: 'prepareBrief', attempt: 1, local: true })]);
      expect(history.events!.filter((e) => e.activityTaskScheduledEventAttributes)).toHaveLength(0);
    });
  });

  it('completes after its worker is killed mid-run, without generating any candidate twice', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('brief-crash');
    const dataDir = testDataDir('crash');
    const workflowId = uniqueWorkflowId('brief-crash');
    const brief = validateBrief({ ...complete, channels: ['email-header'], candidates: 8, topK: 1 });
    const env = {
      ...process.env,
      TEMPORAL_ADDRESS: testAddress(),
      DARKROOM_TASK_QUEUE: taskQueue,
      DARKROOM_DATA_DIR: dataDir,
      DARKROOM_HEARTBEAT_TIMEOUT: '2s',
      DARKROOM_RETRY_INITIAL: '200ms',
      DARKROOM_GENERATE_CONCURRENCY: '2',
    };
    // node itself runs the worker (tsx as a loader), so SIGKILL reaches the worker and not a wrapper.
    const spawnWorker = (): ChildProcess => spawn(process.execPath, ['--import', 'tsx', 'workers/main.ts'], { env, stdio: ['ignore', 'ignore', 'pipe'] });

    const { handle } = await startBrief(client, brief, taskQueue, { workflowId });
    let worker = spawnWorker();
    // Kill it once some, but not all, candidates exist.
    let generatedAtKill = 0;
    for (let i = 0; i < 600; i++) {
      const s = await handle.query(statusQuery).catch(() => undefined);
      if (s && s.candidates.generated >= 2) {
        generatedAtKill = s.candidates.generated;
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    worker.kill('SIGKILL');
    await new Promise((r) => worker.once('exit', r));
    expect(generatedAtKill).toBeGreaterThanOrEqual(2);
    expect(generatedAtKill).toBeLessThan(8);

    worker = spawnWorker();
    try {
      const manifest = await handle.result();
      expect(manifest.candidates).toHaveLength(8);
      expect(manifest.assets).toHaveLength(2);
      const blobs = new FsBlobStore(path.join(dataDir, 'blobs'));
      const ledger = await readLedger(blobs, workflowId);
      // Exactly one generator call per stored candidate, across both workers.
      expect(ledger.map((e) => e.candidateId).sort()).toEqual(manifest.candidates.map((c) => c.id).sort());
    } finally {
      worker.kill('SIGTERM');
      await new Promise((r) => worker.once('exit', r));
    }
  });
});
