import { Type, type Part, type Schema } from '@google/genai';
import { z } from 'zod';
import type { Brief } from '../../../domain/brief';
import type { Judgement } from '../../../domain/types';
import { VISION_MODELS } from '../../../domain/models';
import { InvalidRequestError } from '../errors';
import type { JudgeInput, JudgeOutput, VisionJudge } from '../types';
import { GeminiConnection, malformed, type GeminiClientOptions } from './client';
import { costFromUsage, responseText, visionPart } from './content';

export interface GeminiVisionJudgeOptions extends GeminiClientOptions {
  /** A Gemini vision model from `VISION_MODELS`. @default gemini-2.5-flash */
  model?: string;
  /** Candidates per request; more share one prompt but crowd the model's attention. At most 8. @default 8 */
  batchSize?: number;
  /**
   * Thinking tokens the model may spend per request (billed as output). Scoring against a
   * written rubric gains little from thinking, and 0 keeps the cost near the catalog's forecast.
   * @default 0
   */
  thinkingBudget?: number;
}

/** How the judge's sub-scores make the score, and what a failed brief check costs. */
export const GEMINI_JUDGE_WEIGHTS = {
  match: 0.5,
  aesthetics: 0.3,
  artifacts: 0.2,
  /** Points off per must-include item the judge did not see. */
  missingMustInclude: 15,
  /** Points off per must-avoid item the judge saw. */
  presentMustAvoid: 25,
} as const;

/**
 * With a product reference, the share of the score (before penalties) that product fidelity
 * takes; match, aesthetics and artifacts share the rest in their usual proportions.
 */
export const GEMINI_FIDELITY_WEIGHT = 0.4;

export const MAX_BATCH = 8;

const check = { type: Type.OBJECT, properties: { item: { type: Type.STRING }, present: { type: Type.BOOLEAN } }, required: ['item', 'present'] } satisfies Schema;
const score = (description: string): Schema => ({ type: Type.INTEGER, minimum: 0, maximum: 100, description });

/** The answer's shape, enforced by Gemini's structured output. */
export const JUDGE_RESPONSE_SCHEMA: Schema = {
  type: Type.OBJECT,
  properties: {
    candidates: {
      type: Type.ARRAY,
      items: {
        type: Type.OBJECT,
        properties: {
          id: { type: Type.STRING, description: 'The candidate id exactly as given' },
          match: score('How well the image shows the subject and serves the brief, 0-100'),
          aesthetics: score('Composition, light, colour and finish, 0-100'),
          artifacts: score('Freedom from generation artifacts, 0-100; 100 means none'),
          mustInclude: { type: Type.ARRAY, items: check },
          mustAvoid: { type: Type.ARRAY, items: check },
          reasons: { type: Type.ARRAY, items: { type: Type.STRING } },
          safety: {
            type: Type.OBJECT,
            description: 'Whether the image may ship at all, apart from its scores',
            properties: {
              safe: { type: Type.BOOLEAN, description: 'false when it shows nudity or sexual content, gore, hate symbols, self-harm, or weapons or drugs used on people' },
              confident: { type: Type.BOOLEAN, description: 'true when you are sure of this verdict and your scores' },
              concerns: { type: Type.ARRAY, items: { type: Type.STRING }, description: 'what makes it unsafe or uncertain; empty when nothing does' },
            },
            required: ['safe', 'confident', 'concerns'],
          },
        },
        required: ['id', 'match', 'aesthetics', 'artifacts', 'mustInclude', 'mustAvoid', 'reasons', 'safety'],
        propertyOrdering: ['id', 'match', 'aesthetics', 'artifacts', 'mustInclude', 'mustAvoid', 'reasons', 'safety'],
      },
    },
  },
  required: ['candidates'],
};

/** {@link JUDGE_RESPONSE_SCHEMA} with per-candidate fidelity to the product reference, asked for only when one is sent. */
export const FIDELITY_JUDGE_RESPONSE_SCHEMA: Schema = (() => {
  const candidates = JUDGE_RESPONSE_SCHEMA.properties!.candidates!;
  const item = candidates.items!;
  return {
    ...JUDGE_RESPONSE_SCHEMA,
    properties: {
      candidates: {
        ...candidates,
        items: {
          ...item,
          properties: {
            ...item.properties,
            fidelity: score('Whether this is the same product as the product reference, kept as it is (same shape, label text, colours), 0-100; 0 means absent or a different product'),
            fidelityReasons: { type: Type.ARRAY, items: { type: Type.STRING }, description: 'One to three short reasons for the fidelity score' },
            productBox: {
              type: Type.ARRAY, items: { type: Type.INTEGER }, minItems: '4', maxItems: '4',
              description: 'Where the product is in this candidate: [ymin, xmin, ymax, xmax], each 0-1000 of the image height or width; omit it when the product is not in the image',
            },
          },
          required: [...item.required!, 'fidelity', 'fidelityReasons'],
          propertyOrdering: [...item.propertyOrdering!, 'fidelity', 'fidelityReasons'],
        },
      },
    },
  };
})();

const Check = z.object({ item: z.string(), present: z.boolean() });
const JudgeAnswer = z.object({
  candidates: z.array(
    z.object({
      id: z.string(),
      match: z.number(),
      aesthetics: z.number(),
      artifacts: z.number(),
      mustInclude: z.array(Check).default([]),
      mustAvoid: z.array(Check).default([]),
      reasons: z.array(z.string()).default([]),
      // Asked for; an answer without it is read as "no verdict" (the judge never counts as sure).
      safety: z.object({ safe: z.boolean(), confident: z.boolean(), concerns: z.array(z.string()).default([]) }).optional(),
    }),
  ),
});
// A fidelity outside 0–100 is not clamped: it means the judge misread the scale, so the answer is refused.
const FidelityJudgeAnswer = z.object({
  candidates: z.array(
    JudgeAnswer.shape.candidates.element.extend({
      fidelity: z.number().min(0).max(100),
      fidelityReasons: z.array(z.string()).default([]),
      // Where the product is: a box that makes no sense is dropped (the crop then follows attention), not refused.
      productBox: z.tuple([z.number(), z.number(), z.number(), z.number()])
        .refine(([y0, x0, y1, x1]) => [y0, x0, y1, x1].every((v) => v >= 0 && v <= 1000) && y1 > y0 && x1 > x0)
        .optional().catch(undefined),
    }),
  ),
});
type CandidateAnswer = z.infer<typeof JudgeAnswer>['candidates'][number] & { fidelity?: number; fidelityReasons?: string[]; productBox?: [number, number, number, number] };

/** Fidelity from which the judge's box is taken as the product's place (a low score means another product, or none). */
const PRODUCT_FOUND_FIDELITY = 50;

/** Added to the prompt only when a product reference is sent, so requests without one stay as they were. */
export const REFERENCE_PROMPT =
  '\n\nOne image is labelled as the product reference: it is the real product (a packshot), not a candidate; never judge or score it. ' +
  'For every candidate also return fidelity, an integer 0-100: is it the same product, with the same shape, the same label text and the same colours? ' +
  'A different or missing product scores near 0, however good the image; fidelityReasons, one to three short reasons naming what matches and what differs; ' +
  'and productBox, where the product is in the candidate as [ymin, xmin, ymax, xmax] in 0-1000 of its height and width (leave it out when the product is not there).';

/** What the Gemini judge cannot check about product fidelity, said once per call. */
export const GEMINI_FIDELITY_UNCHECKED =
  'product fidelity: judged by eye on copies at most 1024 px a side; fine print, exact label typography and exact colour values are not measured against the packshot';

/** The instructions and the brief, in plain words. */
export function judgePrompt(brief: Brief, ids: readonly string[]): string {
  const line = (label: string, value: string | undefined) => (value ? `- ${label}: ${value}\n` : '');
  const list = (items: readonly string[]) => (items.length ? items.map((i) => `"${i}"`).join(', ') : '(none)');
  return (
    'You judge candidate images made for a creative brief. Judge each image on its own merits, strictly and consistently.\n\n' +
    'Brief:\n' +
    line('Subject', brief.subject) +
    line('Intent', brief.intent) +
    line('Audience', brief.audience) +
    line('Style', brief.styleHints.join(', ')) +
    line('Composition', brief.composition) +
    line('Lighting', brief.lighting) +
    line('Brand colours', brief.brandColors.join(', ')) +
    line('Text that must appear', brief.textInImage) +
    `- Must include: ${list(brief.mustInclude)}\n` +
    `- Must avoid: ${list(brief.mustAvoid)}\n\n` +
    `For every candidate (${ids.join(', ')}) return its id exactly as given; match, aesthetics and artifacts as integers 0-100 ` +
    '(artifacts: 100 means no malformed hands, extra limbs, garbled text or warped geometry); ' +
    'one mustInclude entry per must-include item and one mustAvoid entry per must-avoid item, each with the item text exactly as written above and whether it is visibly present; ' +
    'and one to four short reasons a reviewer can act on.'
  );
}

const clamp100 = (v: number) => Math.max(0, Math.min(100, Math.round(v)));
const norm = (s: string) => s.trim().toLowerCase().replace(/^["“”']+|["“”']+$/g, '');

/** The judge's entry for one brief item: same text, or the same position when the judge rephrased. */
function findCheck(checks: ReadonlyArray<{ item: string; present: boolean }>, items: readonly string[], index: number): { present: boolean } | undefined {
  const item = items[index]!;
  return checks.find((c) => norm(c.item) === norm(item)) ?? (checks.length === items.length ? checks[index] : undefined);
}

/** One judgement from the judge's answer: weighted sub-scores, minus penalties for failed brief checks. */
export function scoreAnswer(brief: Pick<Brief, 'mustInclude' | 'mustAvoid'>, a: CandidateAnswer, judge: string): { judgement: Omit<Judgement, 'rank'>; unreported: string[] } {
  const W = GEMINI_JUDGE_WEIGHTS;
  const scores: Record<string, number> = { match: clamp100(a.match), aesthetics: clamp100(a.aesthetics), artifacts: clamp100(a.artifacts) };
  const reasons = a.reasons.map((r) => r.trim()).filter(Boolean);
  const unreported: string[] = [];
  let penalty = 0;

  let included = 0;
  brief.mustInclude.forEach((item, i) => {
    const c = findCheck(a.mustInclude, brief.mustInclude, i);
    if (!c) return void unreported.push(`must-include "${item}" on ${a.id}: not reported by the judge`);
    if (c.present) included++;
    else {
      penalty += W.missingMustInclude;
      reasons.push(`Missing must-include "${item}" (−${W.missingMustInclude}).`);
    }
  });
  let avoided = 0;
  const hits: string[] = [];
  brief.mustAvoid.forEach((item, i) => {
    const c = findCheck(a.mustAvoid, brief.mustAvoid, i);
    if (!c) return void unreported.push(`must-avoid "${item}" on ${a.id}: not reported by the judge`);
    if (!c.present) avoided++;
    else {
      hits.push(item);
      penalty += W.presentMustAvoid;
      reasons.push(`Shows must-avoid "${item}" (−${W.presentMustAvoid}).`);
    }
  });
  if (brief.mustInclude.length) scores.mustInclude = Math.round((included / brief.mustInclude.length) * 100);
  if (brief.mustAvoid.length) scores.mustAvoid = Math.round((avoided / brief.mustAvoid.length) * 100);
  if (reasons.length === 0) reasons.push(`Match ${scores.match}, aesthetics ${scores.aesthetics}, artifacts ${scores.artifacts} (no reasons given).`);

  const looks = W.match * scores.match! + W.aesthetics * scores.aesthetics! + W.artifacts * scores.artifacts!;
  if (a.fidelity !== undefined) {
    scores.fidelity = clamp100(a.fidelity);
    const why = (a.fidelityReasons ?? []).map((r) => r.trim().replace(/\.$/, '')).filter(Boolean);
    reasons.unshift(`Product fidelity ${scores.fidelity} of 100${why.length ? `: ${why.join('; ')}` : ''}.`);
  }
  const base = scores.fidelity === undefined ? looks : looks * (1 - GEMINI_FIDELITY_WEIGHT) + scores.fidelity * GEMINI_FIDELITY_WEIGHT;
  const total = Math.max(0, Math.min(100, base - penalty));
  const verdict = a.safety && {
    safe: a.safety.safe,
    ...(hits.length ? { mustAvoidHit: hits } : {}),
    ...(a.safety.confident ? {} : { unsure: true }),
    reasons: a.safety.concerns.map((r) => r.trim()).filter(Boolean),
  };
  const box = a.productBox && scores.fidelity !== undefined && scores.fidelity >= PRODUCT_FOUND_FIDELITY ? a.productBox : undefined;
  const product = box && { left: box[1] / 1000, top: box[0] / 1000, width: (box[3] - box[1]) / 1000, height: (box[2] - box[0]) / 1000 };
  return { judgement: { candidateId: a.id, score: Math.round(total * 10) / 10, scores, reasons, judge, ...(verdict ? { verdict } : {}), ...(product ? { product } : {}) }, unreported };
}

/**
 * Gemini looks at the candidates against the brief: how well each matches, how good it looks,
 * how free of artifacts, and whether each must-include and must-avoid item is in the picture.
 * Up to {@link MAX_BATCH} candidates share a request; the answer is structured JSON.
 */
export class GeminiVisionJudge implements VisionJudge {
  readonly name: string;
  readonly #gemini: GeminiConnection;
  readonly #model: string;
  readonly #batchSize: number;
  readonly #thinkingBudget: number;

  constructor(options: GeminiVisionJudgeOptions) {
    this.#model = options.model ?? 'gemini-2.5-flash';
    this.name = this.#model;
    this.#gemini = new GeminiConnection(options);
    this.#batchSize = Math.max(1, Math.min(MAX_BATCH, options.batchSize ?? MAX_BATCH));
    this.#thinkingBudget = options.thinkingBudget ?? 0;
  }

  judge(input: JudgeInput): Promise<JudgeOutput> {
    return this.#gemini.call(input.signal, () => this.#judge(input));
  }

  async #judge(input: JudgeInput): Promise<JudgeOutput> {
    const { brief, candidates, signal } = input;
    signal?.throwIfAborted();
    const ids = new Set<string>();
    for (const c of candidates) {
      if (ids.has(c.id)) throw new InvalidRequestError(`candidate id ${c.id} appears twice`, this.name);
      ids.add(c.id);
    }
    const product = input.reference?.role === 'product' ? input.reference : undefined;
    const referencePart = product && (await visionPart(product.image, product.mime, this.name).catch((err: Error) => {
      throw new InvalidRequestError(`the product reference: ${err.message}`, this.name, { cause: err });
    }));
    const judgements: JudgeOutput['judgements'] = [];
    const unchecked = new Set<string>();
    let costUsd = 0;
    for (let i = 0; i < candidates.length; i += this.#batchSize) {
      const batch = candidates.slice(i, i + this.#batchSize);
      const out = await this.#judgeBatch(brief, batch, referencePart, signal);
      judgements.push(...out.judgements);
      out.unreported.forEach((u) => unchecked.add(u));
      costUsd += out.costUsd;
    }
    if (brief.brandColors.length) unchecked.add('brand colours: seen by eye as part of "match", not measured (the local judge measures ΔE)');
    if (referencePart) unchecked.add(GEMINI_FIDELITY_UNCHECKED);
    return { judgements, unchecked: [...unchecked], costUsd: Math.round(costUsd * 1e8) / 1e8 };
  }

  async #judgeBatch(brief: Brief, batch: JudgeInput['candidates'], referencePart: Part | undefined, signal: AbortSignal | undefined) {
    const prompt = judgePrompt(brief, batch.map((c) => c.id));
    const parts: Part[] = referencePart
      ? [{ text: prompt + REFERENCE_PROMPT }, { text: 'Product reference (the real product, not a candidate; do not judge it):' }, referencePart]
      : [{ text: prompt }];
    for (const c of batch) {
      parts.push({ text: `Candidate ${c.id}:` }, await visionPart(c.image, c.mime, this.name));
    }
    const res = await this.#gemini.generateContent(
      {
        model: this.#model,
        contents: [{ role: 'user', parts }],
        config: {
          responseMimeType: 'application/json',
          responseSchema: referencePart ? FIDELITY_JUDGE_RESPONSE_SCHEMA : JUDGE_RESPONSE_SCHEMA,
          temperature: 0,
          candidateCount: 1,
          thinkingConfig: { thinkingBudget: this.#thinkingBudget },
        },
      },
      { provider: this.name, what: 'judging', signal },
    );

    let answer: { candidates: CandidateAnswer[] };
    try {
      answer = (referencePart ? FidelityJudgeAnswer : JudgeAnswer).parse(JSON.parse(responseText(res)));
    } catch (err) {
      throw malformed('judging', this.name, `the answer is not the requested JSON (${err instanceof z.ZodError ? z.prettifyError(err).replace(/\s+/g, ' ') : (err as Error).message})`, err);
    }
    const byId = new Map(answer.candidates.map((a) => [a.id.trim(), a]));
    const missing = batch.filter((c) => !byId.has(c.id)).map((c) => c.id);
    if (missing.length) throw malformed('judging', this.name, `no judgement for ${missing.join(', ')}`);

    const judgements: JudgeOutput['judgements'] = [];
    const unreported: string[] = [];
    for (const c of batch) {
      const scored = scoreAnswer(brief, { ...byId.get(c.id)!, id: c.id }, this.name);
      judgements.push(scored.judgement);
      unreported.push(...scored.unreported);
    }
    const perImage = (VISION_MODELS as Record<string, { priceUsdPerImage: number } | undefined>)[this.#model]?.priceUsdPerImage ?? 0;
    return { judgements, unreported, costUsd: costFromUsage(this.#model, res.usageMetadata) ?? perImage * (batch.length + (referencePart ? 1 : 0)) };
  }
}
