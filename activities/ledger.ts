/**
 * The spend ledger: one JSON entry per paid provider call, stored beside the brief's blobs
 * (`<workflowId>/ledger/<candidate>-<n>.json`). A retry reads it to never pay twice.
 */
import { randomUUID } from 'node:crypto';
import { ledgerKey } from '../domain/naming';
import type { BlobStore } from './blob-store';

export /** Written beside each paid call: proof of what was spent, one entry per call. */
interface LedgerEntry {
  workflowId: string;
  candidateId: string;
  key: string;
  model: string;
  costUsd: number;
  at: string;
  attempt: number;
  ms: number;
  /**
   * Written by a retry that found the paid image stored but no entry for it (the worker died
   * between the two writes): the cost is the catalog price, the time unknown.
   */
  recovered?: boolean;
}

/** What earlier attempts spent on a candidate's call `key`, from its ledger entries. */
export async function ledgerFor(blobs: BlobStore, workflowId: string, id: string, key: string): Promise<{ costUsd: number; ms: number; entries: number }> {
  const entries = (await readLedger(blobs, workflowId, id)).filter((e) => e.key === key);
  return { costUsd: entries.reduce((sum, e) => sum + e.costUsd, 0), ms: Math.max(0, ...entries.map((e) => e.ms)), entries: entries.length };
}

/** Stores one entry, under a key of its own: concurrent writers never overwrite each other. */
export async function writeLedger(blobs: BlobStore, entry: LedgerEntry): Promise<void> {
  const bytes = new TextEncoder().encode(JSON.stringify(entry));
  await blobs.put(ledgerKey(entry.workflowId, entry.candidateId, randomUUID().slice(0, 8)), bytes, { mime: 'application/json' });
}

/** Reads the spend ledger of one brief (or of one of its candidates): one entry per paid provider call. */
export async function readLedger(blobs: BlobStore, workflowId: string, candidate?: string): Promise<LedgerEntry[]> {
  const keys = await blobs.list(`${workflowId}/ledger/${candidate ? `${candidate}-` : ''}`);
  return Promise.all(keys.map(async (k) => JSON.parse((await blobs.get(k)).toString('utf8')) as LedgerEntry));
}
