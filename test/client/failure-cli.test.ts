/**
 * What `darkroom run`, `result` and `status` say when a brief fails for real: a named model
 * whose vendor refuses the key (a local server that speaks OpenAI's wire format). A person must
 * read the provider, the HTTP status and the vendor's message, never the key, never only
 * "Activity task failed".
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../client/cli';
import { CONTROL_CHARS } from '../../domain/text';
import { startFakeOpenAI } from '../providers/fake-openai';
import { testBrief, waitFor } from '../support/briefs';
import { closeTestConnection, testAddress, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testWorkflowBundle, withWorker } from '../support/worker';

const KEY = 'sk-test-darkroom-failure-0123456789';

beforeAll(async () => {
  await testWorkflowBundle();
});
afterAll(closeTestConnection);

describe('a brief whose named model fails', () => {
  it('prints the root cause: failure type, provider, HTTP status, the vendor message, where it happened', async () => {
    const fake = await startFakeOpenAI({ imageFaults: () => 'badKey' });
    const taskQueue = uniqueTaskQueue('fail-cli');
    const dataDir = testDataDir('fail-cli');
    const env = { TEMPORAL_ADDRESS: testAddress(), DARKROOM_TASK_QUEUE: taskQueue, DARKROOM_DATA_DIR: dataDir };
    const run = async (...argv: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(argv, env, { out: (s) => out.push(s), err: (s) => err.push(s) });
      return { code, out: out.join('\n'), err: err.join('\n') };
    };
    const file = path.join(dataDir, 'named-model.json');
    writeFileSync(file, JSON.stringify(testBrief({ id: `named-${taskQueue.slice(-8)}`, model: 'gpt-image-1.5', candidates: 1 })));
    try {
      const workerEnv = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.baseURL, DARKROOM_RETRY_INITIAL: '100ms' };
      const ran = await withWorker({ taskQueue, dataDir, env: workerEnv }, () => run('run', file));
      expect(ran.code).toBe(1);
      const workflowId = /started (\S+)/.exec(ran.err)![1]!;
      const failed = ran.err.slice(ran.err.indexOf('✘'));
      expect(failed).toMatch(new RegExp(`^✘ ${workflowId} failed: Authentication: openai: OpenAI .*\\(HTTP 401, invalid_api_key\\): Incorrect API key provided`));
      expect(failed).toMatch(/\n {4}in activity generateCandidate \(not retried: the failure is permanent\)/);
      expect(failed).not.toContain(KEY);
      expect(failed).not.toMatch(CONTROL_CHARS);

      const result = await run('result', workflowId);
      expect(result.code).toBe(1);
      expect(result.err).toContain(failed);

      // An id no workflow has is bad input, as `status` says it: exit 2, not "failed".
      const unknown = await run('result', `${workflowId}-nope`);
      expect(unknown.code).toBe(2);
      expect(unknown.err).toContain(`no workflow ${workflowId}-nope in namespace`);
      expect(unknown.err).not.toContain('failed');

      const status = await run('status', workflowId);
      expect(status.code).toBe(0);
      expect(status.out).toMatch(/^temporal {3}FAILED /);
      expect(status.out).toMatch(/\nfailure {4}Authentication: openai: OpenAI .*HTTP 401.*Incorrect API key provided/);
      expect(status.out).toContain('in activity generateCandidate');
      expect(status.out).not.toContain(KEY);
      const json = JSON.parse((await run('status', workflowId, '--json')).out);
      expect(json).toMatchObject({ temporalStatus: 'FAILED', failure: expect.stringMatching(/^Authentication: openai: .*HTTP 401/) });
    } finally {
      await fake.close();
    }
  });

  it('says when a workflow task keeps failing, with its failure, rather than a bare RUNNING', async () => {
    const taskQueue = uniqueTaskQueue('stuck-cli');
    const dataDir = testDataDir('stuck-cli');
    const env = { TEMPORAL_ADDRESS: testAddress(), DARKROOM_TASK_QUEUE: taskQueue, DARKROOM_DATA_DIR: dataDir };
    const client = await testConnection();
    await withWorker({ taskQueue, dataDir }, async () => {
      // A workflow type no worker has: its first task fails, and is retried until one does.
      const handle = await client.workflow.start('noSuchWorkflow', { taskQueue, workflowId: uniqueWorkflowId('stuck'), args: [] });
      try {
        await waitFor('the task to fail', async () => (((await handle.describe()).raw.pendingWorkflowTask?.attempt ?? 0) >= 2 ? true : undefined));
        const out: string[] = [];
        const code = await main(['status', handle.workflowId], env, { out: (s) => out.push(s), err: () => undefined });
        expect(code).toBe(0);
        expect(out.join('\n')).toMatch(/^temporal {3}RUNNING .*\nstuck {6}its workflow task has failed \d+ times? and is retried until a worker can run it: .*noSuchWorkflow/s);
      } finally {
        await handle.terminate('test done');
      }
    });
  });
});

