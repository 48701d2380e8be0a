/**
 * A real Darkroom worker process for crash tests: the production worker (workers/worker.ts)
 * with one instrumented provider — the local generator, which
 *  - appends a line to `<DARKROOM_TEST_GATE_DIR>/calls.log` for every image it delivers, and
 *  - while `<gate dir>/hold` exists, holds its answer (the call stays "in flight at the vendor").
 * Holding lets a test SIGKILL the worker while calls are in flight, never in the moment between
 * an image being delivered and being stored.
 * With `DARKROOM_TEST_CRASH_AT=called|image-stored|ledger-written` the worker SIGKILLs itself the
 * first time a paid call reaches that point (a marker file in the gate dir makes it once only).
 */
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { parseConfig } from '../../domain/config';
import type { ImageGenerator } from '../../activities/providers';
import { LocalImageGenerator } from '../../activities/providers/local';
import { createDarkroomWorker } from '../../workers/worker';

const gate = process.env.DARKROOM_TEST_GATE_DIR!;
const inner = new LocalImageGenerator();
const gated: ImageGenerator = {
  name: 'local',
  async generate(input) {
    const out = await inner.generate(input);
    while (existsSync(path.join(gate, 'hold'))) await new Promise((r) => setTimeout(r, 20));
    appendFileSync(path.join(gate, 'calls.log'), `${input.prompt.length}:${input.seed}\n`);
    return out;
  },
};

const crashAt = process.env.DARKROOM_TEST_CRASH_AT;
const onPaidCall = (point: string) => {
  const marker = path.join(gate, `crashed-${point}`);
  if (point !== crashAt || existsSync(marker)) return;
  writeFileSync(marker, '');
  process.kill(process.pid, 'SIGKILL');
};

Runtime.install({ logger: new DefaultLogger('ERROR'), shutdownSignals: ['SIGINT', 'SIGTERM'] });
const { worker } = await createDarkroomWorker({ config: parseConfig(process.env), providers: { imageGenerators: { local: gated } }, onPaidCall });
await worker.run();
