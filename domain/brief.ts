import { z } from 'zod';
import { CHANNEL_IDS, CUSTOM_SIDE, resolveChannel } from './channels';
import { parseDuration } from './duration';
import { isObject, unreadableReason } from './json';
import { MAX_STYLE_REFERENCES, referenceSourceProblem } from './references';
import { DEADLINE_POLICIES } from './review';
import { clip, CONTROL_CHARS, preview, terminalSafe } from './text';

const HEX = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;

/** `#abc` → `#AABBCC`: one spelling per colour so equal briefs hash equally. */
function normalizeHex(hex: string): string {
  const h = hex.slice(1);
  const full = h.length === 3 ? h.split('').map((c) => c + c).join('') : h;
  return `#${full.toUpperCase()}`;
}

/** Line breaks and tabs, which are fine in prose but not in a name, a phrase or a knob. */
const LINE_CHARS = /[\t\n]/;

/**
 * Refuses text that could drive a terminal or read differently from what it says (see
 * {@link CONTROL_CHARS}); `singleLine` refuses tabs and newlines too. Checked before trimming, so
 * the position (1-based) is where the character is in what was written.
 */
function plain(singleLine: boolean) {
  return (value: string, ctx: z.core.$RefinementCtx<string>) => {
    const m = CONTROL_CHARS.exec(value) ?? (singleLine ? LINE_CHARS.exec(value) : null);
    if (m) {
      const escaped = `\\u${m[0].charCodeAt(0).toString(16).padStart(4, '0')}`;
      ctx.addIssue({ code: 'custom', message: `contains a control character (${escaped} at position ${m.index + 1})` });
    }
  };
}
/** Prose: a subject, an intent; newlines and tabs allowed. */
const prose = () => z.string().superRefine(plain(false));
/** A name, a phrase, a knob: one line. */
const line = () => z.string().superRefine(plain(true));

const text = (max: number) => prose().trim().min(1, { error: 'must not be empty' }).max(max);
const phraseList = (maxItems: number) => z.array(line().trim().min(1, { error: 'must not be empty' }).max(120)).max(maxItems).default([]);
const knob = line().trim().max(300).optional();

const channelId = line().refine((id) => resolveChannel(id) !== undefined, {
  error: (iss) =>
    /^custom-\d+x\d+$/.test(String(iss.input))
      ? `custom channel ${preview(iss.input)} is out of range: each side must be ${CUSTOM_SIDE.min} to ${CUSTOM_SIDE.max} px`
      : `unknown channel ${preview(iss.input)}: use one of ${CHANNEL_IDS.join(', ')}, or custom-<W>x<H> such as custom-1600x900`,
});

const reviewDeadline = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined || ms < 1000 || ms > 366 * 86_400_000) {
    ctx.addIssue({ code: 'custom', message: 'must be a duration from 1s to 366d, such as 72h, 2d or 30m' });
    return z.NEVER;
  }
  return ms;
});

/** How long a brief waits for a reviewer, what happens then, and how many revision rounds it allows. */
export const ReviewSettingsSchema = z.strictObject({
  /** How long to wait for a decision, e.g. `72h`; stored as milliseconds. @default 72h */
  deadline: reviewDeadline.default(72 * 3_600_000),
  /** At the deadline: `remind` (notify and keep waiting), `approveTop` (ship the judge's top K) or `fail`. @default remind */
  onDeadline: z.enum(DEADLINE_POLICIES).default('remind'),
  /** Generation rounds including the first; each requestChanges starts one more. @default 3 */
  maxRounds: z.number().int().min(1).max(10).default(3),
  /**
   * With `approval: when-unsure`: the judge's score (0–100) the top candidates must reach, with a
   * verdict that is safe and sure, to ship without a person. Optional rather than defaulted, so
   * briefs that never use it parse (and seed) exactly as before. @default 70
   */
  confidentScore: z.number().min(0).max(100).optional(),
});

/** A reference image: `blob:<key>`, an `https://` URL, or (with the darkroom CLI, which uploads it) a local file path. */
const referenceSource = line()
  .trim()
  .min(1, { error: 'must not be empty' })
  .max(2048)
  .superRefine((v, ctx) => {
    const problem = referenceSourceProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });

/** Images the result must stay faithful to: the product's packshot, and looks to follow. */
export const ReferencesSchema = z.strictObject({
  /** The product's packshot: placed as it is (same shape, label, colour); judges score fidelity against it. */
  product: referenceSource.optional(),
  /** Up to four images whose look (palette, light, mood) the result should follow. */
  style: z.array(referenceSource).max(MAX_STYLE_REFERENCES).optional(),
});

/**
 * A creative brief: what to make, for which channels, under which constraints.
 * Everything a brief workflow does follows from it; it never holds secrets.
 */
export const BriefSchema = z
  .strictObject({
    /** Short kebab-case name used in workflow ids and asset paths; derived from the subject when absent. */
    id: line()
      .regex(/^[a-z0-9](?:[a-z0-9-]{0,58}[a-z0-9])?$/, { error: 'must be lowercase kebab-case (a-z, 0-9, -), at most 60 characters' })
      .optional(),
    /** Target channels: preset ids or custom-<W>x<H>. */
    channels: z.array(channelId).min(1, { error: 'name at least one channel' }).max(12),
    /** What the image shows. */
    subject: text(500),
    /** What the image is for, e.g. "spring launch announcement". */
    intent: prose().trim().max(300).default(''),
    /** Who will see it. */
    audience: prose().trim().max(300).default(''),
    /** Brand colours as hex, e.g. "#0B3D91". */
    brandColors: z
      .array(line().trim().regex(HEX, { error: 'must be a hex colour such as #0B3D91' }).transform(normalizeHex))
      .max(8)
      .default([]),
    /** Elements the image must show. */
    mustInclude: phraseList(20),
    /** Exact text the image must show (a headline, a price); routes to a model that renders lettering. */
    textInImage: prose().trim().min(1).max(200).optional(),
    /** Elements the image must not show; they become the prompt's negatives. */
    mustAvoid: phraseList(20),
    /** Style words, e.g. "editorial", "flat illustration". */
    styleHints: phraseList(10),
    /** Prompt knobs the brief may set directly. */
    composition: knob,
    lighting: knob,
    camera: knob,
    lens: knob,
    /** Candidates to generate per round. */
    candidates: z.number().int().min(1).max(100).default(4),
    /** Candidates kept after judging (and, with human approval, the most a reviewer may approve). */
    topK: z.number().int().min(1).max(100).default(1),
    /** Whether any deliverable needs 4K (3840 px on the long side). */
    needs4k: z.boolean().default(false),
    /** Spend limit for the whole brief, in US dollars. */
    budgetUsd: z.number().min(0).max(100_000).default(5),
    /**
     * `auto` ships the judge's top K; `human` waits for a reviewer; `when-unsure` ships the top K
     * when the judge is confident (see `review.confidentScore`) and waits for a reviewer otherwise.
     */
    approval: z.enum(['auto', 'human', 'when-unsure']).default('auto'),
    /** Prompts scoring below this (out of 8) are refused before any money is spent. */
    minPromptScore: z.number().int().min(0).max(8).default(4),
    /** Under minPromptScore: `fail` at once, or `cheap` (explore on the cheap tier only). @default fail */
    onLowPromptScore: z.enum(['fail', 'cheap']).default('fail'),
    /** Image model id, or `auto` to route by the brief. */
    model: line().trim().min(1).max(120).default('auto'),
    /** Human review settings (used when approval is `human`, or `when-unsure` and the judge is unsure). */
    review: ReviewSettingsSchema.prefault({}),
    /** Base seed; candidate i uses seed + i. Derived from the brief when absent. */
    seed: z.number().int().min(0).max(2_147_483_647).optional(),
    /** The catalog row this brief was made from (its SKU as the feed spells it); set by catalog jobs. */
    sku: line().trim().min(1).max(120).optional(),
    /** The A/B prompt variant id from the catalog template's `variants`, e.g. `warm`; set by catalog jobs. */
    variant: line().trim().min(1).max(60).optional(),
    /** Reference images (see {@link ReferencesSchema}); absent when the brief has none. */
    references: ReferencesSchema.optional(),
    /** The brand kit this brief is made for: `brands/<brand>.json` (palette, style language, logo). */
    brand: line().regex(/^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/, { error: 'must name a brand kit: lowercase kebab-case, at most 40 characters' }).optional(),
    /**
     * Where the CLI stored the kit in the blob store (`brands/<brand>/<sha256>.json`), so every
     * worker reads the same kit whatever its disk holds; set by the CLI, not by people.
     */
    brandKey: line().regex(/^brands\/[a-z0-9-]{1,40}\/[0-9a-f]{64}\.json$/, { error: 'must be a stored brand kit key, brands/<name>/<sha256>.json' }).optional(),
  })
  .superRefine((b, ctx) => {
    if (b.topK > b.candidates) {
      ctx.addIssue({ code: 'custom', path: ['topK'], message: `must not exceed candidates (${b.candidates})` });
    }
    const dup = b.channels.find((c, i) => b.channels.indexOf(c) !== i);
    if (dup) ctx.addIssue({ code: 'custom', path: ['channels'], message: `lists ${dup} twice` });
    if (b.brandKey && (!b.brand || !b.brandKey.startsWith(`brands/${b.brand}/`))) {
      ctx.addIssue({ code: 'custom', path: ['brandKey'], message: `must be a key under brands/${b.brand ?? '<brand>'}/ (set brand too)` });
    }
  });

/** A validated brief with every default filled in. */
export type Brief = z.output<typeof BriefSchema>;
/** What a user may write: defaults optional. */
export type BriefInput = z.input<typeof BriefSchema>;

/** One problem with one field of a brief. */
export interface FieldIssue {
  /** Dotted path to the field, e.g. `channels[1]` or `brandColors[0]`; `(brief)` for the whole. */
  field: string;
  message: string;
}

/**
 * A field path as a person writes it. Keys come from the input (an unknown key of a megabyte is
 * a field name too), so each is clipped and its control characters shown as escapes.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else {
      const key = terminalSafe(clip(String(p)), { singleLine: true });
      out += out ? `.${key}` : key;
    }
  }
  return out || '(brief)';
}

/** Problems listed one by one; past this, one line says how many more there are. */
export const MAX_LISTED_ISSUES = 20;

/** zod's defaults read like compiler output; say what a person should write instead. */
function plainMessage(issue: z.core.$ZodIssue): string {
  const received = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'string' ? preview(v) : typeof v === 'object' ? 'an object' : clip(String(v)));
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${issue.expected === 'array' ? 'a list' : `a ${issue.expected}`}, not ${received(issue.input)}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${issue.maximum} characters`;
      if (issue.origin === 'array') return `may hold at most ${issue.maximum} items`;
      return `must be at most ${issue.maximum}`;
    case 'too_small':
      if (issue.origin === 'string') return issue.message === 'must not be empty' ? issue.message : `must be at least ${issue.minimum} characters`;
      if (issue.origin === 'array') return issue.message.startsWith('name ') ? issue.message : `must hold at least ${issue.minimum} items`;
      return `must be at least ${issue.minimum}`;
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, not ${received(issue.input)}`;
    default:
      return issue.message;
  }
}

/**
 * Turns zod issues into field-named problems a person can act on: at most
 * {@link MAX_LISTED_ISSUES}, then one `(brief)` line counting the rest, so a brief of thousands
 * of bad keys still makes an error small enough to print, log and send through Temporal.
 */
export function toFieldIssues(error: z.ZodError, what = 'brief'): FieldIssue[] {
  const out: FieldIssue[] = [];
  let more = 0;
  for (const issue of error.issues) {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [undefined];
    for (const key of keys) {
      if (out.length >= MAX_LISTED_ISSUES) {
        more++;
        continue;
      }
      out.push(
        key === undefined
          ? { field: formatPath(issue.path), message: plainMessage(issue) }
          : { field: formatPath([...issue.path, key]), message: `is not a ${what} field (check the spelling)` },
      );
    }
  }
  if (more) out.push({ field: '(brief)', message: `… and ${more} more problem${more === 1 ? '' : 's'}` });
  return out;
}

/** Thrown (or carried) when a brief does not validate; lists every bad field. */
export class BriefValidationError extends Error {
  override readonly name = 'BriefValidationError';
  constructor(readonly issues: readonly FieldIssue[]) {
    super(`invalid brief: ${issues.map((i) => `${i.field} ${i.message}`).join('; ')}`);
  }
}

export type ParseBriefResult = { ok: true; brief: Brief } | { ok: false; issues: FieldIssue[] };

export function parseBrief(input: unknown): ParseBriefResult {
  const unreadable = unreadableReason(input);
  if (unreadable) return { ok: false, issues: [{ field: '(brief)', message: `could not be read: ${unreadable}` }] };
  if (!isObject(input)) {
    return { ok: false, issues: [{ field: '(brief)', message: 'must be a JSON object' }] };
  }
  const result = BriefSchema.safeParse(input, { reportInput: true });
  return result.success ? { ok: true, brief: result.data } : { ok: false, issues: toFieldIssues(result.error) };
}

/** Parses or throws {@link BriefValidationError}. */
export function validateBrief(input: unknown): Brief {
  const r = parseBrief(input);
  if (!r.ok) throw new BriefValidationError(r.issues);
  return r.brief;
}
