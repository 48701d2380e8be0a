/**
 * The command-line check of Darkroom's npm scripts (demo, server, benchmarks…): `--help` and
 * options they do not take are answered before any work starts.
 */
import { readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';

/** The options a script takes: `values` are followed by a value (or joined to it with `=`), `switches` stand alone. */
export interface ScriptOptions {
  values?: readonly string[];
  switches?: readonly string[];
  /** How many bare arguments (a count of rows, benchmark names…) it takes. @default 0 */
  positional?: number;
}

/** What is wrong with a script's command line, or undefined when nothing is. */
export function argProblem(takes: ScriptOptions, argv: readonly string[]): string | undefined {
  let bare = 0;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (takes.values?.includes(a)) {
      if (i + 1 >= argv.length) return `${a} needs a value`;
      i++;
    } else if (takes.values?.includes(a.split('=')[0]!) && a.includes('=')) continue;
    else if (takes.switches?.includes(a)) continue;
    else if (a.startsWith('-')) return `unknown option ${a}`;
    else if (++bare > (takes.positional ?? 0)) return `unexpected argument ${a}`;
  }
  return undefined;
}

/** Whether `script` is the file node was started with (links resolved). */
function isMainScript(script: string): boolean {
  const real = (file: string) => {
    try {
      return realpathSync(file);
    } catch {
      return path.resolve(file);
    }
  };
  return process.argv[1] !== undefined && real(process.argv[1]) === real(script);
}

/**
 * Checks a script's command line before it starts anything: `--help` or `-h` prints its usage
 * (the comment at the top of the script) and exits 0; an option it does not take, a value left
 * out or one bare argument too many exits 2 saying which. A benchmark runs for minutes and
 * writes bench/results, the provider smoke test spends money, the demo and the server start
 * processes: a typo must not start any of them on the defaults.
 * Only the script node was started with checks: one benchmark imports another's helpers
 * (pipeline-ideal runs the simulated-vendor worker's), and the command line is not theirs.
 * @param script the script's file (`import.meta.filename`)
 */
export function checkArgs(script: string, takes: ScriptOptions, argv: readonly string[] = process.argv.slice(2)): void {
  if (!isMainScript(script)) return;
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
    console.error(`${path.relative(path.resolve(import.meta.dirname, '..'), script)}: ${problem}\n\n${usage()}`);
    process.exit(2);
  }
}
