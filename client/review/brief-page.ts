/**
 * A brief's page: its rounds of candidates, the outcome, the audit trail, and the decision panel.
 * The part that changes as the workflow moves on is a fragment the page's script fetches again
 * as JSON and swaps in.
 */
import type { ReviewRecord } from '../../domain/review';
import type { ReviewCandidate } from '../../domain/types';
import type { BriefView } from './actions';
import { candidateCard, describeDecision, facts, outcomeBanner, type PreviewContext } from './brief-sections';
import { briefState, type BriefState } from './brief-state';
import { html, joinHtml, jsonForScript, time, type SafeHtml } from './html';
import { layout } from './layout';

/** Candidates to show: every round's from `status`, or, when only the manifest is left, its own. */
function candidatesOf(view: BriefView): ReviewCandidate[] {
  if (view.status?.review) return view.status.review.candidates;
  const m = view.manifest;
  if (!m) return [];
  return m.candidates.map((c) => {
    const sel = m.selected.find((s) => s.id === c.id);
    return { id: c.id, round: c.round, promptVersion: c.promptVersion, key: c.key, width: sel?.master.width ?? 0, height: sel?.master.height ?? 0, score: c.score, rank: c.rank, reasons: sel?.judge.reasons ?? [], suggested: false };
  });
}

function decisionsOf(view: BriefView): ReviewRecord[] {
  return view.status?.review?.decisions ?? view.manifest?.review?.decisions ?? [];
}

function approvedIds(view: BriefView): Set<string> {
  const ids = new Set<string>();
  for (const d of decisionsOf(view)) if (d.action === 'approve') for (const id of d.candidateIds ?? []) ids.add(id);
  if (view.manifest?.outcome === 'published') for (const s of view.manifest.selected) ids.add(s.id);
  return ids;
}

const GHOST_CARD = html`<div class="cand ghost"><div class="thumb"></div><div class="cbody"><div class="bar"></div><div class="bar short"></div></div></div>`;

/** One section per round, latest first; only the candidates a decision may name now get a checkbox. */
function roundSections(view: BriefView, state: BriefState, previews?: PreviewContext): SafeHtml[] {
  const review = view.status?.review;
  const all = candidatesOf(view);
  const approved = approvedIds(view);
  const decisions = decisionsOf(view);
  const reviewable = new Set(state.awaiting ? state.reviewable : []);
  const rounds = [...new Set(all.map((c) => c.round))].sort((a, b) => b - a);
  return rounds.map((round) => {
    const list = all.filter((c) => c.round === round).sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity) || a.id.localeCompare(b.id));
    const current = review && round === review.round;
    const asked = decisions.filter((d) => d.action === 'requestChanges' && d.round === round - 1).at(-1);
    const version = list[0]?.promptVersion;
    const cards = list.map((c) => candidateCard(c, { selectable: reviewable.has(c.id), approved: approved.has(c.id), roundSize: list.length, previews }));
    return html`<section class="round${current ? ' current' : ''}" data-round="${round}">
  <h2>Round ${round}${version ? html` <span class="muted">· prompt ${version}</span>` : null}${current && state.awaiting ? html` <span class="badge now">for review now</span>` : null}</h2>
  ${asked ? html`<p class="asked">Asked for by ${asked.reviewer}: “${asked.feedback ?? ''}”</p>` : null}
  <div class="grid">${joinHtml(cards, html`\n`)}</div>
</section>`;
  });
}

function auditTrail(view: BriefView): SafeHtml {
  const decisions = decisionsOf(view);
  const audit = decisions.length
    ? html`<ol class="audit">${decisions.map((d) => html`<li>${time(d.at)} <strong>${d.reviewer}</strong> ${describeDecision(d)} <span class="muted">· round ${d.round} · via ${d.via}</span></li>`)}</ol>`
    : html`<p class="muted">No decisions yet.</p>`;
  const ignored = view.status?.review?.ignoredSignals ?? view.manifest?.review?.ignoredSignals ?? [];
  const ignoredList = ignored.length
    ? html`<h3>Ignored signals</h3><ul class="audit">${ignored.map((i) => html`<li><code>${i.signal}</code> in round ${i.round}: ${i.reason}</li>`)}</ul>`
    : null;
  return html`<section class="card decisions"><h2>Decisions</h2>${audit}${ignoredList}</section>`;
}

function fragment(view: BriefView, state: BriefState, previews?: PreviewContext): SafeHtml {
  const s = view.status;
  const review = s?.review;
  const subject = s?.subject ?? view.manifest?.brief.subject ?? view.workflowId;
  const channels = s?.channels ?? view.manifest?.brief.channels ?? [];
  const rounds = roundSections(view, state, previews);
  const pending = review && !state.awaiting && state.kind === 'working' && s && s.round > review.round
    ? html`<section class="round pending"><h2>Round ${s.round} <span class="muted">· on its way</span></h2><div class="grid">${Array.from({ length: Math.max(1, s.candidates.total) }, () => GHOST_CARD)}</div></section>`
    : null;
  const prompt = review?.prompt ?? (view.manifest ? { version: view.manifest.prompt.version, text: view.manifest.prompt.text } : undefined);
  const noCandidates = state.kind === 'working' ? null : html`<p class="muted">No candidates to show.</p>`;

  return html`<header class="brief-head">
  <div>
    <h1>${subject}</h1>
    <div class="sub"><code>${view.workflowId}</code>${channels.length ? html` <span class="muted">· ${channels.join(', ')}</span>` : null}</div>
  </div>
  <span class="pill ${state.kind}" data-state="${state.kind}">${state.label}</span>
</header>
${outcomeBanner(view, state)}
${facts(s, review, view)}
${prompt ? html`<section class="prompt card"><h2>Prompt <code>${prompt.version}</code>${review && review.round > 1 ? html` <span class="muted">round ${review.round}</span>` : null}</h2><p>${prompt.text}</p></section>` : null}
${pending}
${rounds.length ? joinHtml(rounds, html`\n`) : noCandidates}
${auditTrail(view)}`;
}

/** Everything on the brief page that changes as the workflow moves on. */
export function briefFragment(view: BriefView, previews?: PreviewContext): string {
  return fragment(view, briefState(view), previews).toString();
}

/** The JSON the brief page polls. */
export interface BriefFragment {
  html: string;
  state: BriefState;
}

export function briefFragmentData(view: BriefView, previews?: PreviewContext): BriefFragment {
  return { html: briefFragment(view, previews), state: briefState(view) };
}

/** @param previews what the cards need to show each channel's crop; without it they show the candidate only */
export function briefPage(view: BriefView, nonce: string, previews?: PreviewContext): string {
  const state = briefState(view);
  const body = html`<main class="brief-layout">
  <div class="brief-main">
    <a class="back" href="/">← Queue</a>
    <div id="brief" aria-live="polite">${fragment(view, state, previews)}</div>
  </div>
  <aside class="panel card" id="panel" aria-label="Decision">
    <h2>Decision</h2>
    <p class="selcount"><strong id="sel-count">0</strong> of <span id="sel-max">${state.maxApprovals}</span> selected</p>
    <div id="panel-state" class="panel-state"></div>
    <form id="approve-form" class="decide">
      <input name="comment" maxlength="2000" placeholder="Comment (optional)">
      <button type="submit" class="primary" id="approve-btn">Approve selected</button>
    </form>
    <details class="decide-more">
      <summary>Request changes</summary>
      <form id="revise-form" class="decide">
        <textarea name="feedback" maxlength="2000" rows="3" placeholder="What should change in the next round? (required)"></textarea>
        <label class="check"><input type="checkbox" name="keep"> Keep the selected candidates in the running</label>
        <button type="submit" id="revise-btn">Request changes</button>
      </form>
    </details>
    <details class="decide-more">
      <summary>Reject</summary>
      <form id="reject-form" class="decide">
        <textarea name="reason" maxlength="2000" rows="3" placeholder="Why is this brief rejected? (required)"></textarea>
        <button type="submit" class="danger" id="reject-btn">Reject brief</button>
      </form>
    </details>
    <div id="panel-msg" class="msg" role="status" aria-live="polite"></div>
  </aside>
</main>
<script type="application/json" id="page-data">${jsonForScript({ page: 'brief', workflowId: view.workflowId, state })}</script>`;
  return layout({ title: view.status?.subject ?? view.workflowId, nonce, body, bodyAttrs: html` data-workflow-id="${view.workflowId}"` });
}
