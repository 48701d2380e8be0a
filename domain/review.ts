import { isObject, unreadableReason } from './json';
import { clip, hasControlChars, jsonBytes, preview } from './text';

/**
 * Human review: the decisions a reviewer can make, and the rules that decide whether one is
 * acceptable right now. Pure, so the workflow's update validator, its signal handlers, the
 * reviewer tool and the CLI all apply the very same rules.
 */

export const REVIEW_ACTIONS = ['approve', 'reject', 'requestChanges'] as const;
export type ReviewAction = (typeof REVIEW_ACTIONS)[number];

export interface ApproveDecision {
  action: 'approve';
  /** Candidates to ship, e.g. `["r1-c03"]`; at most the brief's topK. */
  candidateIds: string[];
  reviewer?: string;
  comment?: string;
}

export interface RejectDecision {
  action: 'reject';
  reason: string;
  reviewer?: string;
}

export interface RequestChangesDecision {
  action: 'requestChanges';
  /** What to change; folded into the next prompt version. */
  feedback: string;
  /** Candidates to keep in the running for the next review. @default [] */
  keep?: string[];
  reviewer?: string;
}

export type ReviewDecision = ApproveDecision | RejectDecision | RequestChangesDecision;

/** Where the decision came from. */
export type ReviewChannel = 'update' | 'signal' | 'deadline';

/** An entry of the audit trail, as recorded in the manifest. */
export interface ReviewRecord {
  action: ReviewAction;
  reviewer: string;
  /** ISO time the workflow recorded the decision (worker clock). */
  at: string;
  round: number;
  via: ReviewChannel;
  candidateIds?: string[];
  reason?: string;
  feedback?: string;
  keep?: string[];
  comment?: string;
}

/** A signal that did not make a valid decision: recorded and ignored. */
export interface IgnoredSignal {
  signal: string;
  reason: string;
  round: number;
  input: string;
}

export const DEADLINE_POLICIES = ['remind', 'approveTop', 'fail'] as const;
export type DeadlinePolicy = (typeof DEADLINE_POLICIES)[number];

/** What the rules need to know about the workflow at the moment a decision arrives. */
export interface ReviewContext {
  awaiting: boolean;
  /** Candidate ids a reviewer may choose from now. */
  reviewable: readonly string[];
  maxApprovals: number;
  round: number;
  maxRounds: number;
  /** Spent so far and the forecast of one more round, to refuse a revision the budget cannot pay for. */
  spentUsd: number;
  nextRoundUsd: number;
  budgetUsd: number;
}

const MAX_TEXT = 2000;
/** Largest budget a person may raise a brief to, in USD: more than any one brief may spend. */
export const MAX_RAISED_BUDGET_USD = 100_000;
/** Largest decision accepted, as JSON: a reviewer's decision is a few ids and a sentence or two. */
export const MAX_DECISION_BYTES = 16 * 1024;
/** Most candidate ids one decision may name (a brief has at most 100 candidates a round). */
const MAX_IDS = 100;
/** Ignored signals kept in status and the manifest; later ones are only counted. */
export const IGNORED_SIGNALS_KEPT = 20;

/** `a, b, c and 7 more`, each id clipped: a list of unknown ids must not grow a message without bound. */
function listIds(ids: readonly string[], max = 5): string {
  const shown = ids.slice(0, max).map((id) => clip(id, 40));
  return ids.length > max ? `${shown.join(', ')} and ${ids.length - max} more` : shown.join(', ');
}

/** Why a text field cannot be taken, or undefined. */
function textProblem(field: string, v: unknown, max: number): string | undefined {
  if (typeof v !== 'string') return undefined;
  if (v.length > max) return `${field} must be at most ${max} characters (got ${v.length})`;
  if (hasControlChars(v)) return `${field} contains a control character`;
  return undefined;
}

/**
 * Keeps a bounded record of ignored signals: the first {@link IGNORED_SIGNALS_KEPT} with their
 * reason and a clipped preview of their input; later ones only add to `dropped`. A flood of bad
 * signals therefore cannot grow the workflow's state, its status query or its manifest.
 */
export function recordIgnoredSignal(
  kept: IgnoredSignal[],
  entry: { signal: string; reason: string; round: number; payload: unknown },
): { dropped: number } {
  if (kept.length >= IGNORED_SIGNALS_KEPT) return { dropped: 1 };
  kept.push({ signal: clip(entry.signal, 40), reason: clip(entry.reason, 300), round: entry.round, input: preview(entry.payload, 200) });
  return { dropped: 0 };
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

/**
 * Turns untrusted input (an update, a signal typed into the Temporal UI) into a decision,
 * or says in a reviewer's words why it cannot be accepted.
 */
export function checkDecision(input: unknown, ctx: ReviewContext): { ok: true; decision: ReviewDecision } | { ok: false; reason: string } {
  const no = (reason: string) => ({ ok: false as const, reason });
  const unreadable = unreadableReason(input);
  if (unreadable) return no(`the decision could not be read: ${unreadable}`);
  if (!ctx.awaiting) return no('this brief is not waiting for review');
  if (!isObject(input)) return no('a decision must be an object such as {"action":"approve","candidateIds":["r1-c01"]}');
  if (jsonBytes(input, MAX_DECISION_BYTES) > MAX_DECISION_BYTES) return no(`a decision may be at most ${MAX_DECISION_BYTES / 1024} KiB of JSON; this one is larger`);
  const d = input as Record<string, unknown>;
  if (d.reviewer !== undefined && (typeof d.reviewer !== 'string' || d.reviewer.length > 200)) return no('reviewer must be a name of at most 200 characters');
  for (const [field, max] of [['reviewer', 200], ['comment', MAX_TEXT], ['reason', MAX_TEXT], ['feedback', MAX_TEXT]] as const) {
    const problem = textProblem(field, d[field], max);
    if (problem) return no(problem);
  }
  for (const field of ['candidateIds', 'keep'] as const) {
    if (Array.isArray(d[field]) && (d[field] as unknown[]).length > MAX_IDS) return no(`${field} may name at most ${MAX_IDS} candidates (got ${(d[field] as unknown[]).length})`);
  }
  const reviewer = typeof d.reviewer === 'string' && d.reviewer.trim() ? d.reviewer.trim() : undefined;
  switch (d.action) {
    case 'approve': {
      if (!isStringArray(d.candidateIds) || d.candidateIds.length === 0) return no('approve needs candidateIds: one or more candidate ids such as "r1-c01"');
      const unknown = d.candidateIds.filter((id) => !ctx.reviewable.includes(id));
      if (unknown.length) return no(`unknown candidate${unknown.length > 1 ? 's' : ''} ${listIds(unknown)}: choose from ${listIds(ctx.reviewable, 20)}`);
      const ids = [...new Set(d.candidateIds)];
      if (ids.length > ctx.maxApprovals) return no(`this brief ships at most ${ctx.maxApprovals} image${ctx.maxApprovals > 1 ? 's' : ''} (topK); you approved ${ids.length}`);
      if (d.comment !== undefined && (typeof d.comment !== 'string' || d.comment.length > MAX_TEXT)) return no(`comment must be text of at most ${MAX_TEXT} characters`);
      return { ok: true, decision: { action: 'approve', candidateIds: ids, reviewer, comment: typeof d.comment === 'string' && d.comment.trim() ? d.comment.trim() : undefined } };
    }
    case 'reject': {
      if (typeof d.reason !== 'string' || !d.reason.trim()) return no('reject needs a reason');
      if (d.reason.length > MAX_TEXT) return no(`reason must be at most ${MAX_TEXT} characters`);
      return { ok: true, decision: { action: 'reject', reason: d.reason.trim(), reviewer } };
    }
    case 'requestChanges': {
      if (typeof d.feedback !== 'string' || !d.feedback.trim()) return no('requestChanges needs feedback saying what to change');
      if (d.feedback.length > MAX_TEXT) return no(`feedback must be at most ${MAX_TEXT} characters`);
      if (d.keep !== undefined && !isStringArray(d.keep)) return no('keep must be a list of candidate ids');
      const keep = [...new Set(d.keep ?? [])];
      const unknown = keep.filter((id) => !ctx.reviewable.includes(id));
      if (unknown.length) return no(`cannot keep unknown candidate${unknown.length > 1 ? 's' : ''} ${listIds(unknown)}`);
      if (ctx.round >= ctx.maxRounds) return no(`no revision rounds left (this is round ${ctx.round} of ${ctx.maxRounds}): approve or reject`);
      if (ctx.spentUsd + ctx.nextRoundUsd > ctx.budgetUsd + 1e-9) {
        return no(`another round would cost about $${ctx.nextRoundUsd.toFixed(2)} and the budget has $${Math.max(0, ctx.budgetUsd - ctx.spentUsd).toFixed(2)} left: approve or reject`);
      }
      return { ok: true, decision: { action: 'requestChanges', feedback: d.feedback.trim(), keep, reviewer } };
    }
    default:
      return no(`action must be one of ${REVIEW_ACTIONS.join(', ')}`);
  }
}
