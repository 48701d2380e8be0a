import { ActivityFailure, ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import { Failure } from '../../domain/failures';
import type { PreparedBrief } from '../../domain/types';
import type { DarkroomActivities } from '../../activities';

/** Only the first step has fixed options: every later one takes its timeouts from the worker's config. */
export const { prepareBrief } = proxyActivities<DarkroomActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumAttempts: 5, nonRetryableErrorTypes: [Failure.InvalidBrief] },
});

/** The activities with the brief's own timeouts; `taskQueue` routes a vendor call to its provider's queue. */
export function activitiesFor(s: PreparedBrief['settings'], taskQueue?: string) {
  return proxyActivities<DarkroomActivities>({
    // A vendor's own queue: fewer attempts, so a provider that is down hands over to the next model sooner.
    ...(taskQueue ? { taskQueue } : {}),
    startToCloseTimeout: s.activityTimeoutMs,
    heartbeatTimeout: s.heartbeatTimeoutMs,
    retry: {
      initialInterval: s.retryInitialMs,
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: taskQueue ? (s.providerAttempts ?? s.retryMaxAttempts) : s.retryMaxAttempts,
    },
  });
}

export type BriefActivities = ReturnType<typeof activitiesFor>;

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
  return proxyActivities<DarkroomActivities>({
    startToCloseTimeout: '1 minute',
    retry: { initialInterval: s.retryInitialMs, backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: s.retryMaxAttempts },
  });
}
