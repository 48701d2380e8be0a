/** Small helpers for server-rendered HTML: every value from a brief or a reviewer goes through `esc`. */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for element content and quoted attribute values alike. */
export function esc(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

/** JSON for a `<script type="application/json">` block: nothing in it can close the tag. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

export function usd(v: number): string {
  return `$${v.toFixed(v > 0 && v < 0.1 ? 3 : 2)}`;
}

export function kib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.max(1, Math.round(bytes / 1024))} KiB`;
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** A `<time>` the page's script rewrites into the reader's local time and "in 3 h". */
export function time(iso: string | undefined): string {
  if (!iso) return '—';
  return `<time datetime="${esc(iso)}">${esc(iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z'))}</time>`;
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
