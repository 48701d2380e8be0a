import { createHmac } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { Config } from '../domain/config';
import { Failure } from '../domain/failures';

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
