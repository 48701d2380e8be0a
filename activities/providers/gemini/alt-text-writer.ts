import { Type, type Schema } from '@google/genai';
import { z } from 'zod';
import type { Brief } from '../../../domain/brief';
import { VISION_MODELS } from '../../../domain/models';
import { ALT_TEXT_TARGET_LENGTH } from '../local/alt-text-writer';
import type { AltTextInput, AltTextWriter } from '../types';
import { GeminiConnection, malformed, type GeminiClientOptions } from './client';
import { costFromUsage, responseText, visionPart } from './content';

export interface GeminiAltTextWriterOptions extends GeminiClientOptions {
  /** A Gemini vision model from `VISION_MODELS`. @default gemini-2.5-flash */
  model?: string;
}

/** Longest alt text returned; the model is asked for {@link ALT_TEXT_TARGET_LENGTH}. */
export const ALT_TEXT_MAX_LENGTH = 250;

const ALT_TEXT_SCHEMA: Schema = {
  type: Type.OBJECT,
  properties: { altText: { type: Type.STRING, description: 'One sentence ending in a full stop' } },
  required: ['altText'],
};
const AltTextAnswer = z.object({ altText: z.string() });

export function altTextPrompt(brief: Pick<Brief, 'subject' | 'intent'>): string {
  return (
    'Write alt text for this image, for a reader who cannot see it: one plain sentence ending in a full stop, ' +
    `at most ${ALT_TEXT_TARGET_LENGTH} characters. Describe what is actually visible — the subject first, then what matters about it. ` +
    'Do not start with "image of", "picture of" or "photo of" (the screen reader already says it is an image), ' +
    'and do not mention anything that is not in the picture.\n' +
    `The image was made for: ${brief.subject}${brief.intent ? ` (${brief.intent})` : ''}.`
  );
}

/** "Image of" tells a screen-reader user nothing: the reader already announces an image. */
const REDUNDANT_PREFIX = /^(?:(?:an?|the)\s+)?(?:image|picture|photo|photograph)\s+(?:of|showing)\s+/i;

/** One line, no redundant prefix, a capital first and a full stop last, cut at a word boundary if long. */
export function tidyAltText(raw: string): string {
  let t = raw.replace(/\s+/g, ' ').trim().replace(/^["“”']+|["“”']+$/g, '').trim();
  t = t.replace(REDUNDANT_PREFIX, '');
  t = t.replace(/[\s.!?;:,…]+$/, '');
  if (t.length > ALT_TEXT_MAX_LENGTH - 1) {
    const cut = t.slice(0, ALT_TEXT_MAX_LENGTH);
    const space = cut.lastIndexOf(' ');
    t = (space > ALT_TEXT_MAX_LENGTH / 2 ? cut.slice(0, space) : cut.slice(0, ALT_TEXT_MAX_LENGTH - 1)).replace(/[\s,;:–-]+$/, '');
  }
  if (!t) return '';
  return `${t.charAt(0).toUpperCase()}${t.slice(1)}.`;
}

/** Alt text written by Gemini from the pixels, with the brief as context. */
export class GeminiAltTextWriter implements AltTextWriter {
  readonly name = 'gemini-alt-text';
  readonly #gemini: GeminiConnection;
  readonly #model: string;

  constructor(options: GeminiAltTextWriterOptions) {
    this.#model = options.model ?? 'gemini-2.5-flash';
    this.#gemini = new GeminiConnection(options);
  }

  write(input: AltTextInput): Promise<{ text: string; costUsd: number }> {
    return this.#gemini.call(input.signal, () => this.#write(input));
  }

  async #write(input: AltTextInput): Promise<{ text: string; costUsd: number }> {
    input.signal?.throwIfAborted();
    const res = await this.#gemini.generateContent(
      {
        model: this.#model,
        contents: [{ role: 'user', parts: [{ text: altTextPrompt(input.brief) }, await visionPart(input.image, input.mime, this.name)] }],
        config: {
          responseMimeType: 'application/json',
          responseSchema: ALT_TEXT_SCHEMA,
          temperature: 0.2,
          candidateCount: 1,
          // One descriptive sentence needs no thinking; thinking tokens are billed as output.
          thinkingConfig: { thinkingBudget: 0 },
        },
      },
      { provider: this.name, what: 'alt text', signal: input.signal },
    );
    let text: string;
    try {
      text = tidyAltText(AltTextAnswer.parse(JSON.parse(responseText(res))).altText);
    } catch (err) {
      throw malformed('alt text', this.name, `the answer is not the requested JSON (${this.#gemini.text((err as Error).message, 200)})`, err);
    }
    if (!text) throw malformed('alt text', this.name, 'the alt text is empty');
    const perImage = (VISION_MODELS as Record<string, { priceUsdPerImage: number } | undefined>)[this.#model]?.priceUsdPerImage ?? 0;
    return { text, costUsd: costFromUsage(this.#model, res.usageMetadata) ?? perImage };
  }
}
