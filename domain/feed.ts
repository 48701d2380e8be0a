/**
 * The input side of a catalog job: a product feed (CSV with a header row, or JSON lines) and a
 * brief template with `{column}` placeholders become one validated brief per row — or per row
 * and A/B variant — each with the workflow id its child workflow will run under. Everything a
 * person has to fix is reported with the feed line it is on. Pure: no I/O.
 */
import { parseBrief, type Brief } from './brief';
import { parseCsv } from './csv';
import { hash16, hash8, slugify, stableStringify } from './hash';
import { JSON_MAX_DEPTH, jsonTextDepth, valueDepth } from './json';
import { clip, preview, terminalSafe } from './text';

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

function describe(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'string' ? 'a string' : `a ${typeof v}`;
}

// ---------------------------------------------------------------------------------------------
// Templates

type Token = string | Readonly<{ column: string; list: boolean; raw: string }>;

/**
 * Splits a template string into literal text and placeholders. `{{` and `}}` are literal braces;
 * a brace that does not open a `{name}` is kept as written.
 */
function tokenize(s: string): readonly Token[] {
  // A catalog expands the same few template strings for every row.
  let tokens = tokenCache.get(s);
  if (!tokens) {
    if (tokenCache.size >= 1024) tokenCache.clear();
    tokens = scan(s);
    tokenCache.set(s, tokens);
  }
  return tokens;
}
const tokenCache = new Map<string, readonly Token[]>();

function scan(s: string): Token[] {
  const tokens: Token[] = [];
  let lit = '';
  let i = 0;
  while (i < s.length) {
    const ch = s[i]!;
    if (ch === '{' && s[i + 1] === '{') {
      lit += '{';
      i += 2;
    } else if (ch === '}' && s[i + 1] === '}') {
      lit += '}';
      i += 2;
    } else if (ch === '{') {
      const close = s.indexOf('}', i + 1);
      const inner = close === -1 ? '' : s.slice(i + 1, close);
      const name = inner.trim();
      if (name && !inner.includes('{')) {
        if (lit) tokens.push(lit);
        lit = '';
        const list = name.startsWith('list:');
        tokens.push({ column: list ? name.slice(5).trim() : name, list, raw: s.slice(i, close + 1) });
        i = close + 1;
      } else {
        lit += ch;
        i++;
      }
    } else {
      lit += ch;
      i++;
    }
  }
  if (lit) tokens.push(lit);
  return tokens;
}

/** Items of a `{list:column}` cell: a JSON list (as JSON lines write one), or text split on `|`. */
function listItems(cell: string): string[] {
  const t = cell.trim();
  if (t.startsWith('[')) {
    try {
      const v: unknown = JSON.parse(t);
      if (Array.isArray(v) && v.every((x) => x === null || typeof x !== 'object')) {
        return v.filter((x) => x !== null && x !== undefined).map(String).map((x) => x.trim()).filter(Boolean);
      }
    } catch {
      // Not JSON: a cell that merely starts with a bracket.
    }
  }
  return t.split('|').map((x) => x.trim()).filter(Boolean);
}

const OMIT = Symbol('omit');
class Items {
  constructor(readonly items: string[]) {}
}

/** Placeholders (column names, without `list:`) used anywhere in a template, in first-use order. */
export function templatePlaceholders(template: unknown): string[] {
  const out = new Set<string>();
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      if (v.includes('{')) for (const t of tokenize(v)) if (typeof t !== 'string') out.add(t.column);
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(template);
  return [...out];
}

/**
 * Fills a template's placeholders from one row. Every string anywhere in the template (values,
 * not keys; nested objects and lists too) may hold `{column}` placeholders; `{{` and `}}` write
 * literal braces.
 *
 * - A string that is exactly one placeholder becomes the cell's text as it is — still a string
 *   when it looks like a number (`"{price}"` → `"19.90"`): the brief schema decides.
 * - ...and when that cell is empty, the field is left out (a list item is dropped), so optional
 *   brief fields stay unset and required ones are reported as required rather than as `""`.
 * - `"{list:column}"` — exactly that, as a value — becomes a list: the cell split on `|`
 *   (`red|blue|green`), or the cell's items when it holds a JSON list, trimmed, empties dropped.
 *   As an item of a list it splices its items in (`["{list:features}", "the logo"]`); inside
 *   longer text it writes the items joined with `, `.
 * - A placeholder naming a column the row does not have is listed in `missing` and left as written.
 */
export function expandTemplate(template: unknown, row: FeedRow): { value: unknown; missing: string[] } {
  const missing = new Set<string>();
  const cell = (column: string): string | undefined => (Object.hasOwn(row.values, column) ? row.values[column] : undefined);

  const expandString = (s: string): string | Items | typeof OMIT => {
    if (!s.includes('{') && !s.includes('}')) return s;
    const tokens = tokenize(s);
    if (tokens.length === 1 && typeof tokens[0] !== 'string') {
      const t = tokens[0]!;
      const v = cell(t.column);
      if (v === undefined) {
        missing.add(t.column);
        return t.raw;
      }
      if (t.list) return new Items(listItems(v));
      return v.trim() === '' ? OMIT : v;
    }
    let out = '';
    for (const t of tokens) {
      if (typeof t === 'string') out += t;
      else {
        const v = cell(t.column);
        if (v === undefined) {
          missing.add(t.column);
          out += t.raw;
        } else out += t.list ? listItems(v).join(', ') : v;
      }
    }
    return out;
  };

  const expand = (v: unknown): unknown => {
    if (typeof v === 'string') return expandString(v);
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      for (const item of v) {
        const r = expand(item);
        if (r === OMIT) continue;
        if (r instanceof Items) out.push(...r.items);
        else out.push(r);
      }
      return out;
    }
    if (v !== null && typeof v === 'object') {
      const entries: Array<[string, unknown]> = [];
      for (const [k, item] of Object.entries(v)) {
        const r = expand(item);
        if (r === OMIT) continue;
        entries.push([k, r instanceof Items ? r.items : r]);
      }
      return Object.fromEntries(entries);
    }
    return v;
  };

  const r = expand(template);
  return { value: r === OMIT ? undefined : r instanceof Items ? r.items : r, missing: [...missing] };
}

// ---------------------------------------------------------------------------------------------
// Ids

/** Characters kept in ids and blob keys; anything else becomes `_`. */
const UNSAFE = /[^A-Za-z0-9._-]/g;

/** An id segment safe in workflow ids and blob keys: no `/`, `~`, spaces, and never `.` or `..`. */
function safeSegment(s: string): string {
  return s.replace(UNSAFE, '_').replace(/^\./, '_') || '_';
}

/**
 * Workflow id of a catalog child: `catalog-<catalogId>/<sku>`, or `catalog-<catalogId>/<sku>~<variant>`.
 * Characters outside `[A-Za-z0-9._-]` become `_` (and a leading `.` too), so the id — which also
 * names the run's blobs — never holds a path separator, `..` or the `~` that marks a variant.
 * Two SKUs that become equal this way are treated as duplicates by {@link briefsFromFeed}.
 */
export function catalogChildId(catalogId: string, sku: string, variant?: string): string {
  return `catalog-${safeSegment(catalogId)}/${safeSegment(sku)}${variant === undefined ? '' : `~${safeSegment(variant)}`}`;
}

/**
 * A catalog id from a name or a feed's file name: lowercase kebab-case, at most 40 characters,
 * directories and the extension dropped (`feeds/Spring Drop.csv` → `spring-drop`).
 */
export function catalogIdFor(name: string): string {
  const base = (name.trim().split(/[\\/]/).pop() ?? '').replace(/\.(csv|tsv|txt|jsonl|ndjson|json)$/i, '');
  const plain = base.normalize('NFKD').replace(/[\u0300-\u036f]/g, '');
  return /[a-z0-9]/i.test(plain) ? slugify(base, 40) : 'catalog';
}

/** Key SKUs are compared by: the id form, case folded, since blob keys may live on a case-insensitive file system. */
const skuKey = (sku: string) => safeSegment(sku).toLowerCase();

// ---------------------------------------------------------------------------------------------
// Plans

export interface FeedOptions {
  /** @default 'auto' */
  format?: FeedFormat;
  /** Column holding each row's SKU. @default 'sku' */
  skuColumn?: string;
  /** Feeds with more data rows are refused as a whole (half a catalog is worse than none). @default CATALOG_FEED_MAX_ROWS */
  maxRows?: number;
  /**
   * Catalog id used in the workflow ids (see {@link catalogIdFor}). Pass one to keep ids stable
   * when the feed is edited.
   * @default `feed-<hash8>` of the feed and template, so the same inputs give the same ids
   */
  catalogId?: string;
}

/** One brief workflow a catalog will start. */
export interface FeedRun {
  /** The SKU as the feed writes it (trimmed). */
  sku: string;
  line: number;
  variant?: string;
  brief: Brief;
  /** `hash16` of the brief's stable JSON: equal briefs, equal hashes. */
  briefHash: string;
  /** See {@link catalogChildId}. */
  workflowId: string;
}

export interface FeedPlan {
  /** In feed order; a row's variants in template order. */
  runs: FeedRun[];
  /** Sorted by line. Rows with an error (not a warning) do not run. */
  errors: FeedError[];
  /** SKUs on more than one row, with every line they are on: the first runs, the others do not. */
  duplicates: Array<{ sku: string; lines: number[] }>;
  columns: string[];
  /** Data rows read. */
  rows: number;
  catalogId: string;
  template: {
    /** Variants the template lists; 0 when it has none (one run per row). */
    variants: number;
    variantIds: string[];
    /** Columns the template's placeholders use. */
    columns: string[];
  };
}

type Variant = { id: string; overrides: Record<string, unknown> };
const VARIANT_ID = /^[A-Za-z0-9._-]{1,60}$/;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function readTemplate(template: unknown): { base: Record<string, unknown>; variants: Variant[] } | { error: string } {
  let t = template;
  if (typeof t === 'string') {
    if (jsonTextDepth(t) > JSON_MAX_DEPTH) return { error: `nests JSON more than ${JSON_MAX_DEPTH} levels deep` };
    try {
      t = JSON.parse(t.charCodeAt(0) === 0xfeff ? t.slice(1) : t);
    } catch (err) {
      return { error: `is not valid JSON: ${clip((err as Error).message)}` };
    }
  } else if (valueDepth(t) > JSON_MAX_DEPTH) {
    return { error: `nests more than ${JSON_MAX_DEPTH} levels deep` };
  }
  if (!isObject(t)) return { error: `must be a JSON object (a brief with placeholders), not ${describe(t)}` };
  const { variants: rawVariants, ...base } = t;
  if ('sku' in base) return { error: `sets sku, which comes from the feed's SKU column: remove it (use the skuColumn option to name another column)` };
  if (rawVariants === undefined) return { base, variants: [] };
  if (!Array.isArray(rawVariants) || rawVariants.length === 0) return { error: 'variants must be a list of at least one { "id": …, …brief field overrides } object' };
  const variants: Variant[] = [];
  for (const [i, v] of rawVariants.entries()) {
    if (!isObject(v)) return { error: `variants[${i}] must be an object with an id and brief field overrides` };
    const { id, ...overrides } = v;
    if (typeof id !== 'string' || !VARIANT_ID.test(id)) {
      return { error: `variants[${i}].id must be 1 to 60 characters of A-Z, a-z, 0-9, ".", "_" or "-" (it goes into workflow ids), not ${preview(id)}` };
    }
    if (variants.some((o) => o.id === id)) return { error: `variants[${i}].id "${id}" is used twice` };
    for (const key of ['sku', 'variant', 'variants']) {
      if (key in overrides) return { error: `variants[${i}] sets ${key}, which a variant cannot override` };
    }
    variants.push({ id, overrides });
  }
  return { base, variants };
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}

/** ` (did you mean "color"?)` when a column is spelt almost like the name. */
function suggestion(name: string, columns: readonly string[]): string {
  const lower = name.toLowerCase();
  const close = columns.find((c) => c.toLowerCase() === lower) ?? columns.find((c) => editDistance(c.toLowerCase(), lower) <= Math.min(2, Math.floor(name.length / 3)));
  return close ? ` (did you mean ${preview(close)}?)` : '';
}

/** Names listed in one message; a feed can have thousands of columns, each of any length. */
const MAX_NAMES = 20;
const quoteList = (names: readonly string[]) =>
  names.slice(0, MAX_NAMES).map((n) => preview(n)).join(', ') + (names.length > MAX_NAMES ? ` and ${names.length - MAX_NAMES} more` : '');

/** A SKU as errors show it: it is whatever the feed holds, of any length. */
const shownSku = (sku: string) => terminalSafe(clip(sku), { singleLine: true });

/**
 * Plans a catalog: reads the feed, fills the template for every row (and every A/B variant),
 * validates each brief, and returns the runs to start with everything that is wrong.
 *
 * Per row: the template is expanded ({@link expandTemplate}), `sku` is set from the SKU column,
 * `id` defaults to the SKU as kebab-case unless the template sets one, and the brief is
 * validated; each bad field is an error carrying the line and SKU. A row without a SKU is an
 * error on `sku`. A SKU seen before (compared as in its workflow id, ignoring case) is listed in
 * `duplicates` and only its first row runs — whether or not that first row is valid.
 *
 * A/B variants: a top-level `variants: [{ "id": "warm", …overrides }]` in the template (not a
 * brief field) gives every row one run per variant, with `variant` set on the brief and `~<id>`
 * on the workflow id. Overrides replace whole top-level fields. A row's variants run together or
 * not at all, so an A/B comparison never misses a side.
 *
 * Whole-feed problems — template placeholders naming columns the feed does not have, no SKU
 * column, an unreadable template, too many rows — are one error on line 1, and no runs.
 */
export function briefsFromFeed(feedText: string, template: unknown, options: FeedOptions = {}): FeedPlan {
  const skuColumn = options.skuColumn ?? 'sku';
  const maxRows = options.maxRows ?? CATALOG_FEED_MAX_ROWS;
  // stableStringify recurses: a template too deep to hash is refused below, by readTemplate.
  const catalogId = options.catalogId ?? `feed-${hash8(valueDepth(template) > JSON_MAX_DEPTH ? feedText : stableStringify({ feed: feedText, template }))}`;
  const plan: FeedPlan = { runs: [], errors: [], duplicates: [], columns: [], rows: 0, catalogId, template: { variants: 0, variantIds: [], columns: [] } };
  const fail = (field: string, message: string): FeedPlan => {
    plan.errors.push({ line: 1, field, message });
    return plan;
  };

  const tpl = readTemplate(template);
  if ('error' in tpl) return fail('template', tpl.error);
  const used = templatePlaceholders([tpl.base, ...tpl.variants.map((v) => v.overrides)]);
  plan.template = { variants: tpl.variants.length, variantIds: tpl.variants.map((v) => v.id), columns: used };

  const feed = parseFeed(feedText, options.format ?? 'auto');
  plan.columns = feed.columns;
  plan.rows = feed.rows.length;
  if (feed.columns.length === 0 && feed.errors.length === 0) return fail('feed', 'is empty: expected a CSV header row or JSON lines');
  if (feed.columns.length === 0) {
    plan.errors.push(...feed.errors);
    return plan;
  }
  const available = `the feed's columns are ${quoteList(feed.columns)}`;
  if (!feed.columns.includes(skuColumn)) {
    return fail('sku', `the feed has no ${preview(skuColumn)} column${suggestion(skuColumn, feed.columns)}; ${available}: add one, or name the SKU column with the skuColumn option`);
  }
  const unknown = used.filter((c) => !feed.columns.includes(c));
  if (unknown.length) {
    const named = unknown.slice(0, MAX_NAMES).map((c) => `${preview(c)}${suggestion(c, feed.columns)}`).join(', ') + (unknown.length > MAX_NAMES ? ` and ${unknown.length - MAX_NAMES} more` : '');
    return fail('template', `uses ${unknown.length === 1 ? 'a column' : 'columns'} the feed does not have: ${named}; ${available} (write {{ and }} for literal braces)`);
  }
  if (feed.rows.length > maxRows) return fail('feed', `has ${feed.rows.length} rows; a catalog feed may have at most ${maxRows}: split it`);

  const skuOf = (row: FeedRow) => (row.values[skuColumn] ?? '').trim();
  const skuByLine = new Map(feed.rows.map((r) => [r.line, skuOf(r)]));
  for (const e of feed.errors) {
    const sku = skuByLine.get(e.line);
    plan.errors.push(sku ? { ...e, sku: shownSku(sku) } : e);
  }

  const usedSet = new Set(used);
  const seen = new Map<string, { sku: string; lines: number[] }>();
  const variants: Array<Variant | undefined> = tpl.variants.length ? tpl.variants : [undefined];

  for (const row of feed.rows) {
    const { line } = row;
    const sku = skuOf(row);
    if (!sku) {
      plan.errors.push({ line, field: 'sku', message: `is empty: every row needs a SKU in column "${skuColumn}"` });
      continue;
    }
    const key = skuKey(sku);
    const first = seen.get(key);
    if (first) {
      first.lines.push(line);
      continue;
    }
    seen.set(key, { sku: shownSku(sku), lines: [line] });

    const lacking = (row.absent ?? []).filter((c) => usedSet.has(c));
    if (lacking.length) {
      const why = feed.format === 'csv' ? 'the row is shorter than the header' : 'the object has no such key';
      plan.errors.push({ line, sku: shownSku(sku), field: 'row', warning: true, message: `has no value for ${lacking.length === 1 ? 'column' : 'columns'} ${quoteList(lacking)} (${why}): read as empty` });
    }

    const built: Array<{ variant?: string; brief: Brief }> = [];
    const issues: Array<{ variant?: string; field: string; message: string }> = [];
    for (const v of variants) {
      const { value } = expandTemplate(v ? { ...tpl.base, ...v.overrides } : tpl.base, row);
      const input: Record<string, unknown> = { ...(value as Record<string, unknown>), sku };
      if (v) input.variant = v.id;
      if (input.id === undefined) input.id = slugify(sku, 60);
      const r = parseBrief(input);
      if (r.ok) built.push({ variant: r.brief.variant, brief: r.brief });
      else for (const i of r.issues) issues.push({ variant: v?.id, field: i.field, message: i.message });
    }

    if (issues.length) {
      // A problem every variant shares is one problem with the row, not one per variant.
      const count = new Map<string, number>();
      for (const i of issues) count.set(`${i.field}\0${i.message}`, (count.get(`${i.field}\0${i.message}`) ?? 0) + 1);
      const reported = new Set<string>();
      for (const i of issues) {
        const k = `${i.field}\0${i.message}`;
        const shared = i.variant === undefined || count.get(k) === variants.length;
        if (shared) {
          if (reported.has(k)) continue;
          reported.add(k);
          plan.errors.push({ line, sku: shownSku(sku), field: i.field, message: i.message });
        } else plan.errors.push({ line, sku: shownSku(sku), variant: i.variant, field: i.field, message: i.message });
      }
      continue;
    }

    for (const { variant, brief } of built) {
      const run: FeedRun = { sku, line, brief, briefHash: hash16(stableStringify(brief)), workflowId: catalogChildId(catalogId, sku, variant) };
      if (variant !== undefined) run.variant = variant;
      plan.runs.push(run);
    }
  }

  plan.duplicates = [...seen.values()].filter((d) => d.lines.length > 1);
  plan.errors.sort((a, b) => a.line - b.line);
  return plan;
}
