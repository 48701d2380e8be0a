/**
 * `npm run bench:format`: the format stage's throughput against the `vips` command-line tool
 * and ImageMagick (`convert`) doing the same crops and encodes.
 *
 * Every channel preset × its formats (15 files a master) from 20 masters (the offline generator
 * upscaled to 2048–4096 px, mixed aspect ratios, cached in the temp dir). Darkroom's crop box for
 * each master × channel is handed to the CLIs, so all three cut the same pixels to the same sizes
 * and encode the same formats at the same quality, metadata stripped. Each tool runs in its own
 * child process with 2 jobs at a time (a Darkroom job is one master's formatForChannels, a CLI
 * job one master × channel). Peak memory: VmHWM of the Darkroom child; for the CLIs the largest
 * of the summed resident sets of the processes running at once (sampled every 20 ms) and the
 * largest single process (`/usr/bin/time -f %M`).
 *
 *   npx tsx bench/format-throughput.ts [--masters 20] [--jobs 2] [--tools darkroom,vips,magick]
 *                                      [--no-sweep] [--no-big] [--no-breakdown] [--no-worker-env]
 *                                      [--reuse vips,magick,big,breakdown,sweep-ssim]
 *
 * Each part's result is kept in the temp dir; `--reuse <parts>` reports the kept result of those
 * parts (with the time and load average they were measured at) instead of measuring them again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { CHANNEL_PRESETS, FORMAT_EXTENSION, resolveChannel, type ChannelPreset, type ImageFormat } from '../domain/channels';
import { channelCrop, configureSharpForWorker, decodeMaster, DEFAULT_EFFORT, DEFAULT_QUALITY, encodeRaw, encoderSettings, formatForChannels } from '../activities/images/format';
import { openRaw, toRaw } from '../activities/images/logo';
import { lumaSsim } from '../activities/images/stats';
import { LocalImageGenerator, SharpUpscaler } from '../activities/providers/local';
import { checkArgs } from '../scripts/cli-args';
import { table, writeSection } from './support';

checkArgs(import.meta.filename, {
  values: ['--masters', '--jobs', '--tools', '--reuse', '--avif-max-effort', '--child'],
  switches: ['--no-sweep', '--no-big', '--no-breakdown', '--no-worker-env'],
});

const PRESETS = Object.values(CHANNEL_PRESETS);
/** Masters whose web-hero crop the effort sweep encodes (AVIF effort 9 is slow). */
const SWEEP_IMAGES = 2;
/** Times each sweep encode runs; the least CPU time counts. */
const SWEEP_REPEATS = 3;
const BIG_CHANNEL = 'custom-8192x8192';
const CACHE = path.join(os.tmpdir(), 'darkroom-bench-format');
const SCRATCH = existsSync('/dev/shm') ? '/dev/shm/darkroom-bench-format' : path.join(CACHE, 'scratch');
/** Master sizes: what upscaled masters look like (square, landscape, portrait, print). */
const SIZES: ReadonlyArray<[number, number]> = [
  [4096, 4096], [4096, 2304], [2304, 4096], [3072, 4096], [4096, 3072],
  [2048, 2048], [2480, 3508], [3508, 2480], [2560, 1440], [3000, 2000],
];
const SUBJECTS = ['a ceramic teapot on linen', 'a red bicycle against a brick wall', 'running shoes on wet asphalt', 'a glass of iced coffee', 'a leather handbag on marble'];

/** The encoder settings Darkroom uses (activities/images/format.ts), which the CLIs are given too. */
const Q = DEFAULT_QUALITY;
const PNG_LEVEL = 6;
/** What `npm run worker` and the Dockerfile set for the worker process (see Dockerfile). */
const WORKER_ENV = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' };

interface Args { masters: number; jobs: number; tools: string[]; sweep: boolean; big: boolean; breakdown: boolean; workerEnv: boolean; reuse: string[]; avifMaxEffort: number }

function parseArgs(argv: string[]): Args {
  const value = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    masters: Number(value('--masters') ?? 20),
    jobs: Number(value('--jobs') ?? 2),
    tools: (value('--tools') ?? 'darkroom,vips,magick').split(',').filter(Boolean),
    sweep: !argv.includes('--no-sweep'),
    big: !argv.includes('--no-big'),
    breakdown: !argv.includes('--no-breakdown'),
    workerEnv: !argv.includes('--no-worker-env'),
    reuse: (value('--reuse') ?? '').split(',').filter(Boolean),
    avifMaxEffort: Number(value('--avif-max-effort') ?? 9),
  };
}

// ─── masters and crop boxes ────────────────────────────────────────────────────────────────

async function makeMasters(count: number): Promise<string[]> {
  const dir = path.join(CACHE, 'masters-v1');
  mkdirSync(dir, { recursive: true });
  const gen = new LocalImageGenerator();
  const up = new SharpUpscaler();
  const files: string[] = [];
  for (let i = 0; i < count; i++) {
    const [w, h] = SIZES[i % SIZES.length]!;
    const file = path.join(dir, `master-${String(i).padStart(2, '0')}-${w}x${h}.png`);
    files.push(file);
    if (existsSync(file)) continue;
    // Generated at a quarter of the size, then upscaled as the pipeline's upscale stage does.
    const image = await gen.generate({
      model: 'local', prompt: SUBJECTS[i % SUBJECTS.length]!, negativePrompt: 'text', width: Math.round(w / 4), height: Math.round(h / 4), seed: 100 + i,
      palette: ['#0B3D91', '#F4B400', '#DB4437'], composition: 'rule of thirds', lighting: 'soft window light from the left',
    });
    const master = await up.upscale({ image: image.image, minWidth: w, minHeight: h });
    writeFileSync(file, master.image);
    console.log(`made ${path.basename(file)} (${(master.image.length / 2 ** 20).toFixed(1)} MiB)`);
  }
  return files;
}

type Box = { left: number; top: number; width: number; height: number };
type Crops = Record<string, Record<string, Box>>;

/** Darkroom's crop box per master × channel, computed once and cached beside the masters. */
async function cropBoxes(masters: string[]): Promise<Crops> {
  const file = path.join(CACHE, 'crops-v3.json');
  const crops: Crops = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Crops) : {};
  for (const m of masters) {
    const key = path.basename(m);
    if (crops[key]) continue;
    const master = await decodeMaster(readFileSync(m));
    crops[key] = {};
    for (const c of PRESETS) crops[key][c.id] = (await channelCrop(master, c)).crop;
    writeFileSync(file, JSON.stringify(crops, null, 1));
  }
  return crops;
}

// ─── one tool over the matrix, in a child process ──────────────────────────────────────────

interface RunResult {
  tool: string;
  /** When it was measured and the load average then (the machine is shared). */
  at?: string;
  seconds: number;
  files: number;
  bytes: Partial<Record<ImageFormat, number>>;
  peakMiB: number;
  /** Largest single process, for the CLIs. */
  maxProcessMiB?: number;
  cpuSeconds: number;
  /** Darkroom only: output sizes or crops that differ from the boxes handed to the CLIs. */
  mismatches?: number;
}

async function pool<T>(items: readonly T[], jobs: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: jobs }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

function selfPeakMiB(): number {
  return Math.round(Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024);
}

function cpuSecondsSelf(): number {
  const u = process.resourceUsage();
  return (u.userCPUTime + u.systemCPUTime) / 1e6;
}

async function runDarkroom(masters: string[], crops: Crops, jobs: number): Promise<RunResult> {
  const bytes: Partial<Record<ImageFormat, number>> = {};
  let files = 0;
  let mismatches = 0;
  const start = performance.now();
  await pool(masters, jobs, async (m) => {
    const out = await formatForChannels(readFileSync(m), PRESETS);
    for (const o of out) {
      files++;
      bytes[o.format] = (bytes[o.format] ?? 0) + o.data.length;
      const preset = CHANNEL_PRESETS[o.channel]!;
      const box = crops[path.basename(m)]?.[o.channel];
      if (o.width !== preset.width || o.height !== preset.height || JSON.stringify(o.crop) !== JSON.stringify(box)) mismatches++;
    }
  });
  return { tool: 'darkroom', seconds: (performance.now() - start) / 1000, files, bytes, peakMiB: selfPeakMiB(), cpuSeconds: cpuSecondsSelf(), mismatches };
}

/** The 8192² custom channel from the largest master, alone in this process. */
async function runBig(master: string): Promise<RunResult> {
  const channel = resolveChannel(BIG_CHANNEL)!;
  const start = performance.now();
  const out = await formatForChannels(readFileSync(master), [channel]);
  const bytes: Partial<Record<ImageFormat, number>> = {};
  for (const o of out) bytes[o.format] = (bytes[o.format] ?? 0) + o.data.length;
  return { tool: 'darkroom 8192²', seconds: (performance.now() - start) / 1000, files: out.length, bytes, peakMiB: selfPeakMiB(), cpuSeconds: cpuSecondsSelf() };
}

/** CPU seconds of each stage of Darkroom's format work, one operation at a time. */
interface Breakdown {
  /** Stage → CPU seconds and how many operations. */
  stages: Record<string, { cpuSeconds: number; count: number }>;
}

/**
 * The stages formatForChannels runs (decode the master once, crop and resize each channel,
 * encode each format) timed one at a time with the same calls and settings, so each CPU
 * delta of this process is that stage's alone, libvips' threads included.
 */
async function runBreakdown(masters: string[]): Promise<Breakdown> {
  const stages: Breakdown['stages'] = {};
  const timed = async <T>(stage: string, work: () => Promise<T>): Promise<T> => {
    const before = cpuSecondsSelf();
    const result = await work();
    const s = (stages[stage] ??= { cpuSeconds: 0, count: 0 });
    s.cpuSeconds += cpuSecondsSelf() - before;
    s.count++;
    return result;
  };
  const settings = encoderSettings();
  for (const m of masters) {
    const file = readFileSync(m);
    const master = await timed('decode master', () => decodeMaster(file));
    for (const channel of PRESETS) {
      const { raw } = await timed('crop + resize', () => channelCrop(master, channel));
      for (const format of channel.formats) {
        await timed(`encode ${format}${channel.density > 72 ? ' (print)' : ''}`, () => encodeRaw(raw, format, channel.density, settings));
      }
    }
  }
  return { stages };
}

/** The argument lists (one process each) that make one channel's files from one master. */
type Command = { bin: string; args: string[] };

function vipsSave(format: ImageFormat, density: number): string {
  const perMm = (density / 25.4).toFixed(4);
  switch (format) {
    case 'jpeg': return `[Q=${Q.jpeg},interlace,optimize_coding,strip]`;
    case 'png': return `[compression=${PNG_LEVEL},filter=all,strip]`;
    case 'webp': return `[Q=${Q.webp},effort=${DEFAULT_EFFORT.webp},strip]`;
    case 'avif': return `[Q=${Q.avif},effort=${DEFAULT_EFFORT.avif},compression=av1,subsample-mode=off,strip]`;
    case 'tiff': return `[compression=lzw,predictor=horizontal,xres=${perMm},yres=${perMm},resunit=inch,strip]`;
  }
}

function vipsCommands(master: string, box: Box, channel: ChannelPreset, out: string): Command[] {
  const cut = `${out}-cut.v`;
  const sized = `${out}-sized.v`;
  return [
    { bin: 'vips', args: ['crop', master, cut, String(box.left), String(box.top), String(box.width), String(box.height)] },
    { bin: 'vips', args: ['thumbnail', cut, sized, String(channel.width), '--height', String(channel.height), '--size', 'force'] },
    ...channel.formats.map((f) => ({ bin: 'vips', args: ['copy', sized, `${out}.${FORMAT_EXTENSION[f]}${vipsSave(f, channel.density)}`] })),
  ];
}

function magickFormat(format: ImageFormat, density: number): string[] {
  const dpi = ['-units', 'PixelsPerInch', '-density', String(density)];
  switch (format) {
    case 'jpeg': return ['-quality', String(Q.jpeg), '-interlace', 'JPEG', ...dpi];
    case 'png': return ['-define', `png:compression-level=${PNG_LEVEL}`, '-define', 'png:compression-filter=5', ...dpi];
    case 'webp': return ['-quality', String(Q.webp), '-define', `webp:method=${DEFAULT_EFFORT.webp}`];
    // ImageMagick 6.9.11's AVIF writer takes no speed setting: libheif's default is used.
    case 'avif': return ['-quality', String(Q.avif)];
    case 'tiff': return ['-compress', 'LZW', '-define', 'tiff:predictor=2', ...dpi];
  }
}

function magickCommands(master: string, box: Box, channel: ChannelPreset, out: string): Command[] {
  const args = [master, '-crop', `${box.width}x${box.height}+${box.left}+${box.top}`, '+repage', '-filter', 'Lanczos', '-resize', `${channel.width}x${channel.height}!`, '-strip', '-respect-parentheses'];
  for (const f of channel.formats) args.push('(', '+clone', ...magickFormat(f, channel.density), '-write', `${out}.${FORMAT_EXTENSION[f]}`, '+delete', ')');
  args.push('null:');
  return [{ bin: 'convert', args }];
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function rssMiB(pid: number): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

async function runCli(tool: 'vips' | 'magick', masters: string[], crops: Crops, jobs: number): Promise<RunResult> {
  const dir = path.join(SCRATCH, tool);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const running = new Set<ChildProcess>();
  let peakMiB = 0;
  let maxProcessMiB = 0;
  let cpuSeconds = 0;
  // The tools' processes are children of /usr/bin/time: sum the resident sets of everything running.
  const sampler = setInterval(() => {
    let sum = 0;
    for (const p of running) for (const pid of childrenOf(p.pid!)) sum += rssMiB(pid);
    peakMiB = Math.max(peakMiB, sum);
  }, 20);
  const work = masters.flatMap((m) => PRESETS.map((c) => ({ m, c })));
  // Loading sharp's libvips sets VIPSHOME to its build prefix, where the vips CLI then looks for its modules (and AVIF).
  const env = { ...process.env };
  delete env.VIPSHOME;
  const start = performance.now();
  await pool(work, jobs, async ({ m, c }) => {
    const out = path.join(dir, `${path.basename(m, '.png')}-${c.id}`);
    const box = crops[path.basename(m)]![c.id]!;
    for (const cmd of tool === 'vips' ? vipsCommands(m, box, c, out) : magickCommands(m, box, c, out)) {
      const timeFile = `${out}.time`;
      const child = spawn('/usr/bin/time', ['-f', '%M %U %S', '-o', timeFile, cmd.bin, ...cmd.args], { stdio: ['ignore', 'ignore', 'pipe'], env });
      running.add(child);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      running.delete(child);
      if (code !== 0) throw new Error(`${cmd.bin} ${cmd.args.join(' ')} exited ${code}: ${stderr}`);
      const [kb, user, sys] = readFileSync(timeFile, 'utf8').trim().split(/\s+/).slice(-3).map(Number);
      maxProcessMiB = Math.max(maxProcessMiB, kb! / 1024);
      cpuSeconds += user! + sys!;
    }
  });
  const seconds = (performance.now() - start) / 1000;
  clearInterval(sampler);
  const bytes: Partial<Record<ImageFormat, number>> = {};
  let files = 0;
  for (const f of readdirSync(dir)) {
    const format = (Object.entries(FORMAT_EXTENSION).find(([, ext]) => f.endsWith(`.${ext}`))?.[0]) as ImageFormat | undefined;
    if (!format) continue;
    files++;
    bytes[format] = (bytes[format] ?? 0) + readFileSync(path.join(dir, f)).length;
  }
  rmSync(dir, { recursive: true, force: true });
  return { tool, seconds, files, bytes, peakMiB: Math.round(Math.max(peakMiB, maxProcessMiB)), maxProcessMiB: Math.round(maxProcessMiB), cpuSeconds };
}

/** A part's result, measured now or (`--reuse`) as kept from an earlier run. */
async function part<T>(name: string, args: Args, measure: () => Promise<T>): Promise<T & { at: string }> {
  const file = path.join(CACHE, `result-${name}-${args.masters}.json`);
  if (args.reuse.includes(name)) return JSON.parse(readFileSync(file, 'utf8')) as T & { at: string };
  const result = { ...(await measure()), at: `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, load ${os.loadavg().map((n) => n.toFixed(1)).join(' ')}` };
  writeFileSync(file, JSON.stringify(result));
  return result;
}

/** Runs `--child <tool>` of this file in a fresh process and returns what it printed. */
async function inChild<T = RunResult>(tool: string, args: Args): Promise<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--child', tool, '--masters', String(args.masters), '--jobs', String(args.jobs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    // Darkroom runs with the environment `npm run worker` and the Dockerfile give the worker.
    env: { ...process.env, ...(args.workerEnv ? WORKER_ENV : {}) },
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`${tool} child exited ${code}`);
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}

async function child(tool: string, args: Args): Promise<void> {
  if (tool === 'idle') {
    // What a process that has loaded sharp and the format module holds before any work.
    configureSharpForWorker();
    console.log(JSON.stringify({ peakMiB: selfPeakMiB() }));
    return;
  }
  const masters = await makeMasters(args.masters);
  const crops = await cropBoxes(masters);
  let result: RunResult | Breakdown;
  if (tool === 'darkroom' || tool === 'big' || tool === 'breakdown') configureSharpForWorker();
  if (tool === 'breakdown') result = await runBreakdown(masters);
  else if (tool === 'darkroom') result = await runDarkroom(masters, crops, args.jobs);
  else if (tool === 'big') result = await runBig(masters[0]!);
  else result = await runCli(tool as 'vips' | 'magick', masters, crops, args.jobs);
  console.log(JSON.stringify(result));
}

// ─── encoder effort sweep ──────────────────────────────────────────────────────────────────

interface SweepPoint { quality: number; ms: number; bytes: number; ssim: number }
interface SweepRow {
  effort: number;
  /** At the format's default quality. */
  ms: number;
  bytes: number;
  ssim: number;
  /** Each quality of the ladder, for the rate–quality curve. */
  points: SweepPoint[];
  /** Bytes and CPU ms interpolated at the reference SSIM (undefined: the ladder does not reach it). */
  atRef?: { bytes: number; ms: number };
}

/** Qualities each effort is encoded at, around the default: the curve bytes are read from at equal SSIM. */
const LADDER = { avif: [35, 40, 45, 50, 55, 60, 65], webp: [65, 70, 75, 80, 85, 90] } as const;

/** Linear interpolation of `y` at `x0` along points sorted by `x`; undefined outside their range. */
function interpolate(points: ReadonlyArray<{ x: number; y: number }>, x0: number): number | undefined {
  const sorted = [...points].sort((p, q) => p.x - q.x);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!, b = sorted[i]!;
    if (x0 >= a.x && x0 <= b.x) return b.x === a.x ? a.y : a.y + ((b.y - a.y) * (x0 - a.x)) / (b.x - a.x);
  }
  return undefined;
}

/**
 * Each effort over the same crops (web-hero, 1920x1080, raw pixels), one encode at a time, at
 * every quality of a ladder around the default; each output is decoded and compared with its
 * crop (luminance SSIM). Efforts change quality as well as size at a fixed quality setting, so
 * they are compared at equal SSIM: the SSIM Darkroom's shipped setting reaches. Time is this
 * process's CPU time (the encoders run in its threads), which the shared machine's load
 * disturbs far less than wall time; each encode runs SWEEP_REPEATS times and its least time
 * counts, since other load only ever adds time (one run each let the WebP choice flip between
 * runs on a 0.2× difference in effort 6's time).
 */
async function sweep(masters: string[], format: 'avif' | 'webp', efforts: readonly number[]): Promise<SweepRow[]> {
  const channel = CHANNEL_PRESETS['web-hero']!;
  const raws = [];
  for (const m of masters) {
    raws.push((await channelCrop(await decodeMaster(readFileSync(m)), channel)).raw);
  }
  const rows: SweepRow[] = [];
  for (const effort of efforts) {
    const points: SweepPoint[] = [];
    for (const quality of LADDER[format]) {
      let bytes = 0;
      let ms = 0;
      let ssim = 0;
      for (const raw of raws) {
        let out = Buffer.alloc(0);
        let least = Infinity;
        for (let i = 0; i < SWEEP_REPEATS; i++) {
          const img = openRaw(raw);
          const t = process.cpuUsage();
          out = format === 'avif' ? await img.avif({ quality, effort }).toBuffer() : await img.webp({ quality, effort }).toBuffer();
          const used = process.cpuUsage(t);
          least = Math.min(least, (used.user + used.system) / 1000);
        }
        ms += least;
        bytes += out.length;
        ssim += lumaSsim(raw, await toRaw(sharp(out))) / raws.length;
      }
      points.push({ quality, ms, bytes, ssim });
    }
    const at = points.find((p) => p.quality === Q[format])!;
    rows.push({ effort, ms: at.ms, bytes: at.bytes, ssim: at.ssim, points });
    console.log(`${format} effort ${effort}: ${points.map((p) => `q${p.quality} ${p.bytes} B ${p.ssim.toFixed(4)} ${p.ms.toFixed(0)} ms`).join(' · ')}`);
  }
  return rows;
}

/** Each row with its bytes and time read off its curve at the SSIM that `reference` (effort, quality) reaches. */
function atReference(rows: SweepRow[], reference: { effort: number; quality: number }): SweepRow[] {
  const ref = rows.find((r) => r.effort === reference.effort)?.points.find((p) => p.quality === reference.quality);
  return rows.map((r) => {
    const bytes = ref && interpolate(r.points.map((p) => ({ x: p.ssim, y: p.bytes })), ref.ssim);
    const ms = ref && interpolate(r.points.map((p) => ({ x: p.ssim, y: p.ms })), ref.ssim);
    const { atRef: _, ...rest } = r;
    return bytes !== undefined && ms !== undefined ? { ...rest, atRef: { bytes, ms } } : rest;
  });
}

/**
 * Efforts whose bytes (at equal SSIM) are within 1% of `effort`'s and whose time is within 10%:
 * closer than a rerun of the sweep on this shared machine moves them, so the rule's pick among
 * them is a coin toss (before the margin, the WebP pick went 4, 5, 3, 4, 6 over five runs).
 */
function tiedWith(rows: SweepRow[], effort: number): number[] {
  const ref = rows.find((r) => r.effort === effort)?.atRef;
  if (!ref) return [effort];
  return rows.filter((r) => r.atRef && Math.abs(r.atRef.bytes / ref.bytes - 1) < 0.01 && Math.abs(r.atRef.ms / ref.ms - 1) < 0.1).map((r) => r.effort);
}

/** Share of bytes a doubling of encode time must save to be worth it. */
const BYTES_PER_DOUBLING = 0.02;
/** How far past that rate a slower effort's saving must be, for the sweep's run-to-run spread. */
const RULE_MARGIN = 0.005;

/**
 * The effort to ship: the lowest one from which no higher effort saves at least 1% of bytes at
 * equal SSIM and 2% for each doubling of encode CPU time (an effort both smaller and faster
 * always wins). A file's bytes are paid on every delivery and its encode once, so bytes are
 * worth some time; past 2% a doubling, a catalog's format stage slows far more than its files
 * shrink. A slower effort must clear that rate by RULE_MARGIN of bytes: its time against
 * another's moves between runs of the sweep on a shared machine (WebP 6 against 4 measured
 * 2.12–2.73× over five runs, for a saving of 2.3% that needs 2.2× or less), and without a
 * margin the pick followed the noise.
 */
function chooseEffort(rows: SweepRow[]): { effort: number; why: string } {
  const measured = rows.filter((r) => r.atRef);
  const saving = (a: SweepRow, b: SweepRow) => (a.atRef!.bytes - b.atRef!.bytes) / a.atRef!.bytes;
  const worth = (a: SweepRow, b: SweepRow) =>
    saving(a, b) >= 0.01 && (b.atRef!.ms <= a.atRef!.ms || saving(a, b) >= BYTES_PER_DOUBLING * Math.log2(b.atRef!.ms / a.atRef!.ms) + RULE_MARGIN);
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  for (const a of measured) {
    if (measured.some((b) => b.effort > a.effort && worth(a, b))) continue;
    const next = measured.find((b) => b.effort > a.effort && saving(a, b) > 0);
    return {
      effort: a.effort,
      why: next
        ? `the next effort with smaller files at the same SSIM, ${next.effort}, saves ${pct(saving(a, next))} of bytes for ${(next.atRef!.ms / a.atRef!.ms).toFixed(2)}× the CPU time`
        : 'no higher effort made smaller files at the same SSIM',
    };
  }
  return { effort: measured.at(-1)?.effort ?? rows[0]!.effort, why: 'every step up paid for itself' };
}

/**
 * Where Darkroom's CPU goes, and what that bounds: its encodes alone, at the settings every tool
 * is given, cap how far ahead of a CLI it can get; and an idle process's memory is most of what
 * the vips CLI's two processes hold at their peak.
 */
async function breakdownReport(masters: string[], args: Args, results: RunResult[]): Promise<string[]> {
  const b = await part('breakdown', args, async () => ({
    ...(await inChild<Breakdown>('breakdown', args)),
    idlePeakMiB: (await inChild<{ peakMiB: number }>('idle', args)).peakMiB,
  }));
  const stages = Object.entries(b.stages);
  const total = stages.reduce((n, [, s]) => n + s.cpuSeconds, 0);
  const encodes = stages.filter(([name]) => name.startsWith('encode '));
  const encodeSeconds = encodes.reduce((n, [, s]) => n + s.cpuSeconds, 0);
  const files = encodes.reduce((n, [, s]) => n + s.count, 0);
  const lines = [
    `### Where Darkroom's CPU goes (${masters.length} masters, each stage alone, measured ${b.at})`,
    '',
    'The calls formatForChannels makes, with its settings, one at a time in one process (`--child breakdown`), so each CPU delta is that stage\'s alone, libvips\' threads included. Print rows are the 300 dpi print-a4 channel.',
    '',
    table(['stage', 'operations', 'CPU s', 'share', 'CPU ms each'], stages
      .sort((x, y) => y[1].cpuSeconds - x[1].cpuSeconds)
      .map(([name, s]) => [name, s.count, s.cpuSeconds.toFixed(1), `${((s.cpuSeconds / total) * 100).toFixed(1)}%`, ((s.cpuSeconds / s.count) * 1000).toFixed(0)])),
    '',
    `All stages: ${total.toFixed(1)} CPU s for ${files} files; the encodes ${encodeSeconds.toFixed(1)} s of it (${((encodeSeconds / total) * 100).toFixed(0)}%).`,
  ];
  for (const r of results.filter((x) => x.tool !== 'darkroom')) {
    const bound = files / encodeSeconds / (r.files / r.cpuSeconds);
    lines.push(`Against ${r.tool} (${(r.files / r.cpuSeconds).toFixed(2)} files/CPU-s): were decoding, cropping and everything else free, Darkroom's encodes alone would allow at most ${(files / encodeSeconds).toFixed(2)} files/CPU-s, **${bound.toFixed(2)}×** ${r.tool} by CPU.`);
  }
  const vips = results.find((x) => x.tool === 'vips');
  const master = Math.max(...SIZES.slice(0, masters.length).map(([w, h]) => w * h)) * 3;
  lines.push(`Memory: a process that has loaded sharp and the format module and done nothing peaks at **${b.idlePeakMiB} MiB** (\`--child idle\`)${vips ? `, against ${vips.peakMiB} MiB for the vips CLI's ${args.jobs} processes at their peak` : ''}; the largest master decoded is ${mib(master)} MiB of RGB.`);
  return lines;
}

// ─── report ────────────────────────────────────────────────────────────────────────────────

const mib = (b: number) => (b / 2 ** 20).toFixed(1);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const childTool = process.argv.indexOf('--child');
  if (childTool >= 0) return child(process.argv[childTool + 1]!, args);

  const masters = await makeMasters(args.masters);
  await cropBoxes(masters);
  const results: RunResult[] = [];
  for (const tool of args.tools) {
    const r = await part(tool, args, () => inChild(tool, args));
    console.log(`${tool}: ${r.files} files in ${r.seconds.toFixed(1)} s, peak ${r.peakMiB} MiB, CPU ${r.cpuSeconds.toFixed(1)} s; load ${os.loadavg().map((n) => n.toFixed(2)).join(' ')}`);
    results.push(r);
  }
  const big = args.big ? await part('big', args, () => inChild('big', args)) : undefined;
  if (big) console.log(`8192²: ${big.seconds.toFixed(1)} s, peak ${big.peakMiB} MiB`);

  const formats = [...new Set(PRESETS.flatMap((p) => p.formats))];
  const dr = results.find((r) => r.tool === 'darkroom');
  const rate = (r: RunResult) => r.files / r.seconds;
  const rows = results.map((r) => [
    r.tool, r.at ?? '', r.files, r.seconds.toFixed(1), rate(r).toFixed(2), (r.files / r.cpuSeconds).toFixed(2), r.peakMiB, r.maxProcessMiB ?? '–',
    ...formats.map((f) => mib(r.bytes[f] ?? 0)),
    dr && r !== dr ? `${(rate(dr) / rate(r)).toFixed(2)}× / ${(dr.peakMiB / r.peakMiB).toFixed(2)}×` : '–',
  ]);
  const parts = [
    `${args.masters} masters (offline generator upscaled to ${[...new Set(SIZES.slice(0, args.masters).map(([w, h]) => `${w}x${h}`))].join(', ')}; PNG) × all ${PRESETS.length} presets × their formats = ${args.masters * PRESETS.reduce((n, p) => n + p.formats.length, 0)} files a tool.`,
    `Each tool in its own child process, ${args.jobs} jobs at a time (Darkroom: one master's formatForChannels a job; CLIs: one master × channel a job, vips as crop → thumbnail --size force → one copy per format, ImageMagick as one convert writing every format).`,
    `Same crop boxes (Darkroom's attention crop, handed to the CLIs), sizes, formats, qualities (JPEG ${Q.jpeg}, WebP ${Q.webp} effort ${DEFAULT_EFFORT.webp}, AVIF ${Q.avif} effort ${DEFAULT_EFFORT.avif} 4:4:4, PNG zlib 6 adaptive filter, TIFF LZW + predictor), metadata stripped.`,
    'Darkroom uses mozjpeg, the CLIs Debian\'s libjpeg-turbo; ImageMagick 6 cannot set AVIF speed (libheif\'s default) nor 4:4:4.',
    'Peak: VmHWM of the Darkroom child; for the CLIs the larger of the summed RSS of concurrent processes (sampled every 20 ms) and the largest single process (`/usr/bin/time %M`). files/CPU-s is less sensitive to the shared machine\'s load than files/s.',
    '',
    table(['tool', 'measured', 'files', 'seconds', 'files/s', 'files/CPU-s', 'peak MiB', 'max process MiB', ...formats.map((f) => `${f} MiB`), 'Darkroom speed / peak vs this'], rows),
  ];
  if (dr?.mismatches) parts.push('', `**${dr.mismatches} Darkroom outputs differed from the crop box or channel size.**`);
  if (big) parts.push('', `\`${BIG_CHANNEL}\` (WebP + JPEG) from ${path.basename(masters[0]!)} alone in a child process (${big.at}): ${big.seconds.toFixed(1)} s, CPU ${big.cpuSeconds.toFixed(1)} s, peak ${big.peakMiB} MiB (goal < 1024 MiB), ${mib((big.bytes.webp ?? 0) + (big.bytes.jpeg ?? 0))} MiB out.`);
  if (args.breakdown) parts.push('', ...(await breakdownReport(masters, args, results)));
  if (args.sweep) {
    const sample = masters.slice(0, SWEEP_IMAGES);
    const swept = await part('sweep-ssim', args, async () => ({
      avif: await sweep(sample, 'avif', Array.from({ length: args.avifMaxEffort + 1 }, (_, e) => e)),
      webp: await sweep(sample, 'webp', [0, 1, 2, 3, 4, 5, 6]),
    }));
    const at = swept.at;
    const avif = atReference(swept.avif, { effort: DEFAULT_EFFORT.avif, quality: Q.avif });
    const webp = atReference(swept.webp, { effort: DEFAULT_EFFORT.webp, quality: Q.webp });
    const sweepTable = (rows: SweepRow[], format: 'avif' | 'webp') => {
      const ref = rows.find((r) => r.effort === DEFAULT_EFFORT[format])?.atRef;
      return table(
        ['effort', `CPU ms (${sample.length} images)`, 'bytes', 'SSIM', `bytes at SSIM of effort ${DEFAULT_EFFORT[format]}`, `CPU ms there`, 'bytes vs shipped', 'time vs shipped'],
        rows.map((r) => [
          r.effort, r.ms.toFixed(0), r.bytes, r.ssim.toFixed(4),
          r.atRef ? Math.round(r.atRef.bytes) : 'out of ladder', r.atRef ? r.atRef.ms.toFixed(0) : '–',
          r.atRef && ref ? `${((r.atRef.bytes / ref.bytes) * 100).toFixed(1)}%` : '–', r.atRef && ref ? `${(r.atRef.ms / ref.ms).toFixed(2)}×` : '–',
        ]),
      );
    };
    const verdict = (rows: SweepRow[], format: 'avif' | 'webp') => {
      const pick = chooseEffort(rows);
      const ties = tiedWith(rows, pick.effort);
      const shipped = DEFAULT_EFFORT[format];
      const tie = ties.length > 1 ? `; efforts ${ties.join(', ')} are within 1% of its bytes and 10% of its time, a tie this sweep cannot split` : '';
      const stands = pick.effort === shipped ? '' : ties.includes(shipped) ? `; shipped ${shipped} is in the tie` : `; **shipped ${shipped} is not: change DEFAULT_EFFORT**`;
      return `effort ${pick.effort} (${pick.why}${tie}${stands})`;
    };
    parts.push(
      '', `### Encoder effort (web-hero crops, 1920x1080, of ${sample.length} masters, one encode at a time, each ${SWEEP_REPEATS} times; measured ${at})`,
      '', `Each effort encoded at qualities ${LADDER.avif.join(', ')} (AVIF) and ${LADDER.webp.join(', ')} (WebP); each output decoded and compared with its crop by luminance SSIM (activities/images/stats.ts); an encode's time is the least of its ${SWEEP_REPEATS} runs. Bytes and time are read off each effort's curve at the SSIM the shipped setting reaches, so efforts are compared at equal quality.`,
      '', `AVIF (shipped: quality ${Q.avif}, effort ${DEFAULT_EFFORT.avif}; the first columns at quality ${Q.avif}):`, '', sweepTable(avif, 'avif'),
      '', `WebP (shipped: quality ${Q.webp}, effort ${DEFAULT_EFFORT.webp}; the first columns at quality ${Q.webp}):`, '', sweepTable(webp, 'webp'),
      '', `Rule: the lowest effort from which no higher effort saves at least 1% of bytes at equal SSIM and, if it is slower, ${BYTES_PER_DOUBLING * 100}% per doubling of CPU time plus ${RULE_MARGIN * 100}% for the sweep's run-to-run spread (bytes are paid on every delivery, the encode once). AVIF: ${verdict(avif, 'avif')}. WebP: ${verdict(webp, 'webp')}.`,
    );
  }
  writeSection('format-throughput', 'Format throughput', `npx tsx bench/format-throughput.ts ${process.argv.slice(2).join(' ')}`.trim(), parts.join('\n'));
}

main().then(() => process.exit(0), (err: unknown) => {
  console.error(err);
  process.exit(1);
});
