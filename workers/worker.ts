import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Config } from '../domain/config';
import { createActivities } from '../activities';
import { createBlobStore, type BlobStore } from '../activities/blob-store';
import { createProviderRegistry, type ProviderOverrides } from '../activities/providers';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));


export interface DarkroomWorkerOptions {
  config: Config;
  /** An existing connection; one is opened to `TEMPORAL_ADDRESS` when absent. */
  connection?: NativeConnection;
  /** @default config.DARKROOM_TASK_QUEUE */
  taskQueue?: string;
  /** A pre-built bundle (tests build it once); otherwise the workflows are bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  blobs?: BlobStore;
  providers?: ProviderOverrides;
  /** Extra worker options (tests shorten the grace time). */
  worker?: Partial<WorkerOptions>;
}

/**
 * One worker runs both the workflows and the activities of the `darkroom` task queue.
 * Concurrency defaults suit a 2-core machine: image activities are CPU-bound in sharp.
 */
export async function createDarkroomWorker(opts: DarkroomWorkerOptions): Promise<{ worker: Worker; connection: NativeConnection; ownsConnection: boolean }> {
  const { config } = opts;
  const connection = opts.connection ?? (await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS }));
  const blobs = opts.blobs ?? createBlobStore(config);
  const activities = createActivities({ blobs, providers: createProviderRegistry(config, opts.providers), config });
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: opts.taskQueue ?? config.DARKROOM_TASK_QUEUE,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle } : { workflowsPath: WORKFLOWS_PATH }),
    activities,
    maxConcurrentActivityTaskExecutions: config.DARKROOM_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTaskExecutions: config.DARKROOM_MAX_CONCURRENT_WORKFLOW_TASKS,
    // Running activities get this long to finish on SIGINT/SIGTERM before they are cancelled;
    // whatever is cut off is retried by another worker and finds its stored results.
    shutdownGraceTime: '10s',
    ...opts.worker,
  });
  return { worker, connection, ownsConnection: !opts.connection };
}
