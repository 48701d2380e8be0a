/**
 * The supported aspect ratio (`W:H`) closest to `width` x `height`. Ratios are compared on a
 * log scale, so 2:1 and 1:2 are equally far from 1:1 and a portrait request never lands on a
 * landscape ratio. Ties go to the ratio listed first (the catalog lists the default first).
 */
export function nearestAspectRatio(width: number, height: number, supported: readonly string[]): string {
  if (!(width > 0 && height > 0)) throw new RangeError(`size ${width}x${height} has no aspect ratio`);
  const target = Math.log(width / height);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const ratio of supported) {
    const [w, h] = ratio.split(':').map(Number) as [number, number];
    if (!(w > 0 && h > 0)) continue;
    const d = Math.abs(Math.log(w / h) - target);
    if (d < bestDistance - 1e-12) {
      best = ratio;
      bestDistance = d;
    }
  }
  if (best === undefined) throw new RangeError(`no usable aspect ratio among ${supported.join(', ')}`);
  return best;
}
