import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** One activity attempt as a history shows it: a started activity task, or a local activity's marker. */
export interface ActivityAttempt {
  activity: string;
  attempt: number;
  local: boolean;
  lastFailure?: string;
}

/**
 * Every activity attempt a history records. An activity shows as a started event per attempt
 * kept; a local activity (a brief's cheap steps) runs its retries inside the worker and leaves
 * one `core_local_activity` marker with the attempt it ended on and, if it failed, the failure.
 */
export function activityAttempts(events: HistoryEvent[]): ActivityAttempt[] {
  const scheduled = new Map<string, string>();
  const out: ActivityAttempt[] = [];
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(e.eventId), s.activityType?.name ?? '?');
    const st = e.activityTaskStartedEventAttributes;
    if (st) out.push({ activity: scheduled.get(String(st.scheduledEventId)) ?? '?', attempt: st.attempt ?? 1, local: false, ...(st.lastFailure?.message ? { lastFailure: st.lastFailure.message } : {}) });
    const m = e.markerRecordedEventAttributes;
    const data = m?.markerName === 'core_local_activity' ? m.details?.data?.payloads?.[0]?.data : undefined;
    if (data) {
      const marker = JSON.parse(Buffer.from(data).toString('utf8')) as { activity_type?: string; attempt?: number };
      out.push({ activity: marker.activity_type ?? '?', attempt: marker.attempt ?? 1, local: true, ...(m!.failure?.message ? { lastFailure: m!.failure.message } : {}) });
    }
  }
  return out;
}
