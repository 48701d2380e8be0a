/**
 * A CSV reader for product feeds as spreadsheets and shop back-offices export them: RFC 4180
 * plus the things real files contain (a UTF-8 BOM, any line ending, `;` or tab separators,
 * Excel's `sep=` first line, rows of nothing but separators). Pure: no I/O.
 */

/** Separators {@link parseCsv} recognises. */
export const CSV_DELIMITERS = [',', ';', '\t'] as const;
export type CsvDelimiter = (typeof CSV_DELIMITERS)[number];

export interface CsvOptions {
  /**
   * Field separator. When absent, the one of `,` `;` and tab that occurs most often (outside
   * quotes) on the header line, or the one an Excel `sep=;` first line names.
   * @default detected, `,` when the header line has none
   */
  delimiter?: CsvDelimiter;
}

/** One data row: its fields as written, and the line it starts on. */
export interface CsvRecord {
  /** 1-based line the record starts on, counting from the top of the file (header = line 1). */
  line: number;
  fields: string[];
}

/** A row that could not be read; it is left out of `records`. */
export interface CsvError {
  line: number;
  message: string;
}

export interface CsvResult {
  /** Column names from the first non-blank row, trimmed; `[]` for an empty file. */
  header: string[];
  /** The line the header is on (1 unless blank lines or a `sep=` line precede it). */
  headerLine: number;
  /** Data rows in file order. Their field counts may differ from the header's. */
  records: CsvRecord[];
  errors: CsvError[];
  /** The separator used. */
  delimiter: CsvDelimiter;
}

const QUOTE = 34; // "
const CR = 13;
const LF = 10;
const SPACE = 32;
const TAB = 9;

/**
 * Reads CSV text into a header and records.
 *
 * - A record's `line` is the line it starts on, so a quoted field holding newlines does not
 *   shift the numbers a person sees in an editor.
 * - Quotes are special only at the start of a field; `""` inside a quoted field is one `"`.
 *   Line ends inside quoted fields become `\n`, so a feed saved on Windows and on a Mac gives
 *   the same values (and the same brief hashes).
 * - Unquoted fields keep their surrounding whitespace; spaces after a closing quote are dropped.
 * - Blank lines, and lines of nothing but separators and spaces (spreadsheets pad exports with
 *   them), are not records.
 * - An unterminated quote, or text after a closing quote, is an error naming the line where the
 *   quote opened; that row is dropped and reading resumes on the following line, so one stray
 *   quote costs one row rather than the rest of the file. (In the header row it is fatal: with no
 *   column names nothing else can be read.)
 * - Field counts are not checked against the header: the caller decides what a short or long
 *   row means.
 */
export function parseCsv(text: string, options: CsvOptions = {}): CsvResult {
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  let line = 1;
  const len = text.length;

  let delimiter = options.delimiter;
  // Excel writes `sep=;` as a first line when asked to export with a non-default separator.
  const sep = /^sep=([,;\t])[ \t]*(?:\r\n|\r|\n|$)/.exec(text.slice(pos, pos + 16));
  if (sep) {
    delimiter ??= sep[1] as CsvDelimiter;
    pos += sep[0].length;
    if (/[\r\n]$/.test(sep[0])) line++;
  }
  delimiter ??= detectDelimiter(text, pos);
  const delim = delimiter.charCodeAt(0);

  let header: string[] | undefined;
  let headerLine = 1;
  const records: CsvRecord[] = [];
  const errors: CsvError[] = [];

  while (pos < len) {
    const startLine = line;
    const fields: string[] = [];
    let blank = true;
    let failure: { quoteLine: number; quotePos: number; message: string } | undefined;

    // One record: fields until an unquoted line end or the end of the text.
    for (;;) {
      if (text.charCodeAt(pos) === QUOTE) {
        blank = false;
        const quotePos = pos;
        const quoteLine = line;
        let value = '';
        let from = pos + 1;
        let closed = false;
        for (;;) {
          const q = text.indexOf('"', from);
          if (q === -1) break;
          if (text.charCodeAt(q + 1) === QUOTE) {
            value += text.slice(from, q + 1);
            from = q + 2;
            continue;
          }
          value += text.slice(from, q);
          pos = q + 1;
          closed = true;
          break;
        }
        if (!closed) {
          failure = { quoteLine, quotePos, message: `a quoted field opens on line ${quoteLine} and is never closed` };
          break;
        }
        if (value.includes('\r') || value.includes('\n')) {
          line += countLineEnds(value);
          value = value.replace(/\r\n?/g, '\n');
        }
        while (pos < len && (text.charCodeAt(pos) === SPACE || (text.charCodeAt(pos) === TAB && delim !== TAB))) pos++;
        const c = text.charCodeAt(pos);
        if (pos < len && c !== delim && c !== CR && c !== LF) {
          failure = { quoteLine, quotePos, message: `unexpected text after the closing quote of a field opened on line ${quoteLine} (write "" for a quote inside a quoted field)` };
          break;
        }
        fields.push(value);
      } else {
        const start = pos;
        let c = text.charCodeAt(pos);
        while (pos < len && c !== delim && c !== CR && c !== LF) c = text.charCodeAt(++pos);
        const value = text.slice(start, pos);
        if (blank && value.trim() !== '') blank = false;
        fields.push(value);
      }
      const c = text.charCodeAt(pos);
      if (pos < len && c === delim) {
        pos++;
        continue;
      }
      if (c === CR || c === LF) {
        pos += c === CR && text.charCodeAt(pos + 1) === LF ? 2 : 1;
        line++;
      }
      break;
    }

    if (failure) {
      const where = failure.quoteLine !== startLine ? ` (in the row starting on line ${startLine})` : '';
      if (header === undefined) {
        // Without its header nothing else in the file can be read as columns.
        errors.push({ line: failure.quoteLine, message: `${failure.message}${where}: the header row cannot be read` });
        return { header: [], headerLine: failure.quoteLine, records: [], errors, delimiter };
      }
      errors.push({ line: failure.quoteLine, message: `${failure.message}${where}: row skipped` });
      // Resume at the line after the one the quote opened on.
      const next = nextLineStart(text, failure.quotePos);
      pos = next;
      line = failure.quoteLine + 1;
      continue;
    }
    if (blank) continue;
    if (header === undefined) {
      header = fields.map((f) => f.trim());
      headerLine = startLine;
    }
    else records.push({ line: startLine, fields });
  }

  return { header: header ?? [], headerLine, records, errors, delimiter };
}

function countLineEnds(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === LF || (c === CR && s.charCodeAt(i + 1) !== LF)) n++;
  }
  return n;
}

function nextLineStart(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === LF) return i + 1;
    if (c === CR) return text.charCodeAt(i + 1) === LF ? i + 2 : i + 1;
  }
  return text.length;
}

/**
 * The separator of the first line with content: whichever of `,` `;` tab occurs most outside
 * quotes, `,` on a tie or when there are none (a one-column file).
 */
function detectDelimiter(text: string, from: number): CsvDelimiter {
  let counts = { ',': 0, ';': 0, '\t': 0 };
  let inQuotes = false;
  let content = false;
  for (let i = from; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') {
      inQuotes = !inQuotes;
      content = true;
    } else if (inQuotes) {
      continue;
    } else if (ch === '\r' || ch === '\n') {
      if (content) break;
      counts = { ',': 0, ';': 0, '\t': 0 };
    } else if (ch === ',' || ch === ';' || ch === '\t') {
      counts[ch]++;
    } else if (ch !== ' ') {
      content = true;
    }
  }
  let best: CsvDelimiter = ',';
  for (const d of CSV_DELIMITERS) if (counts[d] > counts[best]) best = d;
  return best;
}

/**
 * What a spreadsheet may run as a formula when a cell starts with it (OWASP, "CSV Injection"):
 * `=`, `+`, `-`, `@`, tab and carriage return, also after leading spaces.
 */
const FORMULA_START = /^(?:[\t\r]|\s*[=+\-@])/;

/**
 * One CSV field: quoted when it holds a separator, a quote or a line end, and — when it is text
 * a spreadsheet would read as a formula (a SKU of `=HYPERLINK(…)`) — prefixed with `'` and quoted,
 * as OWASP advises, so it shows as text. Numbers are written as they are. Every CSV Darkroom
 * writes goes through here.
 */
export function csvField(value: string | number | undefined | null): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return String(value);
  const guarded = FORMULA_START.test(value);
  const text = guarded ? `'${value}` : value;
  return guarded || /[",;\t\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** One CSV line (no line end) of {@link csvField}s, comma-separated. */
export function csvRow(values: ReadonlyArray<string | number | undefined | null>): string {
  return values.map(csvField).join(',');
}
