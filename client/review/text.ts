/** Terminal renderings for `darkroom review list` and `darkroom review show`. */
import type { ReviewRecord } from '../../domain/review';
import type { ReviewCandidate } from '../../domain/types';
import { latestRoundCandidates, type AwaitingBrief, type BriefView } from './actions';
import { usd } from './html';
import { briefState } from './pages';

/** Text from a brief or a reviewer, without control characters (other than newlines) that could drive the terminal. */
// eslint-disable-next-line no-control-regex
const clean = (s: string) => s.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, ' ');

const shortTime = (iso: string) => iso.replace('T', ' ').replace(/:\d\d(\.\d+)?Z$/, 'Z');
const score = (n: number | undefined) => (n === undefined ? '  –' : String(Math.round(n)).padStart(3));

/** The compact, stable JSON of `darkroom review list --json`. */
export function awaitingSummary(b: AwaitingBrief) {
  const s = b.status;
  const r = s?.review;
  return {
    workflowId: b.workflowId,
    subject: s?.subject,
    channels: s?.channels,
    round: r?.round,
    maxRounds: r?.maxRounds,
    topScore: b.topScore,
    candidates: r ? latestRoundCandidates(r).length : undefined,
    suggested: r ? r.candidates.filter((c) => c.round === r.round && c.suggested).map((c) => c.id) : undefined,
    reviewable: r?.reviewable,
    costUsd: s?.cost.actualUsd,
    budgetUsd: s?.cost.budgetUsd,
    deadlineAt: r?.deadlineAt,
    startTime: b.startTime,
    ...(b.error ? { error: b.error } : {}),
  };
}

export function awaitingList(briefs: AwaitingBrief[], filter?: string): string {
  if (briefs.length === 0) return `nothing is awaiting review${filter ? ` matching ${filter}` : ''}`;
  const width = Math.max(...briefs.map((b) => b.workflowId.length));
  const lines = [`${briefs.length} brief${briefs.length === 1 ? '' : 's'} awaiting review${filter ? ` matching ${filter}` : ''}`];
  for (const b of briefs) {
    const s = b.status;
    const r = s?.review;
    if (!s || !r) {
      lines.push(`  ${b.workflowId.padEnd(width)}  (${b.error ?? 'no status'})`);
      continue;
    }
    const parts = [
      `round ${r.round}/${r.maxRounds}`,
      `top ${score(b.topScore).trim()}`,
      `${latestRoundCandidates(r).length} candidates`,
      `${usd(s.cost.actualUsd)} of ${usd(s.cost.budgetUsd)}`,
      ...(r.deadlineAt ? [`due ${shortTime(r.deadlineAt)}`] : []),
    ];
    lines.push(`  ${b.workflowId.padEnd(width)}  ${parts.join('  ')}`, `  ${''.padEnd(width)}  ${clean(s.subject)}`);
  }
  return lines.join('\n');
}

function decisionLine(d: ReviewRecord): string {
  const what =
    d.action === 'approve' ? `approved ${(d.candidateIds ?? []).join(', ')}${d.comment ? `: "${d.comment}"` : ''}`
    : d.action === 'reject' ? `rejected: "${d.reason ?? ''}"`
    : `requested changes: "${d.feedback ?? ''}"${d.keep?.length ? ` (kept ${d.keep.join(', ')})` : ''}`;
  return clean(`  ${shortTime(d.at)}  ${d.reviewer}  ${what}  (round ${d.round}, via ${d.via})`);
}

function candidateLines(c: ReviewCandidate, reviewable: Set<string>, roundSize: number): string[] {
  const flags = [c.suggested ? 'suggested' : '', reviewable.has(c.id) ? 'reviewable' : ''].filter(Boolean).join(', ');
  const head = `  ${c.suggested ? '★' : ' '} ${c.id}  ${score(c.score)}/100  ${c.rank ? `rank ${c.rank} of ${roundSize}` : 'not ranked'}${flags ? `  (${flags})` : ''}`;
  return [head, ...c.reasons.map((r) => `        · ${clean(r)}`)];
}

/** `darkroom review show`: everything a reviewer needs to decide from a terminal. */
export function reviewBlock(view: BriefView): string {
  const state = briefState(view);
  const s = view.status;
  const r = s?.review;
  const lines = [`${view.workflowId}  ${clean(s?.subject ?? view.manifest?.brief.subject ?? '')}`.trimEnd()];
  const roundInfo = r ? ` — round ${r.round} of ${r.maxRounds}${state.awaiting ? `, approve up to ${r.maxApprovals}` : ''}` : '';
  lines.push(`state      ${state.label.toLowerCase()}${roundInfo}`);
  if (view.failure) lines.push(`failure    ${clean(view.failure)}`);
  if (view.statusError && !s) lines.push(`status     ${view.statusError}`);
  const prompt = r?.prompt ?? (view.manifest ? { version: view.manifest.prompt.version, text: view.manifest.prompt.text } : undefined);
  if (prompt) lines.push(`prompt     ${prompt.version}${s?.promptScore !== undefined ? ` (score ${s.promptScore}/8)` : ''}: ${clean(prompt.text)}`);
  const cost = s?.cost ?? view.manifest?.cost;
  if (cost) lines.push(`cost       ${usd(cost.actualUsd)} of ${usd(cost.budgetUsd)}`);
  if (r?.deadlineAt && r.awaiting) lines.push(`deadline   ${shortTime(r.deadlineAt)}, then ${r.onDeadline}${r.remindersSent ? ` (${r.remindersSent} reminders sent)` : ''}`);
  if (r) {
    const reviewable = new Set(r.awaiting ? r.reviewable : []);
    const rounds = [...new Set(r.candidates.map((c) => c.round))].sort((a, b) => b - a);
    for (const round of rounds) {
      const list = r.candidates.filter((c) => c.round === round).sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity));
      lines.push(`round ${round}${list[0] ? ` · prompt ${list[0].promptVersion}` : ''}`);
      for (const c of list) lines.push(...candidateLines(c, reviewable, list.length));
    }
  }
  const decisions = r?.decisions ?? view.manifest?.review?.decisions ?? [];
  lines.push('decisions', ...(decisions.length ? decisions.map(decisionLine) : ['  none yet']));
  const m = view.manifest;
  if (m?.outcome === 'published') lines.push(`published  ${m.assets.length} assets from ${m.selected.map((c) => c.id).join(', ')}; manifest ${m.manifestKey}`);
  if (m?.rejection) lines.push(clean(`rejected   by ${m.rejection.reviewer}: ${m.rejection.reason}`));
  if (state.awaiting && r) {
    const pick = r.candidates.filter((c) => c.round === r.round && c.suggested).map((c) => c.id);
    lines.push(
      'decide',
      `  darkroom approve ${view.workflowId} ${pick.join(' ') || '<candidate…>'}`,
      `  darkroom revise ${view.workflowId} --feedback "what to change"${r.round >= r.maxRounds ? '   (no rounds left)' : ''}`,
      `  darkroom reject ${view.workflowId} --reason "why"`,
    );
  }
  return lines.join('\n');
}
