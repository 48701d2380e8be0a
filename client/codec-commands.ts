/** `darkroom codec-server`: the remote codec the Temporal UI and CLI use to show encrypted payloads. */
import { preview } from '../domain/text';
import { codecFromConfig } from '../temporal/codec';
import { startCodecServer, DEFAULT_CODEC_PORT } from './codec-server';
import type { Command, CommandContext } from './commands';
import { CliError } from './errors';
import { temporalUi } from './links';
import { newToken } from './review/auth';
import { untilSignal } from './review-commands';

async function serveCodec(ctx: CommandContext): Promise<number> {
  const { config, values, io } = ctx;
  ctx.noMoreThan(0);
  const codec = codecFromConfig(config);
  if (!codec) throw new CliError('darkroom codec-server: DARKROOM_CODEC_KEYS is not set; the codec server decrypts with the same keys as the workers');
  const port = values.port === undefined ? DEFAULT_CODEC_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`darkroom codec-server: --port must be a port number from 0 to 65535, not ${preview(values.port)}`);
  const host = values.host ?? '127.0.0.1';
  const given = values['cors-origin'] ?? [];
  const corsOrigins = given.length > 0 ? given : [new URL(temporalUi(config)).origin];
  for (const o of corsOrigins) {
    let url: URL | undefined;
    try {
      url = new URL(o);
    } catch {
      url = undefined;
    }
    if (!url || !/^https?:$/.test(url.protocol)) throw new CliError(`darkroom codec-server: --cors-origin must be an http(s) origin such as http://localhost:8233, not ${preview(o)}`);
  }
  const token = config.DARKROOM_CODEC_TOKEN ?? newToken();
  let server;
  try {
    server = await startCodecServer({ codec, token, namespace: config.TEMPORAL_NAMESPACE, corsOrigins, host, port, log: io.err });
  } catch (err) {
    throw new CliError(`darkroom codec-server: cannot listen on ${host}:${port}: ${(err as Error).message}`, 2, { cause: err });
  }
  io.out(`darkroom codec-server: ${server.url} (namespace ${config.TEMPORAL_NAMESPACE}, encrypting with key ${codec.currentKeyId}; browsers allowed from ${corsOrigins.join(', ')})`);
  if (config.DARKROOM_CODEC_TOKEN) io.out('  token: DARKROOM_CODEC_TOKEN');
  else io.out(`  token: ${token}\n  (a new token each start; set DARKROOM_CODEC_TOKEN to keep it)`);
  io.out(`  temporal workflow show --workflow-id ID --codec-endpoint ${server.url} --codec-auth "Bearer <token>"`);
  io.out(`  Web UI: set its codec server endpoint to ${server.url}/<token> (the UI sends no token of its own)`);
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) io.err(`darkroom codec-server: listening on ${host}: anyone with the token can decrypt payloads; put TLS in front of it`);
  io.out('  Ctrl-C to stop');
  await (io.untilStopped ?? untilSignal)();
  await server.close();
  io.err('darkroom codec-server: stopped');
  return 0;
}

export const CODEC_COMMANDS: readonly Command[] = [
  {
    name: 'codec-server',
    options: ['port', 'host', 'cors-origin'],
    help: `decrypt payloads for the Temporal UI and CLI (port ${DEFAULT_CODEC_PORT}; token: DARKROOM_CODEC_TOKEN);\n` +
      'ORIGIN: a Web UI allowed to call it (repeatable; default the UI of TEMPORAL_UI_URL)',
    run: serveCodec,
  },
];
