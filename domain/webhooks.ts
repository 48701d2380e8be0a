import type { Brief } from './brief';
import type { BriefStatus } from './types';

/** Event types the events webhook (DARKROOM_EVENTS_WEBHOOK) receives, one per brief milestone. */
export type BriefEventType = 'brief.review_needed' | 'brief.completed' | 'brief.failed';

/** Who a brief is about, as every webhook body names it. */
export interface BriefRef {
  subject: string;
  channels: string[];
  /** The catalog row's SKU, when a catalog started the brief. */
  sku?: string;
  variant?: string;
}

/**
 * The body of one events-webhook call. `id` is the same on every retry of the same event, so a
 * receiver that keeps the ids it has seen acts once; it is also sent as `X-Darkroom-Event-Id`.
 */
export interface BriefEvent {
  id: string;
  type: BriefEventType;
  /** When the event was first scheduled (worker clock, ISO); the same on every retry. */
  time: string;
  workflowId: string;
  runId: string;
  brief: BriefRef;
  data: Record<string, unknown>;
}

/** One delivered file, in the shape an import into a CMS, DAM or shop takes. */
export interface DeliveredAsset {
  channel: string;
  format: string;
  mime: string;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
  /** Where to fetch the file: a public URL, a presigned S3 URL, or a `file://` URL on the filesystem store. */
  url: string;
  /** When {@link url} stops working (a presigned URL); absent when it does not expire. */
  urlExpiresAt?: string;
  altText: string;
  candidateId: string;
  key: string;
}

/** The body of the delivery webhook's one call per published brief. */
export interface DeliveryEvent {
  id: string;
  type: 'brief.delivered';
  time: string;
  workflowId: string;
  runId: string;
  brief: BriefRef & { id?: string };
  manifest: { key: string; url: string };
  assets: DeliveredAsset[];
}

/** A webhook call the workflow gave up on after its retries; kept in status and the result, never fatal. */
export interface WebhookFailureRecord {
  type: BriefEventType | DeliveryEvent['type'];
  eventId: string;
  error: string;
}

/** What became of a brief's delivery webhook call. */
export interface DeliveryRecord {
  state: 'delivered' | 'failed';
  eventId: string;
  assets: number;
  /** Where the record of this delivery is kept in the blob store. */
  recordKey: string;
  error?: string;
}

/**
 * The event id: the run and the event, so a retried call repeats it and a new run does not.
 * `round` tells apart the review rounds of one run.
 */
export function briefEventId(workflowId: string, runId: string, type: BriefEventType | DeliveryEvent['type'], round?: number): string {
  return `${workflowId}/${runId}/${type}${round === undefined ? '' : `/${round}`}`;
}

/** Blob key of a brief's delivery record. */
export function deliveryRecordKey(workflowId: string): string {
  return `${workflowId}/delivery.json`;
}

export function briefRef(brief: Pick<Brief, 'subject' | 'channels' | 'sku' | 'variant'>): BriefRef {
  return { subject: brief.subject, channels: brief.channels, ...(brief.sku ? { sku: brief.sku } : {}), ...(brief.variant ? { variant: brief.variant } : {}) };
}

const oneLine = (s: string, max: number) => {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
};
/** Brief text is the user's: markdown's own characters in it are shown, not obeyed. */
const md = (s: string) => s.replace(/[\\`*_[\]{}()<>#|!~]/g, (c) => `\\${c}`);
// Not `$`: the Temporal UI's markdown reads two dollar signs on a line as maths, backslash or not.
const usd = (n: number) => `${n.toFixed(2)} USD`;

/** The Temporal UI's one-line summary of a brief: `Brief: [<sku> · ]<subject> → <channels>`. */
export function briefSummary(brief: Pick<Brief, 'subject' | 'channels' | 'sku'>): string {
  return md(oneLine(`Brief: ${brief.sku ? `${brief.sku} · ` : ''}${oneLine(brief.subject, 120)} → ${brief.channels.join(', ')}`, 200));
}

/** The Temporal UI's fixed details of a brief, in markdown: what was asked for. */
export function briefDetails(brief: Pick<Brief, 'subject' | 'channels' | 'candidates' | 'topK' | 'budgetUsd' | 'approval' | 'model' | 'sku' | 'variant' | 'needs4k'>): string {
  return [
    `**Subject:** ${md(oneLine(brief.subject, 500))}`,
    `**Channels:** ${brief.channels.map(md).join(', ')}`,
    `**Candidates:** ${brief.candidates} per round, keep ${brief.topK}`,
    `**Budget:** ${usd(brief.budgetUsd)}`,
    `**Approval:** ${brief.approval}`,
    `**Model:** ${md(brief.model)}${brief.model === 'auto' ? ' (routed by the brief)' : ''}`,
    ...(brief.needs4k ? ['**4K:** yes'] : []),
    ...(brief.sku ? [`**SKU:** ${md(brief.sku)}${brief.variant ? ` (variant ${md(brief.variant)})` : ''}`] : []),
  ].map((l) => `- ${l}`).join('\n');
}

/** The Temporal UI's current details of a running brief, in markdown: stage, counts, spend. */
export function briefCurrentDetails(status: BriefStatus): string {
  const c = status.candidates;
  const lines = [
    `**Stage:** ${status.stage} (round ${status.round})`,
    `**Candidates:** ${c.generated} of ${c.total} generated, ${c.rejected} rejected, ${c.judged} judged, ${c.selected} selected`,
    `**Spend:** ${usd(status.cost.actualUsd)} of ${usd(status.cost.budgetUsd)} budget (forecast ${usd(status.cost.forecastUsd)})`,
  ];
  if (status.route) lines.push(`**Model:** ${md(status.route.model)}`);
  if (status.assets.total > 0) lines.push(`**Assets:** ${status.assets.done}/${status.assets.total}`);
  if (status.review?.awaiting) lines.push(`**Waiting for review** until ${status.review.deadlineAt ?? '—'}`);
  if (status.manifestKey) lines.push(`**Manifest:** ${md(status.manifestKey)}`);
  if (status.delivery) lines.push(`**Delivery:** ${status.delivery.state}${status.delivery.error ? ` — ${md(oneLine(status.delivery.error, 200))}` : ''}`);
  if (status.webhookFailures?.length) lines.push(`**Webhooks failed:** ${status.webhookFailures.map((f) => f.type).join(', ')}`);
  if (status.error) lines.push(`**Error:** ${md(oneLine(status.error, 300))}`);
  return lines.map((l) => `- ${l}`).join('\n');
}
