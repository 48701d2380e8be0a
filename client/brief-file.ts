import { readFile } from 'node:fs/promises';
import { parseBrief, type Brief } from '../domain/brief';
import { CliError } from './errors';

/** Line and column of a character offset, for JSON syntax errors. */
function lineCol(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

/** Parses JSON text, naming the file and the place where it went wrong. */
export function parseJsonText(text: string, source: string): unknown {
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    const msg = (err as Error).message;
    const pos = /position (\d+)/.exec(msg);
    const where = pos ? ` at ${lineCol(text, Number(pos[1]))}` : '';
    throw new CliError(`${source} is not valid JSON${where}: ${msg.replace(/ in JSON at position \d+.*$/, '')}`);
  }
}

/** Reads and validates a brief file; every problem names the file and the field. */
export async function readBriefFile(file: string): Promise<Brief> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(code === 'ENOENT' ? `no such file: ${file}` : `cannot read ${file}: ${(err as Error).message}`);
  }
  return validateBriefOrThrow(parseJsonText(text, file), file);
}

export function validateBriefOrThrow(value: unknown, source: string): Brief {
  const r = parseBrief(value);
  if (!r.ok) {
    throw new CliError(`${source} is not a valid brief:\n${r.issues.map((i) => `  • ${i.field}: ${i.message}`).join('\n')}`);
  }
  return r.brief;
}
