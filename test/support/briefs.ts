import type { BriefInput } from '../../domain/brief';
import type { BriefStatus } from '../../domain/types';
import type { BriefHandle } from '../../client/briefs';
import { statusQuery } from '../../workflows/messages';

/**
 * A brief with every prompt knob set (so it passes the score gate) and one small channel,
 * so a test run takes a second or two. Spread over it what the test is about.
 */
export function testBrief(over: Partial<BriefInput> = {}): BriefInput {
  return {
    subject: 'a glass bottle of olive oil on a stone table',
    channels: ['email-header'],
    brandColors: ['#556B2F', '#F5F0E1'],
    mustAvoid: ['text'],
    styleHints: ['clean product photography'],
    composition: 'centered subject',
    lighting: 'soft daylight from the left',
    camera: 'full-frame mirrorless',
    lens: '85mm',
    candidates: 3,
    topK: 1,
    ...over,
  };
}

/** Polls the `status` query until `pred` holds; the error carries the last status seen. */
export async function waitForStatus(handle: BriefHandle, pred: (s: BriefStatus) => boolean, what: string, timeoutMs = 60_000): Promise<BriefStatus> {
  const end = Date.now() + timeoutMs;
  let last: BriefStatus | undefined;
  while (Date.now() < end) {
    last = await handle.query(statusQuery).catch(() => undefined);
    if (last && pred(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify(last)}`);
}

/** `pred` for waitForStatus: waiting for a reviewer in `round`. */
export const awaitingRound = (round: number) => (s: BriefStatus) => s.review?.awaiting === true && s.review.round === round;

/** Polls `fn` until it returns something other than undefined (errors count as not yet). */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out waiting for ${what}`);
}
