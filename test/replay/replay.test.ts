import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { testWorkflowBundle } from '../support/worker';

const dir = path.resolve('test/replay/histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

describe('recorded histories replay on the current workflow code', () => {
  it('has recorded histories to replay, from before the brief\'s local steps and after', () => {
    const cases = [
      'brief-published', 'brief-score-gate', 'brief-invalid-input', 'brief-human-review', 'catalog-continue-as-new',
      'brief-deadline-approve-top', 'brief-deadline-remind', 'brief-fallback', 'brief-raise-budget',
      'catalog-last-run', 'catalog-cancelled', 'brief-webhooks', 'brief-prompt-refused', 'brief-when-unsure',
      'brief-provider-retries', 'brief-revision-rounds',
    ];
    expect(files).toEqual(expect.arrayContaining(cases.map((c) => `${c}.json`)));
    expect(files).toEqual(expect.arrayContaining(cases.map((c) => `${c}.local-steps.json`)));
  });

  for (const file of files) {
    it(`replays ${file} without a determinism error`, async () => {
      const history = JSON.parse(readFileSync(path.join(dir, file), 'utf8'));
      await expect(
        Worker.runReplayHistory({ workflowBundle: await testWorkflowBundle() }, history, `replay-${file.replace(/\.json$/, '')}`),
      ).resolves.toBeUndefined();
    });
  }
});
