/**
 * Server-rendered HTML that escapes by default. Pages are written with the `html` tag: every
 * value put into a template is escaped unless it is already {@link SafeHtml} (another template,
 * or text passed through {@link raw} on purpose), so a brief's or a reviewer's text can never
 * become markup.
 */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for element content and quoted attribute values alike. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** HTML that is safe to send as it is: built by {@link html}, or trusted by {@link raw}. */
export class SafeHtml {
  readonly #text: string;
  constructor(text: string) {
    this.#text = text;
  }
  toString(): string {
    return this.#text;
  }
}

/** What a template may hold: text and numbers (escaped), HTML (as is), nothing (`null`, `undefined`, booleans), or lists of these. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.toString();
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === null || value === undefined || typeof value === 'boolean') return '';
  return esc(value);
}

/** A template of HTML: `html\`<p>${text}</p>\`` escapes `text`; lists are joined; `false`/`null`/`undefined` render nothing. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** Text trusted as HTML as it is: only for markup this tool writes itself (its stylesheet and script). */
export function raw(text: string): SafeHtml {
  return new SafeHtml(text);
}

/** The items with `separator` between them. */
export function joinHtml(items: readonly HtmlValue[], separator: SafeHtml): SafeHtml {
  return html`${items.map((item, i) => (i === 0 ? html`${item}` : html`${separator}${item}`))}`;
}

/** JSON for a `<script type="application/json">` block: nothing in it can close the tag. */
export function jsonForScript(value: unknown): SafeHtml {
  return raw(JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029'));
}

export { kib, plural, usd } from '../format';

/** A `<time>` the page's script rewrites into the reader's local time and "in 3 h". */
export function time(iso: string | undefined): SafeHtml {
  if (!iso) return html`—`;
  return html`<time datetime="${iso}">${iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}</time>`;
}

/** The class of a judge score's badge: green from 80, amber from 60, red below. */
export function scoreClass(score: number | undefined): string {
  if (score === undefined) return 'score';
  return `score ${score >= 80 ? 'hi' : score >= 60 ? 'mid' : 'lo'}`;
}

/** Link to a brief's page. */
export function briefHref(workflowId: string): string {
  return `/briefs/${encodeURIComponent(workflowId)}`;
}

/**
 * Link to an image in the blob store, through the tool; `w` asks for a thumbnail. Safe blob keys
 * hold only characters a URL path may carry as they are, and the tool refuses percent-escapes.
 */
export function blobHref(key: string, w?: number): string {
  return `/blobs/${key}${w ? `?w=${w}` : ''}`;
}

/** A "full size" link: opened in a tab, so it may go to the bucket by a presigned URL (see ImageServer.directUrl). */
export function fullSizeHref(key: string): string {
  return `/blobs/${key}?direct=1`;
}
