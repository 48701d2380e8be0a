/** The filter a reviewer may add to the awaiting-review query, checked before it reaches Temporal. */
import { preview } from '../../domain/text';
import { AWAITING_REVIEW_QUERY } from '../../workflows/messages';

/** A filter that cannot be part of a visibility query; says why in words a reviewer can act on. */
export class InvalidFilterError extends Error {
  override readonly name = 'InvalidFilterError';
  constructor(readonly filter: string, readonly reason: string) {
    super(`invalid filter ${preview(filter)}: ${reason}`);
  }
}

const MAX_FILTER = 500;

/**
 * Checks an extra search-attribute clause before it is ANDed onto the awaiting-review query.
 * Catches what would change the query's meaning (`;`, unbalanced quotes or parentheses, a
 * dangling AND/OR, ORDER BY); Temporal judges everything else and its error is shown as is.
 * @returns the trimmed filter, or undefined for an empty one
 */
export function checkFilter(filter: string | undefined): string | undefined {
  const f = filter?.trim();
  if (!f) return undefined;
  const no = (reason: string): never => {
    throw new InvalidFilterError(f, reason);
  };
  if (f.length > MAX_FILTER) no(`at most ${MAX_FILTER} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f]/.test(f)) no('control characters are not allowed');
  // Temporal's parser reads \' inside a quoted value as a quote, which would let a value end
  // where this check thinks it goes on: no search-attribute value Darkroom sets needs one.
  if (f.includes('\\')) no('a backslash is not allowed');
  let quote: string | undefined;
  let depth = 0;
  let outside = '';
  for (const ch of f) {
    if (quote) {
      if (ch === quote) quote = undefined;
      continue;
    }
    if (ch === "'" || ch === '"' || ch === '`') quote = ch;
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth < 0) no('a ")" closes nothing');
    else if (ch === ';') no('";" is not allowed: write one search-attribute clause such as DarkroomCatalogId = \'spring\'');
    outside += quote ? ' ' : ch;
  }
  if (quote) no(`a ${quote} quote is not closed`);
  if (depth > 0) no('a "(" is not closed');
  if (/\border\s+by\b|\bgroup\s+by\b/i.test(outside)) no('ORDER BY and GROUP BY are not allowed in a filter');
  if (/^\s*(and|or)\b|\b(and|or|not)\s*$/i.test(outside)) no('it starts or ends with AND/OR/NOT');
  if (!/[=<>!]|\b(in|between|is|starts_with|like)\b/i.test(outside)) no("it compares nothing: write e.g. DarkroomCatalogId = 'spring' or DarkroomCostUsd < 1");
  return f;
}

/** The visibility query for briefs awaiting review, narrowed to one task queue and by a filter. */
export function awaitingQuery(filter?: string, taskQueue?: string): string {
  const f = checkFilter(filter);
  let q = AWAITING_REVIEW_QUERY;
  if (taskQueue) {
    if (/['"\\]/.test(taskQueue)) throw new InvalidFilterError(taskQueue, 'a task queue name may not contain quotes');
    q += ` AND TaskQueue = '${taskQueue}'`;
  }
  return f ? `${q} AND (${f})` : q;
}
