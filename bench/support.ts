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
