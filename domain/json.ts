/**
 * Bounds on how deeply JSON from outside (a brief file, a catalog template, a JSON-lines row)
 * may nest. `JSON.parse` copes with deep text, but what comes after it (`JSON.stringify`, zod,
 * template expansion, hashing) recurses and dies with a RangeError a few thousand levels down.
 * Both checks here are loops, so they never blow the stack themselves. Pure: no Node imports.
 */

/** How deeply a brief, a template or a feed cell may nest; real ones use three or four levels. */
export const JSON_MAX_DEPTH = 32;

/**
 * The deepest nesting of `[` and `{` in JSON text (brackets inside strings do not count), or
 * `stopAfter + 1` as soon as it gets deeper than `stopAfter`. Malformed text is scanned all the
 * same: JSON.parse will say what is wrong with it.
 */
export function jsonTextDepth(text: string, stopAfter: number = JSON_MAX_DEPTH): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) {
        max = depth;
        if (max > stopAfter) return max;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return max;
}

/**
 * The deepest nesting of arrays and objects in a value (a scalar is 0, `[]` is 1), or
 * `stopAfter + 1` as soon as it gets deeper than `stopAfter`. Walks with an explicit stack; a
 * cycle only ever gets deeper, so it ends at the stop too. (Values decoded from JSON share no
 * parts, so each node is visited once.)
 */
export function valueDepth(value: unknown, stopAfter: number = JSON_MAX_DEPTH): number {
  let max = 0;
  const stack: Array<{ v: unknown; depth: number }> = [{ v: value, depth: 0 }];
  while (stack.length) {
    const { v, depth } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    const d = depth + 1;
    if (d > max) {
      max = d;
      if (max > stopAfter) return max;
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === 'object') stack.push({ v: child, depth: d });
    }
  }
  return max;
}

/** A JSON object (not null, not an array): what most untrusted inputs must be before their fields are read. */
export const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The key of the marker temporal/payload-converter.cjs puts where a payload could not be read. */
export const UNREADABLE_PAYLOAD_KEY = 'darkroomUnreadablePayload';

/**
 * Why a value that came in (a start's input, a signal's or an update's argument) could not be
 * read, or undefined when it could: a payload in an encoding Darkroom does not read arrives as
 * the converter's marker, and one sent as raw bytes (`binary/plain`) as a Uint8Array.
 */
export function unreadableReason(v: unknown): string | undefined {
  // Not `instanceof Uint8Array`: in workflow code the bytes come from outside the sandbox's realm.
  if (ArrayBuffer.isView(v)) return 'it is binary data (send JSON: json/plain)';
  if (isObject(v) && typeof v[UNREADABLE_PAYLOAD_KEY] === 'string' && Object.keys(v).length === 1) return v[UNREADABLE_PAYLOAD_KEY];
  return undefined;
}

/**
 * `v`, or the marker when it could not be read: what workflow code hands an activity, which
 * would otherwise receive bytes from a `binary/plain` input as an object of numbered keys.
 */
export function markUnreadable<T>(v: T): T | Record<string, string> {
  const reason = unreadableReason(v);
  return reason === undefined ? v : { [UNREADABLE_PAYLOAD_KEY]: reason };
}
