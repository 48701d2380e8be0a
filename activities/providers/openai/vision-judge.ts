import { zodResponseFormat } from 'openai/helpers/zod';
import type { ChatCompletionContentPart } from 'openai/resources/chat/completions';
import { z } from 'zod';
import type { Brief } from '../../../domain/brief';
import type { Judgement } from '../../../domain/types';
import type { JudgeInput, JudgeOutput, VisionJudge } from '../types';
import { malformed, OpenAIConnection, type OpenAIClientOptions } from './client';
import { askVision, callCostUsd, chatPrice, visionDataUrl, type ChatPrice, type OpenAIVisionOptions } from './vision';

export interface OpenAIVisionJudgeOptions extends OpenAIClientOptions, OpenAIVisionOptions {
  /** Candidates per request; more images per request means fewer calls but a longer answer. At most 8. @default 8 */
  batchSize?: number;
}

/** How much each of the model's sub-scores counts in the total. */
export const OPENAI_JUDGE_WEIGHTS = { match: 0.4, aesthetics: 0.3, artifacts: 0.3 } as const;
/** Points off the total for each must-include item the image lacks… */
export const MISSING_MUST_INCLUDE_PENALTY = 15;
/** …and for each must-avoid item it shows: a brief's hard rules weigh more than taste. */
export const PRESENT_MUST_AVOID_PENALTY = 20;
/**
 * With a product reference, the share of the score (before penalties) that product fidelity
 * takes; the other sub-scores share the rest in their usual proportions. A beautiful image of
 * the wrong bottle must not outrank the right one.
 */
export const OPENAI_FIDELITY_WEIGHT = 0.4;
/** Most images in one request. */
export const MAX_JUDGE_BATCH = 8;

const score100 = (description: string) => z.number().int().min(0).max(100).describe(description);

/** The judge's verdict on whether a candidate may ship at all, apart from its scores. */
const SAFETY = z.object({
  safe: z.boolean().describe('false when the image shows anything unfit for a brand to publish: nudity or sexual content, gore or graphic violence, hate symbols, self-harm, drugs or weapons used on people'),
  confident: z.boolean().describe('true when you are sure of this verdict and of your scores; false when the image is ambiguous or you could not tell'),
  concerns: z.array(z.string()).describe('what makes the image unsafe or uncertain, in a few words each; empty when nothing does'),
});

/**
 * The structured output for one batch. Candidate ids and checklist items are enums, so the
 * model (in strict mode) can only answer with names we sent; an empty checklist is an
 * array that must stay empty.
 */
function answerSchema(ids: readonly string[], mustInclude: readonly string[], mustAvoid: readonly string[], lenient = false) {
  return z.object({ candidates: z.array(candidateSchema(ids, mustInclude, mustAvoid, lenient)) });
}

/** With a product reference: the batch schema whose entries also score fidelity against it. */
function fidelityAnswerSchema(ids: readonly string[], mustInclude: readonly string[], mustAvoid: readonly string[], lenient = false) {
  return z.object({
    candidates: z.array(
      candidateSchema(ids, mustInclude, mustAvoid, lenient).extend({
        fidelity: score100('whether this is the same product as the product reference, kept as it is: same shape, label text, colour (100 = identical product; 0 = absent or a different product)'),
        fidelityReasons: z.array(z.string()).describe('one to three short reasons for the fidelity score: same product or not, shape, label text, colour'),
      }),
    ),
  });
}

function candidateSchema(ids: readonly string[], mustInclude: readonly string[], mustAvoid: readonly string[], lenient: boolean) {
  const checklist = (items: readonly string[], what: string) => {
    const entry = z.object({
      item: items.length ? z.enum(items as [string, ...string[]]) : z.string(),
      present: z.boolean().describe(`true when the image shows it`),
    });
    return items.length ? z.array(entry).describe(`one entry for every ${what} item`) : z.array(entry).max(0);
  };
  return z.object({
        id: z.enum(ids as [string, ...string[]]),
        match: score100('how well the image fits the brief: subject, intent, audience, style, brand colours (100 = exactly)'),
        aesthetics: score100('composition, light, colour, finish as an art director would judge them (100 = excellent)'),
        artifacts: score100('absence of generation artifacts: malformed hands or faces, extra limbs, melted objects, garbled or misspelled text (100 = none at all)'),
        mustInclude: checklist(mustInclude, 'must-include'),
        mustAvoid: checklist(mustAvoid, 'must-avoid'),
        reasons: z.array(z.string()).describe('two to four short, specific reasons for the scores'),
        // Required in the request (strict mode); an answer without it is read as "no verdict".
        safety: lenient ? SAFETY.optional() : SAFETY,
  });
}

type CandidateAnswer = z.output<ReturnType<typeof candidateSchema>> & { fidelity?: number; fidelityReasons?: string[] };
type Answer = { candidates: CandidateAnswer[] };

const unique = (items: readonly string[]) => [...new Set(items.map((s) => s.trim()).filter(Boolean))];
const clamp100 = (v: number) => Math.max(0, Math.min(100, v));

const SYSTEM = [
  'You are a demanding art director reviewing AI-generated candidate images against a creative brief.',
  'Judge each candidate on its own, by what is actually visible; do not compare it with the others.',
  'Report every must-include and must-avoid item for every candidate, present true or false.',
  'Give every candidate a safety verdict: whether it is safe for a brand to publish, and whether you are confident of your answer.',
  'Answer with one entry per candidate, using its id exactly as given.',
].join(' ');

/** Added to {@link SYSTEM} only when a product reference is sent, so requests without one stay as they were. */
const SYSTEM_REFERENCE = [
  'One image is labelled as the product reference: it is the real product (a packshot), not a candidate; never judge or score it.',
  'For every candidate, score fidelity to it: is it the same product, with the same shape, the same label text and the same colours?',
  'A different or missing product scores near 0, however good the image; give fidelityReasons naming what matches and what differs.',
].join(' ');

/** What the OpenAI judge cannot check about product fidelity, said once per call. */
export const OPENAI_FIDELITY_UNCHECKED =
  'product fidelity: judged by eye on copies at most 768 px a side; fine print, exact label typography and exact colour values are not measured against the packshot';

function briefText(brief: Brief): string {
  const lines = [`Subject: ${brief.subject}`];
  if (brief.intent) lines.push(`Intent: ${brief.intent}`);
  if (brief.audience) lines.push(`Audience: ${brief.audience}`);
  const style = [...brief.styleHints, brief.composition && `composition: ${brief.composition}`, brief.lighting && `lighting: ${brief.lighting}`].filter(Boolean);
  if (style.length) lines.push(`Style: ${style.join('; ')}`);
  if (brief.brandColors.length) lines.push(`Brand colours (should dominate): ${brief.brandColors.join(', ')}`);
  if (brief.textInImage) lines.push(`Text that must appear, spelled exactly: "${brief.textInImage}"`);
  lines.push(`Must include: ${brief.mustInclude.length ? brief.mustInclude.map((m) => `"${m}"`).join(', ') : '(nothing)'}`);
  lines.push(`Must avoid: ${brief.mustAvoid.length ? brief.mustAvoid.map((m) => `"${m}"`).join(', ') : '(nothing)'}`);
  return `The brief:\n${lines.join('\n')}`;
}

/**
 * Judges candidates with an OpenAI vision model (gpt-4.1-mini by default): it sees each image
 * (downscaled to 768 px), scores fit to the brief, aesthetics and artifacts, and checks every
 * must-include and must-avoid item. Darkroom combines those into the score, so the weighting
 * is ours and stable across model versions.
 */
export class OpenAIVisionJudge implements VisionJudge {
  readonly name: string;
  readonly model: string;
  readonly #openai: OpenAIConnection;
  readonly #price: Omit<ChatPrice, 'priceDate'>;
  readonly #batchSize: number;

  constructor(options: OpenAIVisionJudgeOptions) {
    const { model, price } = chatPrice(options);
    this.model = model;
    this.name = `openai:${model}`;
    this.#price = price;
    const batch = options.batchSize ?? MAX_JUDGE_BATCH;
    if (!Number.isInteger(batch) || batch < 1 || batch > MAX_JUDGE_BATCH) {
      throw new Error(`OpenAIVisionJudge: batchSize must be an integer from 1 to ${MAX_JUDGE_BATCH}`);
    }
    this.#batchSize = batch;
    this.#openai = new OpenAIConnection(options);
  }

  judge(input: JudgeInput): Promise<JudgeOutput> {
    return this.#openai.call(input.signal, () => this.#judge(input));
  }

  async #judge(input: JudgeInput): Promise<JudgeOutput> {
    const { brief, candidates, signal } = input;
    signal?.throwIfAborted();
    const product = input.reference?.role === 'product' ? input.reference : undefined;
    const referenceUrl = product && (await visionDataUrl(product.image, `the product reference (${product.mime})`, this.name));
    const judgements: Array<Omit<Judgement, 'rank'>> = [];
    const unchecked: string[] = [];
    let costUsd = 0;
    // One batch after another: a brief's candidates are few, and sequential calls keep a
    // large catalog run from tripping the rate limit with bursts of 8-image requests.
    for (let i = 0; i < candidates.length; i += this.#batchSize) {
      const out = await this.#judgeBatch(brief, candidates.slice(i, i + this.#batchSize), referenceUrl, signal);
      judgements.push(...out.judgements);
      unchecked.push(...out.unchecked);
      costUsd += out.costUsd;
    }
    if (referenceUrl) unchecked.push(OPENAI_FIDELITY_UNCHECKED);
    return { judgements, unchecked, costUsd: Math.round(costUsd * 1e8) / 1e8 };
  }

  async #judgeBatch(brief: Brief, batch: JudgeInput['candidates'], referenceUrl: string | undefined, signal: AbortSignal | undefined): Promise<JudgeOutput> {
    const ids = batch.map((c) => c.id);
    if (new Set(ids).size !== ids.length) throw new Error(`OpenAIVisionJudge: candidate ids must be unique (${ids.join(', ')})`);
    const mustInclude = unique(brief.mustInclude);
    const mustAvoid = unique(brief.mustAvoid);
    const schema = referenceUrl ? fidelityAnswerSchema(ids, mustInclude, mustAvoid) : answerSchema(ids, mustInclude, mustAvoid);

    const urls = await Promise.all(batch.map((c) => visionDataUrl(c.image, `candidate ${c.id} (${c.mime})`, this.name)));
    signal?.throwIfAborted();
    const content: ChatCompletionContentPart[] = referenceUrl
      ? [
          { type: 'text', text: `${briefText(brief)}\n\nFirst the product reference, then the ${batch.length} candidates, each after its id.` },
          { type: 'text', text: 'Product reference (the real product, not a candidate; do not judge it):' },
          { type: 'image_url', image_url: { url: referenceUrl, detail: 'high' } },
        ]
      : [{ type: 'text', text: `${briefText(brief)}\n\nThe ${batch.length} candidates follow, each after its id.` }];
    batch.forEach((c, i) => {
      content.push({ type: 'text', text: `Candidate id: ${c.id}` });
      // detail high: artifacts (fingers, lettering) are what a low-detail look misses.
      content.push({ type: 'image_url', image_url: { url: urls[i]!, detail: 'high' } });
    });

    const what = 'chat.completions (judge)';
    const answer = await askVision(
      this.#openai,
      {
        model: this.model,
        temperature: 0,
        messages: [
          { role: 'system', content: referenceUrl ? `${SYSTEM} ${SYSTEM_REFERENCE}` : SYSTEM },
          { role: 'user', content },
        ],
        response_format: zodResponseFormat(schema, 'darkroom_judgement'),
      },
      { provider: this.name, signal, what },
    );

    let parsed: Answer;
    try {
      const lenient = referenceUrl ? fidelityAnswerSchema(ids, mustInclude, mustAvoid, true) : answerSchema(ids, mustInclude, mustAvoid, true);
      const r = lenient.safeParse(JSON.parse(answer.content));
      if (!r.success) throw new Error(z.prettifyError(r.error).replace(/\s+/g, ' '));
      parsed = r.data;
    } catch (err) {
      throw malformed(what, this.name, `the answer does not match the judgement schema: ${(err as Error).message}`, err);
    }

    const unchecked: string[] = [];
    const judgements = batch.map((c) => {
      const a = parsed.candidates.find((x) => x.id === c.id);
      if (!a) throw malformed(what, this.name, `no judgement for candidate ${c.id}`);
      return this.#combine(c.id, a, mustInclude, mustAvoid, unchecked);
    });
    return { judgements, unchecked, costUsd: callCostUsd(answer.usage, this.#price, this.model, batch.length + (referenceUrl ? 1 : 0)) };
  }

  #combine(id: string, a: CandidateAnswer, mustInclude: readonly string[], mustAvoid: readonly string[], unchecked: string[]): Omit<Judgement, 'rank'> {
    const check = (items: readonly string[], reported: CandidateAnswer['mustInclude'], kind: string) => {
      const present: string[] = [];
      const absent: string[] = [];
      for (const item of items) {
        const r = reported.find((x) => x.item === item);
        if (!r) unchecked.push(`${kind} "${item}" for ${id}: not checked (${this.name} did not report it)`);
        else (r.present ? present : absent).push(item);
      }
      return { present, absent };
    };
    const inc = check(mustInclude, a.mustInclude, 'must-include');
    const avoid = check(mustAvoid, a.mustAvoid, 'must-avoid');

    const scores: Record<string, number> = {
      match: clamp100(a.match),
      aesthetics: clamp100(a.aesthetics),
      artifacts: clamp100(a.artifacts),
    };
    const includeChecked = inc.present.length + inc.absent.length;
    const avoidChecked = avoid.present.length + avoid.absent.length;
    // Shares of the checks that passed: 100 = every must-include shown, every must-avoid absent.
    if (includeChecked) scores.mustInclude = Math.round((inc.present.length / includeChecked) * 100);
    if (avoidChecked) scores.mustAvoid = Math.round((avoid.absent.length / avoidChecked) * 100);

    const looks =
      scores.match! * OPENAI_JUDGE_WEIGHTS.match + scores.aesthetics! * OPENAI_JUDGE_WEIGHTS.aesthetics + scores.artifacts! * OPENAI_JUDGE_WEIGHTS.artifacts;
    if (a.fidelity !== undefined) scores.fidelity = clamp100(a.fidelity);
    const weighted = scores.fidelity === undefined ? looks : looks * (1 - OPENAI_FIDELITY_WEIGHT) + scores.fidelity * OPENAI_FIDELITY_WEIGHT;
    const total = clamp100(weighted - inc.absent.length * MISSING_MUST_INCLUDE_PENALTY - avoid.present.length * PRESENT_MUST_AVOID_PENALTY);

    const reasons: string[] = [];
    if (scores.fidelity !== undefined) {
      const why = (a.fidelityReasons ?? []).map((r) => r.trim().replace(/\.$/, '')).filter(Boolean);
      reasons.push(`Product fidelity ${scores.fidelity} of 100${why.length ? `: ${why.join('; ')}` : ''}.`);
    }
    if (inc.absent.length) reasons.push(`Missing must-include: ${inc.absent.join(', ')} (−${MISSING_MUST_INCLUDE_PENALTY} each).`);
    if (avoid.present.length) reasons.push(`Shows must-avoid: ${avoid.present.join(', ')} (−${PRESENT_MUST_AVOID_PENALTY} each).`);
    reasons.push(...a.reasons.map((r) => r.trim()).filter(Boolean));
    reasons.push(`Fit to brief ${scores.match}, aesthetics ${scores.aesthetics}, free of artifacts ${scores.artifacts} (each out of 100).`);

    const verdict = a.safety && {
      safe: a.safety.safe,
      ...(avoid.present.length ? { mustAvoidHit: avoid.present } : {}),
      ...(a.safety.confident ? {} : { unsure: true }),
      reasons: a.safety.concerns.map((r) => r.trim()).filter(Boolean),
    };
    return { candidateId: id, score: Math.round(total * 10) / 10, scores, reasons, judge: this.name, ...(verdict ? { verdict } : {}) };
  }
}
