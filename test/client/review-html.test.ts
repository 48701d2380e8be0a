/** The reviewer tool's `html` tag: escapes what it is given unless it is already HTML. */
import { describe, expect, it } from 'vitest';
import { html, joinHtml, raw, SafeHtml } from '../../client/review/html';

describe('html tag', () => {
  it('escapes < > & " and \' in every value, in text and in attributes', () => {
    const value = `<img src=x onerror="alert(1)">&'`;
    expect(html`<p title="${value}">${value}</p>`.toString()).toBe(
      '<p title="&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;">&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&amp;&#39;</p>',
    );
  });

  it('leaves the template itself alone and renders numbers as text', () => {
    expect(html`<a href="/">it's ${3} & ${0.5}</a>`.toString()).toBe(`<a href="/">it's 3 & 0.5</a>`);
  });

  it('passes SafeHtml through as it is: nested templates and raw text', () => {
    const inner = html`<b>${'<i>'}</b>`;
    expect(html`<p>${inner}</p>`.toString()).toBe('<p><b>&lt;i&gt;</b></p>');
    expect(html`<style>${raw('a>b{color:red}')}</style>`.toString()).toBe('<style>a>b{color:red}</style>');
    expect(inner).toBeInstanceOf(SafeHtml);
  });

  it('does not escape twice: a value escaped once stays escaped once however deep it is nested', () => {
    const once = html`${'&'}`;
    expect(html`<p>${html`<span>${once}</span>`}</p>`.toString()).toBe('<p><span>&amp;</span></p>');
    // Text is text: an entity written in a value is shown as typed, not decoded.
    expect(html`${'&amp;'}`.toString()).toBe('&amp;amp;');
  });

  it('joins lists, escaping the strings in them and keeping the HTML', () => {
    const items = ['a<b', 'c'].map((s) => html`<li>${s}</li>`);
    expect(html`<ul>${items}</ul>`.toString()).toBe('<ul><li>a&lt;b</li><li>c</li></ul>');
    expect(html`${['<', html`<br>`, ['&', 1]]}`.toString()).toBe('&lt;<br>&amp;1');
    expect(joinHtml(['x>', html`<i>y</i>`], html`<span>·</span>`).toString()).toBe('x&gt;<span>·</span><i>y</i>');
    expect(joinHtml([], html`,`).toString()).toBe('');
  });

  it('renders nothing for null, undefined and booleans, so a condition can stand in a template', () => {
    const on = false;
    expect(html`[${null}${undefined}${on}${true}${on && html`<b>`}]`.toString()).toBe('[]');
  });

  it('refuses to pass plain text for HTML in the types: only SafeHtml is trusted', () => {
    // A SafeHtml cannot be forged from a look-alike object.
    const forged = { toString: () => '<script>' } as unknown as SafeHtml;
    expect(html`${forged as never}`.toString()).toBe('&lt;script&gt;');
  });
});
