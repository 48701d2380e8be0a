import path from 'node:path';
import { terminalSafe } from '../domain/text';
import { kib, usd } from './format';
import type { BriefStatus, Manifest } from '../domain/types';

/** Where the CLI writes. */
export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Rewrite the current terminal line (live progress). */
  live?: (s: string) => void;
  /** stdout and stderr are a terminal: `catalog status` of a running catalog follows it live. */
  interactive?: boolean;
  /** How long `darkroom review` serves: until this resolves. @default until SIGINT/SIGTERM */
  untilStopped?: () => Promise<void>;
}

/**
 * The same Io, with every string shown through {@link terminalSafe}: what the CLI prints
 * carries workflow ids, subjects, reasons and feed cells from anyone, and none of it may drive
 * the terminal. The live line stays one line; the terminal codes that redraw it are added by
 * the caller's `live` after this, so they are the only ones that reach the terminal.
 * (`--json` stays valid JSON: the escapes it gains are JSON's own.)
 */
export function terminalIo(io: Io): Io {
  const live = io.live;
  return {
    ...io,
    out: (s) => io.out(terminalSafe(s)),
    err: (s) => io.err(terminalSafe(s)),
    live: live && ((s) => live(terminalSafe(s, { singleLine: true }))),
  };
}


/** One line: stage and counts, for the live display. */
export function statusLine(s: BriefStatus): string {
  const c = s.candidates;
  const parts = [
    `${s.stage.padEnd(10)}`,
    `candidates ${c.generated}/${c.total}${c.rejected ? ` (${c.rejected} refused)` : ''}`,
    `judged ${c.judged}`,
    `kept ${c.selected}`,
    `assets ${s.assets.done}/${s.assets.total}`,
    `cost ${usd(s.cost.actualUsd)} of ${usd(s.cost.budgetUsd)}`,
  ];
  return parts.join(' · ');
}

/** A few lines for `darkroom status`. */
export function statusBlock(s: BriefStatus): string {
  return [
    `workflow   ${s.workflowId}`,
    `stage      ${s.stage}${s.error ? ` — ${s.error}` : ''}`,
    `round      ${s.round}${s.promptVersion ? `   prompt ${s.promptVersion} (score ${s.promptScore}/8)` : ''}`,
    `candidates ${s.candidates.generated}/${s.candidates.total} generated, ${s.candidates.rejected} refused, ${s.candidates.judged} judged, ${s.candidates.selected} kept`,
    `assets     ${s.assets.done}/${s.assets.total}`,
    `cost       ${usd(s.cost.actualUsd)} spent, ${usd(s.cost.forecastUsd)} forecast, ${usd(s.cost.budgetUsd)} budget`,
    ...(s.manifestKey ? [`manifest   ${s.manifestKey}`] : []),
    ...webhookLines(s),
  ].join('\n');
}

/** The delivery webhook's outcome and any events-webhook calls given up on, for status and result. */
function webhookLines(s: Pick<BriefStatus, 'delivery' | 'webhookFailures'>, indent = ''): string[] {
  const safe = (t: string) => terminalSafe(t, { singleLine: true });
  return [
    ...(s.delivery ? [`${indent}delivery   ${s.delivery.state === 'delivered' ? `delivered (${s.delivery.assets} assets)` : `FAILED — ${safe(s.delivery.error ?? '')}`} · record ${s.delivery.recordKey}`] : []),
    ...(s.webhookFailures ?? []).map((f) => `${indent}webhook    ${f.type} not delivered — ${safe(f.error)}`),
  ];
}

/** Where each asset landed, grouped by channel. */
export function manifestSummary(m: Manifest): string {
  const isFolder = !/^[a-z0-9]+:\/\//.test(m.location);
  const where = (key: string) => (isFolder ? path.join(m.location, key) : `${m.location.replace(/\/$/, '')}/${key}`);
  const total = m.timings.length
    ? Date.parse(m.timings.map((t) => t.finishedAt).sort().at(-1)!) - Date.parse(m.timings.map((t) => t.startedAt).sort()[0]!)
    : 0;
  const lines = [
    `${m.outcome === 'published' ? '✔' : '✘'} ${m.workflowId}: ${m.outcome} ${m.assets.length} assets from ${m.selected.length} of ${m.candidates.length} candidates in ${(total / 1000).toFixed(1)} s · cost ${usd(m.cost.actualUsd)} (forecast ${usd(m.cost.forecastUsd)}, budget ${usd(m.cost.budgetUsd)})`,
  ];
  for (const c of m.selected) {
    lines.push(`  ${c.id}  judge ${c.judge.score.toFixed(0)}/100 (rank ${c.judge.rank})  seed ${c.seed}  ${c.model}  — ${c.altText}`);
  }
  const channels = [...new Set(m.assets.map((a) => a.channel))];
  for (const ch of channels) {
    for (const a of m.assets.filter((x) => x.channel === ch)) {
      lines.push(`  ${ch.padEnd(18)} ${`${a.width}x${a.height}`.padEnd(10)} ${a.format.padEnd(5)} ${kib(a.bytes).padStart(9)}  ${where(a.key)}`);
    }
  }
  lines.push(`  manifest: ${where(m.manifestKey)}`);
  lines.push(...webhookLines(m, '  '));
  return lines.join('\n');
}
