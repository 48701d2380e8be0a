/**
 * `npm run bench [-- name …]`: runs the benchmarks (all, or the ones named) one after another,
 * each in its own process so none inherits another's heap, then joins their sections
 * (bench/results/<name>.md, written by each) into bench/RESULTS.md.
 * `npm run bench -- --join` only joins what the last runs wrote; `--list` lists them. The
 * hand-written bench/notes/summary.md (each target against its goal) goes first.
 * Timing goals live here, never in tests: a benchmark that misses its goal says so in its
 * section and makes this command exit 1, after the others have run.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkArgs } from '../scripts/cli-args';
import { RESULTS_DIR } from './support';

interface Bench {
  /** The name on the command line. */
  name: string;
  /** The script under bench/ and its arguments for the full run. */
  script: string;
  args?: string[];
  /** The sections (bench/results/<section>.md) it writes, in the order RESULTS.md shows them. */
  sections: string[];
  about: string;
}

const BENCHES: Bench[] = [
  { name: 'ideal', script: 'pipeline-ideal.ts', args: ['--candidates', '25', '--rows', '100', '--partitions', '4,0'], sections: ['pipeline-ideal'], about: 'a 25-candidate brief and a 100-row catalog on the simulated vendor against their ideal (Temporal\'s default 4 partitions, then Darkroom\'s 1)' },
  { name: 'overhead', script: 'temporal-overhead.ts', args: ['--variants'], sections: ['temporal-overhead'], about: "Temporal's overhead per activity vs a plain Promise.all script, before and after the dispatch fix" },
  { name: 'steps', script: 'brief-steps.ts', args: ['--briefs', '20', '--compare', 'e33c6bc'], sections: ['brief-steps'], about: "a brief's cheap steps as local activities (this code) vs activities (e33c6bc, the last revision before)" },
  { name: 'format', script: 'format-throughput.ts', args: ['--masters', '20'], sections: ['format-throughput'], about: 'the channel matrix from 20 masters: Darkroom vs the vips CLI vs ImageMagick, where Darkroom\'s CPU goes, the effort sweep, an 8192² channel' },
  { name: 'scale', script: 'catalog-scale.ts', args: ['1000'], sections: ['catalog-scale'], about: 'a 1,000-row catalog on the local provider: rows per minute, worker memory, largest history (add --workers N for scale-out)' },
  { name: 'stages', script: 'stages.ts', sections: ['stages'], about: 'offline generate, judge and format timings' },
  { name: 'publish', script: 'publish.ts', args: ['7'], sections: ['publish'], about: 'one brief published to a folder vs S3 (versitygw)' },
  { name: 'c2pa', script: 'c2pa.ts', sections: ['c2pa-node20'], about: 'C2PA signing cost per file' },
];

const here = import.meta.dirname;
const SUMMARY = path.join(here, 'notes', 'summary.md');
checkArgs(import.meta.filename, { switches: ['--join', '--list'], positional: BENCHES.length });

const argv = process.argv.slice(2);

function join(): void {
  const known = BENCHES.flatMap((b) => b.sections);
  const present = existsSync(RESULTS_DIR) ? readdirSync(RESULTS_DIR).filter((f) => f.endsWith('.md')).map((f) => f.slice(0, -3)) : [];
  const order = [...known.filter((s) => present.includes(s)), ...present.filter((s) => !known.includes(s)).sort()];
  // `npm run chaos` writes its own section (fault injection), shown after the benchmarks.
  const missing = known.filter((s) => !present.includes(s));
  const parts = [
    '# Darkroom benchmark results',
    '',
    'Written by `npm run bench` (each section by its own benchmark, with the command that reproduces it, when, on which commit and machine). Providers are simulated or offline, so runs repeat; absolute times depend on the machine and its load, the ratios much less.',
    '',
    ...(missing.length ? [`Not run yet: ${missing.join(', ')}.`, ''] : []),
    // The targets, measured against their goals, written by hand from the sections below.
    ...(existsSync(SUMMARY) ? [readFileSync(SUMMARY, 'utf8').trim() + '\n'] : []),
    ...order.map((s) => readFileSync(path.join(RESULTS_DIR, `${s}.md`), 'utf8').trim() + '\n'),
  ];
  writeFileSync(path.join(here, 'RESULTS.md'), parts.join('\n'));
  console.log(`bench/RESULTS.md: ${order.length} sections${missing.length ? `; not run yet: ${missing.join(', ')}` : ''}`);
}

if (argv.includes('--list')) {
  for (const b of BENCHES) console.log(`${b.name.padEnd(10)} ${b.about}  (npx tsx bench/${b.script}${b.args ? ` ${b.args.join(' ')}` : ''})`);
} else if (argv.includes('--join')) {
  join();
} else {
  const unknown = argv.filter((a) => !BENCHES.some((b) => b.name === a));
  if (unknown.length) {
    console.error(`unknown benchmark ${unknown.join(', ')}; these exist: ${BENCHES.map((b) => b.name).join(', ')}`);
    process.exit(2);
  }
  const chosen = argv.length ? BENCHES.filter((b) => argv.includes(b.name)) : BENCHES;
  const failed: string[] = [];
  for (const b of chosen) {
    console.log(`\n==> bench ${b.name}: ${b.about}`);
    const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(here, b.script), ...(b.args ?? [])], { stdio: 'inherit' });
    if (run.status !== 0) failed.push(b.name);
  }
  join();
  if (failed.length) {
    console.error(`missed a goal or failed: ${failed.join(', ')}`);
    process.exit(1);
  }
}
