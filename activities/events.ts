import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Context, log } from '@temporalio/activity';
import type { Config } from '../domain/config';
import { manifestKey } from '../domain/naming';
import type { Manifest } from '../domain/types';
import {
  briefEventId, briefRef, deliveryRecordKey, type BriefEvent, type BriefEventType, type BriefRef, type DeliveredAsset, type DeliveryEvent, type DeliveryRecord,
} from '../domain/webhooks';
import { assetUrls, type AssetUrl } from './asset-urls';
import type { BlobStore } from './blob-store';
import { postSigned } from './webhook';

export interface SendBriefEventInput {
  type: BriefEventType;
  workflowId: string;
  runId: string;
  /** The review round, for `brief.review_needed` (each round is its own event). */
  round?: number;
  brief: BriefRef;
  data: Record<string, unknown>;
}

export interface DeliverAssetsInput {
  workflowId: string;
  runId: string;
}

/** The events and delivery webhooks' activities: they read the URLs and the secret from config, never from history. */
export function createWebhookActivities(deps: { blobs: BlobStore; config: Config }) {
  const { blobs, config } = deps;
  const firstScheduled = () => new Date(Context.current().info.scheduledTimestampMs).toISOString();

  /** The manifest's own URL rule (a CDN base, else a presigned S3 URL), else a `file://` URL on the filesystem store. */
  async function urlOf(key: string): Promise<AssetUrl> {
    return (await assetUrls(blobs, config, new Date())(key)) ?? { url: pathToFileURL(path.join(blobs.location, ...key.split('/'))).href };
  }

  return {
    /**
     * Sends one brief event to DARKROOM_EVENTS_WEBHOOK. Its id and time are the same on every
     * retry, so a receiver can drop repeats. @returns false when no events webhook is configured
     */
    async sendBriefEvent(input: SendBriefEventInput): Promise<{ sent: boolean; eventId: string }> {
      const eventId = briefEventId(input.workflowId, input.runId, input.type, input.round);
      if (!config.DARKROOM_EVENTS_WEBHOOK || !config.DARKROOM_WEBHOOK_SECRET) return { sent: false, eventId };
      const event: BriefEvent = {
        id: eventId, type: input.type, time: firstScheduled(), workflowId: input.workflowId, runId: input.runId, brief: input.brief, data: input.data,
      };
      // What only the worker knows (its URLs) is added here, not carried in history.
      if (input.type === 'brief.completed' && typeof input.data.manifestKey === 'string') {
        event.data = { ...input.data, manifestUrl: (await urlOf(input.data.manifestKey)).url };
      }
      if (input.type === 'brief.review_needed' && config.DARKROOM_REVIEW_URL) {
        event.data = { ...input.data, reviewUrl: `${config.DARKROOM_REVIEW_URL.replace(/\/$/, '')}/briefs/${encodeURIComponent(input.workflowId)}` };
      }
      await postSigned({ url: config.DARKROOM_EVENTS_WEBHOOK, secret: config.DARKROOM_WEBHOOK_SECRET, eventId, eventType: input.type, body: JSON.stringify(event) });
      return { sent: true, eventId };
    },

    /**
     * Announces a published brief's assets to DARKROOM_DELIVERY_WEBHOOK: one signed POST with
     * each file's channel, format, size, URL, alt text and sha256. Reads the published manifest
     * (nothing large passes through history) and, once the receiver took it, writes the
     * delivery record beside the manifest.
     */
    async deliverAssets(input: DeliverAssetsInput): Promise<DeliveryRecord> {
      const eventId = briefEventId(input.workflowId, input.runId, 'brief.delivered');
      const recordKey = deliveryRecordKey(input.workflowId);
      if (!config.DARKROOM_DELIVERY_WEBHOOK || !config.DARKROOM_WEBHOOK_SECRET) return { state: 'failed', eventId, assets: 0, recordKey, error: 'no delivery webhook is configured on this worker' };
      const key = manifestKey(input.workflowId);
      const manifest = JSON.parse((await blobs.get(key)).toString('utf8')) as Manifest;
      const assets: DeliveredAsset[] = [];
      for (const a of manifest.assets) {
        assets.push({
          channel: a.channel, format: a.format, mime: a.mime, width: a.width, height: a.height, bytes: a.bytes, sha256: a.sha256,
          ...(await urlOf(a.key)), altText: a.altText, candidateId: a.candidateId, key: a.key,
        });
      }
      const event: DeliveryEvent = {
        id: eventId, type: 'brief.delivered', time: firstScheduled(), workflowId: input.workflowId, runId: input.runId,
        brief: { ...briefRef(manifest.brief), ...(manifest.brief.id ? { id: manifest.brief.id } : {}) },
        manifest: { key, url: (await urlOf(key)).url },
        assets,
      };
      const { status } = await postSigned({ url: config.DARKROOM_DELIVERY_WEBHOOK, secret: config.DARKROOM_WEBHOOK_SECRET, eventId, eventType: event.type, body: JSON.stringify(event) });
      const record: DeliveryRecord = { state: 'delivered', eventId, assets: assets.length, recordKey };
      await blobs.put(recordKey, new TextEncoder().encode(JSON.stringify({ ...record, receiverStatus: status, at: new Date().toISOString() }, null, 2)), { mime: 'application/json' });
      return record;
    },

    /** Keeps a delivery the workflow gave up on in the blob store, beside the manifest, for people and tools to find. */
    async recordDelivery(record: DeliveryRecord & { workflowId: string }): Promise<void> {
      const { workflowId, ...rest } = record;
      log.warn('delivery webhook given up on', { workflowId, eventId: rest.eventId, error: rest.error });
      await blobs.put(deliveryRecordKey(workflowId), new TextEncoder().encode(JSON.stringify({ ...rest, at: new Date().toISOString() }, null, 2)), { mime: 'application/json' });
    },
  };
}
