/** `darkroom review …`, `approve`, `reject`, `revise`: deciding on briefs that wait for a person. */
import type { Client } from '@temporalio/client';
import { createBlobStore } from '../activities/blob-store';
import type { ReviewDecision } from '../domain/review';
import { clip, preview } from '../domain/text';
import type { Command, CommandContext } from './commands';
import { CliError } from './errors';
import { bulkApprove, checkFilter, decide, DecisionRefusedError, getBrief, listAwaiting } from './review/actions';
import { newToken } from './review/auth';
import { publicOrigin, startReviewServer } from './review/server';
import { awaitingList, awaitingSummary, reviewBlock } from './review/text';

export const DEFAULT_REVIEW_PORT = 8234;

/** Resolves when this process is asked to stop (Ctrl-C or SIGTERM). */
export function untilSignal(): Promise<void> {
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

function reviewerName(ctx: CommandContext): string {
  return ctx.values.reviewer?.trim() || ctx.env.USER || ctx.env.USERNAME || 'reviewer';
}

const PAST: Record<ReviewDecision['action'], string> = { approve: 'approved', reject: 'rejected', requestChanges: 'requested changes on' };

/** Sends one decision; a refusal prints the workflow's own reason and exits 1. */
async function sendDecision(ctx: CommandContext, id: string, decision: ReviewDecision): Promise<number> {
  const { io, json } = ctx;
  const client = await ctx.connect();
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
async function serveReview(ctx: CommandContext): Promise<number> {
  const { config, values, io } = ctx;
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
  const client: Client = await ctx.connect();
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

async function bulk(ctx: CommandContext): Promise<number> {
  const { config, values, io } = ctx;
  const raw = values['min-score'];
  if (raw === undefined) throw new CliError(`darkroom review bulk-approve: missing --min-score N (approve where the best candidate scores at least N, 0–100)`);
  const minScore = Number(raw);
  if (!raw.trim() || !Number.isFinite(minScore) || minScore < 0 || minScore > 100) throw new CliError(`darkroom review bulk-approve: --min-score must be a number from 0 to 100, not ${preview(raw)}`);
  checkFilter(values.filter);
  const client = await ctx.connect();
  const result = await bulkApprove(client, {
    filter: values.filter, minScore, dryRun: values['dry-run'], reviewer: reviewerName(ctx), taskQueue: config.DARKROOM_TASK_QUEUE,
  });
  if (ctx.json) {
    io.out(JSON.stringify(result, null, 2));
    return 0;
  }
  io.out(`${result.dryRun ? 'dry run: would approve' : 'approved'} ${result.approved}, skipped ${result.skipped} (minimum score ${minScore})`);
  for (const i of result.items) {
    io.out(`  ${i.result === 'skipped' ? '–' : '✔'} ${i.workflowId}  top ${i.topScore === undefined ? '–' : Math.round(i.topScore)}  ${i.result === 'skipped' ? `skipped: ${i.reason}` : `${i.result} ${i.candidateIds!.join(', ')}`}`);
  }
  return 0;
}

/** The one positional a decision takes, its text in an option: a second positional is a misplaced reason. */
function decisionText(ctx: CommandContext, option: 'reason' | 'feedback', what: string): string {
  if (ctx.args.length > 1) throw new CliError(`darkroom ${option === 'reason' ? 'reject' : 'revise'}: unexpected ${preview(ctx.args[1])}: put the ${option} in --${option} "…"`);
  const text = ctx.values[option]?.trim();
  if (!text) throw new CliError(`darkroom ${option === 'reason' ? 'reject' : 'revise'}: missing --${option} TEXT: ${what}`);
  return text;
}

export const REVIEW_COMMANDS: readonly Command[] = [
  {
    name: 'review',
    options: ['port', 'host', 'public-url'],
    help: `start the reviewer web tool (port ${DEFAULT_REVIEW_PORT}) and print its login link;\nURL is the address people open behind a TLS proxy (default DARKROOM_REVIEW_URL)`,
    run: serveReview,
  },
  {
    name: 'review list',
    options: ['filter', 'json'],
    help: `briefs awaiting review; Q is a search-attribute clause, e.g. "DarkroomCatalogId = 'spring'"`,
    run: async (ctx) => {
      checkFilter(ctx.values.filter);
      const client = await ctx.connect();
      const briefs = await listAwaiting(client, ctx.values.filter, { taskQueue: ctx.config.DARKROOM_TASK_QUEUE });
      ctx.io.out(ctx.json ? JSON.stringify(briefs.map(awaitingSummary), null, 2) : awaitingList(briefs, ctx.values.filter));
      return 0;
    },
  },
  {
    name: 'review show',
    args: '<workflowId>',
    options: ['json'],
    help: 'candidates with scores and reasons, round, deadline, decisions',
    run: async (ctx) => {
      const id = ctx.need(0, '<workflowId>');
      const view = await getBrief(await ctx.connect(), id);
      ctx.io.out(ctx.json ? JSON.stringify(view, null, 2) : reviewBlock(view));
      return 0;
    },
  },
  {
    name: 'approve',
    args: '<workflowId> <candidate…>',
    options: ['reviewer', 'comment', 'json'],
    help: 'ship these candidates of a brief',
    run: async (ctx) => {
      const id = ctx.need(0, '<workflowId>');
      const ids = ctx.args.slice(1).flatMap((a) => a.split(',')).map((a) => a.trim()).filter(Boolean);
      if (ids.length === 0) throw new CliError(`darkroom approve: missing <candidate…>: name the candidates to ship, e.g. darkroom approve ${clip(id)} r1-c01 (see: darkroom review show ${clip(id)})`);
      return await sendDecision(ctx, id, { action: 'approve', candidateIds: ids, reviewer: reviewerName(ctx), comment: ctx.values.comment });
    },
  },
  {
    name: 'reject',
    args: '<workflowId>',
    options: ['reason', 'reviewer', 'json'],
    required: ['reason'],
    help: 'end a brief without publishing',
    run: async (ctx) => {
      const id = ctx.need(0, '<workflowId>');
      const reason = decisionText(ctx, 'reason', 'say why the brief is rejected');
      return await sendDecision(ctx, id, { action: 'reject', reason, reviewer: reviewerName(ctx) });
    },
  },
  {
    name: 'revise',
    args: '<workflowId>',
    options: ['feedback', 'keep', 'reviewer', 'json'],
    required: ['feedback'],
    help: 'ask for another round, keeping some candidates',
    run: async (ctx) => {
      const id = ctx.need(0, '<workflowId>');
      const feedback = decisionText(ctx, 'feedback', 'say what the next round should change');
      const keep = (ctx.values.keep ?? []).flatMap((k) => k.split(',')).map((k) => k.trim()).filter(Boolean);
      return await sendDecision(ctx, id, { action: 'requestChanges', feedback, keep, reviewer: reviewerName(ctx) });
    },
  },
  {
    name: 'review bulk-approve',
    options: ['min-score', 'filter', 'dry-run', 'reviewer', 'json'],
    required: ['min-score'],
    help: `approve the judge's picks wherever the latest round's best scores ≥ N`,
    run: bulk,
  },
];

