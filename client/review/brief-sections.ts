/** Pieces of the brief page: a candidate's card, a decision in the audit trail, the outcome banner, the facts line. */
import type { SafeZone } from '../../domain/brand';
import { resolveChannel } from '../../domain/channels';
import type { ReviewRecord } from '../../domain/review';
import type { BlobRef, BriefStatus, ImageRegion, Manifest, ReviewCandidate, ReviewStatus } from '../../domain/types';
import { focusParam } from './previews';
import type { BriefView } from './actions';
import type { BriefState } from './brief-state';
import { blobHref, fullSizeHref, html, joinHtml, kib, plural, scoreClass, time, usd, type HtmlValue, type SafeHtml } from './html';

export const THUMB_WIDTH = 320;

/** What a card needs to show a candidate's crops as they will ship. */
export interface PreviewContext {
  /** The brief's stored kit: previews carry its logo. */
  brand?: { name: string; key: string };
  /** The brief's stored product packshot, shown beside the crops. */
  product?: BlobRef;
  /** Channel id → safe zones in % (the keys are the brief's channels, in order). */
  safeZones: Readonly<Record<string, SafeZone>>;
}

/** Where a candidate's preview for a channel is served: the same crop and logo as the formatting stage. */
export function previewHref(key: string, channel: string, brandKey?: string, focus?: ImageRegion): string {
  const query = new URLSearchParams();
  if (brandKey) query.set('brand', brandKey);
  if (focus) query.set('focus', focusParam(focus));
  const q = query.toString();
  return `/previews/${encodeURIComponent(channel)}/${key}${q ? `?${q}` : ''}`;
}

/** Shown size of a crop preview: its shape fitted into a small box, set as attributes so the overlay fits the image exactly. */
function shownSize(width: number, height: number): SafeHtml {
  const k = Math.min(240 / width, 150 / height);
  return html` width="${Math.max(1, Math.round(width * k))}" height="${Math.max(1, Math.round(height * k))}"`;
}

/**
 * Each channel's crop of the candidate (with logo) and the packshot beside them. Safe zones are
 * an SVG drawn over the image in % of it, so they are seen but never in the pixels.
 */
export function cropPreviews(c: ReviewCandidate, p: PreviewContext | undefined): SafeHtml | null {
  if (!p) return null;
  const channels = Object.keys(p.safeZones);
  if (!channels.length) return null;
  const figures = channels.map((id) => {
    const ch = resolveChannel(id);
    const z = p.safeZones[id]!;
    const bands = [
      z.top ? html`<rect x="0" y="0" width="100" height="${z.top}"/>` : null,
      z.bottom ? html`<rect x="0" y="${100 - z.bottom}" width="100" height="${z.bottom}"/>` : null,
      z.left ? html`<rect x="0" y="0" width="${z.left}" height="100"/>` : null,
      z.right ? html`<rect x="${100 - z.right}" y="0" width="${z.right}" height="100"/>` : null,
    ].filter((b) => b !== null);
    const overlay = bands.length
      ? html`<svg class="zones" viewBox="0 0 100 100" preserveAspectRatio="none" aria-label="safe zones" data-safe-top="${z.top}" data-safe-bottom="${z.bottom}" data-safe-left="${z.left}" data-safe-right="${z.right}">${bands}</svg>`
      : null;
    const size = ch ? shownSize(ch.width, ch.height) : null;
    return html`<figure class="crop" data-channel="${id}"><div class="crop-frame"><img src="${previewHref(c.key, id, p.brand?.key, c.product)}" alt="${c.id} cropped for ${id}" loading="lazy"${size}>${overlay}</div><figcaption>${id}${ch ? ` · ${ch.width}×${ch.height}` : ''}</figcaption></figure>`;
  });
  const packshot = p.product
    ? html`<figure class="crop packshot"><div class="crop-frame"><img src="${blobHref(p.product.key, THUMB_WIDTH)}" alt="Reference packshot" loading="lazy"${p.product.width && p.product.height ? shownSize(p.product.width, p.product.height) : null}></div><figcaption>packshot (reference)</figcaption></figure>`
    : null;
  return html`<div class="crops" data-crops="${c.id}">${figures}${packshot}</div>`;
}

export interface CardContext {
  /** Each channel's crop preview, when the page has what it needs. */
  previews?: PreviewContext;
  /** It gets a checkbox: the reviewer may name it in a decision now. */
  selectable: boolean;
  approved: boolean;
  roundSize: number;
}

export function candidateCard(c: ReviewCandidate, ctx: CardContext): SafeHtml {
  const score = c.score === undefined
    ? html`<span class="score">–</span>`
    : html`<span class="${scoreClass(c.score)}" title="judge score out of 100">${Math.round(c.score)}</span>`;
  const badges = [
    c.suggested ? html`<span class="badge pick" title="in its round's top K">★ Judge's pick</span>` : null,
    ctx.approved ? html`<span class="badge ok">✔ Approved</span>` : null,
  ].filter((badge) => badge !== null);
  const reasons = c.reasons.length ? html`<ul class="reasons">${c.reasons.map((r) => html`<li>${r}</li>`)}</ul>` : null;
  const tag = ctx.selectable ? 'label' : 'div';
  const classes = `cand${c.suggested ? ' suggested' : ''}${ctx.selectable ? ' selectable' : ' locked'}${ctx.approved ? ' approved' : ''}`;
  const size = c.width && c.height ? html` width="${c.width}" height="${c.height}"` : null;
  return html`<${tag} class="${classes}" data-candidate="${c.id}">
  <div class="thumb"><img src="${blobHref(c.key, THUMB_WIDTH)}" alt="Candidate ${c.id}" loading="lazy"${size}></div>
  <div class="cbody">
    <div class="ctop">
      ${ctx.selectable ? html`<input type="checkbox" name="candidate" value="${c.id}" aria-label="Select ${c.id}">` : null}
      <span class="cid">${c.id}</span>
      ${score}
    </div>
    <div class="cmeta">${c.rank ? `rank ${c.rank} of ${ctx.roundSize}` : 'not ranked'}${c.width ? ` · ${c.width}×${c.height}` : ''} · <a href="${fullSizeHref(c.key)}" target="_blank" rel="noopener">full size ↗</a></div>
    ${badges.length ? html`<div class="badges">${badges}</div>` : null}
    ${reasons}
    ${cropPreviews(c, ctx.previews)}
  </div>
</${tag}>`;
}

export function describeDecision(d: ReviewRecord): SafeHtml {
  switch (d.action) {
    case 'approve':
      return html`approved <strong>${(d.candidateIds ?? []).join(', ')}</strong>${d.comment ? html` — “${d.comment}”` : null}`;
    case 'reject':
      return html`rejected the brief${d.reason ? html`: “${d.reason}”` : null}`;
    case 'requestChanges':
      return html`requested changes${d.feedback ? html`: “${d.feedback}”` : null}${d.keep?.length ? html` (kept ${d.keep.join(', ')})` : null}`;
    default:
      return html`${d.action}`;
  }
}

function publishedBanner(m: Manifest): SafeHtml {
  const byChannel = new Map<string, Manifest['assets']>();
  for (const a of m.assets) byChannel.set(a.channel, [...(byChannel.get(a.channel) ?? []), a]);
  const asset = (a: Manifest['assets'][number]) =>
    html`<a href="${fullSizeHref(a.key)}" target="_blank" rel="noopener">${a.candidateId} ${a.format} ${a.width}×${a.height}</a> <span class="muted">${kib(a.bytes)}</span>`;
  const lists = [...byChannel].map(([ch, list]) => html`<li><span class="ch">${ch}</span> ${joinHtml(list.map(asset), html` · `)}</li>`);
  return html`<section class="banner ok" data-outcome="published">
  <h2>✔ Published ${plural(m.assets.length, 'asset')} from ${m.selected.map((s) => s.id).join(', ')}</h2>
  <ul class="assets">${lists}</ul>
  <p class="muted">Manifest <code>${m.manifestKey}</code> in <code>${m.location}</code> · cost ${usd(m.cost.actualUsd)} of ${usd(m.cost.budgetUsd)}</p>
</section>`;
}

export function outcomeBanner(view: BriefView, state: BriefState): SafeHtml | null {
  const m = view.manifest;
  switch (state.kind) {
    case 'published':
      return m ? publishedBanner(m) : html`<section class="banner ok" data-outcome="published"><h2>✔ Published</h2></section>`;
    case 'rejected': {
      const r = m?.rejection;
      return html`<section class="banner bad" data-outcome="rejected"><h2>✘ Rejected${r ? html` by ${r.reviewer}` : null}</h2>${r ? html`<p>“${r.reason}”</p>` : null}</section>`;
    }
    case 'failed':
      return html`<section class="banner bad" data-outcome="failed"><h2>✘ ${state.label}</h2>${view.failure ? html`<pre class="failure">${view.failure}</pre>` : null}</section>`;
    case 'unknown':
      return html`<section class="banner warn"><h2>No worker is answering</h2><p>${view.statusError ?? ''}</p><p class="muted">Start one with <code>npm run worker</code>; this page refreshes on its own.</p></section>`;
    case 'working':
      return html`<section class="banner info"><h2><span class="spinner" aria-hidden="true"></span>${state.label}…</h2></section>`;
    default:
      return null;
  }
}

export function facts(s: BriefStatus | undefined, review: ReviewStatus | undefined, view: BriefView): SafeHtml {
  const cost = s?.cost ?? view.manifest?.cost;
  const items: Array<[string, HtmlValue]> = [];
  if (review) items.push(['Round', `${review.round} of ${review.maxRounds}`]);
  else if (view.manifest) items.push(['Rounds', String(view.manifest.rounds)]);
  const version = review?.prompt.version ?? s?.promptVersion ?? view.manifest?.prompt.version;
  if (version) items.push(['Prompt', html`${version}${s?.promptScore !== undefined ? html` <span class="muted">· ${s.promptScore}/8</span>` : null}`]);
  if (cost) items.push(['Cost so far', html`${usd(cost.actualUsd)} <span class="muted">of ${usd(cost.budgetUsd)}</span>`]);
  if (review?.deadlineAt && review.awaiting) {
    const then = review.onDeadline === 'approveTop' ? 'approve the top' : review.onDeadline;
    items.push(['Deadline', html`${time(review.deadlineAt)} <span class="muted">then ${then}</span>`]);
  }
  if (review) items.push(['Approve', `up to ${plural(review.maxApprovals, 'image')}`]);
  return html`<dl class="facts">${items.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>`;
}
