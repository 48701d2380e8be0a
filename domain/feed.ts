/**
 * The input side of a catalog job: a product feed (CSV with a header row, or JSON lines) and a
 * brief template with `{column}` placeholders become one validated brief per row — or per row
 * and A/B variant — each with the workflow id its child workflow will run under. Everything a
 * person has to fix is reported with the feed line it is on. Pure: no I/O.
 *
 * Reading the feed is in ./feed-parse.ts, filling templates in ./feed-template.ts; both are
 * re-exported here, the one module the rest of Darkroom imports.
 */
import { parseBrief, type Brief } from './brief';
import { CATALOG_FEED_MAX_ROWS, describe, parseFeed, type FeedError, type FeedFormat, type FeedRow } from './feed-parse';
import { expandTemplate, templatePlaceholders } from './feed-template';
import { hash16, hash8, slugify, stableStringify } from './hash';
import { isObject, JSON_MAX_DEPTH, jsonTextDepth, valueDepth } from './json';
import { clip, preview, terminalSafe } from './text';

export * from './feed-parse';
export * from './feed-template';

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
  if ('sku' in base) return { error: `sets sku, which comes from the feed's sku column: remove it` };
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
    return fail('sku', `the feed has no ${preview(skuColumn)} column${suggestion(skuColumn, feed.columns)}; ${available}: add a column named sku (or rename the column that holds your SKUs to sku)`);
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
