/**
 * Reading a product feed: CSV with a header row, or JSON lines, into rows by column name with
 * the line each starts on. What cannot be read is an error on its line. Pure: no I/O.
 */
import { parseCsv } from './csv';
import { JSON_MAX_DEPTH, jsonTextDepth } from './json';
import { clip, preview } from './text';

/** The most data rows one catalog feed may hold; larger feeds are refused as a whole. */
export const CATALOG_FEED_MAX_ROWS = 100_000;

/** How a feed is written. `auto` reads a first character `{` as JSON lines, anything else as CSV. */
export type FeedFormat = 'csv' | 'jsonl' | 'auto';

/** One product row: its values by column name, and the line it starts on. */
export interface FeedRow {
  /** 1-based line in the feed file (the CSV header is line 1). */
  line: number;
  /** Cell text by column. Numbers and booleans from JSON lines are written as text, lists and objects as JSON. */
  values: Record<string, string>;
  /** Columns this row does not have (a CSV row shorter than the header, a JSON object without the key); their values are `''`. */
  absent?: string[];
}

/** One problem, on one line of the feed (line 1 for the feed or template as a whole). */
export interface FeedError {
  line: number;
  /** The row's SKU, when it has one. */
  sku?: string;
  /** The A/B variant, when only that variant's brief has the problem. */
  variant?: string;
  /**
   * What is wrong: a brief field path (`brandColors[0]`), `sku`, or for problems that are not
   * about one brief field `row` (the row as written), `header`, `template` or `feed`.
   */
  field: string;
  message: string;
  /** Present when the row still runs (extra values ignored, a column read as empty). */
  warning?: true;
}

export interface ParsedFeed {
  rows: FeedRow[];
  errors: FeedError[];
  /** Column names in file order (for JSON lines, in order of first appearance). */
  columns: string[];
  /** The format read, after `auto` detection. */
  format: 'csv' | 'jsonl';
}

/**
 * Reads a feed into rows of column → text.
 *
 * CSV (see {@link parseCsv}): values are mapped by header name; columns with an empty header
 * name are ignored; a repeated column name is a warning and its first column is used. A row
 * with non-empty values beyond the header gets a warning and goes on with the known columns
 * (trailing empty values, which spreadsheets add, are ignored quietly). A row shorter than the
 * header gets `''` for what it lacks, listed in {@link FeedRow.absent}.
 *
 * JSON lines: every non-blank line is one JSON object; a line that is not is an error naming it.
 * Strings are kept, numbers and booleans written as text, `null` as `''`, lists and objects as
 * JSON text.
 */
export function parseFeed(text: string, format: FeedFormat = 'auto'): ParsedFeed {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const start = body.trimStart();
  if (format === 'auto' && start.startsWith('[')) {
    return {
      rows: [],
      errors: [{ line: 1, field: 'feed', message: 'is a JSON array: write one JSON object per line (JSON lines), or CSV with a header row' }],
      columns: [],
      format: 'jsonl',
    };
  }
  const jsonl = format === 'jsonl' || (format === 'auto' && start.startsWith('{'));
  return jsonl ? parseJsonLines(body) : parseCsvFeed(body);
}

function parseCsvFeed(text: string): ParsedFeed {
  const csv = parseCsv(text);
  const errors: FeedError[] = csv.errors.map((e) => ({ line: e.line, field: 'row', message: e.message }));
  const { header } = csv;
  // Column index → name, for the columns that are used: named, and the first of their name.
  const firstIndex = new Map<string, number>();
  header.forEach((name, i) => {
    if (!name) return;
    const first = firstIndex.get(name);
    if (first === undefined) firstIndex.set(name, i);
    else {
      errors.push({ line: csv.headerLine, field: 'header', warning: true, message: `column ${preview(name)} appears twice (columns ${first + 1} and ${i + 1}): the first is used` });
    }
  });
  const used = [...firstIndex.entries()];
  const rows: FeedRow[] = [];
  for (const rec of csv.records) {
    const { fields } = rec;
    const entries: Array<[string, string]> = [];
    const absent: string[] = [];
    for (const [name, i] of used) {
      if (i < fields.length) entries.push([name, fields[i]!]);
      else {
        entries.push([name, '']);
        absent.push(name);
      }
    }
    if (fields.length > header.length && fields.slice(header.length).some((f) => f.trim() !== '')) {
      errors.push({ line: rec.line, field: 'row', warning: true, message: `has ${fields.length} fields, the header has ${header.length}: extra values ignored` });
    }
    // fromEntries, not assignment: a column named __proto__ must stay a column.
    const row: FeedRow = { line: rec.line, values: Object.fromEntries(entries) };
    if (absent.length) row.absent = absent;
    rows.push(row);
  }
  return { rows, errors, columns: used.map(([name]) => name), format: 'csv' };
}

function parseJsonLines(text: string): ParsedFeed {
  const errors: FeedError[] = [];
  const parsed: Array<{ line: number; entries: Array<[string, string]> }> = [];
  const columns = new Set<string>();
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.trim() === '') continue;
    // Refused before parsing: a cell nested thousands deep would blow the stack further on.
    if (jsonTextDepth(raw, JSON_MAX_DEPTH) > JSON_MAX_DEPTH) {
      errors.push({ line: i + 1, field: 'row', message: `nests JSON more than ${JSON_MAX_DEPTH} levels deep: row skipped` });
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (err) {
      errors.push({ line: i + 1, field: 'row', message: `is not valid JSON (${clip((err as Error).message)}): row skipped` });
      continue;
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      errors.push({ line: i + 1, field: 'row', message: `must be a JSON object, not ${describe(value)}: row skipped` });
      continue;
    }
    const entries = Object.entries(value).map(([k, v]): [string, string] => [k, cellText(v)]);
    for (const [k] of entries) columns.add(k);
    parsed.push({ line: i + 1, entries });
  }
  const rows = parsed.map(({ line, entries }): FeedRow => {
    const has = new Set(entries.map(([k]) => k));
    const absent = [...columns].filter((c) => !has.has(c));
    const row: FeedRow = { line, values: Object.fromEntries([...entries, ...absent.map((c): [string, string] => [c, ''])]) };
    if (absent.length) row.absent = absent;
    return row;
  });
  return { rows, errors, columns: [...columns], format: 'jsonl' };
}

function cellText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** `null`, `a list`, `a string`, `a number`: what a value is, for an error. */
export function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'string' ? 'a string' : `a ${typeof v}`;
}
