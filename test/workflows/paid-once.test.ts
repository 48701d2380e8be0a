import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readLedger } from '../../activities';
import { FsBlobStore } from '../../activities/blob-store';
import { briefWorkflow } from '../../workflows';
import { testBrief } from '../support/briefs';
import { closeTestConnection, testAddress, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { exited, spawnCrashWorker } from '../support/crash-worker';

afterAll(closeTestConnection);

/**
 * A paid call is followed by two writes: the image, then its ledger entry. The worker process
 * (test/support/worker-process.ts) SIGKILLs itself right after one of those points, once; a new
 * worker finishes the brief. Whatever the point, every candidate is paid for once and recorded once.
 */
describe('exactly-once spend across a crash between a paid call and its records', () => {
  it.each(['image-stored', 'ledger-written'] as const)('a worker killed at %s: one generator call and one ledger entry per candidate', async (point) => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue(`paid-${point}`);
    const dataDir = testDataDir(`paid-${point}`);
    const gate = path.join(dataDir, 'gate');
    mkdirSync(gate, { recursive: true });
    const env = {
      TEMPORAL_ADDRESS: testAddress(),
      DARKROOM_TASK_QUEUE: taskQueue,
      DARKROOM_DATA_DIR: dataDir,
      DARKROOM_TEST_GATE_DIR: gate,
      DARKROOM_TEST_CRASH_AT: point,
      DARKROOM_HEARTBEAT_TIMEOUT: '2s',
      DARKROOM_RETRY_INITIAL: '200ms',
      // One call at a time, so the kill cuts off no other call in flight (that window is the vendor's).
      DARKROOM_GENERATE_CONCURRENCY: '1',
    };
    const spawnWorker = () => spawnCrashWorker(env);

    const workflowId = uniqueWorkflowId(`paid-${point}`);
    const handle = await client.workflow.start(briefWorkflow, { taskQueue, workflowId, args: [testBrief({ candidates: 3 })] });
    let worker = spawnWorker();
    await exited(worker);
    // It died by its own SIGKILL at the point, not of something else.
    expect(worker.signalCode).toBe('SIGKILL');
    expect(readFileSync(path.join(gate, 'calls.log'), 'utf8').trim().split('\n')).toHaveLength(1);

    worker = spawnWorker();
    try {
      const manifest = await handle.result();
      expect(manifest.candidates).toHaveLength(3);
      const calls = readFileSync(path.join(gate, 'calls.log'), 'utf8').trim().split('\n');
      expect(calls).toHaveLength(3);
      const blobs = new FsBlobStore(path.join(dataDir, 'blobs'));
      const ledger = await readLedger(blobs, workflowId);
      expect(ledger.map((e) => e.candidateId).sort()).toEqual(['r1-c01', 'r1-c02', 'r1-c03']);
      expect(await blobs.list(`${workflowId}/candidates/`)).toHaveLength(3);
      // The crash before the ledger entry is repaired by the retry, and says so.
      expect(ledger.filter((e) => e.recovered).length).toBe(point === 'image-stored' ? 1 : 0);
    } finally {
      worker.kill('SIGKILL');
      await exited(worker);
    }
  });
});
