/**
 * Writes the last `npm run chaos` run to bench/results/chaos.md (bench/support.ts writeSection):
 * each fault-injection case, where it runs, whether it passed, how long it took, and what it
 * proved with its counts (the line each test left with recordProof).
 */
import path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';
import { table, writeSection } from '../../bench/support';

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export default class ChaosReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const rows: string[][] = [];
    for (const m of [...modules].sort((a, b) => a.moduleId.localeCompare(b.moduleId))) {
      const file = path.relative(process.cwd(), m.moduleId);
      const suite = file.startsWith('test/chaos/') ? 'npm run chaos' : 'npm test';
      rows.push([`**${file}**`, suite, m.state(), `${seconds(m.diagnostic().duration)} (file)`, '']);
      for (const t of m.children.allTests()) {
        const proved = t.meta().chaos ?? (t.result().state === 'failed' ? (t.result().errors?.[0]?.message ?? '').split('\n')[0]! : '');
        rows.push([t.name, '', t.result().state, seconds(t.diagnostic()?.duration ?? 0), proved.replace(/\|/g, '\\|')]);
      }
    }
    if (rows.length === 0) return;
    writeSection(
      'chaos',
      'Fault injection and crash recovery',
      'npm run chaos',
      [
        'Every fault-injection case, run one file at a time. The test/faults files also run in `npm test`; test/chaos runs only here (minutes long).',
        'Times are wall clock on a shared machine, for orientation, not goals.',
        '',
        table(['case', 'runs in', 'result', 'time', 'what it proved (counts checked by the test)'], rows),
      ].join('\n'),
    );
  }
}
