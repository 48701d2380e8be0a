import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery } from '@temporalio/workflow';
import type { BriefStatus } from '../domain/types';

/** `status`: where a brief is, its progress counts and its cost so far. */
export const statusQuery = defineQuery<BriefStatus>('status');

/** Search attributes Darkroom keeps current (registered by `npm run server`). */
export const SA = {
  stage: defineSearchAttributeKey('DarkroomStage', SearchAttributeType.KEYWORD),
  channel: defineSearchAttributeKey('DarkroomChannel', SearchAttributeType.KEYWORD),
  catalogId: defineSearchAttributeKey('DarkroomCatalogId', SearchAttributeType.KEYWORD),
  costUsd: defineSearchAttributeKey('DarkroomCostUsd', SearchAttributeType.DOUBLE),
  awaitingReview: defineSearchAttributeKey('DarkroomAwaitingReview', SearchAttributeType.BOOL),
} as const;

export const TASK_QUEUE = 'darkroom';
