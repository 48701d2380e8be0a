import { z } from 'zod';
import type { ModerateInput, ModerateResult, PromptModerator } from '../types';
import { malformed, OpenAIConnection, type OpenAIClientOptions } from './client';

export interface OpenAIPromptModeratorOptions extends OpenAIClientOptions {
  /** The moderation model. @default omni-moderation-latest */
  model?: string;
}

export const DEFAULT_MODERATION_MODEL = 'omni-moderation-latest';

/** Deliberately small: one result per input, whether it was flagged, and which categories were. */
const ModerationResponseSchema = z.object({
  results: z.array(z.object({ flagged: z.boolean(), categories: z.record(z.string(), z.boolean().nullable()) })).min(1),
});

/**
 * OpenAI's moderation endpoint (`POST /moderations`, free of charge) on every part of the
 * prompt in one request; flagged when any result is. Errors follow the other OpenAI adapters:
 * 429 and 5xx retryable, a bad key not, and the key never leaves in a message.
 */
export class OpenAIPromptModerator implements PromptModerator {
  readonly name: string;
  readonly model: string;
  readonly #openai: OpenAIConnection;

  constructor(options: OpenAIPromptModeratorOptions) {
    this.model = options.model ?? DEFAULT_MODERATION_MODEL;
    this.name = `openai:${this.model}`;
    this.#openai = new OpenAIConnection(options);
  }

  moderate(input: ModerateInput): Promise<ModerateResult> {
    return this.#openai.call(input.signal, () => this.#moderate(input));
  }

  async #moderate({ parts, signal }: ModerateInput): Promise<ModerateResult> {
    signal?.throwIfAborted();
    const what = 'moderations';
    const raw: unknown = await this.#openai.request({ provider: this.name, what, signal }, (client) =>
      client.moderations.create({ model: this.model, input: parts.map((p) => p.text) }, { signal }),
    );
    const r = ModerationResponseSchema.safeParse(raw);
    if (!r.success) throw malformed(what, this.name, `expected results[].flagged: ${z.prettifyError(r.error).replace(/\s+/g, ' ')}`);
    if (r.data.results.length !== parts.length) throw malformed(what, this.name, `${r.data.results.length} results for ${parts.length} inputs`);
    const categories = new Set<string>();
    const fields: string[] = [];
    r.data.results.forEach((res, i) => {
      if (!res.flagged) return;
      fields.push(parts[i]!.field);
      for (const [c, on] of Object.entries(res.categories)) if (on) categories.add(c);
    });
    return { flagged: fields.length > 0, categories: [...categories].sort(), fields, costUsd: 0 };
  }
}
