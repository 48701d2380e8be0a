import type { Brief } from './brief';
import type { BuiltPrompt } from './prompt';
import { wholeWordsSource } from './text';

/**
 * The offline moderation check: a short list of words and phrases from clearly disallowed
 * categories, matched as whole words, case-insensitively. It is a blunt first line for workers
 * without a moderation model (OPENAI_API_KEY unset), not a classifier: it knows nothing of
 * context, so it stays deliberately small to keep false refusals rare. Teams extend it with
 * DARKROOM_MODERATION_WORDS_FILE (their own terms, brand or legal), never by growing this list.
 *
 * Categories use OpenAI's moderation names, so a refusal reads the same whichever checker ran.
 */
export const DEFAULT_MODERATION_WORDS: Readonly<Record<string, readonly string[]>> = {
  'sexual/minors': ['child porn', 'child pornography', 'csam', 'underage sex', 'sexualized child', 'sexualised child'],
  sexual: ['porn', 'pornographic', 'pornography', 'hardcore sex'],
  'violence/graphic': ['gore', 'beheading', 'decapitated', 'dismembered', 'disembowelled', 'disemboweled'],
  'self-harm': ['self-harm', 'self harm', 'suicide method'],
  hate: ['nazi propaganda', 'white power', 'ethnic cleansing'],
  illicit: ['how to make a bomb', 'pipe bomb', 'meth lab'],
};

/** One piece of text to check, and the brief field it came from (named in a refusal). */
export interface ModerationPart {
  field: string;
  text: string;
}

/** What a moderation check found. */
export interface ModerationVerdict {
  flagged: boolean;
  /** Categories flagged, e.g. `violence/graphic`; empty when nothing was. */
  categories: string[];
  /** The parts that were flagged, by field (`prompt`, `subject`, `mustInclude[1]`). */
  fields: string[];
  /** The words that matched, for the word-list checker; a model gives categories only. */
  matches?: string[];
}

/**
 * What is moderated: the prompt the generators receive, without its `Avoid: …` sentence (a brief
 * that says "avoid gore" asks for less gore, not more), and the subject, each must-include item
 * and the text to render, so a refusal can name the field.
 */
export function moderationParts(brief: Pick<Brief, 'subject' | 'mustInclude' | 'textInImage'>, prompt: Pick<BuiltPrompt, 'text' | 'negative'>): ModerationPart[] {
  const parts: ModerationPart[] = [{ field: 'prompt', text: positivePrompt(prompt) }, { field: 'subject', text: brief.subject }];
  brief.mustInclude.forEach((text, i) => parts.push({ field: `mustInclude[${i}]`, text }));
  if (brief.textInImage) parts.push({ field: 'textInImage', text: brief.textInImage });
  return parts;
}

/** The prompt text without the trailing `Avoid: <negatives>.` sentence that buildPrompt adds. */
export function positivePrompt(prompt: Pick<BuiltPrompt, 'text' | 'negative'>): string {
  const tail = ` Avoid: ${prompt.negative}.`;
  return prompt.negative && prompt.text.endsWith(tail) ? prompt.text.slice(0, -tail.length) : prompt.text;
}

/**
 * Parses a words file: one entry per line, `category: phrase` or a bare phrase (category
 * `custom`); blank lines and lines starting with `#` are skipped.
 */
export function parseModerationWords(text: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-z][a-z/_-]*)\s*:\s*(.+)$/i.exec(line);
    const [category, phrase] = m ? [m[1]!.toLowerCase(), m[2]!.trim()] : ['custom', line];
    if (phrase) (out[category] ??= []).push(phrase.toLowerCase());
  }
  return out;
}

/** Both lists, category by category. */
export function mergeModerationWords(...lists: ReadonlyArray<Readonly<Record<string, readonly string[]>>>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const list of lists) for (const [c, words] of Object.entries(list)) out[c] = [...new Set([...(out[c] ?? []), ...words])];
  return out;
}

/** Any of `phrases`: whole-word, case-insensitive, with any run of spaces or hyphens between a phrase's words. */
const phrasePattern = (phrases: readonly string[]) => new RegExp(wholeWordsSource(phrases, { hyphens: true }), 'iu');

interface CompiledWords {
  /** Matches where any one phrase matches, so a clean part costs one scan instead of one a phrase. */
  any: RegExp | undefined;
  patterns: Array<{ category: string; word: string; re: RegExp }>;
}

/** Compiled once per word list: a worker checks every brief against the same list. */
const compiled = new WeakMap<object, CompiledWords>();

function compile(words: Readonly<Record<string, readonly string[]>>): CompiledWords {
  let c = compiled.get(words);
  if (!c) {
    const patterns = Object.entries(words).flatMap(([category, list]) => list.map((w) => ({ category, word: w, re: phrasePattern([w]) })));
    const any = patterns.length ? phrasePattern(patterns.map((p) => p.word)) : undefined;
    c = { any, patterns };
    compiled.set(words, c);
  }
  return c;
}

/** Checks every part against the word list. Pure, so a catalog of briefs costs nothing to check. */
export function checkWords(parts: readonly ModerationPart[], words: Readonly<Record<string, readonly string[]>>): ModerationVerdict {
  const categories = new Set<string>();
  const fields = new Set<string>();
  const matches = new Set<string>();
  const { any, patterns } = compile(words);
  for (const part of parts) {
    if (!any?.test(part.text)) continue;
    for (const p of patterns) {
      if (p.re.test(part.text)) {
        categories.add(p.category);
        fields.add(part.field);
        matches.add(p.word);
      }
    }
  }
  return { flagged: categories.size > 0, categories: [...categories].sort(), fields: [...fields], matches: [...matches].sort() };
}
