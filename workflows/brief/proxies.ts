import { ActivityFailure, ApplicationFailure, patched, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
import type { RetryPolicy } from '@temporalio/workflow';
import { Failure } from '../../domain/failures';
import type { PreparedBrief } from '../../domain/types';
import type { DarkroomActivities } from '../../activities';

/** Only the first step has fixed options: every later one takes its timeouts from the worker's config. */
const PREPARE_OPTIONS: { startToCloseTimeout: string; retry: RetryPolicy } = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: [Failure.InvalidBrief] },
};

/**
 * Whether this run takes its cheap steps (checking the brief, moderating the prompt, writing
 * the manifest) as local activities. Each is a few milliseconds of the worker's own work — or
 * one short moderation call — between two slow ones, and as an activity it paid two round trips
 * through the server (16–19 ms on the dev server, six history events); as a local activity it
 * runs in the worker that holds the workflow, inside the same workflow task, and leaves one
 * marker with its result (4 ms). Retries and timeouts are the same; like any activity it may
 * run again after a crash, and all three are idempotent. Behind a patch: runs recorded before
 * replay with these steps as activities.
 */
export function cheapStepsLocal(): boolean {
  return patched('local-steps');
}

/** The brief workflow's patches from before `local-steps`. */
export const BRIEF_PATCHES = ['prompt-moderation', 'brand-kit', 'brief-webhooks', 'review-when-unsure', 'brief-references', 'brand-style-references'] as const;
export type BriefPatch = (typeof BRIEF_PATCHES)[number];

/**
 * Whether one of the brief's earlier patches is on in this run. A run that takes its cheap steps
 * as local activities is newer than all of them, so they are on without a marker each. That also
 * keeps patch questions from following a local activity: on replay the SDK learns which patches
 * a history holds one workflow task at a time, and a local activity recorded at the end of one
 * task hands back its result within it, so a patch first asked after that reads as absent and
 * the replay fails (the replay test caught it, on a brief whose moderation followed a task
 * boundary). A later patch must be asked before the brief's first step, or added here.
 */
export function briefPatched(id: BriefPatch): boolean {
  return cheapStepsLocal() || patched(id);
}

/** The first step: validate, route and prompt the brief (see {@link cheapStepsLocal}). */
export function prepareBriefStep(): DarkroomActivities['prepareBrief'] {
  return cheapStepsLocal()
    ? proxyLocalActivities<DarkroomActivities>(PREPARE_OPTIONS).prepareBrief
    : proxyActivities<DarkroomActivities>(PREPARE_OPTIONS).prepareBrief;
}

/** The activities with the brief's own timeouts; `taskQueue` routes a vendor call to its provider's queue. */
export function activitiesFor(s: PreparedBrief['settings'], taskQueue?: string) {
  return proxyActivities<DarkroomActivities>({
    // A vendor's own queue: fewer attempts, so a provider that is down hands over to the next model sooner.
    ...(taskQueue ? { taskQueue } : {}),
    startToCloseTimeout: s.activityTimeoutMs,
    heartbeatTimeout: s.heartbeatTimeoutMs,
    retry: briefRetry(s, taskQueue ? (s.providerAttempts ?? s.retryMaxAttempts) : s.retryMaxAttempts),
  });
}

/** The brief's retry policy: backoff from the worker's config, doubling up to a minute between attempts. */
function briefRetry(s: PreparedBrief['settings'], maximumAttempts = s.retryMaxAttempts): RetryPolicy {
  return { initialInterval: s.retryInitialMs, backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts };
}

export type BriefActivities = ReturnType<typeof activitiesFor>;

/**
 * The brief's cheap steps with its own timeouts and retries: local activities in a run that
 * takes them so (see {@link cheapStepsLocal}), activities in one recorded before.
 */
export function cheapStepsFor(s: PreparedBrief['settings']): Pick<BriefActivities, 'moderatePrompt' | 'publishManifest'> {
  if (!cheapStepsLocal()) return activitiesFor(s);
  return proxyLocalActivities<DarkroomActivities>({ startToCloseTimeout: s.activityTimeoutMs, retry: briefRetry(s) });
}

/** The failure's own type when an activity failed with an ApplicationFailure. */
export function failureType(err: unknown): string | undefined {
  return err instanceof ActivityFailure && err.cause instanceof ApplicationFailure ? (err.cause.type ?? undefined) : undefined;
}

/**
 * The webhook activities: bounded attempts with backoff from the worker's config. A receiver
 * that refuses a call (4xx other than 408/429) is not asked again; the workflow records the
 * failure and goes on.
 */
export function webhookActivitiesFor(s: PreparedBrief['settings']) {
  return proxyActivities<DarkroomActivities>({ startToCloseTimeout: '1 minute', retry: briefRetry(s) });
}
