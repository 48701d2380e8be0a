/**
 * What the `darkroom` CLI does with hostile or clumsy input before any server is involved:
 * files that are not files, files too large, JSON nested too deep, huge values, control
 * characters, and errors nobody expected. Each must end in seconds with one clear message.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, openSync, closeSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../client/cli';
import { BRIEF_FILE_MAX_BYTES, FEED_FILE_MAX_BYTES } from '../../client/files';
import { CONTROL_CHARS } from '../../domain/text';
import { testDataDir } from '../support/temporal';

/** No server listens here: commands that get past their input checks fail to connect, quickly. */
const env = (dataDir: string, extra: Record<string, string> = {}) => ({ TEMPORAL_ADDRESS: '127.0.0.1:1', DARKROOM_DATA_DIR: dataDir, ...extra });

async function run(dataDir: string, argv: string[], extra: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  // A command stuck on a file fails this race instead of hanging the suite.
  const code = await Promise.race([
    main(argv, env(dataDir, extra), { out: (s) => out.push(s), err: (s) => err.push(s) }),
    new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 15_000).unref()),
  ]);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const brief = JSON.stringify({ subject: 'a ceramic teapot on linen', channels: ['web-hero'] });
const template = JSON.stringify({ subject: 'a {name} on a plain backdrop', channels: ['og-image'] });

describe('files the CLI reads', () => {
  const dir = testDataDir('cli-files');
  const fifo = path.join(dir, 'brief.fifo');
  execFileSync('mkfifo', [fifo]);
  const folder = path.join(dir, 'a-folder');
  mkdirSync(folder);
  const briefFile = path.join(dir, 'brief.json');
  writeFileSync(briefFile, brief);
  const templateFile = path.join(dir, 'template.json');
  writeFileSync(templateFile, template);
  const feedFile = path.join(dir, 'feed.csv');
  writeFileSync(feedFile, 'sku,name\nA,mug\n');
  // Sparse files: as large as they say, without the disk space.
  const bigBrief = path.join(dir, 'big-brief.json');
  closeSync(openSync(bigBrief, 'w'));
  truncateSync(bigBrief, BRIEF_FILE_MAX_BYTES + 1);
  const bigFeed = path.join(dir, 'big-feed.csv');
  closeSync(openSync(bigFeed, 'w'));
  truncateSync(bigFeed, FEED_FILE_MAX_BYTES + 1);

  const refusals: Array<[string, string, RegExp]> = [
    ['a FIFO', fifo, /is not a regular file \(a FIFO/],
    ['a character device', '/dev/zero', /is not a regular file \(a character device/],
    ['a directory', folder, /is a directory/],
  ];

  for (const [what, file, message] of refusals) {
    it(`refuses ${what} as a brief, a template or a feed, at once, with exit code 2`, async () => {
      for (const argv of [
        ['run', file],
        ['start', file],
        ['catalog', 'start', file, '--template', templateFile, '--dry-run'],
        ['catalog', 'start', feedFile, '--template', file, '--dry-run'],
        ['catalog', 'upload', 'shop', file],
        ['catalog', 'schedule', file, '--template', templateFile, '--cron', '0 2 * * *'],
      ]) {
        const r = await run(dir, argv);
        expect(r.code, argv.join(' ')).toBe(2);
        expect(r.err, argv.join(' ')).toContain(file);
        expect(r.err, argv.join(' ')).toMatch(message);
      }
    });
  }

  it('refuses a brief file over 1 MiB and a feed over 200 MiB, naming the path and the limit', async () => {
    const b = await run(dir, ['run', bigBrief]);
    expect(b.code).toBe(2);
    expect(b.err).toContain(bigBrief);
    expect(b.err).toMatch(/is 1\.0 MiB; a brief file may be at most 1 MiB/);
    const t = await run(dir, ['catalog', 'start', feedFile, '--template', bigBrief, '--dry-run']);
    expect(t.code).toBe(2);
    expect(t.err).toMatch(/template file .*big-brief\.json is 1\.0 MiB; a template file may be at most 1 MiB/);
    const f = await run(dir, ['catalog', 'start', bigFeed, '--template', templateFile, '--dry-run']);
    expect(f.code).toBe(2);
    expect(f.err).toContain(bigFeed);
    expect(f.err).toMatch(/is 200\.0 MiB; a feed file may be at most 200 MiB/);
  });

  it('still reads ordinary files', async () => {
    const r = await run(dir, ['catalog', 'start', feedFile, '--template', templateFile, '--dry-run']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('runs       1 run: 1 row, of 1 row read');
  });
});

describe('JSON nested too deep', () => {
  const dir = testDataDir('cli-deep');
  const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;

  it('refuses a brief or template file nested 5,000 deep with a clear error, not a RangeError', async () => {
    const briefFile = path.join(dir, 'deep.json');
    writeFileSync(briefFile, `{"subject":"a mug","channels":["og-image"],"x":${deep(5000)}}`);
    const r = await run(dir, ['run', briefFile]);
    expect(r.code).toBe(2);
    expect(r.err).toBe(`darkroom: ${briefFile} nests JSON more than 32 levels deep: a brief or template needs a few`);
    const feedFile = path.join(dir, 'feed.csv');
    writeFileSync(feedFile, 'sku,name\nA,mug\n');
    const t = await run(dir, ['catalog', 'start', feedFile, '--template', briefFile, '--dry-run']);
    expect(t.code).toBe(2);
    expect(t.err).toContain(`${briefFile} nests JSON more than 32 levels deep`);
  });

  it('reports a JSON-lines cell nested 5,000 deep as a bad row, and runs the rest', async () => {
    const feedFile = path.join(dir, 'deep.jsonl');
    writeFileSync(feedFile, `{"sku":"A","name":"mug"}\n{"sku":"B","name":"cup","deep":${deep(5000)}}\n`);
    const templateFile = path.join(dir, 'template.json');
    writeFileSync(templateFile, template);
    const r = await run(dir, ['catalog', 'start', feedFile, '--template', templateFile, '--dry-run']);
    expect(r.err).not.toMatch(/RangeError|at .*\.ts:\d+/);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/line 2 +\(no sku\) +row: nests JSON more than 32 levels deep: row skipped/);
    expect(r.out).toContain('runs       1 run: 1 row, of 1 row read (1 invalid, 0 duplicates)');
  });
});

describe('huge values and control characters in what the CLI prints', () => {
  const dir = testDataDir('cli-echo');

  it('echoes a preview of a huge bad value, naming the field', async () => {
    const big = 'x'.repeat(300_000);
    const file = path.join(dir, 'huge.json');
    writeFileSync(file, JSON.stringify({ subject: 'a mug', channels: [big], approval: big, [big]: 1 }));
    const r = await run(dir, ['run', file]);
    expect(r.code).toBe(2);
    expect(r.err.length).toBeLessThan(4000);
    expect(r.err).toContain('channels[0]: unknown channel "xxxx');
    expect(r.err).toContain('(300000 chars)');
    expect(r.err).toContain('approval: must be one of "auto", "human", "when-unsure", not "xxx');

    // A feed may be far larger than a brief: a 50 MB cell and a 50 MB SKU.
    const huge = 'x'.repeat(50_000_000);
    const feedFile = path.join(dir, 'huge.csv');
    writeFileSync(feedFile, `sku,name,channel\nA,mug,${huge}\n${huge},cup,og-image\nC,bowl,og-image\n`);
    const templateFile = path.join(dir, 'channel-template.json');
    writeFileSync(templateFile, JSON.stringify({ subject: 'a {name}', channels: ['{channel}'] }));
    for (const json of [false, true]) {
      const f = await run(dir, ['catalog', 'start', feedFile, '--template', templateFile, '--dry-run', ...(json ? ['--json'] : [])]);
      expect(f.code).toBe(0);
      expect(f.out.length).toBeLessThan(8000);
      expect(f.out).toContain('(50000000 chars)');
      expect(f.out).toContain('channels[0]');
      expect(f.out).toMatch(/unknown channel \\?"x{10}/);
    }
  }, 60_000);

  it('refuses control characters in a brief file, showing them as escapes', async () => {
    const file = path.join(dir, 'esc.json');
    writeFileSync(file, JSON.stringify({ subject: 'ab\u001b]0;pwned\u0007\u001b[2J', channels: ['og-image'], mustInclude: ['\u202Egnp.exe'] }));
    const r = await run(dir, ['run', file]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('subject: contains a control character (\\u001b at position 3)');
    expect(r.err).toContain('mustInclude[0]: contains a control character (\\u202e at position 1)');
    expect(r.err).not.toMatch(CONTROL_CHARS);
  });

  it('never prints a control character from its arguments, file names or feed cells', async () => {
    const evil = '\u001b]0;pwned\u0007\u001b[2J\u202E';
    const feedFile = path.join(dir, `feed${evil}.csv`);
    writeFileSync(feedFile, `sku,name,${evil}\nA${evil},mug${evil},x\nB,cup,y\n`);
    const templateFile = path.join(dir, 'template.json');
    writeFileSync(templateFile, template);
    const outputs = [
      await run(dir, ['run', path.join(dir, `missing${evil}.json`)]),
      await run(dir, ['status', `brief-${evil}`]),
      await run(dir, [`unknown${evil}`]),
      await run(dir, ['run', 'x.json', `--bad${evil}`]),
      await run(dir, ['catalog', 'status', `bad${evil}`]),
      await run(dir, ['catalog', 'start', feedFile, '--template', templateFile, '--dry-run']),
      await run(dir, ['catalog', 'start', feedFile, '--template', templateFile, '--dry-run', '--json']),
      await run(dir, ['catalog', 'start', feedFile, '--template', templateFile, '--id', `x${evil}`]),
      await run(dir, ['review', 'bulk-approve', '--min-score', `1${evil}`]),
    ];
    for (const r of outputs) {
      expect(`${r.out}\n${r.err}`).not.toMatch(CONTROL_CHARS);
      expect(r.code).not.toBe('hung');
    }
    expect(outputs[5]!.out).toContain('\\u001b]0;pwned\\u0007');
    // --json stays valid JSON.
    expect(JSON.parse(outputs[6]!.out).invalid[0].sku).toBe('A\\u001b]0;pwned\\u0007\\u001b[2J\\u202e');
  });

  it('caps an option echoed back and an unknown command', async () => {
    const huge = 'y'.repeat(100_000);
    for (const argv of [[huge], ['run', 'x.json', `--${huge}`], ['catalog', 'status', huge], ['catalog', 'start', 'f.csv', '--template', 't.json', '--window', huge], ['review', 'bulk-approve', '--min-score', huge]]) {
      const r = await run(dir, argv);
      expect(r.code, argv[0]).toBe(2);
      expect(r.err.length, argv.join(' ').slice(0, 40)).toBeLessThan(5000);
      expect(r.err).toContain('(100');
    }
  });
});

describe('errors nobody expected', () => {
  it('print one clear line and exit 1, with the stack only under DARKROOM_DEBUG=1', async () => {
    // A data dir with a NUL byte in its name: Node's fs throws a TypeError nobody planned for.
    const badDir = path.join(testDataDir('cli-unexpected'), 'a\u0000b');
    const argv = ['catalog', 'report', 'shop'];
    const r = await run(badDir, argv);
    expect(r.code).toBe(1);
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^darkroom: unexpected error: .*null bytes/);
    expect(r.err).toContain('DARKROOM_DEBUG=1');
    expect(r.err).not.toMatch(CONTROL_CHARS);
    const debug = await run(badDir, argv, { DARKROOM_DEBUG: '1' });
    expect(debug.code).toBe(1);
    expect(debug.err).toMatch(/\n\s+at /);
  });
});
