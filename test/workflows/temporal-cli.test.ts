import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { Manifest, BriefStatus } from '../../domain/types';
import { statusQuery } from '../../workflows/messages';
import { closeTestConnection, testAddress, testConnection, testDataDir } from '../support/temporal';
import { withWorker } from '../support/worker';

const run = promisify(execFile);

/** The README's block of `temporal` commands, exactly as a user would copy them. */
function readmeCommands(): string[] {
  const readme = readFileSync('README.md', 'utf8');
  const marker = readme.indexOf('<!-- tested by test/workflows/temporal-cli.test.ts');
  expect(marker).toBeGreaterThan(0);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(marker))![1]!;
  return block.split('\n').filter((l) => l.startsWith('temporal '));
}

afterAll(closeTestConnection);

describe("the README's temporal CLI commands", () => {
  it('start, list, query, approve by update and approve by signal, as written', async () => {
    const commands = readmeCommands();
    expect(commands.length).toBeGreaterThanOrEqual(6);
    const client = await testConnection();
    const env = { ...process.env, TEMPORAL_ADDRESS: testAddress(), PATH: `${path.dirname(inject('temporalCli'))}:${process.env.PATH}` };
    const waitAwaiting = async (workflowId: string): Promise<BriefStatus> => {
      let last: unknown;
      for (let i = 0; i < 600; i++) {
        const s = await client.workflow.getHandle(workflowId).query(statusQuery).catch((e: Error) => e);
        if (!(s instanceof Error) && s.review?.awaiting) return s;
        last = s instanceof Error ? s.message : s.stage;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`${workflowId} never reached review (last: ${String(last)})`);
    };
    const outputs: string[] = [];
    // The README names the task queue `darkroom`; this is the only test that polls it.
    await withWorker({ taskQueue: 'darkroom', dataDir: testDataDir('readme-cli') }, async () => {
      for (const cmd of commands) {
        const id = /--workflow-id (\S+)/.exec(cmd)?.[1];
        if (id && /^temporal workflow (update execute|signal) /.test(cmd)) await waitAwaiting(id);
        if (cmd.includes('DarkroomStage = ')) await client.workflow.getHandle('tote-bag-signal').result();
        if (cmd.includes('DarkroomAwaitingReview = true')) await waitAwaiting('tote-bag-review');
        // Listings read the visibility store, which trails the workflow by a moment: retry briefly.
        const expectListed = cmd.includes('workflow list') ? (cmd.includes('Awaiting') ? 'tote-bag-review' : 'tote-bag-signal') : undefined;
        let stdout = '';
        for (let attempt = 0; attempt < 50; attempt++) {
          stdout = (await run('bash', ['-c', cmd], { env })).stdout;
          if (!expectListed || stdout.includes(expectListed)) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        outputs.push(stdout);
      }
      const byUpdate: Manifest = await client.workflow.getHandle('tote-bag-review').result();
      const bySignal: Manifest = await client.workflow.getHandle('tote-bag-signal').result();
      expect(byUpdate.outcome).toBe('published');
      expect(byUpdate.review!.decisions[0]).toMatchObject({ action: 'approve', via: 'update', reviewer: 'ops', candidateIds: ['r1-c01'] });
      expect(new Set(byUpdate.assets.map((a) => a.candidateId))).toEqual(new Set(['r1-c01']));
      expect(bySignal.review!.decisions[0]).toMatchObject({ action: 'approve', via: 'signal', reviewer: 'ops', candidateIds: ['r1-c02'] });
    });
    const listed = commands.findIndex((c) => c.includes('DarkroomAwaitingReview = true'));
    expect(outputs[listed]).toContain('tote-bag-review');
    const queried = commands.findIndex((c) => c.includes('query --name status'));
    expect(outputs[queried]).toContain('r1-c01');
    expect(outputs.at(-1)).toContain('tote-bag-signal');
  });
});
