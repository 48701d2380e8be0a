/**
 * Pure, deterministic hashing and randomness for code that must replay identically
 * (workflows) or must name things the same way on every run (blob keys, workflow ids).
 * Not cryptographic: blob integrity uses sha256 in activities.
 */

/** 32-bit FNV-1a over the UTF-16 code units of `input`, seeded so two passes give 64 bits. */
function fnv1a32(input: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < input.length; i++) {
    h ^= input.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Eight lowercase hex characters identifying `input`. */
export function hash8(input: string): string {
  return fnv1a32(input).toString(16).padStart(8, '0');
}

/** Sixteen hex characters: two independent 32-bit passes, for ids that must rarely collide. */
export function hash16(input: string): string {
  return hash8(input) + fnv1a32(input, 0x9747b28c).toString(16).padStart(8, '0');
}

/** A 32-bit unsigned integer derived from `input`, for seeding. */
export function hashInt(input: string): number {
  return fnv1a32(input);
}

/** JSON with object keys sorted, so equal values always hash equally. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableStringify(v)}`).join(',')}}`;
}

/** mulberry32: a small seeded PRNG returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lowercase kebab-case, ASCII only, at most `max` characters. */
export function slugify(text: string, max = 40): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, max)
    .replace(/-+$/g, '');
  return slug || 'brief';
}
