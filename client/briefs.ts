import {
  WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type Client, type WorkflowHandle,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Brief } from '../domain/brief';
import { briefWorkflowId } from '../domain/naming';
import type { BriefStatus, Manifest } from '../domain/types';
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
  const poll = (async () => {
    let last = '';
    let stalled = false;
    while (!done) {
      try {
        const s = await handle.query(statusQuery);
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

/** The readable reason a brief failed, with the field list when validation failed. */
export function describeFailure(err: unknown): string {
  if (err instanceof WorkflowFailedError) {
    const cause = err.cause;
    if (cause instanceof ApplicationFailure) {
      const issues = (cause.details?.[0] ?? undefined) as Array<{ field: string; message: string }> | undefined;
      if (cause.type === 'InvalidBrief' && Array.isArray(issues) && issues.every((i) => i && typeof i.field === 'string')) {
        return `invalid brief:\n${issues.map((i) => `  • ${i.field}: ${i.message}`).join('\n')}`;
      }
      return `${cause.type ?? 'failed'}: ${cause.message}`;
    }
    return cause?.message ?? err.message;
  }
  return (err as Error).message ?? String(err);
}
