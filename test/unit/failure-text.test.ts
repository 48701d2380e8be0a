/**
 * describeFailure on failures built exactly as the client receives them (the classes from
 * @temporalio/common, nested by `cause`), for the shapes a real run is unlikely to hit in tests.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, RetryState, TerminatedFailure, TimeoutFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { describeFailure, describeUnexpected } from '../../client/briefs';

const workflowFailed = (cause: Error) => new WorkflowFailedError('Workflow execution failed', cause, RetryState.NON_RETRYABLE_FAILURE);
const activity = (cause: Error, type = 'generateCandidate', retry: RetryState = RetryState.MAXIMUM_ATTEMPTS_REACHED) =>
  new ActivityFailure('Activity task failed', type, '3', retry, 'worker@host', cause);

describe('describeFailure', () => {
  it('leads with the vendor failure, then where it happened, then causes that add something', () => {
    const sdk = ApplicationFailure.create({ message: '503 upstream connect error', type: 'InternalServerError' });
    const mapped = ApplicationFailure.create({ message: 'OpenAI images (HTTP 503): upstream connect error', type: 'ProviderUnavailableError', cause: sdk });
    const app = ApplicationFailure.create({ message: 'openai: OpenAI images (HTTP 503): upstream connect error', type: 'ProviderUnavailable', cause: mapped });
    expect(describeFailure(workflowFailed(activity(app)))).toBe(
      [
        'ProviderUnavailable: openai: OpenAI images (HTTP 503): upstream connect error',
        '    in activity generateCandidate (after its last retry)',
        '    cause: InternalServerError: 503 upstream connect error',
      ].join('\n'),
    );
  });

  it('follows a catalog row into its child workflow', () => {
    const app = ApplicationFailure.create({ message: 'forecast cost $9.00 exceeds the budget of $5.00', type: 'OverBudget', nonRetryable: true });
    const child = new ChildWorkflowFailure('default', { workflowId: 'catalog-shop/SKU-1', runId: 'r' }, 'briefWorkflow', RetryState.NON_RETRYABLE_FAILURE, app);
    expect(describeFailure(workflowFailed(child))).toBe(
      ['OverBudget: forecast cost $9.00 exceeds the budget of $5.00', '    in child workflow catalog-shop/SKU-1 (briefWorkflow) (not retried: the failure is permanent)'].join('\n'),
    );
  });

  it('lists an invalid brief field by field, at most 20', () => {
    const issues = Array.from({ length: 30 }, (_, i) => ({ field: `mustInclude[${i}]`, message: 'must not be empty' }));
    const app = ApplicationFailure.create({ message: 'invalid brief', type: 'InvalidBrief', nonRetryable: true, details: [issues] });
    const text = describeFailure(workflowFailed(app));
    expect(text.split('\n')[0]).toBe('invalid brief:');
    expect(text).toContain('  • mustInclude[19]: must not be empty');
    expect(text).not.toContain('mustInclude[20]');
    expect(text).toContain('  … and 10 more');
  });

  it('says what timed out or ended a run, and clips huge messages', () => {
    expect(describeFailure(workflowFailed(activity(new TimeoutFailure(undefined, undefined, 'HEARTBEAT'), 'upscale', RetryState.TIMEOUT)))).toBe(
      ['timed out (HEARTBEAT)', '    in activity upscale (its retries ran out of time)'].join('\n'),
    );
    expect(describeFailure(workflowFailed(new TerminatedFailure('by operator', undefined)))).toBe('terminated: by operator');
    const huge = ApplicationFailure.create({ message: 'x'.repeat(5_000_000), type: 'ProviderUnavailable' });
    const text = describeFailure(workflowFailed(activity(huge)));
    expect(text.length).toBeLessThan(1200);
    expect(text).toContain('(5000000 chars)');
  });

  it('describes an error outside Temporal by its message', () => {
    expect(describeFailure(new Error('socket hang up'))).toBe('socket hang up');
  });
});

describe('describeUnexpected', () => {
  it('is one line without the stack, and the stack when debugging', () => {
    const err = new TypeError('boom\n  on two lines');
    expect(describeUnexpected(err, false)).toBe('darkroom: unexpected error: TypeError: boom on two lines (run with DARKROOM_DEBUG=1 for the details)');
    expect(describeUnexpected(err, true)).toContain('\n    at ');
  });
});
