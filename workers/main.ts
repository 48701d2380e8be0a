/**
 * Usage: npm run worker
 *
 * Runs a Darkroom worker: polls the task queue (DARKROOM_TASK_QUEUE, default darkroom) on the
 * Temporal server at TEMPORAL_ADDRESS (default localhost:7233) until SIGINT or SIGTERM, then stops
 * taking work, lets running activities finish and exits. It takes no options: every setting comes
 * from the environment (README, Configuration; provider keys under Real providers), checked at
 * start, and a bad value stops it naming the variable. Run as many as you like on one queue.
 */
import { Runtime } from '@temporalio/worker';
import { parseConfig } from '../domain/config';
import { C2paUnavailableError } from '../activities/provenance';
import { configureSharpForWorker } from '../activities/images/format';
import { codecFromConfig } from '../temporal/codec';
import { describeConnection, explainConnectFailure, NamespaceNotFoundError, TemporalAuthError, TemporalTlsConfigError, temporalConnectionOptions } from '../temporal/connection';
import { createDarkroomWorker } from './worker';
import { checkArgs } from '../scripts/cli-args';

checkArgs(import.meta.filename, {});

async function main(): Promise<void> {
  let config;
  try {
    config = parseConfig(process.env);
  } catch (err) {
    // A setting it cannot run with is said in one line, as the CLI says it, not as a stack.
    console.error(`darkroom worker: cannot start: ${(err as Error).message}`);
    process.exit(2);
  }
  configureSharpForWorker();
  Runtime.install({
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    // The SDK's own worker and connection metrics (temporal_*), on their own port.
    ...(config.TEMPORAL_METRICS_ADDRESS ? { telemetryOptions: { metrics: { prometheus: { bindAddress: config.TEMPORAL_METRICS_ADDRESS } } } } : {}),
  });
  let created;
  try {
    created = await createDarkroomWorker({ config });
  } catch (err) {
    // A setting the worker cannot run with says so itself; anything else is a connection that failed.
    const misconfigured = err instanceof TemporalTlsConfigError || err instanceof NamespaceNotFoundError || err instanceof TemporalAuthError
      || err instanceof C2paUnavailableError || (err as Error).message.startsWith('DARKROOM_METRICS_ADDRESS');
    if (misconfigured) {
      console.error(`darkroom worker: cannot start: ${(err as Error).message}`);
    } else {
      const options = temporalConnectionOptions(config);
      console.error(`darkroom worker: cannot start: ${await explainConnectFailure(err, options)}`);
      if (!options.tls) console.error(`Is a Temporal server running at ${config.TEMPORAL_ADDRESS}? Start one with: npm run server`);
    }
    process.exit(1);
  }
  const { worker, connection } = created;
  if (worker.metricsServer) console.log(`darkroom worker: metrics at ${worker.metricsServer.url}`);
  if (config.TEMPORAL_METRICS_ADDRESS) console.log(`darkroom worker: Temporal SDK metrics at http://${config.TEMPORAL_METRICS_ADDRESS}/metrics`);
  const codec = codecFromConfig(config);
  console.log(
    `darkroom worker: polling ${worker.taskQueues.map((q) => `"${q}"`).join(', ')} on ${describeConnection(temporalConnectionOptions(config))}, ` +
      `namespace ${config.TEMPORAL_NAMESPACE}; blobs in ${config.DARKROOM_DATA_DIR}` +
      (codec ? `; payloads encrypted with key ${codec.currentKeyId}` : ''),
  );
  await worker.run();
  await connection.close();
  console.log('darkroom worker: stopped');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
