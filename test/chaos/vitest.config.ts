import { defineConfig } from 'vitest/config';

/**
 * `npm run chaos`: every fault-injection test, one file at a time — the quick ones in test/faults
 * (also part of `npm test`) and the long ones in test/chaos (only here). The last run's results go
 * to bench/results/chaos.md (test/chaos/reporter.ts).
 */
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    include: ['test/faults/**/*.test.ts', 'test/chaos/**/*.test.ts'],
    pool: 'forks',
    // One file at a time: the catalog's kills and server restarts get the machine to themselves.
    fileParallelism: false,
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 900_000,
    hookTimeout: 180_000,
    reporters: ['default', './test/chaos/reporter.ts'],
  },
});
