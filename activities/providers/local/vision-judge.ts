import { hexToRgb } from '../../../domain/colors';
import type { ImageRegion, Judgement } from '../../../domain/types';
import { imageStats, nearestDominant, type ImageStats } from '../../images/stats';
import { InvalidRequestError } from '../errors';
import { findProduct, referenceCutout, type FidelityMatch } from './fidelity';
import type { Cutout } from './packshot';
import type { JudgeInput, JudgeOutput, VisionJudge } from '../types';

/** How much each sub-score counts; palette fit drops out (and the rest scale up) without brand colours. */
export const LOCAL_JUDGE_WEIGHTS = {
  sharpness: 0.3,
  exposure: 0.2,
  contrast: 0.15,
  colorfulness: 0.1,
  palette: 0.25,
  /** Only with a product reference: the packshot found in the picture, faithfully. */
  fidelity: 0.4,
} as const;

type SubScore = keyof typeof LOCAL_JUDGE_WEIGHTS;

const clamp100 = (v: number) => Math.max(0, Math.min(100, v));
const one = (v: number) => (Math.round(v * 10) / 10).toFixed(1);
const pct = (v: number) => `${(v * 100).toFixed(1)}%`;

const NEEDS_VISION = 'configure a vision model';
/** Fidelity from which the match counts as the product's place: the right product scores 90+, a wrong one under 15. */
const PRODUCT_FOUND_SCORE = 50;

/** The match's box as shares of the candidate, rounded to 4 places (history stays small and stable). */
function productRegion(m: FidelityMatch, size: Pick<ImageStats, 'width' | 'height'>): ImageRegion {
  const r = (v: number) => Math.round(Math.min(1, Math.max(0, v)) * 10_000) / 10_000;
  return { left: r(m.x / size.width), top: r(m.y / size.height), width: r(m.width / size.width), height: r(m.height / size.height) };
}

/**
 * The offline judge: scores candidates from measured image statistics (detail, exposure,
 * contrast, colour, brand-palette fit). It cannot see what an image shows, and says so in
 * `unchecked` for every check of the brief it leaves undone.
 */
export class LocalVisionJudge implements VisionJudge {
  readonly name = 'local-judge';

  async judge(input: JudgeInput): Promise<JudgeOutput> {
    const { brief, candidates, signal } = input;
    signal?.throwIfAborted();
    const product = input.reference?.role === 'product' ? input.reference : undefined;
    let cut: Cutout | undefined;
    if (product) {
      try {
        cut = await referenceCutout(product.image);
      } catch (err) {
        throw new InvalidRequestError(`the product reference (${product.mime}) could not be decoded: ${(err as Error).message}`, this.name, { cause: err });
      }
    }
    const judgements = await Promise.all(
      candidates.map(async (c): Promise<Omit<Judgement, 'rank'>> => {
        let stats: ImageStats;
        try {
          stats = await imageStats(c.image);
        } catch (err) {
          throw new InvalidRequestError(`candidate ${c.id} (${c.mime}) could not be decoded: ${(err as Error).message}`, this.name, { cause: err });
        }
        signal?.throwIfAborted();
        const match = cut ? await findProduct(c.image, cut, signal) : undefined;
        const scored = scoreStats(stats, brief.brandColors, match?.score);
        if (match) scored.reasons.unshift(fidelityReason(match));
        const product = match && match.score >= PRODUCT_FOUND_SCORE ? productRegion(match, stats) : undefined;
        return { candidateId: c.id, ...scored, judge: this.name, ...(product ? { product } : {}) };
      }),
    );
    const unchecked = uncheckedChecks(brief);
    if (cut) unchecked.push(`product details (label text, small print, fine logo detail): not checked against the packshot (the offline judge compares shape and colour at low resolution; ${NEEDS_VISION})`);
    return { judgements, unchecked, costUsd: 0 };
  }
}

/** Sub-scores, the weighted total and one reason per sub-score. Pure, so it can be tested on numbers. */
export function scoreStats(stats: ImageStats, brandColors: readonly string[], fidelity?: number): Pick<Judgement, 'score' | 'scores' | 'reasons'> {
  const scores: Partial<Record<SubScore, number>> = {};
  if (fidelity !== undefined) scores.fidelity = clamp100(fidelity);
  const reasons: string[] = [];

  // Sharpness: log scale, because Laplacian variance spans orders of magnitude between a blur and crisp texture.
  const lv = stats.laplacianVariance;
  scores.sharpness = clamp100(((Math.log10(Math.max(lv, 1)) - Math.log10(5)) / (Math.log10(400) - Math.log10(5))) * 100);
  const lvText = `Laplacian variance ${Math.round(lv)}`;
  reasons.push(lv >= 150 ? `Sharp detail (${lvText}).` : lv >= 40 ? `Moderate detail (${lvText}).` : `Soft or blurry, with little fine detail (${lvText}).`);

  // Exposure: distance of the mean from mid-grey, then a penalty for clipped shadows and highlights beyond 2%.
  const m = stats.meanLuminance;
  const clipped = stats.shadowClipping + stats.highlightClipping;
  scores.exposure = clamp100(100 * (1 - (Math.abs(m - 128) / 128) ** 1.5) - Math.max(0, clipped - 0.02) * 200);
  const exposureText = `mean luminance ${Math.round(m)} of 255, ${pct(clipped)} clipped`;
  reasons.push(
    m < 70 ? `Underexposed (${exposureText}).` : m > 190 ? `Overexposed (${exposureText}).` : clipped > 0.05 ? `Clipped tones (${exposureText}).` : `Well exposed (${exposureText}).`,
  );

  // Contrast: luminance spread; beyond about 60 a picture turns harsh, so the score eases off.
  const sd = stats.luminanceStdev;
  scores.contrast = clamp100(sd <= 60 ? (sd / 60) * 100 : 100 - (sd - 60) * 0.8);
  const sdText = `luminance spread ${Math.round(sd)}`;
  reasons.push(sd < 20 ? `Flat, low contrast (${sdText}).` : sd > 85 ? `Very high contrast (${sdText}).` : `Good contrast (${sdText}).`);

  // Colourfulness: Hasler–Süsstrunk; 50 ("averagely colourful" and up) earns full marks.
  const cf = stats.colorfulness;
  scores.colorfulness = clamp100((cf / 50) * 100);
  const cfText = `Hasler–Süsstrunk colourfulness ${Math.round(cf)}`;
  reasons.push(cf < 15 ? `Nearly colourless (${cfText}).` : cf < 33 ? `Muted colour (${cfText}).` : `Colourful (${cfText}).`);

  if (brandColors.length && stats.dominant.length) {
    const distances = brandColors.map((hex) => {
      const near = nearestDominant(hexToRgb(hex), stats.dominant);
      const d = near?.deltaE ?? 100;
      const nearHex = near?.color.hex ?? 'none';
      reasons.push(
        d < 15
          ? `Brand colour ${hex} is close to a dominant colour (ΔE ${one(d)}).`
          : d < 30
            ? `Brand colour ${hex} is only loosely matched (nearest dominant colour ${nearHex}, ΔE ${one(d)}).`
            : `Brand colour ${hex} is missing (nearest dominant colour ${nearHex} is ΔE ${one(d)} away).`,
      );
      return d;
    });
    const mean = distances.reduce((a, b) => a + b, 0) / distances.length;
    // ΔE 8 or less is a match to the eye at a glance; 50 or more is a different colour.
    scores.palette = clamp100(100 - ((mean - 8) / 42) * 100);
  } else {
    reasons.push('No brand colours in the brief, so palette fit is not scored.');
  }

  let total = 0;
  let weight = 0;
  for (const [name, value] of Object.entries(scores) as Array<[SubScore, number]>) {
    total += value * LOCAL_JUDGE_WEIGHTS[name];
    weight += LOCAL_JUDGE_WEIGHTS[name];
  }
  const rounded = Object.fromEntries(Object.entries(scores).map(([k, v]) => [k, Math.round(v)]));
  return { score: Math.round((total / weight) * 10) / 10, scores: rounded, reasons };
}

/** One plain sentence on where the product was found and how well it matches. */
export function fidelityReason(m: FidelityMatch): string {
  const where = `at ${m.x},${m.y} (${m.width}x${m.height} px, covering ${pct(m.coverage)} of the frame)`;
  const numbers = `correlation ${m.correlation.toFixed(2)}, mean colour difference ${one(m.colourDifference)} of 255`;
  if (m.score >= 70) return `Product packshot found ${where}, closely matching the reference (${numbers}).`;
  if (m.score >= 40) return `Product packshot only loosely matched ${where} (${numbers}): it may be altered or partly hidden.`;
  return `Product packshot not found: the best match ${where} is poor (${numbers}).`;
}

/** Every brief check this judge cannot make, one plain line each. */
export function uncheckedChecks(brief: JudgeInput['brief']): string[] {
  return [
    `subject "${brief.subject}": not checked (the offline judge cannot tell what an image shows; ${NEEDS_VISION})`,
    ...brief.mustInclude.map((item) => `must-include "${item}": not checked (the offline judge cannot see objects; ${NEEDS_VISION})`),
    ...brief.mustAvoid.map((item) => `must-avoid "${item}": not checked (the offline judge cannot see objects; ${NEEDS_VISION})`),
    `artifacts (malformed hands, garbled text, extra limbs): not checked (the offline judge measures pixels only; ${NEEDS_VISION})`,
    `safety: not checked (the offline judge cannot tell what an image shows, so it gives no safety verdict and never rejects a candidate; with approval "when-unsure" a person decides; ${NEEDS_VISION})`,
  ];
}
