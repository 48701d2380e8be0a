/**
 * Workers for crash tests: the production worker with the instrumented local generator
 * (test/support/worker-process.ts) in its own process, so a test can SIGKILL it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** Starts a crash-test worker with `env` over the test's own (short heartbeats and retry delays unless `env` says otherwise). */
export function spawnCrashWorker(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.resolve('test/support/worker-process.ts')], {
    env: { ...process.env, DARKROOM_HEARTBEAT_TIMEOUT: '2s', DARKROOM_RETRY_INITIAL: '200ms', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Settles when `p` has exited (at once if it already has). */
export const exited = (p: ChildProcess): Promise<unknown> => new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r(undefined) : p.once('exit', r)));

/**
 * SIGKILLs `worker` while the generator's answers are held (`<gate>/hold`), so the kill lands
 * with calls in flight at the "vendor", never between an image being delivered and stored;
 * then releases the hold. `beforeKill` runs once every lane is held or idle.
 */
export async function killWhileHeld(worker: ChildProcess, gate: string, beforeKill?: () => Promise<void>): Promise<void> {
  writeFileSync(path.join(gate, 'hold'), '');
  await new Promise((r) => setTimeout(r, 400)); // every lane is now held or idle
  await beforeKill?.();
  worker.kill('SIGKILL');
  await exited(worker);
  rmSync(path.join(gate, 'hold'));
}
