import {
  WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type Client, type WorkflowExecutionDescription, type WorkflowHandle,
} from '@temporalio/client';
import {
  ActivityFailure, ApplicationFailure, CancelledFailure, ChildWorkflowFailure, TemporalFailure, TerminatedFailure, TimeoutFailure,
} from '@temporalio/common';
import type { Brief } from '../domain/brief';
import { SINGLE_BRIEFS_FAIRNESS_KEY } from '../domain/fairness';
import { Failure } from '../domain/failures';
import { clip, terminalSafe } from '../domain/text';
import { briefWorkflowId } from '../domain/naming';
import type { BriefStatus, Manifest } from '../domain/types';
import { briefDetails, briefSummary } from '../domain/webhooks';
import type { briefWorkflow } from '../workflows/brief';
import { SA, statusQuery } from '../workflows/messages';

export type BriefHandle = WorkflowHandle<typeof briefWorkflow>;

export interface StartedBrief {
  handle: BriefHandle;
  workflowId: string;
  /** False when a run with this id was already in progress and we attached to it. */
  started: boolean;
}

/**
 * Starts a brief's workflow with its deterministic id. Starting the same brief twice while
 * the first run is going attaches to that run instead of starting a second one.
 */
export async function startBrief(client: Client, brief: Brief, taskQueue: string, extra: { workflowId?: string } = {}): Promise<StartedBrief> {
  const workflowId = extra.workflowId ?? briefWorkflowId(brief);
  try {
    const handle = await client.workflow.start<typeof briefWorkflow>('briefWorkflow', {
      taskQueue,
      workflowId,
      args: [brief],
      // One fair share for all single briefs, next to each catalog's (domain/fairness.ts).
      priority: { fairnessKey: SINGLE_BRIEFS_FAIRNESS_KEY },
      // What the Temporal UI shows for the run: a one-line summary and the brief in markdown.
      staticSummary: briefSummary(brief),
      staticDetails: briefDetails(brief),
      typedSearchAttributes: [
        { key: SA.stage, value: 'validating' },
        { key: SA.channel, value: brief.channels[0]! },
        { key: SA.awaitingReview, value: false },
      ],
    });
    return { handle, workflowId, started: true };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) {
      return { handle: client.workflow.getHandle<typeof briefWorkflow>(workflowId), workflowId, started: false };
    }
    throw err;
  }
}

/** Polls `status` until the workflow ends, calling `onStatus` on every change. */
export async function followBrief(handle: BriefHandle, onStatus: (s: BriefStatus) => void, onStall?: (why: string) => void, intervalMs = 400): Promise<Manifest> {
  let done = false;
  const result = handle.result().finally(() => {
    done = true;
  });
  // A query to a closed workflow waits for a worker to replay it; once the result is in, stop waiting.
  const settled = result.then(
    () => undefined,
    () => undefined,
  );
  const poll = (async () => {
    let last = '';
    let stalled = false;
    while (!done) {
      try {
        const query = handle.query(statusQuery);
        query.catch(() => undefined);
        const s = await Promise.race([query, settled]);
        if (s === undefined) break;
        const key = JSON.stringify(s);
        if (key !== last) onStatus(s);
        last = key;
      } catch (err) {
        if (!done && !stalled && onStall) {
          stalled = true;
          onStall((err as Error).message);
        }
      }
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  })();
  try {
    return await result;
  } finally {
    await poll;
  }
}

/** How many links of a cause chain are shown, and how much of each message. */
const MAX_LINKS = 6;
const MAX_MESSAGE = 1000;
/** How many of an InvalidBrief's issues are listed (the workflow caps them too, but older runs did not). */
const MAX_ISSUES = 20;

const RETRY_TEXT: Partial<Record<string, string>> = {
  MAXIMUM_ATTEMPTS_REACHED: 'after its last retry',
  NON_RETRYABLE_FAILURE: 'not retried: the failure is permanent',
  TIMEOUT: 'its retries ran out of time',
  CANCEL_REQUESTED: 'cancelled',
};
const retryText = (state: unknown) => {
  const t = typeof state === 'string' ? RETRY_TEXT[state] : undefined;
  return t ? ` (${t})` : '';
};
const msg = (text: string | undefined) => clip((text ?? '').trim(), MAX_MESSAGE);

/** The issues an InvalidBrief failure carries in its details, when it carries them. */
function briefIssues(f: ApplicationFailure): Array<{ field: string; message: string }> | undefined {
  const issues = f.details?.[0];
  if (f.type !== Failure.InvalidBrief || !Array.isArray(issues) || issues.length === 0) return undefined;
  if (!issues.every((i) => i && typeof i.field === 'string' && typeof i.message === 'string')) return undefined;
  return issues as Array<{ field: string; message: string }>;
}

function applicationText(f: ApplicationFailure): string {
  const issues = briefIssues(f);
  if (issues) {
    const listed = issues.slice(0, MAX_ISSUES).map((i) => `  • ${clip(i.field)}: ${clip(i.message, 500)}`);
    if (issues.length > MAX_ISSUES) listed.push(`  … and ${issues.length - MAX_ISSUES} more`);
    return `invalid brief:\n${listed.join('\n')}`;
  }
  return f.type ? `${f.type}: ${msg(f.message)}` : msg(f.message);
}

/**
 * The readable reason a workflow failed: the failure a person can act on first (the type, and
 * its message — for a vendor, which provider, the HTTP status and the vendor's own words,
 * already scrubbed of secrets by the adapters), then where it happened (the activity or child
 * workflow, and whether it was retried), then the causes under it. Walks `err.cause` through
 * WorkflowFailedError → ActivityFailure / ChildWorkflowFailure → ApplicationFailure → … Every
 * message is clipped; the caller's terminal output escapes control characters.
 */
export function describeFailure(err: unknown): string {
  const chain: unknown[] = [];
  for (let e: unknown = err; e !== undefined && e !== null && chain.length < MAX_LINKS * 2; e = (e as { cause?: unknown }).cause) {
    if (chain.includes(e)) break;
    chain.push(e);
  }
  const where: string[] = [];
  const causes: string[] = [];
  let headline: string | undefined;
  const said = (text: string) => [headline ?? '', ...causes].some((t) => t.includes(text));
  for (const e of chain) {
    if (e instanceof WorkflowFailedError) continue;
    if (headline === undefined && e instanceof ActivityFailure) {
      where.push(`in activity ${e.activityType}${retryText(e.retryState)}`);
      continue;
    }
    if (headline === undefined && e instanceof ChildWorkflowFailure) {
      where.push(`in child workflow ${clip(e.execution.workflowId ?? '')} (${e.workflowType})${retryText(e.retryState)}`);
      continue;
    }
    let text: string;
    if (e instanceof ApplicationFailure) text = applicationText(e);
    else if (e instanceof TimeoutFailure) text = `timed out (${e.timeoutType ?? 'timeout'})${e.message ? `: ${msg(e.message)}` : ''}`;
    else if (e instanceof TerminatedFailure) text = `terminated${e.message ? `: ${msg(e.message)}` : ''}`;
    else if (e instanceof CancelledFailure) text = `cancelled${e.message ? `: ${msg(e.message)}` : ''}`;
    else if (e instanceof Error) text = `${e.name && e.name !== 'Error' && !(e instanceof TemporalFailure) ? `${e.name}: ` : ''}${msg(e.message)}`;
    else text = msg(String(e));
    if (headline === undefined) headline = text;
    else if (causes.length < MAX_LINKS && !said(msg(e instanceof Error ? e.message : String(e)))) causes.push(text);
  }
  if (headline === undefined) {
    // Nothing under the wrappers: say what the outermost one says.
    headline = where.length ? 'failed' : msg(err instanceof Error ? err.message : String(err));
  }
  return [headline, ...where.map((w) => `    ${w}`), ...causes.map((c) => `    cause: ${c}`)].join('\n');
}

/**
 * One line for an error the CLI did not expect, and the stack only when asked
 * (`DARKROOM_DEBUG=1`). A workflow's failure is described as {@link describeFailure} does.
 */
export function describeUnexpected(err: unknown, debug: boolean): string {
  const stack = debug && err instanceof Error && err.stack ? `\n${err.stack}` : '';
  if (err instanceof WorkflowFailedError || err instanceof TemporalFailure) return `darkroom: ${describeFailure(err)}${stack}`;
  const text = err instanceof Error ? `${err.name && err.name !== 'Error' ? `${err.name}: ` : ''}${err.message}` : String(err);
  const line = clip(text.replace(/\s*\n\s*/g, ' '), MAX_MESSAGE);
  return `darkroom: unexpected error: ${line}${debug ? stack : ' (run with DARKROOM_DEBUG=1 for the details)'}`;
}

/**
 * When a running workflow's task keeps failing — its code throws on replay, or no worker has it
 * (a new deployment without that workflow, a bundle built without a converter) — it cannot move
 * and its `status` query fails too: one line saying so, with the last failure's message, for
 * `darkroom status` and `darkroom catalog status`. Undefined when its task is not failing.
 */
export async function failingTaskNote(handle: WorkflowHandle, description?: WorkflowExecutionDescription): Promise<string | undefined> {
  const d = description ?? (await handle.describe());
  const attempt = d.raw.pendingWorkflowTask?.attempt ?? 0;
  if (d.status.name !== 'RUNNING' || attempt < 2) return undefined;
  let message = "see the worker's log";
  try {
    const events = (await handle.fetchHistory()).events ?? [];
    const failed = events.findLast((e) => e.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes?.failure?.message;
    if (failed) message = clip(terminalSafe(failed, { singleLine: true }), 300);
  } catch {
    // The history could not be read: the count alone still says what is wrong.
  }
  return `its workflow task has failed ${attempt - 1} time${attempt > 2 ? 's' : ''} and is retried until a worker can run it: ${message} — temporal workflow show --workflow-id ${handle.workflowId} has the failures; a worker on the right code, or temporal workflow reset, moves it on`;
}
