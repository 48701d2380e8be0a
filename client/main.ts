import { terminalSafe } from '../domain/text';
import { describeUnexpected } from './briefs';
import { main } from './cli';

/** The `darkroom` command: wires the CLI to this process's arguments, environment and terminal. */
const tty = process.stderr.isTTY;
main(process.argv.slice(2), process.env, {
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(`${s}\n`),
  // main() makes `s` terminal-safe; these codes (return, clear line) are the CLI's own.
  live: tty ? (s) => process.stderr.write(`\r\x1b[2K${s}`) : undefined,
  // Only when both are a terminal: `catalog status | grep …` must print once and exit.
  interactive: tty && process.stdout.isTTY,
}).then(
  (code) => process.exit(code),
  (err: unknown) => {
    // main() answers every error itself; this is the last guard, and it still prints no raw stack.
    process.stderr.write(`${terminalSafe(describeUnexpected(err, process.env.DARKROOM_DEBUG === '1'))}\n`);
    process.exit(1);
  },
);

