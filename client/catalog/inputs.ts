/** What `darkroom catalog` reads from the command line and from files: the feed, the template, the id and the run options. */
import path from 'node:path';
import { FAIRNESS_WEIGHT_RANGE, fairnessWeightProblem } from '../../domain/fairness';
import { catalogIdFor, parseFeed } from '../../domain/feed';
import { preview } from '../../domain/text';
import type { CatalogInput } from '../../workflows/catalog';
import { parseJsonText } from '../brief-file';
import type { Values } from '../commands';
import { CliError } from '../errors';
import { FEED_FILE, readInputFile, TEMPLATE_FILE } from '../files';

export interface CatalogFiles {
  feedFile: string;
  feedText: string;
  format: 'csv' | 'jsonl';
  templateFile: string;
  template: unknown;
}

/** CSV or JSON lines, by the file's extension, else by its first character. */
function feedFormat(file: string, text: string): 'csv' | 'jsonl' {
  if (/\.(jsonl|ndjson)$/i.test(file)) return 'jsonl';
  if (/\.(csv|tsv|txt)$/i.test(file)) return 'csv';
  return parseFeed(text.slice(0, 4096).split(/\r?\n/)[0] ?? '', 'auto').format;
}

export async function readFeedFile(feedFile: string): Promise<{ feedText: string; format: 'csv' | 'jsonl' }> {
  const feedText = await readInputFile(feedFile, FEED_FILE);
  return { feedText, format: feedFormat(feedFile, feedText) };
}

/** Reads the feed and the template; a missing file or bad JSON names the file. */
export async function readCatalogFiles(feedFile: string, templateFile: string): Promise<CatalogFiles> {
  const [feed, templateText] = await Promise.all([readFeedFile(feedFile), readInputFile(templateFile, TEMPLATE_FILE)]);
  return { feedFile, ...feed, templateFile, template: parseJsonText(templateText, templateFile) };
}

/** What a catalog id may be: it names blobs, workflow ids and a search-attribute value. */
export const CATALOG_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$/;

/** `--id`, checked (it names blobs, workflow ids and a search-attribute value), or one from the feed's file name. */
export function resolveCatalogId(id: string | undefined, feedFile: string): string {
  if (id === undefined) return catalogIdFor(path.basename(feedFile));
  if (!CATALOG_ID.test(id)) throw new CliError(`--id must be 1 to 60 characters of A-Z, a-z, 0-9, ".", "_" or "-", starting with a letter or digit, not ${preview(id)}`);
  return id;
}

/** The knobs of a run, from --window, --budget, --rows-per-run and --weight. */
export function runOptions(values: Values): Pick<CatalogInput, 'window' | 'budgetUsd' | 'rowsPerRun' | 'fairnessWeight'> {
  const out: Pick<CatalogInput, 'window' | 'budgetUsd' | 'rowsPerRun' | 'fairnessWeight'> = {};
  const whole = (name: string, raw: string, min: number, max: number): number => {
    const n = Number(raw);
    if (!raw.trim() || !Number.isInteger(n) || n < min || n > max) throw new CliError(`--${name} must be a whole number from ${min} to ${max}, not ${preview(raw)}`);
    return n;
  };
  if (values.window !== undefined) out.window = whole('window', values.window, 1, 100);
  if (values['rows-per-run'] !== undefined) out.rowsPerRun = whole('rows-per-run', values['rows-per-run'], 5, 100_000);
  if (values.budget !== undefined) {
    const raw = values.budget.replace(/^\$/, '');
    const n = Number(raw);
    if (!raw.trim() || !Number.isFinite(n) || n <= 0) throw new CliError(`--budget must be an amount in US dollars above 0, such as 25 or 7.50, not ${preview(values.budget)}`);
    out.budgetUsd = n;
  }
  if (values.weight !== undefined) {
    const n = Number(values.weight);
    if (!values.weight.trim() || fairnessWeightProblem(n)) {
      const { min, max } = FAIRNESS_WEIGHT_RANGE;
      throw new CliError(`--weight must be a number from ${min} to ${max} (this catalog's share of the workers next to other catalogs; 1 is an equal share), not ${preview(values.weight)}`);
    }
    out.fairnessWeight = n;
  }
  return out;
}

/** `--template`, which `start` and `schedule` cannot do without. */
export function requireTemplate(values: Values, command: string): string {
  const t = values.template;
  if (!t) throw new CliError(`darkroom catalog ${command}: missing --template <brief-template.json>: the brief every row fills in, with {column} placeholders`);
  return t;
}
