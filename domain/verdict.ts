import type { Judgement } from './types';

/** A brief's `review.confidentScore` when it leaves it out (ReviewSettingsSchema in brief.ts). */
export const DEFAULT_CONFIDENT_SCORE = 70;

/**
 * Why the judge's verdict keeps a candidate from ever being selected: unsafe, or showing a
 * must-avoid item. Undefined when it may be selected (or the judge gave no verdict).
 */
export function verdictRejection(j: Pick<Judgement, 'verdict' | 'judge'>): string | undefined {
  const v = j.verdict;
  if (!v) return undefined;
  const why: string[] = [];
  if (!v.safe) why.push('unsafe');
  if (v.mustAvoidHit?.length) why.push(`shows must-avoid ${v.mustAvoidHit.map((m) => `"${m}"`).join(', ')}`);
  if (why.length === 0) return undefined;
  const reasons = v.reasons.filter(Boolean);
  return `rejected by ${j.judge}: ${why.join('; ')}${reasons.length ? ` (${reasons.join(' ')})` : ''}`.slice(0, 1000);
}

/**
 * Whether the judge's pick may ship without a person (`approval: when-unsure`): every pick has
 * a verdict (a judge that cannot check safety is never confident), none is unsure, and each
 * scores at least `minScore`. The reason says which condition failed, or that all held.
 */
export function judgeConfidence(top: ReadonlyArray<Pick<Judgement, 'candidateId' | 'score' | 'verdict' | 'judge'>>, minScore: number): { confident: boolean; reason: string } {
  if (top.length === 0) return { confident: false, reason: 'the judge picked no candidate' };
  for (const j of top) {
    if (!j.verdict) return { confident: false, reason: `${j.judge} gives no safety verdict for ${j.candidateId}, so a person decides` };
    if (j.verdict.unsure) return { confident: false, reason: `${j.judge} is unsure about ${j.candidateId}${j.verdict.reasons.length ? `: ${j.verdict.reasons.join(' ')}` : ''}`.slice(0, 500) };
    if (j.score < minScore) return { confident: false, reason: `${j.candidateId} scores ${j.score}, below the confident score of ${minScore}` };
  }
  return { confident: true, reason: `${top.map((j) => `${j.candidateId} (${j.score})`).join(', ')}: sure, safe, and at least ${minScore}` };
}
