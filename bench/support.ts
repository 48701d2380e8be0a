/**
 * What every benchmark under bench/ shares: the machine it ran on, simple statistics, a markdown
 * table, and the one place a benchmark's section of bench/RESULTS.md is written
 * (`bench/results/<name>.md`, followed by any hand-written findings in `bench/notes/<name>.md`;
 * `npm run bench` joins them into RESULTS.md).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const RESULTS_DIR = path.resolve(import.meta.dirname, 'results');
const NOTES_DIR = path.resolve(import.meta.dirname, 'notes');

/** One line naming the machine: CPU model and count, memory, Node, load average when measured. */
export function machineLine(): string {
  const cpus = os.cpus();
  const load = os.loadavg().map((n) => n.toFixed(2)).join(' ');
  return `${cpus.length} × ${cpus[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}; load average at the end ${load}`;
}

export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
}
export const median = (xs: readonly number[]): number => quantile(xs, 0.5);

/** A markdown table; numbers are printed as given, so round them first. */
export function table(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  const line = (cells: readonly (string | number)[]) => `| ${cells.map(String).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Peak resident set (VmHWM) of a process in MiB, 0 when it has gone. */
export function peakRssMiB(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
  } catch {
    return 0;
  }
}

export function gitRevision(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

/**
 * Writes one benchmark's section: a `## title`, the command that reproduces it, when and where
 * it ran, then `body` (tables and what they say). Also prints it.
 */
export function writeSection(name: string, title: string, command: string, body: string): void {
  // Findings written by hand about a benchmark (what changed, before and after) live in
  // bench/notes/<name>.md and follow its measured section, so a rerun keeps them.
  const notesFile = path.join(NOTES_DIR, `${name}.md`);
  const notes = existsSync(notesFile) ? readFileSync(notesFile, 'utf8').trim() : '';
  const text = [
    `## ${title}`,
    '',
    `Command: \`${command}\` · ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC · commit ${gitRevision()}`,
    `Machine: ${machineLine()}`,
    '',
    body.trim(),
    ...(notes ? ['', notes] : []),
    '',
  ].join('\n');
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(path.join(RESULTS_DIR, `${name}.md`), text);
  console.log(`\n${text}`);
}

/** The options a benchmark takes: `values` are followed by a value, `switches` stand alone. */
export interface BenchOptions {
  values?: readonly string[];
  switches?: readonly string[];
  /** How many bare arguments (a count of rows, benchmark names…) it takes. @default 0 */
  positional?: number;
}

/** What is wrong with a benchmark's command line, or undefined when nothing is. */
export function argProblem(takes: BenchOptions, argv: readonly string[]): string | undefined {
  let bare = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (takes.values?.includes(a)) {
      if (i + 1 >= argv.length) return `${a} needs a value`;
      i++;
    } else if (takes.switches?.includes(a)) continue;
    else if (a.startsWith('-')) return `unknown option ${a}`;
    else if (++bare > (takes.positional ?? 0)) return `unexpected argument ${a}`;
  }
  return undefined;
}

/**
 * Checks a benchmark's command line before it starts anything: `--help` or `-h` prints its usage
 * (the comment at the top of the script) and exits 0; an option it does not take, a value left
 * out or one bare argument too many exits 2 saying which. A benchmark runs for minutes and writes
 * bench/results, so a typo must not start a run on the defaults.
 * @param script the benchmark's file (`import.meta.filename`)
 */
export function checkArgs(script: string, takes: BenchOptions, argv: readonly string[] = process.argv.slice(2)): void {
  const usage = () => {
    const header = /^\/\*\*\n([\s\S]*?)\n \*\//.exec(readFileSync(script, 'utf8'))?.[1] ?? '';
    return header.split('\n').map((l) => l.replace(/^ \* ?/, '')).join('\n');
  };
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage());
    process.exit(0);
  }
  const problem = argProblem(takes, argv);
  if (problem) {
    console.error(`${path.basename(script)}: ${problem}\n\n${usage()}`);
    process.exit(2);
  }
}
