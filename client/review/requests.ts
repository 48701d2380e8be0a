/**
 * The JSON bodies the reviewer tool's API accepts, checked with zod at the door: a bad request
 * is refused with each field named before anything reaches Temporal. Whether a well-formed
 * decision is acceptable now (known candidates, rounds left, budget) is still the workflow's
 * update validator's call.
 */
import { z } from 'zod';
import type { ReviewDecision } from '../../domain/review';
import { clip, hasControlChars, terminalSafe } from '../../domain/text';

/** Same bound as the workflow's validator (domain/review.ts). */
const MAX_TEXT = 2000;
const MAX_NAME = 200;
/** A round's candidates and then some: a decision never names more. */
const MAX_IDS = 100;
/** Problems listed one by one; past this, one line counts the rest. */
const MAX_LISTED = 10;

const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((s) => !hasControlChars(s), { message: 'must not contain control characters' });
const required = (max: number) => text(max).refine((s) => s.trim().length > 0, { message: 'must not be empty' });
const candidateId = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { message: 'must be a candidate id such as r1-c01' });
const candidateIds = z.array(candidateId).max(MAX_IDS);

const ApproveBody = z.strictObject({
  action: z.literal('approve'),
  candidateIds: candidateIds.min(1),
  reviewer: text(MAX_NAME).optional(),
  comment: text(MAX_TEXT).optional(),
});
const RejectBody = z.strictObject({
  action: z.literal('reject'),
  reason: required(MAX_TEXT),
  reviewer: text(MAX_NAME).optional(),
});
const RequestChangesBody = z.strictObject({
  action: z.literal('requestChanges'),
  feedback: required(MAX_TEXT),
  keep: candidateIds.optional(),
  reviewer: text(MAX_NAME).optional(),
});

export const DecisionBody = z.discriminatedUnion('action', [ApproveBody, RejectBody, RequestChangesBody], {
  error: 'must be "approve", "reject" or "requestChanges"',
});

export const BulkApproveBody = z.strictObject({
  minScore: z.number().min(0).max(100),
  filter: z.string().max(2000).optional(),
  dryRun: z.boolean().optional(),
  reviewer: text(MAX_NAME).optional(),
});

/** A request body the API refuses; `message` names each bad field. */
export class BodyError extends Error {
  override readonly name = 'BodyError';
}

/** A field path as a person writes it; keys come from the request, so each is clipped and made printable. */
function fieldName(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else {
      const key = terminalSafe(clip(String(p), 60), { singleLine: true });
      out += out ? `.${key}` : key;
    }
  }
  return out || 'the body';
}

function problem(issue: z.core.$ZodIssue): string {
  const what = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : typeof v);
  switch (issue.code) {
    case 'invalid_type':
      return issue.input === undefined ? 'is required' : `must be ${issue.expected === 'array' ? 'a list' : `a ${issue.expected}`}, not ${what(issue.input)}`;
    case 'too_big':
      return issue.origin === 'string' ? `must be at most ${issue.maximum} characters` : issue.origin === 'array' ? `may hold at most ${issue.maximum} items` : `must be at most ${issue.maximum}`;
    case 'too_small':
      return issue.origin === 'array' ? `must hold at least ${issue.minimum} item${issue.minimum === 1 ? '' : 's'}` : `must be at least ${issue.minimum}`;
    default:
      return issue.message;
  }
}

/** `value` checked against `schema`, or a {@link BodyError} naming each bad field (at most {@link MAX_LISTED}). */
export function parseBody<T extends z.ZodType>(schema: T, value: unknown, example: string): z.output<T> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new BodyError(`the body must be a JSON object such as ${example}`);
  const r = schema.safeParse(value, { reportInput: true });
  if (r.success) return r.data;
  const lines: string[] = [];
  let more = 0;
  for (const issue of r.error.issues) {
    const entries = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => `${fieldName([...issue.path, k])} is not a field here`) : [`${fieldName(issue.path)} ${problem(issue)}`];
    for (const e of entries) {
      if (lines.length < MAX_LISTED) lines.push(e);
      else more++;
    }
  }
  if (more) lines.push(`… and ${more} more`);
  throw new BodyError(lines.join('; '));
}

/** The `POST /api/briefs/:id/review` body as the decision it names; an unnamed reviewer is "reviewer". */
export function parseDecision(value: unknown): ReviewDecision {
  const d = parseBody(DecisionBody, value, '{"action":"approve","candidateIds":["r1-c01"]}');
  return { ...d, reviewer: d.reviewer?.trim() || 'reviewer' };
}
