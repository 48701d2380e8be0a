import { describe, expect, it } from 'vitest';
import { COMMANDS, main } from '../../client/cli';
import { OPTIONS } from '../../client/commands';

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { TEMPORAL_ADDRESS: '127.0.0.1:1' }, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('the darkroom command table', () => {
  it('makes the help text: every command, with its arguments and every option it takes', async () => {
    const help = (await run('--help')).out;
    for (const c of COMMANDS) {
      const usage = `  darkroom ${c.name}${c.args ? ` ${c.args}` : ''}`;
      // The usage, then its options, the help column or the end of the line: `review` is not `review list`.
      const line = help.split('\n').find((l) => l === usage || (l.startsWith(usage) && /^ (?:\[?--| {2})/.test(l.slice(usage.length))));
      expect(line, c.name).toBeDefined();
      for (const o of c.options) expect(line, `${c.name} --${o}`).toContain(`--${o}`);
    }
    expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length);
  });

  it('takes only the options a command lists, naming the ones it does', async () => {
    for (const c of COMMANDS) {
      const foreign = (Object.keys(OPTIONS) as Array<keyof typeof OPTIONS>).find((o) => o !== 'help' && !(c.options as readonly string[]).includes(o) && OPTIONS[o].type === 'boolean');
      if (!foreign) continue;
      const r = await run(...c.name.split(' '), `--${foreign}`);
      expect(r.code, c.name).toBe(2);
      expect(r.err).toContain(`darkroom ${c.name}: --${foreign} does not apply here`);
    }
  });

  it.each([
    [['nope'], /unknown command "nope"/],
    [['catalog'], /darkroom catalog: missing a command \(start, status, /],
    [['catalog', 'explode'], /unknown command "catalog explode"/],
    [['catalog', 'status', 'a', 'b'], /darkroom catalog status: unexpected "b"/],
    [['catalog', 'upload', 'x'], /darkroom catalog upload: missing <feed.csv\|.jsonl>/],
    [['status'], /darkroom status: missing <workflowId>/],
  ])('%j is a usage error (exit 2) before anything connects', async (argv, message) => {
    const r = await run(...argv);
    expect(r.err).toMatch(message);
    expect(r.code).toBe(2);
  });
});
