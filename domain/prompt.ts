import type { Brief } from './brief';
import { bannedIn, describePalette, stripBanned, type PromptBrand } from './brand-words';
import { hash8, stableStringify } from './hash';

/** The eight knobs a production image prompt is built from. */
export const KNOBS = ['subject', 'composition', 'lighting', 'style', 'camera', 'lens', 'palette', 'negatives'] as const;
export type Knob = (typeof KNOBS)[number];
export type PromptKnobs = Partial<Record<Knob, string>>;

/** A prompt ready to send, with the knobs it was made from and a version id. */
export interface BuiltPrompt {
  /** `pv-<hash8>` of everything that shapes the image; changes whenever the prompt does. */
  version: string;
  /** Positive prompt text. */
  text: string;
  /** Things to keep out, for models that take a separate negative prompt. */
  negative: string;
  knobs: PromptKnobs;
  /** Reviewer feedback folded into this version, oldest first. */
  feedback: string[];
}

export interface PromptScore {
  score: number;
  max: 8;
  present: Knob[];
  missing: Knob[];
}

/**
 * Knob values taken from a brief (and its brand kit, when it has one): palette from the brief's
 * colours then the kit's, style from the brief's hints then the kit's approved words, negatives
 * from must-avoid. Banned words are taken out of every knob; a list item that uses one is dropped.
 * The subject is kept as written: a brief whose subject uses a banned word is refused before
 * this runs (see {@link bannedWordIssues}).
 */
export function knobsFromBrief(brief: Brief, brand?: PromptBrand): PromptKnobs {
  const banned = brand?.style.banned ?? [];
  const clean = (v: string | undefined) => (v === undefined || !banned.length ? v : stripBanned(v, banned));
  const items = (list: readonly string[]) => (banned.length ? list.filter((i) => bannedIn(i, banned) === undefined) : [...list]);
  const style = brand ? [...new Set(items([...brief.styleHints, ...brand.style.approved]))] : brief.styleHints;
  const negatives = items(brief.mustAvoid);
  const knobs: PromptKnobs = {
    subject: brief.subject,
    composition: clean(brief.composition),
    lighting: clean(brief.lighting),
    style: style.length ? style.join(', ') : undefined,
    camera: clean(brief.camera),
    lens: clean(brief.lens),
    palette: describePalette(brief.brandColors, brand),
    negatives: negatives.length ? negatives.join(', ') : undefined,
  };
  for (const k of KNOBS) if (!knobs[k]?.trim()) delete knobs[k];
  return knobs;
}

/** Thrown when a banned word would reach a prompt (the checks before should make this impossible). */
export class BannedWordError extends Error {
  override readonly name = 'BannedWordError';
  constructor(readonly field: string, readonly word: string) {
    super(`${field} uses the banned ${JSON.stringify(word)}`);
  }
}

/** A knob counts when it says something: at least three characters, and two words for the subject. */
function isSet(knob: Knob, value: string | undefined): boolean {
  const v = value?.trim() ?? '';
  if (v.length < 3) return false;
  return knob !== 'subject' || v.split(/\s+/).length >= 2;
}

/** Scores a prompt out of 8, one point per knob that is set, naming the ones that are not. */
export function scorePrompt(knobs: PromptKnobs): PromptScore {
  const present = KNOBS.filter((k) => isSet(k, knobs[k]));
  const missing = KNOBS.filter((k) => !present.includes(k));
  return { score: present.length, max: 8, present, missing };
}

/**
 * Builds the prompt for a brief; `feedback` carries reviewer notes from earlier rounds, `brand`
 * the brief's kit. No banned word reaches the text or the negative: softer fields and feedback
 * have them taken out, and a subject or must-include that uses one throws {@link BannedWordError}.
 */
export function buildPrompt(brief: Brief, feedback: readonly string[] = [], brand?: PromptBrand): BuiltPrompt {
  const banned = brand?.style.banned ?? [];
  for (const [field, value] of [['subject', brief.subject], ...brief.mustInclude.map((m, i) => [`mustInclude[${i}]`, m])] as const) {
    const word = bannedIn(value, banned);
    if (word) throw new BannedWordError(field, word);
  }
  const clean = (v: string) => (banned.length ? stripBanned(v, banned) : v);
  const k = knobsFromBrief(brief, brand);
  const intent = clean(brief.intent);
  const audience = clean(brief.audience);
  const notes = banned.length ? feedback.map(clean).filter(Boolean) : feedback;
  const sentences: string[] = [];
  sentences.push(`${k.subject}.`);
  if (brief.mustInclude.length) sentences.push(`The image must clearly show ${brief.mustInclude.join(', ')}.`);
  if (k.composition) sentences.push(`Composition: ${k.composition}.`);
  if (k.lighting) sentences.push(`Lighting: ${k.lighting}.`);
  if (k.style) sentences.push(`Style: ${k.style}.`);
  if (k.camera || k.lens) sentences.push(`Shot on ${[k.camera, k.lens].filter(Boolean).join(' with ')}.`);
  if (k.palette) sentences.push(`Colour palette: ${k.palette}.`);
  if (intent || audience) {
    sentences.push(`Made for ${[intent, audience && `an audience of ${audience}`].filter(Boolean).join(', ')}.`);
  }
  if (notes.length) {
    // A reviewer's note rarely ends a sentence ("more morning light"): end it, so it does not run into the next.
    const said = notes.join(' ');
    sentences.push(`Revision notes: ${said}${/[.!?]$/.test(said) ? '' : '.'}`);
  }
  if (k.negatives) sentences.push(`Avoid: ${k.negatives}.`);
  const text = sentences.join(' ');
  const negative = k.negatives ?? '';
  // The last line of defence: whatever slipped past the rules above does not leave.
  const leaked = bannedIn(`${text}\n${negative}`, banned);
  if (leaked) throw new BannedWordError('prompt', leaked);
  const version = `pv-${hash8(stableStringify({ text, negative }))}`;
  // The notes as folded in: with a kit's banned words taken out (the review audit keeps the originals).
  return { version, text, negative, knobs: k, feedback: [...notes] };
}
