/**
 * `npx tsx bench/sim-worker.ts`: the production worker (same config, same activities) with every
 * routed vendor image model served by the simulated vendor of activities/providers/simulated, for
 * benchmarks only. The vendor's limits are the ones the worker is configured to keep
 * (DARKROOM_<VENDOR>_RPM, _CONCURRENCY), so a limiter that let a call through too early shows as a
 * refused call. DARKROOM_SIM_SEED seeds the latencies; DARKROOM_SIM_TIME_SCALE shortens them.
 */
import { Runtime } from '@temporalio/worker';
import { z } from 'zod';
import { parseConfig, type Config } from '../domain/config';
import { SimulatedImageGenerator, simulatedImageGenerators } from '../activities/providers/simulated';
import { createDarkroomWorker, providerLimits } from '../workers/worker';
import type { ProviderOverrides } from '../activities/providers';
import { checkArgs } from '../scripts/cli-args';

const SimSchema = z.object({
  DARKROOM_SIM_SEED: z.coerce.number().int().default(1),
  DARKROOM_SIM_TIME_SCALE: z.coerce.number().positive().max(100).default(1),
});

/** The simulated vendor for a worker with this config, and the registry overrides that install it. */
export function simulatedProviders(config: Config, opts: { seed?: number; timeScale?: number } = {}): { generator: SimulatedImageGenerator; overrides: ProviderOverrides } {
  const generator = new SimulatedImageGenerator({ ...opts, limits: (provider) => providerLimits(config, provider) });
  return { generator, overrides: { imageGenerators: simulatedImageGenerators(generator) } };
}

async function main(): Promise<void> {
  const config = parseConfig(process.env);
  const sim = SimSchema.parse(process.env);
  Runtime.install({ shutdownSignals: ['SIGINT', 'SIGTERM'] });
  const { generator, overrides } = simulatedProviders(config, { seed: sim.DARKROOM_SIM_SEED, timeScale: sim.DARKROOM_SIM_TIME_SCALE });
  const { worker, connection } = await createDarkroomWorker({ config, providers: overrides });
  console.log(`sim worker: polling ${worker.taskQueues.join(', ')}`);
  await worker.run();
  await connection.close();
  const refused = generator.calls.filter((c) => c.refused).length;
  console.log(`sim worker: stopped; ${generator.calls.length - refused} calls answered, ${refused} refused`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  checkArgs(import.meta.filename, {});
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
