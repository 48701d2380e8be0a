/**
 * Reference images on the user's disk: a worker cannot read them, so the CLI uploads each one to
 * the blob store before anything starts (content-addressed, `references/<sha256>.<ext>`) and puts
 * `blob:<key>` in its place. For a brief, paths are relative to the brief file's folder; for a
 * catalog feed, to the feed file's folder.
 */
import path from 'node:path';
import { storeReference, ReferenceError } from '../activities/references';
import type { BlobStore } from '../activities/blob-store';
import type { Brief } from '../domain/brief';
import { parseCsv, type CsvDelimiter } from '../domain/csv';
import { templatePlaceholders } from '../domain/feed';
import { referenceFields, referenceKind } from '../domain/references';
import { clip } from '../domain/text';
import { CliError } from './errors';
import { readInputBytes, shownPath } from './files';

/** The largest reference image the CLI uploads. */
export const REFERENCE_FILE_MAX_BYTES = 25 * 1024 * 1024;

/** One file uploaded: where it was named, the file, and its key in the blob store. */
export interface UploadedReference {
  field: string;
  file: string;
  key: string;
}

/** Uploads `file` (checked to be an image) and returns its blob key; `where` names it in errors. */
async function uploadFile(blobs: BlobStore, file: string, where: string, cache: Map<string, string>): Promise<string> {
  const known = cache.get(file);
  if (known) return known;
  const bytes = await readInputBytes(file, { what: `reference image (${where})`, maxBytes: REFERENCE_FILE_MAX_BYTES });
  let key: string;
  try {
    key = (await storeReference(blobs, bytes, where)).key;
  } catch (err) {
    if (err instanceof ReferenceError) throw new CliError(`${where}: ${shownPath(file)} ${err.reason}`);
    throw err;
  }
  cache.set(file, key);
  return key;
}

/** The brief with every local reference path uploaded and replaced by `blob:<key>`. */
export async function uploadBriefReferences(brief: Brief, briefFile: string, blobs: BlobStore): Promise<{ brief: Brief; uploaded: UploadedReference[] }> {
  const local = referenceFields(brief).filter((f) => referenceKind(f.source) === 'path');
  if (local.length === 0) return { brief, uploaded: [] };
  const dir = path.dirname(briefFile);
  const cache = new Map<string, string>();
  const uploaded: UploadedReference[] = [];
  const refs = { ...brief.references!, ...(brief.references?.style ? { style: [...brief.references.style] } : {}) };
  for (const f of local) {
    const file = path.resolve(dir, f.source);
    const key = await uploadFile(blobs, file, f.field, cache);
    uploaded.push({ field: f.field, file, key });
    if (f.role === 'product') refs.product = `blob:${key}`;
    else refs.style![Number(/\[(\d+)\]/.exec(f.field)![1])] = `blob:${key}`;
  }
  return { brief: { ...brief, references: refs }, uploaded };
}

/** Feed columns a template puts into `references` (anywhere, variants included). */
export function referenceColumns(template: unknown): string[] {
  const found: unknown[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        if (k === 'references') found.push(child);
        else walk(child);
      }
    }
  };
  walk(template);
  return templatePlaceholders(found);
}

/** A CSV field, quoted only where CSV needs it: the value must read back exactly as it was. */
function csvCell(value: string, delimiter: CsvDelimiter): string {
  return value.includes(delimiter) || /["\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * The feed with every local path in a reference column uploaded and replaced by `blob:<key>`.
 * A feed without any is returned as it is, byte for byte.
 */
export async function uploadFeedReferences(
  feed: { feedText: string; format: 'csv' | 'jsonl'; feedFile: string; template: unknown },
  blobs: BlobStore,
): Promise<{ feedText: string; uploaded: UploadedReference[] }> {
  const columns = referenceColumns(feed.template);
  if (columns.length === 0) return { feedText: feed.feedText, uploaded: [] };
  const dir = path.dirname(feed.feedFile);
  const cache = new Map<string, string>();
  const uploaded: UploadedReference[] = [];
  const replace = async (value: string, column: string, line: number): Promise<string | undefined> => {
    const v = value.trim();
    if (!v || referenceKind(v) !== 'path') return undefined;
    const file = path.resolve(dir, v);
    const key = await uploadFile(blobs, file, `line ${line}, column ${clip(column, 60)}`, cache);
    uploaded.push({ field: `line ${line} ${column}`, file, key });
    return `blob:${key}`;
  };

  if (feed.format === 'jsonl') {
    const lines = feed.feedText.replace(/^\uFEFF/, '').split('\n');
    let changed = false;
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i]!.trim();
      if (!text.startsWith('{')) continue;
      let row: Record<string, unknown>;
      try {
        row = JSON.parse(text) as Record<string, unknown>;
      } catch {
        continue; // the plan already reported it
      }
      let rowChanged = false;
      for (const c of columns) {
        const v = row[c];
        if (typeof v !== 'string') continue;
        const next = await replace(v, c, i + 1);
        if (next !== undefined) {
          row[c] = next;
          rowChanged = true;
        }
      }
      if (rowChanged) {
        lines[i] = JSON.stringify(row);
        changed = true;
      }
    }
    return { feedText: changed ? lines.join('\n') : feed.feedText, uploaded };
  }

  const csv = parseCsv(feed.feedText.replace(/^\uFEFF/, ''));
  const indexes = columns.map((c) => [c, csv.header.indexOf(c)] as const).filter(([, i]) => i >= 0);
  let changed = false;
  for (const record of csv.records) {
    for (const [c, i] of indexes) {
      const v = record.fields[i];
      if (v === undefined) continue;
      const next = await replace(v, c, record.line);
      if (next !== undefined) {
        record.fields[i] = next;
        changed = true;
      }
    }
  }
  if (!changed) return { feedText: feed.feedText, uploaded };
  const d = csv.delimiter;
  const text = [csv.header, ...csv.records.map((r) => r.fields)].map((fields) => fields.map((f) => csvCell(f, d)).join(d)).join('\n');
  return { feedText: `${text}\n`, uploaded };
}
