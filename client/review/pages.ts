/**
 * The reviewer tool's pages, rendered on the server. The parts that change while a brief moves
 * on (its candidates, rounds, decisions, outcome) are "fragments" the page's script fetches
 * again as JSON and swaps in, so all HTML — and all escaping — happens here.
 */
import type { ReviewRecord } from '../../domain/review';
import type { BriefStatus, Manifest, ReviewCandidate, ReviewStatus } from '../../domain/types';
import { latestRoundCandidates, type AwaitingBrief, type BriefView } from './actions';
import { blobHref, briefHref, esc, jsonForScript, kib, plural, time, usd } from './html';
import { CLIENT_SCRIPT, STYLE } from './assets';

export const THUMB_WIDTH = 320;

// ── brief state ─────────────────────────────────────────────────────────────

export type BriefStateKind = 'awaiting' | 'working' | 'published' | 'rejected' | 'failed' | 'unknown';

/** What the page's script needs to know to enable the decision panel and to stop polling. */
export interface BriefState {
  kind: BriefStateKind;
  label: string;
  /** True once the workflow has closed: polling stops. */
  done: boolean;
  awaiting: boolean;
  reviewable: string[];
  maxApprovals: number;
  round: number;
  maxRounds: number;
}

const WORKING_LABEL: Partial<Record<BriefStatus['stage'], string>> = {
  validating: 'Validating the brief',
  prompting: 'Building the prompt',
  upscaling: 'Approved — upscaling',
  formatting: 'Approved — formatting assets',
  publishing: 'Approved — publishing',
};

export function briefState(view: BriefView): BriefState {
  const s = view.status;
  const review = s?.review;
  const base = {
    done: view.execution !== 'RUNNING',
    awaiting: false,
    reviewable: [] as string[],
    maxApprovals: review?.maxApprovals ?? 0,
    round: review?.round ?? s?.round ?? 1,
    maxRounds: review?.maxRounds ?? 1,
  };
  if (view.execution === 'COMPLETED') {
    if (view.manifest?.outcome === 'rejected') return { ...base, kind: 'rejected', label: 'Rejected' };
    return { ...base, kind: 'published', label: 'Published' };
  }
  if (view.execution !== 'RUNNING') return { ...base, kind: 'failed', label: view.execution === 'FAILED' ? 'Failed' : `Ended (${view.execution.toLowerCase().replace(/_/g, ' ')})` };
  if (!s) return { ...base, kind: 'unknown', label: 'No worker is answering' };
  if (review?.awaiting) return { ...base, kind: 'awaiting', label: 'Awaiting review', awaiting: true, reviewable: review.reviewable };
  let label = WORKING_LABEL[s.stage];
  if (s.stage === 'generating') label = `Generating round ${s.round} (${s.candidates.generated}/${s.candidates.total})`;
  else if (s.stage === 'judging') label = `Judging round ${s.round}`;
  else if (s.stage === 'review') label = 'Taking the decision';
  return { ...base, kind: 'working', label: label ?? s.stage };
}

// ── layout ─────────────────────────────────────────────────────────────────

interface LayoutOptions {
  title: string;
  nonce: string;
  body: string;
  /** Attributes on <body>, already escaped. */
  bodyAttrs?: string;
  /** Hide the reviewer-name box (pages for people who are not logged in). */
  anonymous?: boolean;
}

function layout(o: LayoutOptions): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${esc(o.title)} · Darkroom review</title>
<style nonce="${o.nonce}">${STYLE}</style>
</head>
<body${o.bodyAttrs ? ` ${o.bodyAttrs}` : ''}>
<header class="top">
  <a class="brand" href="/"><span class="logo" aria-hidden="true"></span>Darkroom <span class="muted">review</span></a>
  ${o.anonymous ? '' : `<label class="who">Reviewing as <input type="text" id="reviewer" name="reviewer" autocomplete="name" maxlength="200" placeholder="reviewer" spellcheck="false"></label>`}
</header>
${o.body}
${o.anonymous ? '' : `<script nonce="${o.nonce}">${CLIENT_SCRIPT}</script>`}
</body>
</html>`;
}

/** 401 page: the tool needs its login link. */
export function loginNeededPage(nonce: string, wrongToken = false): string {
  return layout({
    title: 'Login needed',
    nonce,
    anonymous: true,
    body: `<main class="narrow"><section class="card center">
  <h1>${wrongToken ? 'That login link is not valid' : 'Login needed'}</h1>
  <p>${wrongToken ? 'The token in the link does not match this reviewer tool. It changes each time the tool starts unless <code>DARKROOM_REVIEW_TOKEN</code> is set.' : 'This reviewer tool only answers people who opened its login link.'}</p>
  <p>Run <code>npx darkroom review</code> and open the <code>/login?token=…</code> link it prints.</p>
</section></main>`,
  });
}

export function errorPage(nonce: string, title: string, message: string): string {
  return layout({
    title,
    nonce,
    body: `<main class="narrow"><a class="back" href="/">← Queue</a><section class="card center"><h1>${esc(title)}</h1><p>${esc(message)}</p></section></main>`,
  });
}

// ── queue ──────────────────────────────────────────────────────────────────

export interface QueueData {
  filter?: string;
  briefs?: AwaitingBrief[];
  /** Why the list could not be made (a bad filter, Temporal's refusal of the query…). */
  error?: string;
}

function topThumb(b: AwaitingBrief): string {
  const review = b.status?.review;
  const top = review ? latestRoundCandidates(review)[0] : undefined;
  if (!top) return '<div class="qthumb empty"></div>';
  return `<div class="qthumb"><img src="${esc(blobHref(top.key, 160))}" alt="" loading="lazy"></div>`;
}

function scoreClass(score: number | undefined): string {
  if (score === undefined) return 'score';
  return `score ${score >= 80 ? 'hi' : score >= 60 ? 'mid' : 'lo'}`;
}

/** The queue's list of briefs (swapped in by the page's script as it polls). */
export function queueFragment(q: QueueData): string {
  if (q.error) return `<div class="msg error" role="alert">${esc(q.error)}</div>`;
  const briefs = q.briefs ?? [];
  if (briefs.length === 0) {
    return `<div class="empty-state"><p><strong>Nothing is waiting for review${q.filter ? ' with this filter' : ''}.</strong></p><p class="muted">Briefs with <code>"approval": "human"</code> show up here once their candidates are judged.</p></div>`;
  }
  const rows = briefs.map((b) => {
    const s = b.status;
    const r = s?.review;
    const facts = s && r
      ? [
          `round ${r.round} of ${r.maxRounds}`,
          `<span class="${scoreClass(b.topScore)}">${b.topScore === undefined ? '–' : Math.round(b.topScore)}</span> top score`,
          `${plural(latestRoundCandidates(r).length, 'candidate')}`,
          `${usd(s.cost.actualUsd)} of ${usd(s.cost.budgetUsd)}`,
          r.deadlineAt ? `due ${time(r.deadlineAt)}` : '',
        ].filter(Boolean).join('<span class="dot">·</span>')
      : `<span class="warn">${esc(b.error ?? 'no status yet')}</span>`;
    return `<li><a class="qrow card" href="${esc(briefHref(b.workflowId))}" data-workflow-id="${esc(b.workflowId)}">
  ${topThumb(b)}
  <div class="qmain">
    <div class="qsubject">${esc(s?.subject ?? b.workflowId)}</div>
    <div class="qid"><code>${esc(b.workflowId)}</code>${s ? ` <span class="muted">${esc(s.channels.join(', '))}</span>` : ''}</div>
    <div class="qfacts">${facts}</div>
  </div>
  <span class="go">Review →</span>
</a></li>`;
  });
  return `<p class="count">${plural(briefs.length, 'brief')} awaiting review</p><ul class="queue">${rows.join('\n')}</ul>`;
}

export function queuePage(q: QueueData, nonce: string): string {
  const body = `<main>
  <div class="page-head">
    <h1>Awaiting review</h1>
    <form class="filter" method="get" action="/">
      <input name="filter" value="${esc(q.filter ?? '')}" placeholder="Filter, e.g. DarkroomCatalogId = 'spring'" spellcheck="false" aria-label="Search-attribute filter">
      <button type="submit">Filter</button>
      ${q.filter ? '<a href="/" class="clear">clear</a>' : ''}
    </form>
  </div>
  <div id="queue" aria-live="polite">${queueFragment(q)}</div>
  <section class="card bulk">
    <h2>Bulk approve</h2>
    <p class="muted">For every brief listed above whose best candidate in its latest round scores at least the minimum, approve the judge's suggestion (that round's top K).</p>
    <form id="bulk-form">
      <label>Minimum score <input type="number" name="minScore" min="0" max="100" step="1" value="80" required></label>
      <label class="check"><input type="checkbox" name="dryRun" checked> Dry run (only show what would be approved)</label>
      <button type="submit" class="primary">Bulk approve</button>
    </form>
    <div id="bulk-result" aria-live="polite"></div>
  </section>
</main>
<script type="application/json" id="page-data">${jsonForScript({ page: 'queue', filter: q.filter ?? '' })}</script>`;
  return layout({ title: 'Awaiting review', nonce, body });
}

// ── brief ──────────────────────────────────────────────────────────────────

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

function candidateCard(c: ReviewCandidate, ctx: { selectable: boolean; approved: boolean; roundSize: number }): string {
  const score = c.score === undefined ? '<span class="score">–</span>' : `<span class="${scoreClass(c.score)}" title="judge score out of 100">${Math.round(c.score)}</span>`;
  const badges = [
    c.suggested ? '<span class="badge pick" title="in its round\'s top K">★ Judge\'s pick</span>' : '',
    ctx.approved ? '<span class="badge ok">✔ Approved</span>' : '',
  ].join('');
  const reasons = c.reasons.length ? `<ul class="reasons">${c.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>` : '';
  const tag = ctx.selectable ? 'label' : 'div';
  return `<${tag} class="cand${c.suggested ? ' suggested' : ''}${ctx.selectable ? ' selectable' : ' locked'}${ctx.approved ? ' approved' : ''}" data-candidate="${esc(c.id)}">
  <div class="thumb"><img src="${esc(blobHref(c.key, THUMB_WIDTH))}" alt="Candidate ${esc(c.id)}" loading="lazy"${c.width && c.height ? ` width="${c.width}" height="${c.height}"` : ''}></div>
  <div class="cbody">
    <div class="ctop">
      ${ctx.selectable ? `<input type="checkbox" name="candidate" value="${esc(c.id)}" aria-label="Select ${esc(c.id)}">` : ''}
      <span class="cid">${esc(c.id)}</span>
      ${score}
    </div>
    <div class="cmeta">${c.rank ? `rank ${c.rank} of ${ctx.roundSize}` : 'not ranked'}${c.width ? ` · ${c.width}×${c.height}` : ''} · <a href="${esc(blobHref(c.key))}" target="_blank" rel="noopener">full size ↗</a></div>
    ${badges ? `<div class="badges">${badges}</div>` : ''}
    ${reasons}
  </div>
</${tag}>`;
}

function describeDecision(d: ReviewRecord): string {
  switch (d.action) {
    case 'approve':
      return `approved <strong>${esc((d.candidateIds ?? []).join(', '))}</strong>${d.comment ? ` — “${esc(d.comment)}”` : ''}`;
    case 'reject':
      return `rejected the brief${d.reason ? `: “${esc(d.reason)}”` : ''}`;
    case 'requestChanges':
      return `requested changes${d.feedback ? `: “${esc(d.feedback)}”` : ''}${d.keep?.length ? ` (kept ${esc(d.keep.join(', '))})` : ''}`;
    default:
      return esc(d.action);
  }
}

function outcomeBanner(view: BriefView, state: BriefState): string {
  const m: Manifest | undefined = view.manifest;
  if (state.kind === 'published' && m) {
    const byChannel = new Map<string, Manifest['assets']>();
    for (const a of m.assets) byChannel.set(a.channel, [...(byChannel.get(a.channel) ?? []), a]);
    const lists = [...byChannel].map(([ch, list]) => `<li><span class="ch">${esc(ch)}</span> ${list.map((a) => `<a href="${esc(blobHref(a.key))}" target="_blank" rel="noopener">${esc(a.candidateId)} ${esc(a.format)} ${a.width}×${a.height}</a> <span class="muted">${kib(a.bytes)}</span>`).join(' · ')}</li>`);
    return `<section class="banner ok" data-outcome="published">
  <h2>✔ Published ${plural(m.assets.length, 'asset')} from ${esc(m.selected.map((s) => s.id).join(', '))}</h2>
  <ul class="assets">${lists.join('')}</ul>
  <p class="muted">Manifest <code>${esc(m.manifestKey)}</code> in <code>${esc(m.location)}</code> · cost ${usd(m.cost.actualUsd)} of ${usd(m.cost.budgetUsd)}</p>
</section>`;
  }
  if (state.kind === 'published') return `<section class="banner ok" data-outcome="published"><h2>✔ Published</h2></section>`;
  if (state.kind === 'rejected') {
    const r = m?.rejection;
    return `<section class="banner bad" data-outcome="rejected"><h2>✘ Rejected${r ? ` by ${esc(r.reviewer)}` : ''}</h2>${r ? `<p>“${esc(r.reason)}”</p>` : ''}</section>`;
  }
  if (state.kind === 'failed') return `<section class="banner bad" data-outcome="failed"><h2>✘ ${esc(state.label)}</h2>${view.failure ? `<pre class="failure">${esc(view.failure)}</pre>` : ''}</section>`;
  if (state.kind === 'unknown') return `<section class="banner warn"><h2>No worker is answering</h2><p>${esc(view.statusError ?? '')}</p><p class="muted">Start one with <code>npm run worker</code>; this page refreshes on its own.</p></section>`;
  if (state.kind === 'working') return `<section class="banner info"><h2><span class="spinner" aria-hidden="true"></span>${esc(state.label)}…</h2></section>`;
  return '';
}

function facts(s: BriefStatus | undefined, review: ReviewStatus | undefined, view: BriefView): string {
  const cost = s?.cost ?? view.manifest?.cost;
  const items: Array<[string, string]> = [];
  if (review) items.push(['Round', `${review.round} of ${review.maxRounds}`]);
  else if (view.manifest) items.push(['Rounds', String(view.manifest.rounds)]);
  const version = review?.prompt.version ?? s?.promptVersion ?? view.manifest?.prompt.version;
  if (version) items.push(['Prompt', `${esc(version)}${s?.promptScore !== undefined ? ` <span class="muted">· ${s.promptScore}/8</span>` : ''}`]);
  if (cost) items.push(['Cost so far', `${usd(cost.actualUsd)} <span class="muted">of ${usd(cost.budgetUsd)}</span>`]);
  if (review?.deadlineAt && review.awaiting) items.push(['Deadline', `${time(review.deadlineAt)} <span class="muted">then ${esc(review.onDeadline === 'approveTop' ? 'approve the top' : review.onDeadline)}</span>`]);
  if (review) items.push(['Approve', `up to ${plural(review.maxApprovals, 'image')}`]);
  return `<dl class="facts">${items.map(([k, v]) => `<div><dt>${k}</dt><dd>${v}</dd></div>`).join('')}</dl>`;
}

/** Everything on the brief page that changes as the workflow moves on. */
export function briefFragment(view: BriefView): string {
  const state = briefState(view);
  const s = view.status;
  const review = s?.review;
  const subject = s?.subject ?? view.manifest?.brief.subject ?? view.workflowId;
  const channels = s?.channels ?? view.manifest?.brief.channels ?? [];
  const all = candidatesOf(view);
  const approved = approvedIds(view);
  const decisions = decisionsOf(view);
  const reviewable = new Set(state.awaiting ? state.reviewable : []);

  const rounds = [...new Set(all.map((c) => c.round))].sort((a, b) => b - a);
  const roundSections = rounds.map((round) => {
    const list = all.filter((c) => c.round === round).sort((a, b) => (a.rank ?? Infinity) - (b.rank ?? Infinity) || a.id.localeCompare(b.id));
    const current = review && round === review.round;
    const asked = decisions.filter((d) => d.action === 'requestChanges' && d.round === round - 1).at(-1);
    const version = list[0]?.promptVersion;
    return `<section class="round${current ? ' current' : ''}" data-round="${round}">
  <h2>Round ${round}${version ? ` <span class="muted">· prompt ${esc(version)}</span>` : ''}${current && state.awaiting ? ' <span class="badge now">for review now</span>' : ''}</h2>
  ${asked ? `<p class="asked">Asked for by ${esc(asked.reviewer)}: “${esc(asked.feedback ?? '')}”</p>` : ''}
  <div class="grid">${list.map((c) => candidateCard(c, { selectable: reviewable.has(c.id), approved: approved.has(c.id), roundSize: list.length })).join('\n')}</div>
</section>`;
  });
  const pending = review && !state.awaiting && state.kind === 'working' && s && s.round > review.round
    ? `<section class="round pending"><h2>Round ${s.round} <span class="muted">· on its way</span></h2><div class="grid">${Array.from({ length: Math.max(1, s.candidates.total) }, () => '<div class="cand ghost"><div class="thumb"></div><div class="cbody"><div class="bar"></div><div class="bar short"></div></div></div>').join('')}</div></section>`
    : '';

  const audit = decisions.length
    ? `<ol class="audit">${decisions.map((d) => `<li>${time(d.at)} <strong>${esc(d.reviewer)}</strong> ${describeDecision(d)} <span class="muted">· round ${d.round} · via ${esc(d.via)}</span></li>`).join('')}</ol>`
    : '<p class="muted">No decisions yet.</p>';
  const ignored = view.status?.review?.ignoredSignals ?? view.manifest?.review?.ignoredSignals ?? [];
  const ignoredList = ignored.length
    ? `<h3>Ignored signals</h3><ul class="audit">${ignored.map((i) => `<li><code>${esc(i.signal)}</code> in round ${i.round}: ${esc(i.reason)}</li>`).join('')}</ul>`
    : '';
  const prompt = review?.prompt ?? (view.manifest ? { version: view.manifest.prompt.version, text: view.manifest.prompt.text } : undefined);

  return `<header class="brief-head">
  <div>
    <h1>${esc(subject)}</h1>
    <div class="sub"><code>${esc(view.workflowId)}</code>${channels.length ? ` <span class="muted">· ${esc(channels.join(', '))}</span>` : ''}</div>
  </div>
  <span class="pill ${state.kind}" data-state="${state.kind}">${esc(state.label)}</span>
</header>
${outcomeBanner(view, state)}
${facts(s, review, view)}
${prompt ? `<section class="prompt card"><h2>Prompt <code>${esc(prompt.version)}</code>${review && review.round > 1 ? ` <span class="muted">round ${review.round}</span>` : ''}</h2><p>${esc(prompt.text)}</p></section>` : ''}
${pending}
${roundSections.join('\n') || (state.kind === 'working' ? '' : '<p class="muted">No candidates to show.</p>')}
<section class="card decisions"><h2>Decisions</h2>${audit}${ignoredList}</section>`;
}

/** The JSON the brief page polls. */
export interface BriefFragment {
  html: string;
  state: BriefState;
}

export function briefFragmentData(view: BriefView): BriefFragment {
  return { html: briefFragment(view), state: briefState(view) };
}

export function briefPage(view: BriefView, nonce: string): string {
  const data = briefFragmentData(view);
  const body = `<main class="brief-layout">
  <div class="brief-main">
    <a class="back" href="/">← Queue</a>
    <div id="brief" aria-live="polite">${data.html}</div>
  </div>
  <aside class="panel card" id="panel" aria-label="Decision">
    <h2>Decision</h2>
    <p class="selcount"><strong id="sel-count">0</strong> of <span id="sel-max">${data.state.maxApprovals}</span> selected</p>
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
<script type="application/json" id="page-data">${jsonForScript({ page: 'brief', workflowId: view.workflowId, state: data.state })}</script>`;
  return layout({ title: view.status?.subject ?? view.workflowId, nonce, body, bodyAttrs: `data-workflow-id="${esc(view.workflowId)}"` });
}
