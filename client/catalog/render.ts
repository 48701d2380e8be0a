/** How `darkroom catalog status` and `report` show a catalog: the live progress line and the status blocks. */
import { terminalSafe } from '../../domain/text';
import type { CatalogStatus } from '../../domain/types';
import { SA } from '../../workflows/messages';
import { duration, plural, usd } from '../format';
import type { ClosedCatalog, FoundCatalog } from './temporal';

/** `[#####.....] 120/250 done · 3 failed · 8 running · 2 awaiting review · $1.20 (≈$2.50) · 410 rows/h · ETA 19m` */
export function progressLine(s: CatalogStatus): string {
  if (s.state === 'planning') return 'planning: reading the feed and checking every row…';
  const c = s.counts;
  const total = Math.max(0, s.total - c.skipped);
  const finished = c.done + c.failed + c.rejected;
  const width = 10;
  const filled = total > 0 ? Math.min(width, Math.round((finished / total) * width)) : s.state === 'done' ? width : 0;
  const parts = [
    `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${c.done}/${total} done`,
    `${c.failed} failed`,
    ...(c.rejected ? [`${c.rejected} rejected`] : []),
    `${c.running} running`,
    `${c.awaitingReview} awaiting review`,
    ...(c.skipped ? [`${c.skipped} skipped`] : []),
    `${usd(s.costUsd)} (≈${usd(s.forecastUsd)})`,
    `${s.rowsPerHour > 0 ? Math.round(s.rowsPerHour) : '–'} rows/h`,
    `ETA ${s.etaSeconds !== undefined ? duration(s.etaSeconds) : '–'}`,
  ];
  if (s.state !== 'running') parts.push(s.state);
  return parts.join(' · ');
}

/** The lines of `darkroom catalog status` for a catalog that is still going. */
export function statusText(s: CatalogStatus, found: FoundCatalog): string {
  const c = s.counts;
  const head = `catalog    ${s.catalogId}  ${s.state}  (workflow ${found.workflowId}, started ${found.description.startTime.toISOString()})`;
  if (s.state === 'planning') return `${head}\nplanning   reading the feed and checking every row; rows start once the plan is stored`;
  const lines = [
    head,
    `rows       ${s.total} to run: ${c.done} done · ${c.failed} failed · ${c.rejected} rejected · ${c.running} running · ${c.awaitingReview} awaiting review · ${c.pending} pending${c.skipped ? ` · ${c.skipped} skipped (shipped before, brief unchanged)` : ''}`,
  ];
  if (s.invalidRows || s.duplicates) lines.push(`feed       ${plural(s.invalidRows, 'invalid row')}, ${plural(s.duplicates, 'duplicate')} (not run; listed in the report)`);
  lines.push(`cost       ${usd(s.costUsd)} so far · ≈${usd(s.forecastUsd)} forecast to finish${s.budgetUsd !== undefined ? ` · budget ${usd(s.budgetUsd)}` : ''}`);
  lines.push(`pace       ${s.rowsPerHour > 0 ? `${Math.round(s.rowsPerHour)} rows/h` : '– rows/h (no row finished yet)'} · ETA ${s.etaSeconds !== undefined ? duration(s.etaSeconds) : '–'}`);
  lines.push(`runs       continued as new ${plural(s.runs, 'time')}`);
  lines.push(`progress   ${progressLine(s)}`);
  if (c.awaitingReview) lines.push(`review     darkroom review list --filter "${SA.catalogId.name} = '${s.catalogId}'"`);
  const ignored = s.ignoredSignals ?? [];
  if (ignored.length) {
    const n = ignored.length + (s.ignoredSignalsDropped ?? 0);
    lines.push(`signals    ${plural(n, 'row event')} ignored (not counted), the last kept: ${terminalSafe(ignored.at(-1)!.reason, { singleLine: true })}`);
  }
  return lines.join('\n');
}

export function closedText(c: ClosedCatalog): string {
  if (!c.result) {
    return [
      `catalog    ${c.catalogId}  ${c.temporalStatus.toLowerCase()}  (workflow ${c.workflowId}${c.closeTime ? `, closed ${c.closeTime}` : ''})`,
      `error      ${c.error ?? 'unknown'}`,
    ].join('\n');
  }
  const r = c.result;
  const k = r.counts;
  return [
    `catalog    ${c.catalogId}  ${r.outcome}  (workflow ${c.workflowId}${c.closeTime ? `, closed ${c.closeTime}` : ''}${c.runs ? `, ${plural(c.runs, 'run')}` : ''})`,
    `rows       ${k.done} done · ${k.failed} failed · ${k.rejected} rejected · ${k.skipped} skipped${k.pending ? ` · ${k.pending} not started` : ''}`,
    `cost       ${usd(r.costUsd)}`,
    `report     ${c.reportPath}  (darkroom catalog report ${c.catalogId})`,
  ].join('\n');
}
