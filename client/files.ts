/**
 * Reading the files a person names on the command line. Only regular files are read: a FIFO
 * would block the read for ever, `/dev/zero` never ends, a directory is a mistake. Each kind of
 * file has a size limit, so a wrong path fails at once instead of filling memory.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { clip, decodeUtf8 } from '../domain/text';
import { CliError } from './errors';

const MiB = 1024 * 1024;

/** The largest brief file `darkroom run` and `darkroom start` read. */
export const BRIEF_FILE_MAX_BYTES = 1 * MiB;
/** The largest brief template a catalog command reads. */
export const TEMPLATE_FILE_MAX_BYTES = 1 * MiB;
/** The largest product feed a catalog command reads. */
export const FEED_FILE_MAX_BYTES = 200 * MiB;

/** What a file is for, as messages name it, and how large it may be. */
export interface InputFileKind {
  /** e.g. `brief file`, `feed file`. */
  what: string;
  maxBytes: number;
}

export const BRIEF_FILE: InputFileKind = { what: 'brief file', maxBytes: BRIEF_FILE_MAX_BYTES };
export const TEMPLATE_FILE: InputFileKind = { what: 'template file', maxBytes: TEMPLATE_FILE_MAX_BYTES };
export const FEED_FILE: InputFileKind = { what: 'feed file', maxBytes: FEED_FILE_MAX_BYTES };

const mib = (bytes: number) => (bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${(bytes / MiB).toFixed(1)} MiB`);
/** A path as messages show it: it came from the command line, so it may be anything. */
export const shownPath = (file: string) => clip(file, 500);

function kindOf(stat: { isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'not a file';
}

/**
 * The text of a regular file no larger than `kind.maxBytes`, as UTF-8. Anything else is a
 * {@link CliError} (exit 2) naming the path: missing, a directory, a FIFO or device, too large,
 * not UTF-8 (naming the line).
 *
 * The file is opened with O_NONBLOCK, so opening a FIFO with no writer returns at once, and
 * then checked with fstat on the open descriptor, so what is read is what was checked. The read
 * stops past the limit even if the file grows after the check.
 */
export async function readInputFile(file: string, kind: InputFileKind): Promise<string> {
  const text = decodeUtf8(await readInputBytes(file, kind));
  if (!text.ok) throw new CliError(`${kind.what} ${shownPath(file)} is not UTF-8 text (line ${text.line} has a byte that is not): save it as UTF-8${kind === FEED_FILE ? ' (in a spreadsheet: "CSV UTF-8")' : ''}`);
  return text.text;
}

/** The bytes of a regular file no larger than `kind.maxBytes`, under the rules of {@link readInputFile}. */
export async function readInputBytes(file: string, kind: InputFileKind): Promise<Buffer> {
  const { what, maxBytes } = kind;
  const shown = shownPath(file);
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`no such ${what}: ${shown}`);
    if (code === 'EISDIR') throw new CliError(`${what} ${shown} is a directory: give the path of a file`);
    throw new CliError(`cannot read ${what} ${shown}: ${clip((err as Error).message)}`, 2, { cause: err });
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw new CliError(`${what} ${shown} is a directory: give the path of a file`);
    if (!stat.isFile()) throw new CliError(`${what} ${shown} is not a regular file (${kindOf(stat)}): give the path of a file`);
    const tooLarge = (bytes: number) => new CliError(`${what} ${shown} is ${mib(bytes)}; a ${what} may be at most ${mib(maxBytes)}`);
    if (stat.size > maxBytes) throw tooLarge(stat.size);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(Math.min(Math.max(stat.size - total, 64 * 1024), maxBytes + 1 - total, 16 * MiB));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(bytesRead === chunk.length ? chunk : chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) throw tooLarge(total);
    }
    return Buffer.concat(chunks, total);
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read ${what} ${shown}: ${clip((err as Error).message)}`, 2, { cause: err });
  } finally {
    await handle.close();
  }
}
