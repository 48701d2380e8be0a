/** `darkroom c2pa dev-cert`: a throwaway signing certificate for trying C2PA signing locally. */
import path from 'node:path';
import { devCaInstructions, makeDevCa } from '../activities/provenance/dev-ca';
import type { Command, CommandContext } from './commands';
import { CliError } from './errors';

/** How long a dev certificate is valid: long enough to try things, short enough to be thrown away. */
const DEV_CERT_DAYS = 90;

async function devCert(ctx: CommandContext): Promise<number> {
  const { config, args, io } = ctx;
  ctx.noMoreThan(1);
  const dir = path.resolve(args[0] ?? path.join(config.DARKROOM_DATA_DIR, 'c2pa-dev'));
  let ca;
  try {
    ca = makeDevCa({ name: 'Darkroom Dev', dir, days: DEV_CERT_DAYS });
  } catch (err) {
    throw new CliError(`darkroom c2pa dev-cert: openssl could not make the certificate in ${dir}: ${(err as Error).message}`, 1, { cause: err });
  }
  const { notice, env } = devCaInstructions(ca, dir, DEV_CERT_DAYS);
  io.err(notice);
  io.out(env);
  return 0;
}

export const C2PA_COMMANDS: readonly Command[] = [
  {
    name: 'c2pa dev-cert',
    args: '[dir]',
    options: [],
    help: 'make a throwaway local CA and C2PA signing certificate (default DARKROOM_DATA_DIR/c2pa-dev)\nand print the DARKROOM_C2PA_* lines; for trying signing out, not for production',
    run: devCert,
  },
];
