import { parseBrief, type Brief } from '../domain/brief';
import { JSON_MAX_DEPTH, jsonTextDepth } from '../domain/json';
import { clip } from '../domain/text';
import { CliError } from './errors';
import { BRIEF_FILE, readInputFile, shownPath } from './files';

/** Line and column of a character offset, for JSON syntax errors. */
function lineCol(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

/**
 * Parses JSON text, naming the file and the place where it went wrong. Text nested deeper than
 * {@link JSON_MAX_DEPTH} is refused before parsing: everything after the parse recurses.
 */
export function parseJsonText(text: string, source: string): unknown {
  const shown = shownPath(source);
  if (jsonTextDepth(text) > JSON_MAX_DEPTH) {
    throw new CliError(`${shown} nests JSON more than ${JSON_MAX_DEPTH} levels deep: a brief or template needs a few`);
  }
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    const msg = (err as Error).message;
    const pos = /position (\d+)/.exec(msg);
    const where = pos ? ` at ${lineCol(text, Number(pos[1]))}` : '';
    throw new CliError(`${shown} is not valid JSON${where}: ${clip(msg.replace(/ in JSON at position \d+.*$/, ''))}`);
  }
}

/** Reads and validates a brief file; every problem names the file and the field. */
export async function readBriefFile(file: string): Promise<Brief> {
  return validateBriefOrThrow(parseJsonText(await readInputFile(file, BRIEF_FILE), file), file);
}

export function validateBriefOrThrow(value: unknown, source: string): Brief {
  const r = parseBrief(value);
  if (!r.ok) {
    throw new CliError(`${shownPath(source)} is not a valid brief:\n${r.issues.map((i) => `  • ${i.field}: ${i.message}`).join('\n')}`);
  }
  return r.brief;
}
