/**
 * The parts of a brand kit the prompt builder and the workflows apply: banned words and the
 * palette. Kept apart from the kit's schema (brand.ts) so workflow code, which runs its module
 * scope afresh for every workflow run, builds no zod schemas.
 */
import type { FieldIssue } from './brief';
import { describeColor } from './colors';
import { wholeWordsSource } from './text';

/** What the prompt builder needs from a kit. */
export type PromptBrand = { palette: Record<string, string>; style: { approved: readonly string[]; banned: readonly string[] } };

// ── Banned words ────────────────────────────────────────────────────────────

const matchers = new Map<string, RegExp>();
/** A phrase as a whole-word, case-insensitive pattern; inner spaces match any run of white space. */
function matcher(phrase: string): RegExp {
  let re = matchers.get(phrase);
  if (!re) {
    re = new RegExp(wholeWordsSource([phrase]), 'giu');
    if (matchers.size > 2048) matchers.clear();
    matchers.set(phrase, re);
  }
  re.lastIndex = 0;
  return re;
}

/** The first banned word or phrase a text uses (whole words, any case), or undefined. */
export function bannedIn(text: string, banned: readonly string[]): string | undefined {
  return banned.find((b) => b.trim() && matcher(b).test(text));
}

/**
 * The text with every banned word or phrase taken out, and the spacing and punctuation it leaves
 * tidied. Repeated until none is left: taking one out can bring two halves of another together.
 */
export function stripBanned(text: string, banned: readonly string[]): string {
  let out = text;
  for (let guard = 0; guard < 100 && bannedIn(out, banned) !== undefined; guard++) {
    for (const b of banned) if (b.trim()) out = out.replace(matcher(b), ' ');
  }
  return out.replace(/\s+([,.;:!?])/g, '$1').replace(/([,;:])(\s*[,;:])+/g, '$1').replace(/\s{2,}/g, ' ').replace(/^[\s,;:]+|[\s,;:]+$/g, '').trim();
}

/**
 * Fields of a brief that must not use a banned word: what the image shows and any text in it.
 * Dropping the word would silently change what was asked for, so the brief is refused instead
 * (before any spend). Softer fields (style, lighting, intent…) have the words taken out.
 */
export function bannedWordIssues(
  brief: { subject: string; mustInclude: readonly string[]; textInImage?: string },
  banned: readonly string[],
  brandName: string,
): FieldIssue[] {
  const issues: FieldIssue[] = [];
  const check = (field: string, value: string | undefined) => {
    const word = value === undefined ? undefined : bannedIn(value, banned);
    if (word) issues.push({ field, message: `uses ${JSON.stringify(word)}, which brand ${brandName} bans: reword it` });
  };
  check('subject', brief.subject);
  brief.mustInclude.forEach((m, i) => check(`mustInclude[${i}]`, m));
  check('textInImage', brief.textInImage);
  return issues;
}

// ── Palette ─────────────────────────────────────────────────────────────────

/**
 * The colours a brief is made in: the brief's own first (a product row's colour is more specific
 * than the brand's), then the kit's that the brief does not already name. At most 8.
 */
export function mergedPalette(brandColors: readonly string[], kit?: Pick<PromptBrand, 'palette'>): string[] {
  const out = [...brandColors];
  for (const hex of Object.values(kit?.palette ?? {})) if (!out.includes(hex)) out.push(hex);
  return out.slice(0, 8);
}

/** The palette knob: each colour in words, with its hex and, for kit colours, its role. */
export function describePalette(brandColors: readonly string[], kit?: Pick<PromptBrand, 'palette'>): string | undefined {
  const roleOf = new Map(Object.entries(kit?.palette ?? {}).map(([role, hex]) => [hex, role] as const));
  const colours = mergedPalette(brandColors, kit);
  if (!colours.length) return undefined;
  return colours.map((c) => {
    const role = brandColors.includes(c) ? undefined : roleOf.get(c);
    return `${describeColor(c)} (${c}${role ? `, ${role}` : ''})`;
  }).join(', ');
}
