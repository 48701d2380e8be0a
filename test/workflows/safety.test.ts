import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import type { ApplicationFailure } from '@temporalio/common';
import { validateBrief, type BriefInput } from '../../domain/brief';
import type { JudgeVerdict, Manifest } from '../../domain/types';
import { FsBlobStore } from '../../activities/blob-store';
import type { ImageGenerator, VisionJudge } from '../../activities/providers';
import { LocalImageGenerator, LocalVisionJudge } from '../../activities/providers/local';
import { startBrief } from '../../client/briefs';
import { statusBlock } from '../../client/render';
import { reviewUpdate, statusQuery } from '../../workflows/messages';
import { startFakeOpenAI } from '../providers/fake-openai';
import { awaitingRound, testBrief, waitForStatus } from '../support/briefs';
import { closeTestConnection, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testWorkflowBundle, withWorker } from '../support/worker';

/** The offline generator, counting its calls: a refused brief must never reach it. */
function countingGenerator(): ImageGenerator & { calls: number } {
  const inner = new LocalImageGenerator();
  const g = {
    name: 'counting-local',
    calls: 0,
    async generate(input: Parameters<ImageGenerator['generate']>[0]) {
      g.calls++;
      return inner.generate(input);
    },
  };
  return g;
}

/** The offline judge's measurements, with the score and verdict a test sets per candidate: a stand-in for a vision judge. */
function verdictJudge(set: (id: string) => { score?: number; verdict?: JudgeVerdict }): VisionJudge {
  const local = new LocalVisionJudge();
  return {
    name: 'test-vision-judge',
    async judge(input) {
      const out = await local.judge(input);
      return {
        ...out,
        judgements: out.judgements.map((j) => {
          const s = set(j.candidateId);
          return { ...j, judge: 'test-vision-judge', ...(s.score === undefined ? {} : { score: s.score }), ...(s.verdict ? { verdict: s.verdict } : {}) };
        }),
      };
    },
  };
}

const failureOf = async (p: Promise<unknown>): Promise<ApplicationFailure> => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(WorkflowFailedError);
  return (err as WorkflowFailedError).cause as ApplicationFailure;
};

const storedManifest = async (dataDir: string, m: Manifest) =>
  JSON.parse((await new FsBlobStore(path.join(dataDir, 'blobs')).get(m.manifestKey)).toString()) as Manifest;

beforeAll(async () => {
  await testWorkflowBundle();
});
afterAll(closeTestConnection);

describe('prompt moderation before any spend', () => {
  it('offline: a brief with a listed word is refused (PromptRefused, not retried) before any generator call, with the category in status', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('safety-refuse');
    const gen = countingGenerator();
    const brief = validateBrief(testBrief({ subject: 'a glass bottle of olive oil in a pool of gore' }));
    await withWorker({ taskQueue, dataDir: testDataDir('safety-refuse'), providers: { imageGenerators: { local: gen } } }, async () => {
      const { handle } = await startBrief(client, brief, taskQueue, { workflowId: uniqueWorkflowId('safety-refuse') });
      const cause = await failureOf(handle.result());
      expect(cause.type).toBe('PromptRefused');
      expect(cause.nonRetryable).toBe(true);
      expect(cause.message).toMatch(/^prompt refused by moderation \(word-list\): violence\/graphic in prompt, subject\. Nothing was generated or paid for/);
      const status = await handle.query(statusQuery);
      expect(status.stage).toBe('failed');
      expect(statusBlock(status)).toContain('failed — prompt refused by moderation (word-list): violence/graphic');
      expect(status.cost.actualUsd).toBe(0);
    });
    expect(gen.calls).toBe(0);
  });

  it('offline: a clean brief passes, and the manifest records that the check ran and which checker', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('safety-pass');
    const dataDir = testDataDir('safety-pass');
    // "gore" only as a must-avoid: asking to keep it out is not asking for it.
    const brief = validateBrief(testBrief({ mustAvoid: ['text', 'gore'], candidates: 2 }));
    const m = await withWorker({ taskQueue, dataDir }, async () => {
      const { handle } = await startBrief(client, brief, taskQueue, { workflowId: uniqueWorkflowId('safety-pass') });
      return handle.result();
    });
    expect(m.outcome).toBe('published');
    expect(m.moderation).toEqual([expect.objectContaining({ promptVersion: m.prompt.version, checker: 'word-list', flagged: false, categories: [], costUsd: 0 })]);
    expect((await storedManifest(dataDir, m)).moderation).toEqual(m.moderation);
    expect(m.timings.map((t) => t.stage)).toContain('moderate');
    expect(m.judgeUnchecked.some((u) => u.startsWith('safety: not checked'))).toBe(true);
  });

  it('with an OpenAI key: the moderation model refuses a flagged prompt before any image request, and the key stays out', async () => {
    const KEY = 'sk-test-darkroom-safety-0123456789abcdef';
    const fake = await startFakeOpenAI({ apiKey: KEY });
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('safety-openai');
    const env = { OPENAI_API_KEY: KEY, OPENAI_BASE_URL: fake.baseURL, DARKROOM_OPENAI_RPM: '6000' };
    try {
      await withWorker({ taskQueue, dataDir: testDataDir('safety-openai'), env }, async () => {
        const brief = validateBrief(testBrief({ textInImage: 'SPRING SALE', mustInclude: ['a severed hand'] }));
        const { handle } = await startBrief(client, brief, taskQueue, { workflowId: uniqueWorkflowId('safety-openai') });
        const cause = await failureOf(handle.result());
        expect(cause.type).toBe('PromptRefused');
        expect(cause.message).toMatch(/^prompt refused by moderation \(openai:omni-moderation-latest\): violence\/graphic in prompt, mustInclude\[0\]/);
        const history = JSON.stringify(await handle.fetchHistory());
        expect(history).not.toContain(KEY);
      });
      const paths = fake.requests().map((r) => r.path);
      expect(paths).toContain('/v1/moderations');
      expect(paths).not.toContain('/v1/images/generations');
    } finally {
      await fake.close();
    }
  });
});

describe('prompt moderation of a revision', () => {
  it('a reviewer\'s feedback that makes the prompt disallowed refuses the brief before round 2 is generated', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('safety-revision');
    const gen = countingGenerator();
    const brief = validateBrief(testBrief({ approval: 'human', candidates: 2, review: { deadline: '10m' } }));
    await withWorker({ taskQueue, dataDir: testDataDir('safety-revision'), providers: { imageGenerators: { local: gen } } }, async () => {
      const { handle } = await startBrief(client, brief, taskQueue, { workflowId: uniqueWorkflowId('safety-revision') });
      await waitForStatus(handle, awaitingRound(1), 'review');
      await handle.executeUpdate(reviewUpdate, { args: [{ action: 'requestChanges', feedback: 'Make it a beheading scene.', reviewer: 'mallory' }] });
      const cause = await failureOf(handle.result());
      expect(cause.type).toBe('PromptRefused');
      expect(cause.message).toMatch(/^prompt refused by moderation \(word-list\): violence\/graphic in prompt\./);
    });
    expect(gen.calls).toBe(2);
  });
});

describe('the judge\'s verdict vetoes candidates', () => {
  it('an unsafe candidate is never selected, however it scores, and the manifest says why', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('safety-veto');
    const dataDir = testDataDir('safety-veto');
    // r1-c01 scores best but is unsafe; r1-c02 shows a must-avoid item; r1-c03 is fine.
    const judge = verdictJudge((id) => ({
      'r1-c01': { score: 99, verdict: { safe: false, reasons: ['graphic injury'] } },
      'r1-c02': { score: 95, verdict: { safe: true, mustAvoidHit: ['text'], reasons: [] } },
      'r1-c03': { score: 50, verdict: { safe: true, reasons: [] } },
    })[id]!);
    const m = await withWorker({ taskQueue, dataDir, providers: { judge } }, async () => {
      const { handle } = await startBrief(client, validateBrief(testBrief({ candidates: 3, topK: 1 })), taskQueue, { workflowId: uniqueWorkflowId('safety-veto') });
      const done = await handle.result();
      expect((await handle.query(statusQuery)).candidates).toMatchObject({ generated: 3, judged: 3, rejected: 2, selected: 1 });
      return done;
    });
    expect(m.selected.map((s) => s.id)).toEqual(['r1-c03']);
    expect(m.selected[0]!.judge.verdict).toEqual({ safe: true, reasons: [] });
    expect(m.rejectedCandidates).toEqual([
      { id: 'r1-c01', round: 1, index: 0, type: 'JudgeRejected', reason: 'rejected by test-vision-judge: unsafe (graphic injury)' },
      { id: 'r1-c02', round: 1, index: 1, type: 'JudgeRejected', reason: 'rejected by test-vision-judge: shows must-avoid "text"' },
    ]);
    expect(m.candidates.find((c) => c.id === 'r1-c01')!.verdict).toMatchObject({ safe: false });
    expect((await storedManifest(dataDir, m)).rejectedCandidates).toHaveLength(2);
  });

  it('when the judge rejects every candidate, the brief fails as when the provider refuses them all', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('safety-veto-all');
    const judge = verdictJudge(() => ({ verdict: { safe: false, reasons: ['nudity'] } }));
    await withWorker({ taskQueue, dataDir: testDataDir('safety-veto-all'), providers: { judge } }, async () => {
      const { handle } = await startBrief(client, validateBrief(testBrief({ candidates: 2 })), taskQueue, { workflowId: uniqueWorkflowId('safety-veto-all') });
      const cause = await failureOf(handle.result());
      expect(cause.type).toBe('AllCandidatesRejected');
      expect(cause.nonRetryable).toBe(true);
      expect(cause.message).toBe('every candidate was rejected by the judge: rejected by test-vision-judge: unsafe (nudity)');
    });
  });
});

describe('approval when-unsure', () => {
  const unsureBrief = (over: Partial<BriefInput> = {}) => validateBrief(testBrief({ approval: 'when-unsure', candidates: 2, topK: 1, review: { deadline: '10m' }, ...over }));

  it('ships without a person when the judge is sure, safe and above the confident score', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('safety-sure');
    const judge = verdictJudge((id) => ({ score: id === 'r1-c01' ? 88 : 60, verdict: { safe: true, reasons: [] } }));
    const m = await withWorker({ taskQueue, dataDir: testDataDir('safety-sure'), providers: { judge } }, async () => {
      const { handle } = await startBrief(client, unsureBrief(), taskQueue, { workflowId: uniqueWorkflowId('safety-sure') });
      return handle.result();
    });
    expect(m.outcome).toBe('published');
    expect(m.review).toBeUndefined();
    expect(m.selected.map((s) => s.id)).toEqual(['r1-c01']);
    expect(m.autoApproval).toEqual({ confident: true, round: 1, reason: 'r1-c01 (88): sure, safe, and at least 70' });
  });

  it('waits for a person when the judge is unsure, then goes on as a human review', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('safety-unsure');
    const judge = verdictJudge((id) => ({ score: 90, verdict: { safe: true, unsure: id === 'r1-c01', reasons: id === 'r1-c01' ? ['cannot tell if the label is readable'] : [] } }));
    const m = await withWorker({ taskQueue, dataDir: testDataDir('safety-unsure'), providers: { judge } }, async () => {
      const { handle } = await startBrief(client, unsureBrief(), taskQueue, { workflowId: uniqueWorkflowId('safety-unsure') });
      const s = await waitForStatus(handle, awaitingRound(1), 'review');
      expect(s.approval).toBe('when-unsure');
      expect(s.stage).toBe('review');
      expect(s.review!.candidates.find((c) => c.id === 'r1-c01')!.verdict).toMatchObject({ unsure: true });
      await handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: ['r1-c02'], reviewer: 'ana' }] });
      return handle.result();
    });
    expect(m.outcome).toBe('published');
    expect(m.selected.map((s) => s.id)).toEqual(['r1-c02']);
    expect(m.review?.decisions.map((d) => [d.action, d.reviewer])).toEqual([['approve', 'ana']]);
    expect(m.autoApproval).toEqual({ confident: false, round: 1, reason: 'test-vision-judge is unsure about r1-c01: cannot tell if the label is readable' });
  });

  it('waits for a person when the score is under the brief\'s confident score, or the judge gives no verdict (offline)', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('safety-low');
    const judge = verdictJudge(() => ({ score: 80, verdict: { safe: true, reasons: [] } }));
    await withWorker({ taskQueue, dataDir: testDataDir('safety-low'), providers: { judge } }, async () => {
      const { handle } = await startBrief(client, unsureBrief({ review: { deadline: '10m', confidentScore: 85 } }), taskQueue, { workflowId: uniqueWorkflowId('safety-low') });
      await waitForStatus(handle, awaitingRound(1), 'review');
      await handle.executeUpdate(reviewUpdate, { args: [{ action: 'reject', reason: 'not this time', reviewer: 'ana' }] });
      const m = await handle.result();
      expect(m.outcome).toBe('rejected');
      expect(m.autoApproval?.reason).toMatch(/scores 80, below the confident score of 85/);
    });
    const offline = uniqueTaskQueue('safety-offline');
    await withWorker({ taskQueue: offline, dataDir: testDataDir('safety-offline') }, async () => {
      const { handle } = await startBrief(client, unsureBrief(), offline, { workflowId: uniqueWorkflowId('safety-offline') });
      const s = await waitForStatus(handle, awaitingRound(1), 'review');
      const pick = s.review!.candidates.find((c) => c.suggested)!.id;
      await handle.executeUpdate(reviewUpdate, { args: [{ action: 'approve', candidateIds: [pick], reviewer: 'ana' }] });
      const m = await handle.result();
      expect(m.autoApproval?.reason).toBe(`local-judge gives no safety verdict for ${pick}, so a person decides`);
    });
  });
});
