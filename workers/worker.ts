import { fileURLToPath } from 'node:url';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { Config } from '../domain/config';
import { IMAGE_MODELS, type Provider } from '../domain/models';
import { createActivities, type ActivityDeps } from '../activities';
import { createCatalogActivities } from '../activities/catalog';
import { createBlobStore, type BlobStore } from '../activities/blob-store';
import { instrumentBlobStore, Metrics } from '../activities/metrics';
import { createProviderRegistry, type ProviderOverrides } from '../activities/providers';
import { createProvenance, type Provenance } from '../activities/provenance';
import { startMetricsServer, type MetricsServer } from './metrics-server';
import { codecFromConfig, darkroomDataConverter } from '../temporal/codec';
import { checkNamespace, temporalConnectionOptions } from '../temporal/connection';

export const WORKFLOWS_PATH = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export interface DarkroomWorkerOptions {
  config: Config;
  /** An existing connection; one is opened to `TEMPORAL_ADDRESS` when absent. */
  connection?: NativeConnection;
  /** @default config.DARKROOM_TASK_QUEUE */
  taskQueue?: string;
  /**
   * A pre-built bundle (tests build it once); otherwise the workflows are bundled at start. Build
   * it with `bundleConverters(encrypted)` (temporal/codec.ts): the payload converter that turns an
   * unreadable signal or input into a refusal, and with DARKROOM_CODEC_KEYS the failure converter
   * that encrypts failures raised in workflow code.
   */
  workflowBundle?: WorkerOptions['workflowBundle'];
  blobs?: BlobStore;
  providers?: ProviderOverrides;
  /** See {@link ActivityDeps.onPaidCall}: crash tests stop the worker between a paid call's writes. */
  onPaidCall?: ActivityDeps['onPaidCall'];
  /** Extra worker options (tests shorten the grace time). */
  worker?: Partial<WorkerOptions>;
  /** Where this process counts its work; served at DARKROOM_METRICS_ADDRESS when that is set. @default a new Metrics on its own registry */
  metrics?: Metrics;
  /** C2PA reading and signing. @default createProvenance(config) */
  provenance?: Provenance;
}

/** A provider's limits: calls a minute (enforced by the server across all workers) and calls at once (per worker). */
export function providerLimits(config: Config, provider: Exclude<Provider, 'local'>): { perMinute: number; concurrency: number } {
  const key = provider === 'google' ? 'GEMINI' : provider === 'self-hosted' ? 'SELF_HOSTED' : provider.toUpperCase();
  return {
    perMinute: config[`DARKROOM_${key}_RPM` as 'DARKROOM_OPENAI_RPM'],
    concurrency: config[`DARKROOM_${key}_CONCURRENCY` as 'DARKROOM_OPENAI_CONCURRENCY'],
  };
}

/**
 * The workers of one process, run and stopped together: the main one (workflows and offline
 * activities on the brief task queue) and one activity worker per configured vendor, on
 * `<queue>-<provider>`, where that provider's rate limit is enforced.
 */
export class DarkroomWorkers {
  constructor(
    readonly main: Worker,
    readonly providerWorkers: ReadonlyMap<string, Worker>,
    readonly metrics: Metrics = new Metrics(),
    /** The `/metrics` endpoint, when DARKROOM_METRICS_ADDRESS is set; closed once every worker has stopped. */
    readonly metricsServer?: MetricsServer,
    /** C2PA reading and signing; its sidecar process (if any) is stopped once every worker has stopped. */
    readonly provenance?: Provenance,
  ) {}

  get taskQueues(): string[] {
    return [this.main.options.taskQueue, ...[...this.providerWorkers.values()].map((w) => w.options.taskQueue)];
  }

  async run(): Promise<void> {
    try {
      await Promise.all([this.main.run(), ...[...this.providerWorkers.values()].map((w) => w.run())]);
    } finally {
      await this.metricsServer?.close();
      await this.provenance?.close();
    }
  }

  shutdown(): void {
    for (const w of [this.main, ...this.providerWorkers.values()]) {
      if (w.getState() === 'RUNNING') w.shutdown();
    }
  }

  /** Runs until `fn` settles, then shuts every worker down and waits for them. */
  async runUntil<T>(fn: () => Promise<T>): Promise<T> {
    const running = this.run();
    try {
      return await fn();
    } finally {
      this.shutdown();
      await running;
    }
  }
}

/**
 * Creates Darkroom's workers. Concurrency defaults suit a 2-core machine: image activities
 * are CPU-bound in sharp; vendor calls are I/O-bound and limited per provider instead.
 */
export async function createDarkroomWorker(opts: DarkroomWorkerOptions): Promise<{ worker: DarkroomWorkers; connection: NativeConnection; ownsConnection: boolean }> {
  const { config } = opts;
  const metrics = opts.metrics ?? new Metrics();
  // Bound first: a taken port is a configuration error, reported before anything connects.
  let metricsServer: MetricsServer | undefined;
  if (config.DARKROOM_METRICS_ADDRESS) {
    try {
      metricsServer = await startMetricsServer(metrics.registry, config.DARKROOM_METRICS_ADDRESS);
    } catch (err) {
      throw new Error(`DARKROOM_METRICS_ADDRESS ${config.DARKROOM_METRICS_ADDRESS}: cannot serve metrics there: ${(err as Error).message}`, { cause: err });
    }
  }
  // Signing configured but impossible (no SDK, bad key) stops the worker here, before any file is published unsigned.
  let provenance: Provenance | undefined;
  try {
    provenance = opts.provenance ?? (await createProvenance(config));
    return await createWorkers(opts, metrics, metricsServer, provenance);
  } catch (err) {
    await metricsServer?.close();
    if (!opts.provenance) await provenance?.close();
    throw err;
  }
}

async function createWorkers(opts: DarkroomWorkerOptions, metrics: Metrics, metricsServer: MetricsServer | undefined, provenance: Provenance): Promise<{ worker: DarkroomWorkers; connection: NativeConnection; ownsConnection: boolean }> {
  const { config } = opts;
  const connectionOptions = temporalConnectionOptions(config);
  const dataConverter = darkroomDataConverter(codecFromConfig(config));
  const connection = opts.connection ?? (await NativeConnection.connect(connectionOptions));
  if (!opts.connection) {
    try {
      await checkNamespace(connection, config.TEMPORAL_NAMESPACE, config.TEMPORAL_ADDRESS);
    } catch (err) {
      await connection.close();
      throw err;
    }
  }
  // The one place blob-store failures are counted: every activity reaches the store through this.
  const blobs = instrumentBlobStore(opts.blobs ?? createBlobStore(config), metrics);
  const registry = createProviderRegistry(config, opts.providers);
  // Catalogs ask Temporal about rows that cannot report (terminated); connect only when they do.
  let temporal: Promise<Client> | undefined;
  const client = () => (temporal ??= Connection.connect(connectionOptions).then((c) => new Client({ connection: c, namespace: config.TEMPORAL_NAMESPACE, dataConverter })));
  const activities = {
    ...createActivities({ blobs, providers: registry, config, onPaidCall: opts.onPaidCall, metrics, provenance }),
    ...createCatalogActivities({ blobs, providers: registry, config, temporal: client, metrics }),
  };
  const taskQueue = opts.taskQueue ?? config.DARKROOM_TASK_QUEUE;
  // The SDK sends heartbeats at most every 0.8 x the timeout, which leaves a busy worker 20% of
  // it (0.6 s of a 3 s timeout) before the server calls the attempt dead. A third of the timeout
  // leaves two thirds, for one small RPC per running activity every 10 s at the default 30 s.
  const maxHeartbeatThrottleInterval = Math.max(500, Math.round(config.DARKROOM_HEARTBEAT_TIMEOUT / 3));
  const main = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue,
    dataConverter,
    ...(opts.workflowBundle ? { workflowBundle: opts.workflowBundle }
      : config.DARKROOM_WORKFLOW_BUNDLE ? { workflowBundle: { codePath: config.DARKROOM_WORKFLOW_BUNDLE } }
        : { workflowsPath: WORKFLOWS_PATH }),
    activities,
    maxConcurrentActivityTaskExecutions: config.DARKROOM_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTaskExecutions: config.DARKROOM_MAX_CONCURRENT_WORKFLOW_TASKS,
    // Running activities get this long to finish on SIGINT/SIGTERM before they are cancelled;
    // whatever is cut off is retried by another worker and finds its stored results.
    shutdownGraceTime: '10s',
    maxHeartbeatThrottleInterval,
    ...opts.worker,
  });
  const providers = new Set(registry.imageModels.map((m) => IMAGE_MODELS[m]!.provider).filter((p) => p !== 'local')) as Set<Exclude<Provider, 'local'>>;
  const providerWorkers = new Map<string, Worker>();
  for (const provider of providers) {
    const limits = providerLimits(config, provider);
    providerWorkers.set(provider, await Worker.create({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: `${taskQueue}-${provider}`,
      dataConverter,
      activities,
      maxConcurrentActivityTaskExecutions: limits.concurrency,
      // Enforced by the server for the whole task queue, so N workers together stay under it.
      maxTaskQueueActivitiesPerSecond: limits.perMinute / 60,
      shutdownGraceTime: '10s',
      maxHeartbeatThrottleInterval,
      ...opts.worker,
    }));
  }
  return { worker: new DarkroomWorkers(main, providerWorkers, metrics, metricsServer, opts.provenance ? undefined : provenance), connection, ownsConnection: !opts.connection };
}
