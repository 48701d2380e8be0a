import { parseArgs } from 'node:util';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { parseConfig, type Config } from '../domain/config';
import { clip } from '../domain/text';
import { BRIEF_COMMANDS } from './brief-commands';
import { describeUnexpected } from './briefs';
import { CATALOG_COMMANDS } from './catalog/commands';
import { C2PA_COMMANDS } from './c2pa-commands';
import { CODEC_COMMANDS } from './codec-commands';
import { argumentChecks, checkOptions, helpText, OPTIONS, resolveCommand, type Command } from './commands';
import { connectClient } from './connect';
import { CliError } from './errors';
import { terminalIo, type Io } from './render';
import { InvalidFilterError, NoWorkerError, VisibilityQueryError } from './review/actions';
import { REVIEW_COMMANDS } from './review-commands';

/** The most of one error message the CLI prints (the usage text it may carry fits). */
const MAX_ERROR_CHARS = 16_000;

const SECTIONS = [
  { title: 'Briefs', commands: BRIEF_COMMANDS },
  { title: 'Review (briefs with "approval": "human")', commands: REVIEW_COMMANDS },
  { title: "Catalogs (one brief per product row; ID defaults to the feed's file name, e.g. products.csv → products)", commands: CATALOG_COMMANDS },
  { title: 'Encrypted payloads (DARKROOM_CODEC_KEYS)', commands: CODEC_COMMANDS },
  { title: 'Content credentials (C2PA signing)', commands: C2PA_COMMANDS },
];

/** Every command, from the sections: the one table that makes the help text, the option checks and the dispatch. */
export const COMMANDS: readonly Command[] = SECTIONS.flatMap((s) => s.commands);

const HELP = helpText(
  'darkroom — turn creative briefs into published image assets',
  SECTIONS,
  `Environment:
  TEMPORAL_ADDRESS (default localhost:7233), TEMPORAL_NAMESPACE (default), DARKROOM_TASK_QUEUE (darkroom),
  DARKROOM_DATA_DIR (./.darkroom), DARKROOM_REVIEW_TOKEN (the reviewer tool's login token; random when unset),
  TEMPORAL_UI_URL (the Web UI the printed links point at), USER (the default reviewer name)
  TLS and Temporal Cloud: the temporal CLI's TEMPORAL_TLS*, TEMPORAL_API_KEY; DARKROOM_CODEC_KEYS encrypts payloads

Provider keys and endpoints set in this shell (README, Real providers) price catalog forecasts.

Exit codes: 0 done, 1 the brief or catalog failed, or refused (a decision, a second run of a catalog),
2 bad input (unknown workflow or catalog), 3 no Temporal server.`,
);

/**
 * Runs one `darkroom` command and returns its exit code. Everything it prints goes through
 * {@link terminalIo}: workflow ids, subjects, reasons, feed cells and errors come from outside
 * (older runs, `temporal workflow start`), so none of it reaches the terminal raw.
 */
export async function main(argv: string[], env: Record<string, string | undefined>, rawIo: Io): Promise<number> {
  const io = terminalIo(rawIo);
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (err) {
    // node:util's messages name the option ("Unknown option '--x'", "Option '--reason <value>' argument missing").
    io.err(`darkroom: ${clip((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''))}\n\nRun "darkroom --help" for usage.`);
    return 2;
  }
  const { values, positionals } = parsed;
  const first = positionals[0];
  if (values.help || !first || first === 'help') {
    io.out(HELP);
    return first || values.help ? 0 : 2;
  }
  let config: Config;
  try {
    config = parseConfig(env);
  } catch (err) {
    io.err(`darkroom: ${clip((err as Error).message, 2000)}`);
    return 2;
  }
  let client: Client | undefined;
  let args: string[] = [];
  try {
    const resolved = resolveCommand(COMMANDS, positionals, HELP);
    const { command } = resolved;
    args = resolved.args;
    checkOptions(command, values);
    return await command.run({
      config, env, values, args, io,
      json: values.json ?? false,
      connect: async () => (client ??= await connectClient(config)),
      usage: HELP,
      ...argumentChecks(command, args, HELP),
    });
  } catch (err) {
    if (err instanceof CliError) {
      // The messages are built to be short; this bounds whatever one of them echoed.
      // Some name their command already (`darkroom reject: …`): say "darkroom" once.
      const message = clip(err.message, MAX_ERROR_CHARS);
      io.err(message.startsWith('darkroom ') ? message : `darkroom: ${message}`);
      return err.exitCode;
    }
    if (err instanceof WorkflowNotFoundError) {
      io.err(`darkroom: no workflow ${clip(args[0] ?? '')} in namespace ${config.TEMPORAL_NAMESPACE}`);
      return 2;
    }
    if (err instanceof InvalidFilterError) {
      io.err(`darkroom: ${err.message}`);
      return 2;
    }
    if (err instanceof VisibilityQueryError) {
      io.err(`darkroom: Temporal refused the filter: ${err.message}`);
      return 2;
    }
    if (err instanceof NoWorkerError) {
      io.err(`darkroom: ${err.message}`);
      return 1;
    }
    io.err(describeUnexpected(err, env.DARKROOM_DEBUG === '1'));
    return 1;
  } finally {
    await client?.connection.close();
  }
}
