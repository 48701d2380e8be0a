import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { parseConfig, type Config } from '../../domain/config';
import type { BlobStore } from '../../activities/blob-store';
import type { ProviderOverrides } from '../../activities/providers';
import { createDarkroomWorker, WORKFLOWS_PATH } from '../../workers/worker';
import { bundleConverters } from '../../temporal/codec';
import { testAddress } from './temporal';

// Workers in tests log only errors: expected failures (bad briefs, killed workers) would drown the report.
Runtime.install({ logger: new DefaultLogger('ERROR') });

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** The workflows bundled once per test file (webpack is slow; the bundle is reusable). */
export function testWorkflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    ...bundleConverters(false),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  return bundle;
}

let encryptingBundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/**
 * The workflows bundled with the encrypting failure converter, as a worker with
 * DARKROOM_CODEC_KEYS bundles them itself ({@link withWorker} picks it when the env has keys).
 */
export function testEncryptingWorkflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  encryptingBundle ??= bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    ...bundleConverters(true),
    logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
  });
  return encryptingBundle;
}

/** Config for a test worker: short heartbeats and retries so crash recovery takes seconds. */
export function testConfig(taskQueue: string, dataDir: string, env: Record<string, string> = {}): Config {
  return parseConfig({
    TEMPORAL_ADDRESS: testAddress(),
    DARKROOM_TASK_QUEUE: taskQueue,
    DARKROOM_DATA_DIR: dataDir,
    DARKROOM_HEARTBEAT_TIMEOUT: '3s',
    DARKROOM_RETRY_INITIAL: '200ms',
    DARKROOM_RETRY_MAX_ATTEMPTS: '5',
    ...env,
  });
}

/** Runs a Darkroom worker (real activities, offline providers unless overridden) while `fn` runs. */
export async function withWorker<T>(
  opts: { taskQueue: string; dataDir: string; providers?: ProviderOverrides; env?: Record<string, string>; blobs?: BlobStore },
  fn: () => Promise<T>,
): Promise<T> {
  const connection = await NativeConnection.connect({ address: testAddress() });
  try {
    const { worker } = await createDarkroomWorker({
      config: testConfig(opts.taskQueue, opts.dataDir, opts.env),
      connection,
      workflowBundle: await (opts.env?.DARKROOM_CODEC_KEYS ? testEncryptingWorkflowBundle() : testWorkflowBundle()),
      providers: opts.providers,
      blobs: opts.blobs,
      worker: { shutdownGraceTime: '1s' },
    });
    return await worker.runUntil(fn);
  } finally {
    await connection.close();
  }
}
