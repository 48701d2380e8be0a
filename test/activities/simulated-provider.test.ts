import { describe, expect, it } from 'vitest';
import { SimulatedImageGenerator } from '../../activities/providers/simulated';
import { RateLimitError } from '../../activities/providers/errors';
import type { GenerateImageInput } from '../../activities/providers/types';
import { IMAGE_MODELS } from '../../domain/models';

const input = (seed: number, model = 'gemini-2.5-flash-image'): GenerateImageInput => ({
  model, prompt: 'a glass bottle on a stone table', negativePrompt: '', width: 64, height: 64, seed, palette: ['#556B2F'],
});

/** A clock the test moves, and a sleep that waits on it (`advance` releases what is due). */
function fakeTime() {
  let now = 0;
  const waiting: Array<{ at: number; resolve: () => void }> = [];
  return {
    now: () => now,
    sleep: (ms: number) => new Promise<void>((resolve) => waiting.push({ at: now + ms, resolve })),
    async advance(ms: number) {
      now += ms;
      for (const w of waiting.filter((x) => x.at <= now)) { waiting.splice(waiting.indexOf(w), 1); w.resolve(); }
      await new Promise((r) => setTimeout(r, 0));
    },
  };
}

describe('SimulatedImageGenerator', () => {
  it('draws the same latencies for the same seed whatever the order, others for another seed, around the catalog latency', () => {
    const limits = () => ({ perMinute: 1000, concurrency: 100 });
    const a = new SimulatedImageGenerator({ seed: 7, limits });
    const b = new SimulatedImageGenerator({ seed: 7, limits });
    const c = new SimulatedImageGenerator({ seed: 8, limits });
    const seeds = Array.from({ length: 400 }, (_, i) => i);
    const la = seeds.map((s) => a.latencyMs(input(s)));
    expect([...seeds].reverse().map((s) => b.latencyMs(input(s))).reverse()).toEqual(la);
    expect(seeds.map((s) => c.latencyMs(input(s)))).not.toEqual(la);
    // Log-normal around typicalLatencyMs: the median near it, a right tail, nothing negative.
    const typical = IMAGE_MODELS['gemini-2.5-flash-image']!.typicalLatencyMs;
    const sorted = [...la].sort((x, y) => x - y);
    expect(sorted[200]! / typical).toBeGreaterThan(0.9);
    expect(sorted[200]! / typical).toBeLessThan(1.1);
    expect(sorted[0]!).toBeGreaterThan(0);
    expect(sorted[396]! - sorted[200]!).toBeGreaterThan(sorted[200]! - sorted[4]!);
    // The time scale shortens every latency alike.
    const fast = new SimulatedImageGenerator({ seed: 7, limits, timeScale: 0.1 });
    expect(Math.abs(fast.latencyMs(input(3)) - la[3]! * 0.1)).toBeLessThanOrEqual(1);
  });

  it('answers with a real image after its latency, and refuses calls past its concurrency and per-minute limits with a retry-after', async () => {
    const time = fakeTime();
    const sim = new SimulatedImageGenerator({ seed: 1, limits: () => ({ perMinute: 3, concurrency: 2 }), now: time.now, sleep: time.sleep });
    const first = sim.generate(input(1));
    const second = sim.generate(input(2));
    const third = sim.generate(input(3));
    await expect(third).rejects.toBeInstanceOf(RateLimitError);
    await expect(third).rejects.toMatchObject({ retryAfterMs: 1000, message: expect.stringContaining('2 calls at once') });
    await time.advance(60_000 - 1);
    const [one] = await Promise.all([first, second]);
    expect(Buffer.from(one.image.subarray(1, 4)).toString('latin1')).toBe('PNG');
    expect(one).toMatchObject({ width: 64, height: 64, model: 'gemini-2.5-flash-image', costUsd: IMAGE_MODELS['gemini-2.5-flash-image']!.priceUsdPerImage });
    // Two slots free again; the third call of the minute is taken, the fourth refused until the first call's minute is over.
    const fourth = sim.generate(input(4));
    await expect(sim.generate(input(5))).rejects.toMatchObject({ retryAfterMs: 1, message: expect.stringContaining('3 calls a minute') });
    await time.advance(120_000);
    await fourth;
    expect(sim.calls.map((c) => c.refused ?? 'answered')).toEqual(['answered', 'answered', 'concurrency', 'answered', 'per-minute']);
    expect(sim.calls.filter((c) => !c.refused).map((c) => c.latencyMs)).toEqual([1, 2, 4].map((s) => sim.latencyMs(input(s))));
  });
});
