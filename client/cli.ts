import { parseArgs } from 'node:util';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { createBlobStore } from '../activities/blob-store';
import { parseConfig, type Config } from '../domain/config';
import { clip, preview } from '../domain/text';
import type { ReviewDecision } from '../domain/review';
import type { BriefStatus } from '../domain/types';
import { statusQuery } from '../workflows/messages';
import { readBriefFile } from './brief-file';
import { describeFailure, describeUnexpected, followBrief, startBrief, type BriefHandle } from './briefs';
import { runCatalogCommand } from './catalog';
import { uiWorkflow } from './links';
import { connectClient } from './connect';
import { CliError } from './errors';
import { manifestSummary, statusBlock, statusLine, terminalIo, type Io } from './render';
import {
  bulkApprove, checkFilter, decide, DecisionRefusedError, getBrief, InvalidFilterError, listAwaiting, NoWorkerError, VisibilityQueryError,
} from './review/actions';
import { newToken } from './review/auth';
import { publicOrigin, startReviewServer } from './review/server';
import { awaitingList, awaitingSummary, reviewBlock } from './review/text';

const DEFAULT_REVIEW_PORT = 8234;
/** The most of one error message the CLI prints (the usage text it may carry fits). */
const MAX_ERROR_CHARS = 16_000;

const HELP = `darkroom — turn creative briefs into published image assets

Usage:
  darkroom run <brief.json> [--json]     start a brief, follow it live, print where its assets are
  darkroom start <brief.json>            start a brief and print its workflow id
  darkroom status <workflowId>           where a brief is: stage, counts, cost
  darkroom result <workflowId> [--json]  wait for a brief to finish and print its assets

Review (briefs with "approval": "human"):
  darkroom review [--port N] [--host H] [--public-url URL]
                                         start the reviewer web tool (port ${DEFAULT_REVIEW_PORT}) and print its login link;
                                         URL is the address people open behind a TLS proxy (default DARKROOM_REVIEW_URL)
  darkroom review list [--filter Q] [--json]
                                         briefs awaiting review; Q is a search-attribute clause, e.g. "DarkroomCatalogId = 'spring'"
  darkroom review show <workflowId> [--json]
                                         candidates with scores and reasons, round, deadline, decisions
  darkroom approve <workflowId> <candidate…> [--reviewer NAME] [--comment TEXT]
  darkroom reject <workflowId> --reason TEXT [--reviewer NAME]
  darkroom revise <workflowId> --feedback TEXT [--keep r1-c01,r1-c03] [--reviewer NAME]
  darkroom review bulk-approve --min-score N [--filter Q] [--dry-run] [--reviewer NAME]
                                         approve the judge's picks wherever the latest round's best scores ≥ N

Catalogs (one brief per product row; ID defaults to the feed's file name, e.g. products.csv → products):
  darkroom catalog start <feed.csv|.jsonl> --template <template.json> [--id ID] [--window N] [--budget USD]
                         [--rows-per-run N] [--dry-run] [--json]
                                         check every row, show runs, bad rows, duplicates and the forecast, then start
  darkroom catalog status <ID> [--watch] [--json]
                                         totals by state, cost and forecast, rows/h, ETA; --watch follows it live
  darkroom catalog pause|resume|retry-failed <ID>
  darkroom catalog cancel <ID> [--reason TEXT]
                                         stop starting rows, cancel running ones, write the report
  darkroom catalog report <ID> [--csv] [--json]
                                         counts by state and where the report is; --csv prints the report itself
  darkroom catalog schedule <feed> --template <template.json> --cron "0 2 * * *" [--id ID] [--window N] [--budget USD]
                                         store the feed and run the catalog on a Temporal Schedule (catalog-<ID>-schedule)
  darkroom catalog upload <ID> <feed> [--template <template.json>]
                                         check and store a new feed for the next scheduled run
  darkroom catalog unschedule <ID>       delete the schedule

Environment:
  TEMPORAL_ADDRESS (default localhost:7233), TEMPORAL_NAMESPACE (default), DARKROOM_TASK_QUEUE (darkroom),
  DARKROOM_DATA_DIR (./.darkroom), DARKROOM_REVIEW_TOKEN (the reviewer tool's login token; random when unset),
  USER (the default reviewer name)

Provider keys (OPENAI_API_KEY, GEMINI_API_KEY, REPLICATE_API_TOKEN) set in this shell price catalog forecasts.

Exit codes: 0 done, 1 the brief or catalog failed, or refused (a decision, a second run of a catalog),
2 bad input (unknown workflow or catalog), 3 no Temporal server.`;

/** Options each command accepts; anything else is a usage error that names the option. */
const COMMAND_OPTIONS: Record<string, readonly string[]> = {
  run: ['json'],
  start: ['json'],
  status: ['json'],
  result: ['json'],
  review: ['port', 'host', 'public-url'],
  'review list': ['filter', 'json'],
  'review show': ['json'],
  'review bulk-approve': ['min-score', 'filter', 'dry-run', 'reviewer', 'json'],
  approve: ['reviewer', 'comment', 'json'],
  reject: ['reason', 'reviewer', 'json'],
  revise: ['feedback', 'keep', 'reviewer', 'json'],
  'catalog start': ['template', 'id', 'window', 'budget', 'rows-per-run', 'dry-run', 'json'],
  'catalog status': ['watch', 'json'],
  'catalog pause': [],
  'catalog resume': [],
  'catalog retry-failed': [],
  'catalog cancel': ['reason'],
  'catalog report': ['csv', 'json'],
  'catalog schedule': ['template', 'cron', 'id', 'window', 'budget', 'rows-per-run', 'json'],
  'catalog upload': ['template', 'json'],
  'catalog unschedule': [],
};

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  port: { type: 'string' },
  host: { type: 'string' },
  'public-url': { type: 'string' },
  filter: { type: 'string' },
  reviewer: { type: 'string' },
  comment: { type: 'string' },
  reason: { type: 'string' },
  feedback: { type: 'string' },
  keep: { type: 'string', multiple: true },
  'min-score': { type: 'string' },
  'dry-run': { type: 'boolean' },
  template: { type: 'string' },
  id: { type: 'string' },
  window: { type: 'string' },
  budget: { type: 'string' },
  'rows-per-run': { type: 'string' },
  watch: { type: 'boolean' },
  csv: { type: 'boolean' },
  cron: { type: 'string' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

/** Resolves when this process is asked to stop (Ctrl-C or SIGTERM). */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
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
  const [command, ...rest] = positionals;
  if (values.help || !command || command === 'help') {
    io.out(HELP);
    return command || values.help ? 0 : 2;
  }
  let config: Config;
  try {
    config = parseConfig(env);
  } catch (err) {
    io.err(`darkroom: ${clip((err as Error).message, 2000)}`);
    return 2;
  }
  const review = command === 'review' && rest[0] && !/^\d/.test(rest[0]) ? rest[0] : undefined;
  const catalog = command === 'catalog' ? rest[0] : undefined;
  const sub = review ?? catalog;
  const label = sub ? `${command} ${sub}` : command;
  const args = sub ? rest.slice(1) : rest;
  const need = (what: string): string => {
    const v = args[0];
    if (!v) throw new CliError(`darkroom ${label}: missing ${what}\n\n${HELP}`);
    return v;
  };
  const json = values.json ?? false;
  let client: Client | undefined;
  try {
    checkOptions(label, values);
    switch (command) {
      case 'run':
      case 'start': {
        const file = need('<brief.json>');
        const brief = await readBriefFile(file);
        client = await connectClient(config);
        const { handle, workflowId, started } = await startBrief(client, brief, config.DARKROOM_TASK_QUEUE);
        if (command === 'start') {
          io.out(json ? JSON.stringify({ workflowId, started }) : `${started ? 'started' : 'already running'}: ${workflowId}\n  follow: darkroom status ${workflowId}\n  web UI: ${uiWorkflow(config, workflowId)}`);
          return 0;
        }
        if (!json) io.err(`${started ? 'started' : 'attached to running'} ${workflowId}  (${uiWorkflow(config, workflowId)})`);
        return await follow(handle, io, json);
      }
      case 'status': {
        const id = need('<workflowId>');
        client = await connectClient(config);
        const handle = client.workflow.getHandle(id);
        const d = await handle.describe();
        const ended = !['RUNNING', 'CONTINUED_AS_NEW'].includes(d.status.name);
        // A closed workflow answers a query only through a worker replaying it: don't wait long for one.
        const c = client;
        const s = await c.withDeadline(Date.now() + (ended ? 3000 : 15_000), () => handle.query(statusQuery)).catch(() => undefined);
        const failure = ended && d.status.name !== 'COMPLETED' ? await handle.result().then(() => undefined, (err: unknown) => describeFailure(err)) : undefined;
        if (json) io.out(JSON.stringify({ workflowId: id, temporalStatus: d.status.name, ...(failure ? { failure } : {}), status: s }, null, 2));
        else io.out(`temporal   ${d.status.name} (started ${d.startTime.toISOString()})${failure ? `\nfailure    ${failure}` : ''}\n${s ? statusBlock(s) : ''}`);
        return 0;
      }
      case 'result': {
        const id = need('<workflowId>');
        client = await connectClient(config);
        return await follow(client.workflow.getHandle(id) as BriefHandle, io, json);
      }
      case 'review':
        if (!review) return await serveReview(config, env, values, io, async () => (client = await connectClient(config)));
        switch (review) {
          case 'list': {
            checkFilter(values.filter);
            client = await connectClient(config);
            const briefs = await listAwaiting(client, values.filter, { taskQueue: config.DARKROOM_TASK_QUEUE });
            io.out(json ? JSON.stringify(briefs.map(awaitingSummary), null, 2) : awaitingList(briefs, values.filter));
            return 0;
          }
          case 'show': {
            const id = need('<workflowId>');
            client = await connectClient(config);
            const view = await getBrief(client, id);
            io.out(json ? JSON.stringify(view, null, 2) : reviewBlock(view));
            return 0;
          }
          case 'bulk-approve': {
            const raw = values['min-score'];
            if (raw === undefined) throw new CliError(`darkroom review bulk-approve: missing --min-score N (approve where the best candidate scores at least N, 0–100)`);
            const minScore = Number(raw);
            if (!raw.trim() || !Number.isFinite(minScore) || minScore < 0 || minScore > 100) throw new CliError(`darkroom review bulk-approve: --min-score must be a number from 0 to 100, not ${preview(raw)}`);
            checkFilter(values.filter);
            client = await connectClient(config);
            const result = await bulkApprove(client, {
              filter: values.filter, minScore, dryRun: values['dry-run'], reviewer: reviewerName(values, env), taskQueue: config.DARKROOM_TASK_QUEUE,
            });
            if (json) io.out(JSON.stringify(result, null, 2));
            else {
              io.out(`${result.dryRun ? 'dry run: would approve' : 'approved'} ${result.approved}, skipped ${result.skipped} (minimum score ${minScore})`);
              for (const i of result.items) {
                io.out(`  ${i.result === 'skipped' ? '–' : '✔'} ${i.workflowId}  top ${i.topScore === undefined ? '–' : Math.round(i.topScore)}  ${i.result === 'skipped' ? `skipped: ${i.reason}` : `${i.result} ${i.candidateIds!.join(', ')}`}`);
              }
            }
            return 0;
          }
          default:
            throw new CliError(`unknown command "review ${clip(review)}"\n\n${HELP}`);
        }
      case 'approve': {
        const id = need('<workflowId>');
        const ids = args.slice(1).flatMap((a) => a.split(',')).map((a) => a.trim()).filter(Boolean);
        if (ids.length === 0) throw new CliError(`darkroom approve: missing <candidate…>: name the candidates to ship, e.g. darkroom approve ${clip(id)} r1-c01 (see: darkroom review show ${clip(id)})`);
        return await sendDecision(io, json, id, { action: 'approve', candidateIds: ids, reviewer: reviewerName(values, env), comment: values.comment }, async () => (client = await connectClient(config)));
      }
      case 'reject': {
        const id = need('<workflowId>');
        if (args.length > 1) throw new CliError(`darkroom reject: unexpected ${preview(args[1])}: put the reason in --reason "…"`);
        const reason = values.reason?.trim();
        if (!reason) throw new CliError(`darkroom reject: missing --reason TEXT: say why the brief is rejected`);
        return await sendDecision(io, json, id, { action: 'reject', reason, reviewer: reviewerName(values, env) }, async () => (client = await connectClient(config)));
      }
      case 'revise': {
        const id = need('<workflowId>');
        if (args.length > 1) throw new CliError(`darkroom revise: unexpected ${preview(args[1])}: put the feedback in --feedback "…"`);
        const feedback = values.feedback?.trim();
        if (!feedback) throw new CliError(`darkroom revise: missing --feedback TEXT: say what the next round should change`);
        const keep = (values.keep ?? []).flatMap((k) => k.split(',')).map((k) => k.trim()).filter(Boolean);
        return await sendDecision(io, json, id, { action: 'requestChanges', feedback, keep, reviewer: reviewerName(values, env) }, async () => (client = await connectClient(config)));
      }
      case 'catalog':
        return await runCatalogCommand(catalog, { config, values, args, io, usage: HELP, connect: async () => (client = await connectClient(config)) });
      default:
        throw new CliError(`unknown command ${preview(command)}\n\n${HELP}`);
    }
  } catch (err) {
    if (err instanceof CliError) {
      // The messages are built to be short; this bounds whatever one of them echoed.
      io.err(`darkroom: ${clip(err.message, MAX_ERROR_CHARS)}`);
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

function checkOptions(label: string, values: Values): void {
  const allowed = COMMAND_OPTIONS[label];
  if (!allowed) return;
  for (const [name, v] of Object.entries(values)) {
    if (v === undefined || name === 'help' || allowed.includes(name)) continue;
    throw new CliError(`darkroom ${label}: --${name} does not apply here${allowed.length ? ` (options: ${allowed.map((o) => `--${o}`).join(', ')})` : ''}`);
  }
}

function reviewerName(values: Values, env: Record<string, string | undefined>): string {
  return values.reviewer?.trim() || env.USER || env.USERNAME || 'reviewer';
}

const PAST: Record<ReviewDecision['action'], string> = { approve: 'approved', reject: 'rejected', requestChanges: 'requested changes on' };

/** Sends one decision; a refusal prints the workflow's own reason and exits 1. */
async function sendDecision(io: Io, json: boolean, id: string, decision: ReviewDecision, connect: () => Promise<Client>): Promise<number> {
  const client = await connect();
  try {
    const ack = await decide(client, id, decision);
    if (json) io.out(JSON.stringify({ workflowId: id, ...ack }));
    else {
      const what = decision.action === 'approve' ? ` ${decision.candidateIds.join(', ')} of` : '';
      const next =
        decision.action === 'approve' ? 'formatting and publishing now'
        : decision.action === 'reject' ? 'the brief ends without publishing'
        : `round ${ack.round + 1} is being generated`;
      io.out(`✔ ${PAST[decision.action]}${what} ${id} (round ${ack.round}) as ${decision.reviewer}: ${next}\n  follow: darkroom ${decision.action === 'requestChanges' ? 'review show' : 'result'} ${id}`);
    }
    return 0;
  } catch (err) {
    if (err instanceof DecisionRefusedError) {
      io.err(`darkroom: ${clip(id)} refused the decision: ${clip(err.message, 2000)}`);
      return 1;
    }
    throw err;
  }
}

/** `darkroom review`: serves the reviewer tool until Ctrl-C. */
async function serveReview(config: Config, env: Record<string, string | undefined>, values: Values, io: Io, connect: () => Promise<Client>): Promise<number> {
  const port = values.port === undefined ? DEFAULT_REVIEW_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`darkroom review: --port must be a port number from 0 to 65535, not ${preview(values.port)}`);
  const host = values.host ?? '127.0.0.1';
  const given = config.DARKROOM_REVIEW_TOKEN;
  const token = given || newToken();
  const publicUrl = values['public-url'] ?? config.DARKROOM_REVIEW_URL;
  try {
    if (publicUrl !== undefined) publicOrigin(publicUrl);
  } catch (err) {
    throw new CliError(`darkroom review: ${values['public-url'] !== undefined ? '--public-url' : 'DARKROOM_REVIEW_URL'}: ${(err as Error).message}`);
  }
  const client = await connect();
  let server;
  try {
    server = await startReviewServer({
      client, token, port, host, publicUrl,
      sessionTtlMs: config.DARKROOM_REVIEW_SESSION_TTL,
      blobs: createBlobStore(config),
      taskQueue: config.DARKROOM_TASK_QUEUE,
      log: io.err,
    });
  } catch (err) {
    throw new CliError(`darkroom review: cannot listen on ${host}:${port}: ${(err as Error).message}`, 2, { cause: err });
  }
  io.out(`darkroom review: the reviewer tool is at ${server.url} (briefs on task queue "${config.DARKROOM_TASK_QUEUE}")`);
  io.out(`  log in: ${server.loginUrl}`);
  if (!given) io.out('  (a new token each start; set DARKROOM_REVIEW_TOKEN to keep the link valid across restarts)');
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) io.err(`darkroom review: listening on ${host}: anyone who can reach it with the link can decide on briefs`);
  io.out('  Ctrl-C to stop');
  await (io.untilStopped ?? untilSignal)();
  await server.close();
  io.err('darkroom review: stopped');
  return 0;
}
