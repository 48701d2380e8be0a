import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Worker } from '@temporalio/worker';
import { testWorkflowBundle } from '../support/worker';

const dir = path.resolve('test/replay/histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();

describe('recorded histories replay on the current workflow code', () => {
  it('has recorded histories to replay', () => {
    expect(files).toEqual(expect.arrayContaining([
      'brief-published.json', 'brief-score-gate.json', 'brief-invalid-input.json', 'brief-human-review.json', 'catalog-continue-as-new.json',
      'brief-deadline-approve-top.json', 'brief-deadline-remind.json', 'brief-fallback.json', 'brief-raise-budget.json',
      'catalog-last-run.json', 'catalog-cancelled.json', 'brief-webhooks.json', 'brief-prompt-refused.json', 'brief-when-unsure.json',
      'brief-provider-retries.json', 'brief-revision-rounds.json',
    ]));
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
