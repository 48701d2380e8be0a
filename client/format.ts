/** How the CLI and the reviewer tool write money, sizes, counts and durations: one place, one style. */

/** `$0.039`, `$1.20`: three decimals under ten cents, where image prices live. */
export function usd(v: number): string {
  return `$${v.toFixed(v > 0 && v < 0.1 ? 3 : 2)}`;
}

/** `512 KiB`, `2.1 MiB`. */
export function kib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.max(1, Math.round(bytes / 1024))} KiB`;
}

/** `1 row`, `3 rows`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** `19m`, `2h 05m`, `45s`, `3d 4h`. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${String(Math.round((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d ${Math.round((s % 86_400) / 3600)}h`;
}
