/**
 * What the browser gets besides HTML: the stylesheet and the script in ./browser/, read once
 * and inlined into every page under the response's CSP nonce (no extra request, no build step).
 */
import { readFileSync } from 'node:fs';

/** A file from ./browser/, refused if it could end its own element early once inlined. */
function inlineAsset(name: string, element: 'style' | 'script'): string {
  const text = readFileSync(new URL(`./browser/${name}`, import.meta.url), 'utf8');
  if (text.toLowerCase().includes(`</${element}`)) throw new Error(`client/review/browser/${name} must not contain "</${element}": it is inlined in a <${element}> element`);
  return text;
}

export const STYLE = inlineAsset('style.css', 'style');

/** Behaviour of both pages: reviewer name, local times, polling, decisions, bulk approve. */
export const CLIENT_SCRIPT = inlineAsset('app.js', 'script');
