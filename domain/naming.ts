import type { Brief } from './brief';
import { FORMAT_EXTENSION, type ImageFormat } from './channels';
import { hash8, slugify, stableStringify } from './hash';

/** `brief-<slug>-<hash8>`: the same brief always maps to the same workflow id. */
export function briefWorkflowId(brief: Brief): string {
  return `brief-${brief.id ?? slugify(brief.subject)}-${hash8(stableStringify(brief))}`;
}

/** `r<round>-c<NN>`, with index counted from 0. */
export function candidateId(round: number, index: number): string {
  return `r${round}-c${String(index + 1).padStart(2, '0')}`;
}

/** Seed for candidate `index`: the brief's base seed plus the index, so each candidate differs. */
export function candidateSeed(baseSeed: number, round: number, index: number): number {
  return (baseSeed + (round - 1) * 1000 + index) % 2_147_483_647;
}

/** Blob key of a generated candidate: everything that determines the image is in it. */
export function candidateKey(workflowId: string, round: number, index: number, promptVersion: string, seed: number): string {
  return `${workflowId}/candidates/${candidateId(round, index)}-${promptVersion}-s${seed}.png`;
}

export function upscaledKey(workflowId: string, candidate: string, width: number, height: number): string {
  return `${workflowId}/masters/${candidate}-${width}x${height}.png`;
}

/** `<brief>/<channel>/<candidate>.<ext>`: the published asset naming convention. */
export function assetKey(workflowId: string, channel: string, candidate: string, format: ImageFormat): string {
  return `${workflowId}/${channel}/${candidate}.${FORMAT_EXTENSION[format]}`;
}

export function manifestKey(workflowId: string): string {
  return `${workflowId}/manifest.json`;
}

/** One ledger entry per paid provider call, written when the call returns. */
export function ledgerKey(workflowId: string, candidate: string, attemptId: string): string {
  return `${workflowId}/ledger/${candidate}-${attemptId}.json`;
}

/** The blob-store folder catalogs keep their files in; no brief may write under it. */
export const CATALOGS_NAMESPACE = 'catalogs';

/** The blob-store folder brand kits are stored in (content-addressed); no brief may write under it. */
export const BRANDS_NAMESPACE = 'brands';

/** Longest workflow id a brief accepts: it names the brief's folder in the blob store. */
export const MAX_WORKFLOW_ID = 200;

const BRIEF_ID = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** A catalog row: `catalog-<catalogId>/<sku>[~<variant>]`, as catalogChildId makes it. */
const ROW_ID = /^catalog-[A-Za-z0-9._-]+\/[A-Za-z0-9_-][A-Za-z0-9._~-]*$/;

/**
 * Why a workflow id cannot name a brief's folder in the blob store, or undefined when it can.
 * A brief's files live under `<workflowId>/`, so the id must be a plain key segment (or a
 * catalog row's `catalog-<id>/<sku>`), and may not reach into the catalogs' namespace.
 */
export function workflowIdProblem(workflowId: string): string | undefined {
  if (workflowId.length === 0) return 'is empty';
  if (workflowId.length > MAX_WORKFLOW_ID) return `is ${workflowId.length} characters long; at most ${MAX_WORKFLOW_ID}`;
  const first = workflowId.split('/')[0]!;
  if (first === CATALOGS_NAMESPACE) return `may not start with "${CATALOGS_NAMESPACE}/": that is where catalogs keep their files`;
  if (first === BRANDS_NAMESPACE) return `may not be or start with "${BRANDS_NAMESPACE}": that is where brand kits are stored`;
  if (BRIEF_ID.test(workflowId) || ROW_ID.test(workflowId)) return undefined;
  return 'must be letters, digits, ".", "_" and "-", starting with a letter or digit (or a catalog row\'s "catalog-<id>/<sku>"), since it names the brief\'s folder in the blob store';
}

const SAFE_KEY = /^[A-Za-z0-9._~@=+,-]+(?:\/[A-Za-z0-9._~@=+,-]+)*$/;

/**
 * Why a string cannot be a blob key, or undefined when it can. Keys are relative,
 * slash-separated and free of dot-segments, so no key can name anything outside the store.
 */
export function blobKeyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'is empty';
  if (key.length > 1024) return 'is longer than 1024 characters';
  if (!SAFE_KEY.test(key)) return 'may use letters, digits, . _ - ~ @ = + , and / between segments';
  if (key.split('/').some((s) => s.startsWith('.'))) return 'has a segment that starts with a dot';
  return undefined;
}
