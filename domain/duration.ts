const UNITS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * Parses `500ms`, `30s`, `5m`, `2h`, `3d` (or a bare number of milliseconds).
 * @returns milliseconds, or undefined when the text is not a duration
 */
export function parseDuration(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && v >= 0 ? v : undefined;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(v.trim());
  if (!m) return undefined;
  return Math.round(Number(m[1]) * UNITS[(m[2] ?? 'ms') as keyof typeof UNITS]);
}

/** 259200000 → `72h`; for messages. */
export function formatDuration(ms: number): string {
  if (ms % 86_400_000 === 0 && ms >= 86_400_000 * 2) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
