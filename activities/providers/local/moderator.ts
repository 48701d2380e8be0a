import { checkWords, DEFAULT_MODERATION_WORDS } from '../../../domain/moderation';
import type { ModerateInput, ModerateResult, PromptModerator } from '../types';

/**
 * The offline moderation check: whole-word matches against a short list (domain/moderation.ts)
 * plus whatever the worker was given in DARKROOM_MODERATION_WORDS_FILE. Free, instant, blunt:
 * it cannot tell "a war memorial" from a threat, so its own list holds only phrases that are
 * never fine in a marketing image.
 */
export class WordListModerator implements PromptModerator {
  readonly name = 'word-list';
  readonly #words: Readonly<Record<string, readonly string[]>>;

  /** @param words categories and their phrases. @default DEFAULT_MODERATION_WORDS */
  constructor(words: Readonly<Record<string, readonly string[]>> = DEFAULT_MODERATION_WORDS) {
    this.#words = words;
  }

  async moderate(input: ModerateInput): Promise<ModerateResult> {
    input.signal?.throwIfAborted();
    const v = checkWords(input.parts, this.#words);
    return { flagged: v.flagged, categories: v.categories, fields: v.fields, costUsd: 0 };
  }
}

/**
 * Several checks in turn (a moderation model, then a team's own words): flagged when any one
 * flags, with every category found. Its name lists them all, for the manifest.
 */
export class ChainModerator implements PromptModerator {
  readonly name: string;

  constructor(private readonly checks: readonly PromptModerator[]) {
    this.name = checks.map((c) => c.name).join('+');
  }

  async moderate(input: ModerateInput): Promise<ModerateResult> {
    const results = [];
    for (const c of this.checks) results.push(await c.moderate(input));
    return {
      flagged: results.some((r) => r.flagged),
      categories: [...new Set(results.flatMap((r) => r.categories))].sort(),
      fields: [...new Set(results.flatMap((r) => r.fields))],
      costUsd: results.reduce((n, r) => n + r.costUsd, 0),
    };
  }
}
