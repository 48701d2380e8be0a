import type { Brief } from '../../../domain/brief';
import type { AltTextInput, AltTextWriter } from '../types';
import { malformed, OpenAIConnection, type OpenAIClientOptions } from './client';
import { askVision, callCostUsd, chatPrice, visionDataUrl, type ChatPrice, type OpenAIVisionOptions } from './vision';

export type OpenAIAltTextWriterOptions = OpenAIClientOptions & OpenAIVisionOptions;

/** What the model is asked for; screen-reader users stop listening at about 150 characters. */
const ASKED_LENGTH = 125;
/** Hard cap after cleaning, for a model that runs on. */
export const OPENAI_ALT_TEXT_MAX = 200;

const SYSTEM = [
  'You write alt text for images published on websites and social media, for people using screen readers.',
  `Write exactly one plain sentence of at most ${ASKED_LENGTH} characters describing what is visible: the subject first, then the setting, notable colours, and any text shown in the image (quoted).`,
  'Do not start with "Image of", "Picture of" or "Photo of": the screen reader already says it is an image.',
  'Do not mention things that are not visible, the brief, or that the image was generated. No quotes around the sentence, no label, no markdown.',
].join(' ');

function context(brief: Brief): string {
  const lines = [`What the image was made to show: ${brief.subject}`];
  if (brief.intent) lines.push(`What it is for: ${brief.intent}`);
  if (brief.audience) lines.push(`Audience: ${brief.audience}`);
  if (brief.textInImage) lines.push(`Text it should contain: "${brief.textInImage}"`);
  return `${lines.join('\n')}\n\nDescribe the image as it actually is.`;
}

/** "Image of" tells a screen-reader user nothing: the reader already announces an image. */
const REDUNDANT_PREFIX = /^(?:(?:this|an?|the)\s+)?(?:(?:ai[- ]generated|digital|stock)\s+)?(?:image|picture|photo|photograph|illustration|render(?:ing)?)\s+(?:of|showing|shows|depicting|depicts|with)\s+/i;

/**
 * One clean sentence from whatever the model wrote: the first line and first sentence,
 * no label, quotes or "image of", a capital first letter, at most {@link OPENAI_ALT_TEXT_MAX}
 * characters cut at a word, and a full stop at the end.
 */
export function cleanAltText(raw: string): string {
  let t = (raw.split(/\r?\n/).map((l) => l.trim()).find(Boolean) ?? '')
    .replace(/^\s*(?:\*\*)?alt(?:\s*text)?(?:\*\*)?\s*[:：-]\s*/i, '')
    .replace(/^["'“‘`*_]+|["'”’`*_]+$/g, '')
    .replace(/\s+/g, ' ')
    .trim();
  // The first sentence only: a full stop followed by a capitalised word starts the next one.
  const next = /[.!?](?=\s+["'“]?[A-Z])/.exec(t);
  if (next) t = t.slice(0, next.index + 1);
  t = t.replace(REDUNDANT_PREFIX, '').trim();
  if (t.length > OPENAI_ALT_TEXT_MAX) {
    const cut = t.slice(0, OPENAI_ALT_TEXT_MAX);
    const space = cut.lastIndexOf(' ');
    t = space > OPENAI_ALT_TEXT_MAX / 2 ? cut.slice(0, space) : cut;
  }
  t = t.replace(/[\s.!?…,;:–—-]+$/, '');
  if (!t) return '';
  return `${t.charAt(0).toUpperCase()}${t.slice(1)}.`;
}

/** Alt text from an OpenAI vision model (gpt-4.1-mini by default) that looks at the picture itself. */
export class OpenAIAltTextWriter implements AltTextWriter {
  readonly name: string;
  readonly model: string;
  readonly #openai: OpenAIConnection;
  readonly #price: Omit<ChatPrice, 'priceDate'>;

  constructor(options: OpenAIAltTextWriterOptions) {
    const { model, price } = chatPrice(options);
    this.model = model;
    this.name = `openai:${model}`;
    this.#price = price;
    this.#openai = new OpenAIConnection(options);
  }

  write(input: AltTextInput): Promise<{ text: string; costUsd: number }> {
    return this.#openai.call(input.signal, () => this.#write(input));
  }

  async #write(input: AltTextInput): Promise<{ text: string; costUsd: number }> {
    const { brief, signal } = input;
    signal?.throwIfAborted();
    const url = await visionDataUrl(input.image, `image (${input.mime})`, this.name);
    signal?.throwIfAborted();
    const what = 'chat.completions (alt text)';
    const answer = await askVision(
      this.#openai,
      {
        model: this.model,
        temperature: 0.2,
        // About three times the asked length in tokens: room for the sentence, not for an essay.
        max_completion_tokens: 120,
        messages: [
          { role: 'system', content: SYSTEM },
          {
            role: 'user',
            content: [
              { type: 'text', text: context(brief) },
              // A low-detail look is enough to describe a picture; lettering needs the full one.
              { type: 'image_url', image_url: { url, detail: brief.textInImage ? 'high' : 'low' } },
            ],
          },
        ],
      },
      { provider: this.name, signal, what },
    );
    const text = cleanAltText(answer.content);
    if (!text) throw malformed(what, this.name, 'the answer has no sentence in it');
    return { text, costUsd: callCostUsd(answer.usage, this.#price, this.model, 1) };
  }
}
