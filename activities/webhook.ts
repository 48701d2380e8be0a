import { createHmac } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { Config } from '../domain/config';
import { Failure } from '../domain/failures';
import { MAX_RETRY_AFTER_MS } from './failures';

/**
 * Posts a Slack-compatible JSON body (`{ text, … }`) to the configured webhook, signed with
 * `X-Darkroom-Signature: sha256=<HMAC of the body>` when a secret is set. A 4xx other than 429
 * is not retried (the URL or secret is wrong); anything else is.
 * @returns false when no webhook is configured
 */
export async function postWebhook(config: Pick<Config, 'DARKROOM_NOTIFY_WEBHOOK' | 'DARKROOM_NOTIFY_SECRET'>, payload: { text: string } & Record<string, unknown>): Promise<boolean> {
  if (!config.DARKROOM_NOTIFY_WEBHOOK) return false;
  const body = JSON.stringify(payload);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (config.DARKROOM_NOTIFY_SECRET) headers['x-darkroom-signature'] = `sha256=${createHmac('sha256', config.DARKROOM_NOTIFY_SECRET).update(body).digest('hex')}`;
  const res = await fetch(config.DARKROOM_NOTIFY_WEBHOOK, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
  if (!res.ok) {
    throw ApplicationFailure.create({ message: `notification webhook answered ${res.status}`, type: Failure.NotifyFailed, nonRetryable: res.status >= 400 && res.status < 500 && res.status !== 429 });
  }
  return true;
}

/** Headers of a signed machine webhook call (events and delivery). */
export const WEBHOOK_HEADERS = {
  eventId: 'x-darkroom-event-id',
  event: 'x-darkroom-event',
  timestamp: 'x-darkroom-timestamp',
  signature: 'x-darkroom-signature',
} as const;

/**
 * The signature of one call: HMAC-SHA256, keyed with the secret, over `<timestamp>.<body>`
 * (the timestamp in Unix seconds, as sent in `X-Darkroom-Timestamp`), as lowercase hex.
 * Signing the timestamp lets a receiver refuse an old call replayed by whoever captured it.
 */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export interface SignedPostInput {
  url: string;
  secret: string;
  eventId: string;
  eventType: string;
  body: string;
  /** Unix seconds of this attempt. @default now */
  timestamp?: number;
}

/**
 * POSTs a JSON body signed with `X-Darkroom-Signature: t=<unix seconds>,v1=<hex>` and carrying
 * `X-Darkroom-Event-Id` for dedupe. Each attempt is signed afresh, so a retry is not refused as
 * stale. 408, 429 and 5xx answers and network errors are retried by the activity's retry policy
 * (429/503 with `Retry-After` wait that long); any other 4xx is not, since the same call will
 * be refused again.
 */
export async function postSigned(input: SignedPostInput): Promise<{ status: number }> {
  const t = input.timestamp ?? Math.floor(Date.now() / 1000);
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'darkroom-webhook/1',
    [WEBHOOK_HEADERS.eventId]: input.eventId,
    [WEBHOOK_HEADERS.event]: input.eventType,
    [WEBHOOK_HEADERS.timestamp]: String(t),
    [WEBHOOK_HEADERS.signature]: `t=${t},v1=${webhookSignature(input.secret, t, input.body)}`,
  };
  let res: Response;
  try {
    res = await fetch(input.url, { method: 'POST', headers, body: input.body, signal: AbortSignal.timeout(10_000), redirect: 'error' });
  } catch (err) {
    // The message names the error code, never the URL: a receiver's URL may carry a token.
    const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
    const why = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : '';
    const message = (err as Error).name === 'TimeoutError' ? 'no answer within 10 s' : `${(err as Error).message}${why ? ` (${why})` : ''}`;
    throw ApplicationFailure.create({ message: `${input.eventType} webhook unreachable: ${message}`, type: Failure.WebhookFailed });
  }
  // The body is not needed; reading it frees the connection.
  await res.arrayBuffer().catch(() => undefined);
  if (res.ok) return { status: res.status };
  const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
  const after = Number(res.headers.get('retry-after'));
  throw ApplicationFailure.create({
    message: `${input.eventType} webhook answered ${res.status}${retryable ? '' : ' (not retried: the receiver refused the call)'}`,
    type: Failure.WebhookFailed,
    nonRetryable: !retryable,
    ...(retryable && Number.isFinite(after) && after > 0 ? { nextRetryDelay: Math.min(after * 1000, MAX_RETRY_AFTER_MS) } : {}),
  });
}
