import type { Brief } from './brief';
import { describeColor } from './colors';
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

/** Knob values taken from a brief: palette from brand colours, negatives from must-avoid. */
export function knobsFromBrief(brief: Brief): PromptKnobs {
  const knobs: PromptKnobs = {
    subject: brief.subject,
    composition: brief.composition,
    lighting: brief.lighting,
    style: brief.styleHints.length ? brief.styleHints.join(', ') : undefined,
    camera: brief.camera,
    lens: brief.lens,
    palette: brief.brandColors.length
      ? brief.brandColors.map((c) => `${describeColor(c)} (${c})`).join(', ')
      : undefined,
    negatives: brief.mustAvoid.length ? brief.mustAvoid.join(', ') : undefined,
  };
  for (const k of KNOBS) if (!knobs[k]?.trim()) delete knobs[k];
  return knobs;
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

/** Builds the prompt for a brief; `feedback` carries reviewer notes from earlier rounds. */
export function buildPrompt(brief: Brief, feedback: readonly string[] = []): BuiltPrompt {
  const k = knobsFromBrief(brief);
  const sentences: string[] = [];
  sentences.push(`${k.subject}.`);
  if (brief.mustInclude.length) sentences.push(`The image must clearly show ${brief.mustInclude.join(', ')}.`);
  if (k.composition) sentences.push(`Composition: ${k.composition}.`);
  if (k.lighting) sentences.push(`Lighting: ${k.lighting}.`);
  if (k.style) sentences.push(`Style: ${k.style}.`);
  if (k.camera || k.lens) sentences.push(`Shot on ${[k.camera, k.lens].filter(Boolean).join(' with ')}.`);
  if (k.palette) sentences.push(`Colour palette: ${k.palette}.`);
  if (brief.intent || brief.audience) {
    sentences.push(`Made for ${[brief.intent, brief.audience && `an audience of ${brief.audience}`].filter(Boolean).join(', ')}.`);
  }
  if (feedback.length) sentences.push(`Revision notes: ${feedback.join(' ')}`);
  if (k.negatives) sentences.push(`Avoid: ${k.negatives}.`);
  const text = sentences.join(' ');
  const negative = k.negatives ?? '';
  const version = `pv-${hash8(stableStringify({ text, negative }))}`;
  return { version, text, negative, knobs: k, feedback: [...feedback] };
}
