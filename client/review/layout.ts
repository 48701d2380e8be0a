/** The frame every page of the reviewer tool shares, and the two pages that are only that frame and a message. */
import { CLIENT_SCRIPT, STYLE } from './assets';
import { html, raw, type SafeHtml } from './html';

export interface LayoutOptions {
  title: string;
  /** The response's CSP nonce: only the stylesheet and script carrying it run. */
  nonce: string;
  body: SafeHtml;
  /** Attributes on <body>, with a leading space. */
  bodyAttrs?: SafeHtml;
  /** Hide the reviewer-name box and the script (pages for people who are not logged in). */
  anonymous?: boolean;
}

export function layout(o: LayoutOptions): string {
  const who = html`<label class="who">Reviewing as <input type="text" id="reviewer" name="reviewer" autocomplete="name" maxlength="200" placeholder="reviewer" spellcheck="false"></label>`;
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${o.title} · Darkroom review</title>
<style nonce="${o.nonce}">${raw(STYLE)}</style>
</head>
<body${o.bodyAttrs}>
<header class="top">
  <a class="brand" href="/"><span class="logo" aria-hidden="true"></span>Darkroom <span class="muted">review</span></a>
  ${o.anonymous ? null : who}
</header>
${o.body}
${o.anonymous ? null : html`<script nonce="${o.nonce}">${raw(CLIENT_SCRIPT)}</script>`}
</body>
</html>`.toString();
}

/** 401 page: the tool needs its login link. */
export function loginNeededPage(nonce: string, wrongToken = false): string {
  const why = wrongToken
    ? html`The token in the link does not match this reviewer tool. It changes each time the tool starts unless <code>DARKROOM_REVIEW_TOKEN</code> is set.`
    : html`This reviewer tool only answers people who opened its login link.`;
  return layout({
    title: 'Login needed',
    nonce,
    anonymous: true,
    body: html`<main class="narrow"><section class="card center">
  <h1>${wrongToken ? 'That login link is not valid' : 'Login needed'}</h1>
  <p>${why}</p>
  <p>Run <code>npx darkroom review</code> and open the <code>/login?token=…</code> link it prints.</p>
</section></main>`,
  });
}

export function errorPage(nonce: string, title: string, message: string): string {
  return layout({
    title,
    nonce,
    body: html`<main class="narrow"><a class="back" href="/">← Queue</a><section class="card center"><h1>${title}</h1><p>${message}</p></section></main>`,
  });
}
