import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { validateBrief, type BriefInput } from '../../domain/brief';
import type { ImageGenerator } from '../../activities/providers';
import { LocalImageGenerator } from '../../activities/providers/local';
import { startBrief, type BriefHandle } from '../../client/briefs';
import { approveSignal, rejectSignal, requestChangesSignal, reviewUpdate, SA, statusQuery } from '../../workflows/messages';
import { closeTestConnection, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testWorkflowBundle, withWorker } from '../support/worker';
import { awaitingRound, testBrief, waitForStatus } from '../support/briefs';

const base: BriefInput = testBrief({ subject: 'a linen tote bag hanging on a wooden peg', brandColors: ['#2F4F4F', '#F5DEB3'], styleHints: ['minimal product photography'], lighting: 'soft daylight', lens: '50mm', candidates: 2, approval: 'human' });

let client: Client;
beforeAll(async () => {
  client = await testConnection();
  await testWorkflowBundle();
});
afterAll(closeTestConnection);


async function start(input: BriefInput, taskQueue: string, name: string): Promise<BriefHandle> {
  return (await startBrief(client, validateBrief(input), taskQueue, { workflowId: uniqueWorkflowId(`review-${name}`) })).handle;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
  return ((err as WorkflowUpdateFailedError).cause as Error).message;
}

describe('human review on a real dev server', () => {
  it('waits for a reviewer, marked in search attributes, and publishes only what was approved', async () => {
    const taskQueue = uniqueTaskQueue('review-approve');
    await withWorker({ taskQueue, dataDir: testDataDir('review-approve') }, async () => {
      const handle = await start(base, taskQueue, 'approve');
      const s = await waitForStatus(handle, awaitingRound(1), 'review');
      const desc = await handle.describe();
      expect(desc.typedSearchAttributes.get(SA.awaitingReview)).toBe(true);
      expect(desc.typedSearchAttributes.get(SA.stage)).toBe('review');
      expect(s.stage).toBe('review');
      expect(s.review!.candidates.map((c) => c.id)).toEqual(['r1-c01', 'r1-c02']);
      expect(s.review!.candidates.filter((c) => c.suggested)).toHaveLength(1);
      for (const c of s.review!.candidates) {
        expect(c.score).toBeGreaterThan(0);
        expect(c.reasons.length).toBeGreaterThan(0);
        expect(c.key).toContain('/candidates/');
      }
      const pick = s.review!.candidates.find((c) => !c.suggested)!.id; // the reviewer may overrule the judge
      const ack = await handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: [pick], reviewer: 'ana', comment: 'warmer one' }] });
      expect(ack).toEqual({ accepted: true, action: 'approve', round: 1 });
      const m = await handle.result();
      expect(m.outcome).toBe('published');
      expect(new Set(m.assets.map((a) => a.candidateId))).toEqual(new Set([pick]));
      expect(m.review!.outcome).toBe('approved');
      expect(m.review!.decisions).toHaveLength(1);
      expect(m.review!.decisions[0]).toMatchObject({ action: 'approve', reviewer: 'ana', via: 'update', round: 1, candidateIds: [pick], comment: 'warmer one' });
      expect(Date.parse(m.review!.decisions[0]!.at)).toBeGreaterThan(Date.now() - 120_000);
      const after = await handle.describe();
      expect(after.typedSearchAttributes.get(SA.awaitingReview)).toBe(false);
      expect(after.typedSearchAttributes.get(SA.stage)).toBe('done');
    });
  });

  it("refuses decisions a reviewer could not mean, in the reviewer's words, and keeps waiting", async () => {
    const taskQueue = uniqueTaskQueue('review-refuse');
    const slow: ImageGenerator = {
      name: 'slow-local',
      async generate(input) {
        await new Promise((r) => setTimeout(r, 1500));
        return new LocalImageGenerator().generate(input);
      },
    };
    await withWorker({ taskQueue, dataDir: testDataDir('review-refuse'), providers: { imageGenerators: { local: slow } } }, async () => {
      const handle = await start({ ...base, review: { maxRounds: 1 } }, taskQueue, 'refuse');
      await waitForStatus(handle, (s) => s.stage === 'generating', 'generation');
      expect(await refusal(handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: ['r1-c01'] }] }))).toBe('this brief is not waiting for review');
      await waitForStatus(handle, awaitingRound(1), 'review');
      const update = (d: unknown) => handle.executeUpdate(reviewUpdate, { args: [d as never] });
      expect(await refusal(update({ action: 'approve', candidateIds: ['r9-c99'] }))).toBe('unknown candidate r9-c99: choose from r1-c01, r1-c02');
      expect(await refusal(update({ action: 'approve', candidateIds: ['r1-c01', 'r1-c02'] }))).toBe('this brief ships at most 1 image (topK); you approved 2');
      expect(await refusal(update({ action: 'approve', candidateIds: [] }))).toMatch(/approve needs candidateIds/);
      expect(await refusal(update({ action: 'reject', reason: '   ' }))).toBe('reject needs a reason');
      expect(await refusal(update({ action: 'requestChanges', feedback: '' }))).toBe('requestChanges needs feedback saying what to change');
      expect(await refusal(update({ action: 'requestChanges', feedback: 'more light' }))).toBe('no revision rounds left (this is round 1 of 1): approve or reject');
      expect(await refusal(update({ action: 'ship-it' }))).toBe('action must be one of approve, reject, requestChanges');
      const s = await handle.query(statusQuery);
      expect(s.review!.awaiting).toBe(true);
      expect(s.review!.decisions).toEqual([]);
      // Refused updates leave no trace in history.
      const history = await handle.fetchHistory();
      expect(history.events!.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes)).toHaveLength(0);
      await handle.executeUpdate(reviewUpdate, { args: [{ action: 'reject', reason: 'not on brief', reviewer: 'bo' }] });
      const m = await handle.result();
      expect(m.outcome).toBe('rejected');
    });
  });

  it('records and ignores a bad signal, then takes a good one (as from the Temporal UI)', async () => {
    const taskQueue = uniqueTaskQueue('review-signal');
    await withWorker({ taskQueue, dataDir: testDataDir('review-signal') }, async () => {
      const handle = await start(base, taskQueue, 'signal');
      const s = await waitForStatus(handle, awaitingRound(1), 'review');
      await handle.signal(approveSignal, { candidateIds: ['nope'], reviewer: 'cy' });
      await handle.signal(approveSignal, 'r1-c01' as never);
      const after = await waitForStatus(handle, (x) => (x.review?.ignoredSignals.length ?? 0) === 2, 'ignored signals');
      expect(after.review!.ignoredSignals[0]).toMatchObject({ signal: 'approve', round: 1, reason: expect.stringMatching(/unknown candidate nope/) });
      expect(after.review!.ignoredSignals[1]!.reason).toMatch(/must be an object/);
      expect(after.review!.awaiting).toBe(true);
      const top = s.review!.candidates.find((c) => c.suggested)!.id;
      await handle.signal(approveSignal, { candidateIds: [top], reviewer: 'cy' });
      const m = await handle.result();
      expect(m.outcome).toBe('published');
      expect(m.review!.decisions[0]).toMatchObject({ action: 'approve', via: 'signal', reviewer: 'cy', candidateIds: [top] });
      expect(m.review!.ignoredSignals).toHaveLength(2);
    });
  });

  it('rejects through a signal with a clear outcome recorded in the manifest', async () => {
    const taskQueue = uniqueTaskQueue('review-reject');
    await withWorker({ taskQueue, dataDir: testDataDir('review-reject') }, async () => {
      const handle = await start(base, taskQueue, 'reject');
      await waitForStatus(handle, awaitingRound(1), 'review');
      await handle.signal(rejectSignal, { reason: 'the bag looks plastic', reviewer: 'dee' });
      const m = await handle.result();
      expect(m.outcome).toBe('rejected');
      expect(m.assets).toEqual([]);
      expect(m.rejection).toMatchObject({ reviewer: 'dee', reason: 'the bag looks plastic' });
      expect(m.review).toMatchObject({ outcome: 'rejected', decisions: [{ action: 'reject', via: 'signal', reviewer: 'dee' }] });
      expect((await handle.describe()).typedSearchAttributes.get(SA.stage)).toBe('rejected');
    });
  });

  it('loops back on requested changes: a new prompt version, a new round, earlier rounds still visible', async () => {
    const taskQueue = uniqueTaskQueue('review-revise');
    await withWorker({ taskQueue, dataDir: testDataDir('review-revise') }, async () => {
      const handle = await start({ ...base, review: { maxRounds: 2 } }, taskQueue, 'revise');
      const r1 = await waitForStatus(handle, awaitingRound(1), 'round 1');
      await handle.signal(requestChangesSignal, { feedback: 'Show the bag fuller, with a folded scarf inside.', keep: ['r1-c02'], reviewer: 'eve' });
      const r2 = await waitForStatus(handle, awaitingRound(2), 'round 2');
      expect(r2.review!.prompt.version).not.toBe(r1.review!.prompt.version);
      expect(r2.review!.prompt.text).toContain('Revision notes: Show the bag fuller, with a folded scarf inside.');
      expect(r2.review!.candidates.map((c) => c.id)).toEqual(['r1-c01', 'r1-c02', 'r2-c01', 'r2-c02']);
      expect(r2.review!.reviewable).toEqual(['r1-c02', 'r2-c01', 'r2-c02']);
      expect(r2.review!.candidates.filter((c) => c.round === 2).every((c) => c.promptVersion === r2.review!.prompt.version)).toBe(true);
      expect(await refusal(handle.executeUpdate(reviewUpdate, { args: [{ action: 'requestChanges', feedback: 'again' }] }))).toMatch(/no revision rounds left/);
      await handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: ['r2-c01'], reviewer: 'eve' }] });
      const m = await handle.result();
      expect(m.rounds).toBe(2);
      expect(m.candidates).toHaveLength(4);
      expect(m.selected.map((c) => [c.id, c.promptVersion])).toEqual([['r2-c01', r2.review!.prompt.version]]);
      expect(m.assets.every((a) => a.prompt.includes('Revision notes'))).toBe(true);
      expect(m.review!.decisions.map((d) => d.action)).toEqual(['requestChanges', 'approve']);
      expect(m.review!.decisions[0]).toMatchObject({ feedback: 'Show the bag fuller, with a folded scarf inside.', keep: ['r1-c02'], round: 1 });
    });
  });

  describe('review deadline policies', () => {
    it('approveTop ships the judge’s top K when nobody decides', async () => {
      const taskQueue = uniqueTaskQueue('review-deadline-approve');
      await withWorker({ taskQueue, dataDir: testDataDir('deadline-approve') }, async () => {
        const handle = await start({ ...base, review: { deadline: '2s', onDeadline: 'approveTop' } }, taskQueue, 'deadline-approve');
        const s = await waitForStatus(handle, awaitingRound(1), 'review');
        const top = s.review!.candidates.find((c) => c.suggested)!.id;
        const m = await handle.result();
        expect(m.outcome).toBe('published');
        expect(m.review!.outcome).toBe('deadline-approved');
        expect(m.review!.decisions[0]).toMatchObject({ action: 'approve', via: 'deadline', reviewer: 'darkroom', candidateIds: [top] });
      });
    });

    it('fail ends the brief with a clear failure', async () => {
      const taskQueue = uniqueTaskQueue('review-deadline-fail');
      await withWorker({ taskQueue, dataDir: testDataDir('deadline-fail') }, async () => {
        const handle = await start({ ...base, review: { deadline: '1s', onDeadline: 'fail' } }, taskQueue, 'deadline-fail');
        const err = await handle.result().then(() => undefined, (e: unknown) => e);
        expect(err).toBeInstanceOf(WorkflowFailedError);
        const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
        expect(cause.type).toBe('ReviewDeadlineExceeded');
        expect(cause.message).toBe('no review decision within 1s (review.onDeadline is "fail")');
      });
    });

    it('remind sends signed notifications and keeps waiting', async () => {
      const secret = 'test-secret-0123456789';
      const received: Array<{ body: string; signature?: string }> = [];
      const server: Server = createServer((req, res) => {
        let body = '';
        req.on('data', (c) => (body += c));
        req.on('end', () => {
          received.push({ body, signature: req.headers['x-darkroom-signature'] as string | undefined });
          res.end('ok');
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
      const taskQueue = uniqueTaskQueue('review-deadline-remind');
      try {
        await withWorker({ taskQueue, dataDir: testDataDir('deadline-remind'), env: { DARKROOM_NOTIFY_WEBHOOK: url, DARKROOM_NOTIFY_SECRET: secret } }, async () => {
          const handle = await start({ ...base, review: { deadline: '1s', onDeadline: 'remind' } }, taskQueue, 'deadline-remind');
          const s = await waitForStatus(handle, (x) => (x.review?.remindersSent ?? 0) >= 2, 'two reminders');
          expect(s.review!.awaiting).toBe(true);
          await waitForStatus(handle, () => received.length >= 3, 'webhook calls').catch(() => undefined);
          const events = received.map((r) => JSON.parse(r.body).darkroom.event);
          expect(events[0]).toBe('review.awaiting');
          expect(events.filter((e) => e === 'review.reminder').length).toBeGreaterThanOrEqual(2);
          for (const r of received) {
            expect(r.signature).toBe(`sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`);
            expect(JSON.parse(r.body).text).toMatch(/linen tote bag/);
          }
          await handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: [s.review!.candidates[0]!.id], reviewer: 'fay' }] });
          const m = await handle.result();
          expect(m.review!.remindersSent).toBeGreaterThanOrEqual(2);
        });
      } finally {
        server.close();
      }
    });
  });

  it('keeps waiting through a worker restart and completes on the new worker', async () => {
    const taskQueue = uniqueTaskQueue('review-restart');
    const dataDir = testDataDir('review-restart');
    const handle = await withWorker({ taskQueue, dataDir }, async () => {
      const h = await start(base, taskQueue, 'restart');
      await waitForStatus(h, awaitingRound(1), 'review');
      return h;
    });
    // No worker now: the brief waits durably on the server.
    expect((await handle.describe()).status.name).toBe('RUNNING');
    await withWorker({ taskQueue, dataDir }, async () => {
      const s = await waitForStatus(handle, awaitingRound(1), 'review after restart');
      await handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: [s.review!.candidates[0]!.id], reviewer: 'gus' }] });
      const m = await handle.result();
      expect(m.outcome).toBe('published');
      expect(m.candidates.every((c) => c.reused === false)).toBe(true);
    });
  });
});
