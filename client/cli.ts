import { parseArgs } from 'node:util';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { parseConfig, type Config } from '../domain/config';
import type { BriefStatus } from '../domain/types';
import { statusQuery } from '../workflows/messages';
import { readBriefFile } from './brief-file';
import { describeFailure, followBrief, startBrief, type BriefHandle } from './briefs';
import { connectClient } from './connect';
import { CliError } from './errors';
import { manifestSummary, statusBlock, statusLine } from './render';

const HELP = `darkroom — turn creative briefs into published image assets

Usage:
  darkroom run <brief.json> [--json]     start a brief, follow it live, print where its assets are
  darkroom start <brief.json>            start a brief and print its workflow id
  darkroom status <workflowId>           where a brief is: stage, counts, cost
  darkroom result <workflowId> [--json]  wait for a brief to finish and print its assets

Environment:
  TEMPORAL_ADDRESS (default localhost:7233), TEMPORAL_NAMESPACE (default), DARKROOM_TASK_QUEUE (darkroom),
  DARKROOM_DATA_DIR (./.darkroom)

Exit codes: 0 done, 1 the brief failed, 2 bad input, 3 no Temporal server.`;

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Rewrite the current terminal line (live progress). */
  live?: (s: string) => void;
}

function uiLink(config: Config, workflowId: string): string {
  const host = config.TEMPORAL_ADDRESS.split(':')[0] === '127.0.0.1' ? 'localhost' : config.TEMPORAL_ADDRESS.split(':')[0];
  return `http://${host}:8233/namespaces/${config.TEMPORAL_NAMESPACE}/workflows/${encodeURIComponent(workflowId)}`;
}

async function follow(handle: BriefHandle, io: Io, json: boolean): Promise<number> {
  const show = (s: BriefStatus) => {
    if (json) return;
    if (io.live) io.live(statusLine(s));
    else io.err(statusLine(s));
  };
  try {
    const manifest = await followBrief(handle, show, (why) =>
      io.err(`  (waiting for a worker: ${why.split('\n')[0]} — is "npm run worker" running?)`),
    );
    if (io.live) io.live('');
    io.out(json ? JSON.stringify(manifest, null, 2) : manifestSummary(manifest));
    return 0;
  } catch (err) {
    if (io.live) io.live('');
    io.err(`✘ ${handle.workflowId} failed: ${describeFailure(err)}`);
    return 1;
  }
}

export async function main(argv: string[], env: Record<string, string | undefined>, io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command || command === 'help') {
    io.out(HELP);
    return command || values.help ? 0 : 2;
  }
  const config = parseConfig(env);
  const need = (what: string): string => {
    const v = rest[0];
    if (!v) throw new CliError(`darkroom ${command}: missing ${what}\n\n${HELP}`);
    return v;
  };
  let client: Client | undefined;
  try {
    switch (command) {
      case 'run':
      case 'start': {
        const file = need('<brief.json>');
        const brief = await readBriefFile(file);
        client = await connectClient(config);
        const { handle, workflowId, started } = await startBrief(client, brief, config.DARKROOM_TASK_QUEUE);
        if (command === 'start') {
          io.out(values.json ? JSON.stringify({ workflowId, started }) : `${started ? 'started' : 'already running'}: ${workflowId}\n  follow: darkroom status ${workflowId}\n  web UI: ${uiLink(config, workflowId)}`);
          return 0;
        }
        if (!values.json) io.err(`${started ? 'started' : 'attached to running'} ${workflowId}  (${uiLink(config, workflowId)})`);
        return await follow(handle, io, values.json);
      }
      case 'status': {
        const id = need('<workflowId>');
        client = await connectClient(config);
        const handle = client.workflow.getHandle(id);
        const d = await handle.describe();
        const s = await handle.query(statusQuery).catch(() => undefined);
        if (values.json) io.out(JSON.stringify({ workflowId: id, temporalStatus: d.status.name, status: s }, null, 2));
        else io.out(`temporal   ${d.status.name} (started ${d.startTime.toISOString()})\n${s ? statusBlock(s) : ''}`);
        return 0;
      }
      case 'result': {
        const id = need('<workflowId>');
        client = await connectClient(config);
        return await follow(client.workflow.getHandle(id) as BriefHandle, io, values.json);
      }
      default:
        throw new CliError(`unknown command "${command}"\n\n${HELP}`);
    }
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`darkroom: ${err.message}`);
      return err.exitCode;
    }
    if (err instanceof WorkflowNotFoundError) {
      io.err(`darkroom: no workflow ${rest[0]} in namespace ${config.TEMPORAL_NAMESPACE}`);
      return 2;
    }
    throw err;
  } finally {
    await client?.connection.close();
  }
}
