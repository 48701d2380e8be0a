/**
 * The `darkroom` review commands against a real dev server and worker: list, show, approve,
 * reject, revise, bulk-approve and the reviewer tool's own command.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateBrief, type BriefInput } from '../../domain/brief';
import type { BriefStatus, Manifest } from '../../domain/types';
import { startBrief, type BriefHandle } from '../../client/briefs';
import { main } from '../../client/cli';
import { statusQuery } from '../../workflows/messages';
import { closeTestConnection, testAddress, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';
import { testWorkflowBundle, withWorker } from '../support/worker';
import { testBrief, waitFor } from '../support/briefs';

const base: BriefInput = testBrief({ subject: 'a ceramic mug of coffee on a wooden desk', brandColors: ['#3B2F2F', '#F5F0E1'], lens: '50mm', candidates: 2, approval: 'human' });

beforeAll(async () => {
  await testWorkflowBundle();
});
afterAll(closeTestConnection);


const awaitingRound = (handle: BriefHandle, round: number) =>
  waitFor(`${handle.workflowId} awaiting review of round ${round}`, async () => {
    const s: BriefStatus = await handle.query(statusQuery);
    return s.review?.awaiting && s.review.round === round ? s : undefined;
  });

describe('darkroom review commands on a real dev server', () => {
  it('lists, shows, refuses, revises, rejects and bulk-approves briefs', async () => {
    const client = await testConnection();
    const taskQueue = uniqueTaskQueue('review-cli');
    const dataDir = testDataDir('review-cli');
    const env = { TEMPORAL_ADDRESS: testAddress(), DARKROOM_TASK_QUEUE: taskQueue, DARKROOM_DATA_DIR: dataDir, USER: 'cli-tester' };
    const run = async (...argv: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(argv, env, { out: (s) => out.push(s), err: (s) => err.push(s) });
      return { code, out: out.join('\n'), err: err.join('\n') };
    };

    await withWorker({ taskQueue, dataDir }, async () => {
      const a = (await startBrief(client, validateBrief(base), taskQueue, { workflowId: uniqueWorkflowId('brief-mug') })).handle;
      const b = (await startBrief(client, validateBrief({ ...base, subject: 'a striped umbrella on a beach' }), taskQueue, { workflowId: uniqueWorkflowId('brief-umbrella') })).handle;
      await awaitingRound(a, 1);
      await awaitingRound(b, 1);

      // list: visibility trails the workflows by a moment.
      const listed = await waitFor('both briefs listed', async () => {
        const r = await run('review', 'list', '--json');
        const ids = (JSON.parse(r.out) as Array<{ workflowId: string }>).map((x) => x.workflowId);
        return ids.includes(a.workflowId) && ids.includes(b.workflowId) ? (JSON.parse(r.out) as Array<Record<string, unknown>>) : undefined;
      });
      expect(listed).toHaveLength(2);
      expect(listed.find((x) => x.workflowId === a.workflowId)).toMatchObject({ subject: base.subject, round: 1, maxRounds: 3, candidates: 2, reviewable: ['r1-c01', 'r1-c02'], topScore: expect.any(Number) });
      const text = await run('review', 'list');
      expect(text.code).toBe(0);
      expect(text.out).toContain('2 briefs awaiting review');
      expect(text.out).toContain(base.subject);
      const filtered = await run('review', 'list', '--json', '--filter', `WorkflowId = '${a.workflowId}'`);
      expect((JSON.parse(filtered.out) as Array<{ workflowId: string }>).map((x) => x.workflowId)).toEqual([a.workflowId]);
      const badFilter = await run('review', 'list', '--filter', "NoSuchAttribute = 'x'");
      expect(badFilter.code).toBe(2);
      expect(badFilter.err).toMatch(/Temporal refused the filter: .*NoSuchAttribute/);

      // show
      const shown = await run('review', 'show', a.workflowId);
      expect(shown.code).toBe(0);
      expect(shown.out).toContain('state      awaiting review — round 1 of 3, approve up to 1');
      expect(shown.out).toMatch(/r1-c01 +\d+\/100 +rank [12] of 2/);
      expect(shown.out).toContain(`darkroom approve ${a.workflowId} r1-c0`);
      const shownJson = JSON.parse((await run('review', 'show', a.workflowId, '--json')).out);
      expect(shownJson).toMatchObject({ workflowId: a.workflowId, execution: 'RUNNING', status: { review: { awaiting: true, round: 1 } } });
      expect((await run('review', 'show', 'brief-no-such-thing')).code).toBe(2);

      // A refusal prints the validator's reason and exits 1; nothing changes.
      const refused = await run('approve', a.workflowId, 'r9-c99');
      expect(refused.code).toBe(1);
      expect(refused.err).toContain(`${a.workflowId} refused the decision: unknown candidate r9-c99: choose from r1-c01, r1-c02`);
      const tooMany = await run('approve', a.workflowId, 'r1-c01,r1-c02');
      expect(tooMany.code).toBe(1);
      expect(tooMany.err).toContain('this brief ships at most 1 image (topK); you approved 2');

      // revise, keeping one candidate in the running
      const revised = await run('revise', a.workflowId, '--feedback', 'a brighter desk', '--keep', 'r1-c01');
      expect(revised.err).toBe('');
      expect(revised.code).toBe(0);
      expect(revised.out).toContain(`requested changes on ${a.workflowId} (round 1) as cli-tester`);
      const s2 = await awaitingRound(a, 2);
      expect(s2.review!.reviewable.sort()).toEqual(['r1-c01', 'r2-c01', 'r2-c02']);
      expect(s2.review!.decisions).toEqual([expect.objectContaining({ action: 'requestChanges', reviewer: 'cli-tester', feedback: 'a brighter desk', keep: ['r1-c01'] })]);

      // reject
      const rejected = await run('reject', b.workflowId, '--reason', 'off brand', '--reviewer', 'Dee');
      expect(rejected.code).toBe(0);
      const mb = (await b.result()) as Manifest;
      expect(mb.outcome).toBe('rejected');
      expect(mb.rejection).toMatchObject({ reviewer: 'Dee', reason: 'off brand' });

      // bulk-approve: a dry run decides nothing; the real one approves the latest round's pick.
      const dry = await run('review', 'bulk-approve', '--min-score', '0', '--dry-run', '--json');
      expect(dry.code).toBe(0);
      const dryResult = JSON.parse(dry.out);
      expect(dryResult).toMatchObject({ dryRun: true, approved: 1, items: [{ workflowId: a.workflowId, result: 'would-approve', round: 2 }] });
      const pick = s2.review!.candidates.find((c) => c.round === 2 && c.suggested)!.id;
      expect(dryResult.items[0].candidateIds).toEqual([pick]);
      expect((await a.query(statusQuery)).review!.awaiting).toBe(true);
      const high = await run('review', 'bulk-approve', '--min-score', '100.5');
      expect(high.code).toBe(2);
      const bulk = await run('review', 'bulk-approve', '--min-score', '0');
      expect(bulk.code).toBe(0);
      expect(bulk.out).toContain('approved 1, skipped 0 (minimum score 0)');
      const ma = (await a.result()) as Manifest;
      expect(ma.outcome).toBe('published');
      expect(ma.selected.map((c) => c.id)).toEqual([pick]);
      expect(ma.review!.decisions.at(-1)).toMatchObject({ action: 'approve', reviewer: 'cli-tester', candidateIds: [pick], comment: expect.stringMatching(/^bulk approve: top score [\d.]+ ≥ 0$/) });

      // Deciding on a finished brief is refused.
      const late = await run('approve', a.workflowId, pick);
      expect(late.code).toBe(1);
      expect(late.err).toContain('refused the decision: this brief has already finished');
    });
  });

  it('`darkroom review` serves the tool and prints a login link that works', async () => {
    const token = 'cli-review-token-0123456789';
    const out: string[] = [];
    let stop!: () => void;
    const stopped = new Promise<void>((r) => (stop = r));
    let announced!: () => void;
    const ready = new Promise<void>((r) => (announced = r));
    const code = main(['review', '--port', '0'], { TEMPORAL_ADDRESS: testAddress(), DARKROOM_REVIEW_TOKEN: token }, {
      out: (s) => {
        out.push(s);
        if (s.includes('/login?token=')) announced();
      },
      err: () => {},
      untilStopped: () => stopped,
    });
    await Promise.race([ready, code.then((c) => Promise.reject(new Error(`exited ${c}`)))]);
    const login = /log in: (http:\/\/127\.0\.0\.1:\d+\/login\?token=\S+)/.exec(out.join('\n'))![1]!;
    expect(login).toContain(`token=${token}`);
    const res = await fetch(login, { redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).toMatch(/HttpOnly; SameSite=Strict/);
    const home = await fetch(new URL('/', login), { headers: { Authorization: `Bearer ${token}` } });
    expect(home.status).toBe(200);
    expect(await home.text()).toContain('Awaiting review');
    expect((await fetch(new URL('/', login))).status).toBe(401);
    stop();
    await expect(code).resolves.toBe(0);
    await expect(fetch(new URL('/', login))).rejects.toThrow();

    const short = await main(['review', '--port', '0'], { TEMPORAL_ADDRESS: testAddress(), DARKROOM_REVIEW_TOKEN: 'short' }, { out: () => {}, err: (s) => out.push(s) });
    expect(short).toBe(2);
    expect(out.at(-1)).toContain('DARKROOM_REVIEW_TOKEN must be at least 16 characters');
  });
});
