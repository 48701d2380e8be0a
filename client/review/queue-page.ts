/** The queue: the briefs awaiting review, a filter, and bulk approve. */
import { latestRoundCandidates, type AwaitingBrief } from './actions';
import { blobHref, briefHref, html, joinHtml, jsonForScript, plural, scoreClass, time, usd, type SafeHtml } from './html';
import { layout } from './layout';

export interface QueueData {
  filter?: string;
  briefs?: AwaitingBrief[];
  /** Why the list could not be made (a bad filter, Temporal's refusal of the query…). */
  error?: string;
}

function topThumb(b: AwaitingBrief): SafeHtml {
  const review = b.status?.review;
  const top = review ? latestRoundCandidates(review)[0] : undefined;
  if (!top) return html`<div class="qthumb empty"></div>`;
  return html`<div class="qthumb"><img src="${blobHref(top.key, 160)}" alt="" loading="lazy"></div>`;
}

function queueRow(b: AwaitingBrief): SafeHtml {
  const s = b.status;
  const r = s?.review;
  const facts = s && r
    ? joinHtml([
        `round ${r.round} of ${r.maxRounds}`,
        html`<span class="${scoreClass(b.topScore)}">${b.topScore === undefined ? '–' : Math.round(b.topScore)}</span> top score`,
        plural(latestRoundCandidates(r).length, 'candidate'),
        `${usd(s.cost.actualUsd)} of ${usd(s.cost.budgetUsd)}`,
        r.deadlineAt ? html`due ${time(r.deadlineAt)}` : null,
      ].filter((fact) => fact !== null), html`<span class="dot">·</span>`)
    : html`<span class="warn">${b.error ?? 'no status yet'}</span>`;
  return html`<li><a class="qrow card" href="${briefHref(b.workflowId)}" data-workflow-id="${b.workflowId}">
  ${topThumb(b)}
  <div class="qmain">
    <div class="qsubject">${s?.subject ?? b.workflowId}</div>
    <div class="qid"><code>${b.workflowId}</code>${s ? html` <span class="muted">${s.channels.join(', ')}</span>` : null}</div>
    <div class="qfacts">${facts}</div>
  </div>
  <span class="go">Review →</span>
</a></li>`;
}

function queueList(q: QueueData): SafeHtml {
  if (q.error) return html`<div class="msg error" role="alert">${q.error}</div>`;
  const briefs = q.briefs ?? [];
  if (briefs.length === 0) {
    return html`<div class="empty-state"><p><strong>Nothing is waiting for review${q.filter ? ' with this filter' : ''}.</strong></p><p class="muted">Briefs with <code>"approval": "human"</code> show up here once their candidates are judged.</p></div>`;
  }
  return html`<p class="count">${plural(briefs.length, 'brief')} awaiting review</p><ul class="queue">${joinHtml(briefs.map(queueRow), html`\n`)}</ul>`;
}

/** The queue's list of briefs (swapped in by the page's script as it polls). */
export function queueFragment(q: QueueData): string {
  return queueList(q).toString();
}

export function queuePage(q: QueueData, nonce: string): string {
  const body = html`<main>
  <div class="page-head">
    <h1>Awaiting review</h1>
    <form class="filter" method="get" action="/">
      <input name="filter" value="${q.filter ?? ''}" placeholder="Filter, e.g. DarkroomCatalogId = 'spring'" spellcheck="false" aria-label="Search-attribute filter">
      <button type="submit">Filter</button>
      ${q.filter ? html`<a href="/" class="clear">clear</a>` : null}
    </form>
  </div>
  <div id="queue" aria-live="polite">${queueList(q)}</div>
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
