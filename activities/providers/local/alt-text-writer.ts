import type { Brief } from '../../../domain/brief';
import { describeColor } from '../../../domain/colors';
import type { AltTextInput, AltTextWriter } from '../types';

/** Screen readers cope with longer text, but about 150 characters is where people stop listening. */
export const ALT_TEXT_TARGET_LENGTH = 150;

/**
 * Offline alt text written from the brief rather than the pixels: what was asked for is
 * what the offline generator paints, and a reviewer approves it before it ships.
 */
export class LocalAltTextWriter implements AltTextWriter {
  readonly name = 'local-alt-text';

  async write(input: AltTextInput): Promise<{ text: string; costUsd: number }> {
    input.signal?.throwIfAborted();
    return { text: altTextFromBrief(input.brief), costUsd: 0 };
  }
}

/** "Image of" tells a screen-reader user nothing: the reader already announces an image. */
const REDUNDANT_PREFIX = /^(?:(?:an?|the)\s+)?(?:image|picture|photo|photograph)\s+(?:of|showing)\s+/i;

function has(text: string, ...words: string[]): boolean {
  return words.some((w) => text.includes(w));
}

function compositionPhrase(composition: string | undefined): string | undefined {
  const t = (composition ?? '').toLowerCase();
  if (!t) return undefined;
  if (has(t, 'flat lay', 'flat-lay', 'flatlay', 'top-down', 'top down', 'overhead', 'knolling')) return 'laid out flat and seen from above';
  if (has(t, 'close-up', 'close up', 'closeup', 'macro')) return 'seen close up';
  if (/negative space (?:on|to) the right/.test(t)) return 'on the left with open space to the right';
  if (/negative space (?:on|to) the left/.test(t)) return 'on the right with open space to the left';
  if (t.includes('left third')) return 'on the left of the frame';
  if (t.includes('right third')) return 'on the right of the frame';
  if (has(t, 'center', 'centre', 'symmetr')) return 'centred in the frame';
  if (has(t, 'wide', 'establishing')) return 'in a wide view';
  if (t.includes('rule of thirds')) return 'set off-centre';
  return undefined;
}

function lightingPhrase(lighting: string | undefined): string | undefined {
  const t = (lighting ?? '').toLowerCase();
  if (!t) return undefined;
  if (has(t, 'golden', 'sunset', 'sunrise')) return 'in warm golden light';
  if (has(t, 'rim', 'back', 'behind')) return 'lit from behind';
  if (has(t, 'low key', 'low-key', 'moody', 'night')) return 'in dim, moody light';
  if (has(t, 'dramatic', 'hard', 'harsh', 'spotlight')) return 'in hard, dramatic light';
  if (has(t, 'soft', 'diffuse', 'window', 'overcast')) return t.includes('left') ? 'in soft light from the left' : t.includes('right') ? 'in soft light from the right' : 'in soft light';
  return undefined;
}

function listJoin(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** Cuts at the last word boundary that fits, so the sentence never ends mid-word. */
function shorten(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max + 1);
  const space = cut.lastIndexOf(' ');
  return (space > max / 2 ? cut.slice(0, space) : text.slice(0, max)).replace(/[\s,;:–-]+$/, '');
}

/**
 * One sentence for a reader who cannot see the image: the subject, then what it must show,
 * then where it sits, its colours and its light. Later parts are dropped first when the
 * sentence would run past {@link ALT_TEXT_TARGET_LENGTH} characters. Must-avoid items are
 * never mentioned: they are, by definition, not in the picture.
 */
export function altTextFromBrief(brief: Pick<Brief, 'subject' | 'mustInclude' | 'composition' | 'lighting' | 'brandColors'>): string {
  let subject = brief.subject.trim().replace(REDUNDANT_PREFIX, '').replace(/[\s.!?;:,]+$/, '');
  subject = subject.charAt(0).toUpperCase() + subject.slice(1);

  const lower = subject.toLowerCase();
  const extra = brief.mustInclude.filter((item) => !lower.includes(item.toLowerCase()));
  const colours = [...new Set(brief.brandColors.map(describeColor))];
  // In order of importance: the first parts are kept longest.
  const parts = [
    extra.length ? `with ${listJoin(extra)}` : undefined,
    compositionPhrase(brief.composition),
    colours.length ? `in ${listJoin(colours)} tones` : undefined,
    lightingPhrase(brief.lighting),
  ].filter((p): p is string => Boolean(p));

  const sentence = (n: number) => [subject, ...parts.slice(0, n)].join(', ') + '.';
  for (let n = parts.length; n >= 0; n--) {
    const text = sentence(n);
    if (text.length <= ALT_TEXT_TARGET_LENGTH) return text;
  }
  return `${shorten(subject, ALT_TEXT_TARGET_LENGTH - 1)}.`;
}
