/**
 * The `darkroom` command table: every command's name, arguments, options and help in one list,
 * which makes the help text and the option checks, and dispatches. Brief, review and catalog
 * commands are all rows of it ({@link BRIEF_COMMANDS}, {@link REVIEW_COMMANDS}, {@link CATALOG_COMMANDS}).
 */
import type { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import type { Config } from '../domain/config';
import { clip, preview } from '../domain/text';
import { CliError } from './errors';
import type { Io } from './render';

/** Every option any command takes, as node:util's parseArgs reads them, with the placeholder help shows. */
export const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  port: { type: 'string', placeholder: 'N' },
  host: { type: 'string', placeholder: 'H' },
  'public-url': { type: 'string', placeholder: 'URL' },
  filter: { type: 'string', placeholder: 'Q' },
  reviewer: { type: 'string', placeholder: 'NAME' },
  comment: { type: 'string', placeholder: 'TEXT' },
  reason: { type: 'string', placeholder: 'TEXT' },
  feedback: { type: 'string', placeholder: 'TEXT' },
  keep: { type: 'string', multiple: true, placeholder: 'r1-c01,r1-c03' },
  'min-score': { type: 'string', placeholder: 'N' },
  'dry-run': { type: 'boolean' },
  template: { type: 'string', placeholder: '<template.json>' },
  id: { type: 'string', placeholder: 'ID' },
  window: { type: 'string', placeholder: 'N' },
  budget: { type: 'string', placeholder: 'USD' },
  'rows-per-run': { type: 'string', placeholder: 'N' },
  watch: { type: 'boolean' },
  csv: { type: 'boolean' },
  cron: { type: 'string', placeholder: '"0 2 * * *"' },
  weight: { type: 'string', placeholder: 'W' },
  'cors-origin': { type: 'string', multiple: true, placeholder: 'ORIGIN' },
} as const;

export type OptionName = Exclude<keyof typeof OPTIONS, 'help'>;
/** The parsed options, as parseArgs returns them for {@link OPTIONS}. */
export type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** What a command's handler is given. */
export interface CommandContext {
  config: Config;
  env: Record<string, string | undefined>;
  values: Values;
  /** Positional arguments after the command's name. */
  args: string[];
  io: Io;
  json: boolean;
  /** Connects to Temporal (once; the connection is closed when the command ends). */
  connect: () => Promise<Client>;
  /** The whole help text, appended to usage errors. */
  usage: string;
  /** The positional argument at `i`, or a usage error naming `what` is missing. */
  need: (i: number, what: string) => string;
  /** A usage error if there are more than `n` positional arguments. */
  noMoreThan: (n: number) => void;
}

export interface Command {
  /** One or two words: `run`, `review list`, `catalog start`. */
  name: string;
  /** Positional arguments as help shows them: `<brief.json>`. */
  args?: string;
  /** The options it takes, in the order help lists them; any other is a usage error naming it. */
  options: readonly OptionName[];
  /** Options help shows without brackets: the command refuses to run without them. */
  required?: readonly OptionName[];
  /** What it does, one or more lines. */
  help: string;
  run: (ctx: CommandContext) => Promise<number>;
}

/** A titled group of commands in the help text. */
export interface CommandSection {
  title: string;
  commands: readonly Command[];
}

const COLUMN = 41;

function usageLine(c: Command): string {
  const opts = c.options.map((o) => {
    const spec = OPTIONS[o] as { type: string; placeholder?: string };
    const shown = spec.type === 'boolean' ? `--${o}` : `--${o} ${spec.placeholder}`;
    return c.required?.includes(o) ? shown : `[${shown}]`;
  });
  return ['darkroom', c.name, c.args, ...opts].filter(Boolean).join(' ');
}

/** The help text: each section's commands, usage then what they do, aligned, then `footer`. */
export function helpText(header: string, sections: readonly CommandSection[], footer: string): string {
  const out = [header, ''];
  for (const s of sections) {
    out.push(`${s.title}:`);
    for (const c of s.commands) {
      const usage = `  ${usageLine(c)}`;
      const [first, ...more] = c.help.split('\n');
      if (usage.length < COLUMN - 1) out.push(`${usage.padEnd(COLUMN)}${first}`);
      else out.push(usage, `${' '.repeat(COLUMN)}${first}`);
      for (const m of more) out.push(`${' '.repeat(COLUMN)}${m}`);
    }
    out.push('');
  }
  out.push(footer);
  return out.join('\n');
}

/**
 * The command `positionals` name, and the positionals after its name. A word that starts a
 * two-word command (`review`, `catalog`) takes the next word as its subcommand when there is
 * one; `review` alone is a command of its own, `catalog` alone is a usage error.
 */
export function resolveCommand(table: readonly Command[], positionals: readonly string[], usage: string): { command: Command; args: string[] } {
  const [first = '', second, ...rest] = positionals;
  const byName = new Map(table.map((c) => [c.name, c]));
  const subs = table.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.slice(first.length + 1));
  if (subs.length > 0 && second !== undefined) {
    const command = byName.get(`${first} ${second}`);
    if (!command) throw new CliError(`unknown command ${preview(`${first} ${second}`)}\n\n${usage}`);
    return { command, args: rest };
  }
  const command = byName.get(first);
  if (command) return { command, args: second === undefined ? [] : [second, ...rest] };
  if (subs.length > 0) throw new CliError(`darkroom ${clip(first)}: missing a command (${subs.join(', ')})\n\n${usage}`);
  throw new CliError(`unknown command ${preview(first)}\n\n${usage}`);
}

/** A usage error for an option the command does not take, naming the ones it does. */
export function checkOptions(command: Command, values: Values): void {
  for (const [name, v] of Object.entries(values)) {
    if (v === undefined || name === 'help' || command.options.includes(name as OptionName)) continue;
    const allowed = command.options.length ? ` (options: ${command.options.map((o) => `--${o}`).join(', ')})` : '';
    throw new CliError(`darkroom ${command.name}: --${name} does not apply here${allowed}`);
  }
}

/** The `need` and `noMoreThan` helpers of a command's context. */
export function argumentChecks(command: Command, args: readonly string[], usage: string): Pick<CommandContext, 'need' | 'noMoreThan'> {
  return {
    need: (i, what) => {
      const v = args[i];
      if (!v) throw new CliError(`darkroom ${command.name}: missing ${what}\n\n${usage}`);
      return v;
    },
    noMoreThan: (n) => {
      if (args.length > n) throw new CliError(`darkroom ${command.name}: unexpected ${preview(args[n])}\n\n${usage}`);
    },
  };
}
