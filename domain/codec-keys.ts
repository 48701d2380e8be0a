/**
 * The format of DARKROOM_CODEC_KEYS, checked without Node (config parsing lives in domain/):
 * `id:<base64>` entries separated by commas, the first the current key.
 */

/** Length in bytes of an AES-256 key. */
export const CODEC_KEY_BYTES = 32;

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** One entry of DARKROOM_CODEC_KEYS, its key still in base64. */
export interface CodecKeyEntry {
  id: string;
  base64: string;
}

/** Splits DARKROOM_CODEC_KEYS into entries, or throws an Error saying which entry is wrong and why (never echoing a key). */
export function splitCodecKeys(value: string): CodecKeyEntry[] {
  const entries = value.split(',').map((e) => e.trim()).filter(Boolean);
  if (entries.length === 0) throw new Error('must list at least one key, as id:<base64 of 32 bytes>');
  const seen = new Set<string>();
  return entries.map((entry, i) => {
    const colon = entry.indexOf(':');
    if (colon < 0) throw new Error(`entry ${i + 1} must be id:<base64 of 32 bytes> (no ':' found)`);
    const id = entry.slice(0, colon);
    const base64 = entry.slice(colon + 1);
    if (!KEY_ID.test(id)) throw new Error(`entry ${i + 1}: the key id must be 1-64 letters, digits, '.', '_' or '-'`);
    if (seen.has(id)) throw new Error(`key id ${id} appears twice; ids must be unique`);
    seen.add(id);
    if (!BASE64.test(base64)) throw new Error(`key ${id} is not base64`);
    const bytes = (base64.length / 4) * 3 - (base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0);
    if (bytes !== CODEC_KEY_BYTES) {
      throw new Error(`key ${id} is ${bytes} bytes; AES-256 needs ${CODEC_KEY_BYTES} (make one with: openssl rand -base64 32)`);
    }
    return { id, base64 };
  });
}

/** What is wrong with a DARKROOM_CODEC_KEYS value, or undefined when it is well formed. */
export function codecKeysProblem(value: string): string | undefined {
  try {
    splitCodecKeys(value);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
