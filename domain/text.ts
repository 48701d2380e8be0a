/**
 * Text that came from outside (a brief, a signal, a feed, a vendor) is bounded before it is
 * echoed into an error, a log line, a history event or a terminal. Pure: no Node imports.
 */

/** How much of an untrusted value any error message repeats. */
export const ECHO_LIMIT = 200;

/**
 * `text` cut to `max` characters, with its full length said, so a 50 MB value becomes a
 * 200-character preview that still tells the reader how big the original was.
 */
export function clip(text: string, max: number = ECHO_LIMIT): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length} chars)`;
}

/**
 * A short, printable preview of any value (JSON where it can be, `String()` otherwise), clipped
 * to `max` characters. Never throws: circular or very deep values are described, not walked.
 */
export function preview(value: unknown, max: number = ECHO_LIMIT): string {
  if (typeof value === 'string') {
    const shown = terminalSafe(JSON.stringify(value.slice(0, max)));
    return value.length > max ? `${shown}… (${value.length} chars)` : shown;
  }
  let s: string;
  try {
    s = JSON.stringify(value) ?? String(value);
  } catch {
    s = Object.prototype.toString.call(value);
  }
  return terminalSafe(clip(s, max));
}

/**
 * C0 and C1 control characters (except tab and newline), DEL, and the Unicode bidirectional
 * controls that reorder text (RLO and friends): what lets text clear a terminal, retitle it,
 * or display differently from what it says.
 */
// eslint-disable-next-line no-control-regex
export const CONTROL_CHARS = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS_G = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

/** True when `text` holds a character {@link CONTROL_CHARS} matches. */
export function hasControlChars(text: string): boolean {
  return CONTROL_CHARS.test(text);
}

/**
 * `text` with every control character shown as a visible escape (`\u001b`), so untrusted text
 * printed to a terminal cannot drive it. Newlines stay unless `singleLine`.
 */
export function terminalSafe(text: string, options: { singleLine?: boolean } = {}): string {
  const out = text.replace(CONTROL_CHARS_G, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return options.singleLine ? out.replace(/\r?\n/g, '\\n') : out;
}

/** UTF-8 byte length of a string, without Node's Buffer (workflow code uses this too). */
export function utf8Bytes(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * Size in bytes of a value as JSON, or Infinity when it cannot be measured (circular, too
 * deep). Cheap enough for a signal handler; stops counting past `limit`.
 */
export function jsonBytes(value: unknown, limit: number = Number.POSITIVE_INFINITY): number {
  let total = 0;
  const seen = new Set<object>();
  const walk = (v: unknown, depth: number): boolean => {
    if (total > limit) return false;
    if (depth > 64) {
      total = Number.POSITIVE_INFINITY;
      return false;
    }
    if (v === null || v === undefined) total += 4;
    else if (typeof v === 'string') total += utf8Bytes(v) + 2;
    else if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') total += String(v).length;
    else if (typeof v === 'object') {
      if (seen.has(v)) {
        total = Number.POSITIVE_INFINITY;
        return false;
      }
      seen.add(v);
      if (Array.isArray(v)) {
        total += 2 + v.length;
        for (const x of v) if (!walk(x, depth + 1)) return false;
      } else {
        total += 2;
        for (const [k, x] of Object.entries(v)) {
          total += utf8Bytes(k) + 4;
          if (!walk(x, depth + 1)) return false;
        }
      }
      seen.delete(v);
    }
    return true;
  };
  walk(value, 0);
  return total;
}

/** `text` with every regular-expression metacharacter escaped, to match it literally inside a pattern. */
export function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A regular-expression source matching any of `phrases` as whole words: no letter or digit
 * directly before or after it, any case (with the `iu` flags), and any run of white space — or
 * also hyphens, with `hyphens` — between a phrase's words. Word lists (moderation, a brand's
 * banned words) match with it.
 */
export function wholeWordsSource(phrases: readonly string[], options: { hyphens?: boolean } = {}): string {
  const split = options.hyphens ? /[\s-]+/ : /\s+/;
  const gap = options.hyphens ? '[\\s-]+' : '\\s+';
  const bodies = phrases.map((p) => p.trim().split(split).map(escapeRegExp).join(gap));
  return `(?<![\\p{L}\\p{N}])(?:${bodies.join('|')})(?![\\p{L}\\p{N}])`;
}

/**
 * `bytes` as UTF-8 text, or the line of the first byte sequence that is not UTF-8. Decoding
 * such a file anyway would turn "café" from a Latin-1 spreadsheet export into "caf�" in every
 * prompt and report without a word; a file saved in another encoding is refused, by line.
 */
export function decodeUtf8(bytes: Uint8Array): { ok: true; text: string } | { ok: false; line: number } {
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes) };
  } catch {
    const lossy = new TextDecoder('utf-8', { ignoreBOM: true }).decode(bytes);
    const at = lossy.indexOf('\uFFFD');
    let line = 1;
    for (let i = 0; i < at; i++) if (lossy.charCodeAt(i) === 10) line++;
    return { ok: false, line };
  }
}
