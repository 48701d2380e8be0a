/**
 * `npm run bench:stages`: how fast the offline image stages run on this machine. Timing goals live
 * here, never in tests. Each figure is the median of several runs.
 *
 *   generate  one 1024x1024 candidate with the local generator      goal < 500 ms
 *   judge     8 candidates with the local judge                      goal < 1500 ms
 *   format    one master into all seven presets (15 files)           goal < 6000 ms
 */
import { CHANNEL_PRESETS } from '../domain/channels';
import { validateBrief } from '../domain/brief';
import { formatForChannels } from '../activities/images/format';
import { LocalImageGenerator, LocalVisionJudge, SharpUpscaler } from '../activities/providers/local';
import { checkArgs } from '../scripts/cli-args';
import { median as exactMedian, table, writeSection } from './support';

checkArgs(import.meta.filename, {});

const runs = Number(process.env.BENCH_RUNS ?? 5);

const rows: Array<Array<string | number>> = [];

async function median(label: string, goalMs: number, fn: () => Promise<unknown>): Promise<boolean> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  const med = exactMedian(times);
  const ok = med < goalMs;
  console.log(`${ok ? '✔' : '✘'} ${label.padEnd(44)} median ${med.toFixed(0).padStart(6)} ms  (min ${Math.min(...times).toFixed(0)}, max ${Math.max(...times).toFixed(0)}; goal < ${goalMs} ms)`);
  rows.push([label, Math.round(med), Math.round(Math.min(...times)), Math.round(Math.max(...times)), `< ${goalMs}`, ok ? 'met' : 'missed']);
  return ok;
}

async function main(): Promise<number> {
  const gen = new LocalImageGenerator();
  const input = { model: 'local', prompt: 'a ceramic teapot on linen', negativePrompt: 'text', width: 1024, height: 1024, palette: ['#0B3D91', '#F4B400'], composition: 'rule of thirds', lighting: 'soft window light from the left' };
  let seed = 0;
  const results: boolean[] = [];
  results.push(await median('generate 1024x1024 (local)', 500, () => gen.generate({ ...input, seed: seed++ })));
  const images = await Promise.all(Array.from({ length: 8 }, (_, i) => gen.generate({ ...input, seed: 1000 + i })));
  const brief = validateBrief({ subject: 'a ceramic teapot on linen', channels: ['web-hero'], brandColors: ['#0B3D91', '#F4B400'] });
  const judge = new LocalVisionJudge();
  results.push(await median('judge 8 candidates (local)', 1500, () => judge.judge({ brief, candidates: images.map((im, i) => ({ id: `c${i}`, image: im.image, mime: im.mime })) })));
  const master = (await new SharpUpscaler().upscale({ image: images[0]!.image, minWidth: 2480, minHeight: 3508 })).image;
  results.push(await median('format one master into all 7 presets', 6000, () => formatForChannels(master, Object.values(CHANNEL_PRESETS))));
  writeSection('stages', 'Offline image stages', 'npm run bench:stages', [
    `The local generator, judge and format stage in this process, median of ${runs} runs. Milliseconds.`,
    '',
    table(['stage', 'median', 'min', 'max', 'goal', ''], rows),
  ].join('\n'));
  return results.every(Boolean) ? 0 : 1;
}

main().then((code) => process.exit(code));
