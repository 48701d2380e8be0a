/**
 * Brief templates: `{column}` and `{list:column}` placeholders filled from a feed row, `{{ }}`
 * for literal braces. Pure: no I/O.
 */
import type { FeedRow } from './feed-parse';

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
