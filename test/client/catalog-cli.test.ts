/**
 * The `darkroom catalog` commands against a real dev server and worker: start (with its plan
 * and forecast), status, report, dry runs and bad input, pause/resume/cancel, and schedules.
 */
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ScheduleNotFoundError, WorkflowNotFoundError } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../client/cli';
import type { CatalogStatus } from '../../domain/types';
import type { catalogWorkflow } from '../../workflows/catalog';
import { catalogStatusQuery, SA } from '../../workflows/messages';
import { parseReport, productFeed, testTemplate } from '../support/catalog';
import { closeTestConnection, testAddress, testConnection, testDataDir, uniqueTaskQueue } from '../support/temporal';
import { testWorkflowBundle, withWorker } from '../support/worker';
import { waitFor } from '../support/briefs';

beforeAll(async () => {
  await testWorkflowBundle();
});
afterAll(closeTestConnection);

/** A task queue, data dir, catalog id, the CLI wired to them, and files written next to the data. */
function setup(name: string) {
  const taskQueue = uniqueTaskQueue(name);
  const dataDir = testDataDir(name);
  const catalogId = `${name}-${taskQueue.slice(-8)}`;
  const env = { TEMPORAL_ADDRESS: testAddress(), DARKROOM_TASK_QUEUE: taskQueue, DARKROOM_DATA_DIR: dataDir };
  const run = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(argv, env, { out: (s) => out.push(s), err: (s) => err.push(s) });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const file = (base: string, text: string) => {
    const p = path.join(dataDir, base);
    writeFileSync(p, text);
    return p;
  };
  return { taskQueue, dataDir, catalogId, run, file };
}


describe('darkroom catalog commands on a real dev server', () => {
  it('starts a feed with its plan and forecast, refuses a second run, follows it to the end and reports it', async () => {
    const client = await testConnection();
    const { taskQueue, dataDir, catalogId, run, file } = setup('cat-cli');
    const feed = file('feed.csv', productFeed(6));
    const template = file('template.json', JSON.stringify(testTemplate));

    await withWorker({ taskQueue, dataDir }, async () => {
      const started = await run('catalog', 'start', feed, '--template', template, '--id', catalogId, '--window', '1', '--weight', '2');
      expect(started.err).toBe('');
      expect(started.code).toBe(0);
      expect(started.out).toContain('runs       6 runs: 6 rows, of 6 rows read');
      expect(started.out).toMatch(/forecast {3}\$0\.00 for 6 runs, a forecast with the offline generator/);
      expect(started.out).toContain(`✔ started catalog ${catalogId}: workflow catalog-${catalogId} on task queue "${taskQueue}"`);
      expect(started.out).toContain(`darkroom catalog status ${catalogId} --watch`);
      expect(started.out).toContain(`/workflows/catalog-${catalogId}`);
      expect(existsSync(path.join(dataDir, 'blobs', 'catalogs', catalogId, 'feed.csv'))).toBe(true);

      const handle = client.workflow.getHandle<typeof catalogWorkflow>(`catalog-${catalogId}`);
      const description = await handle.describe();
      expect(description.typedSearchAttributes.get(SA.catalogId)).toBe(catalogId);
      // Its fair share of the workers (README, Fair sharing between catalogs): rows inherit it.
      expect(description.raw.workflowExecutionInfo?.priority).toMatchObject({ fairnessKey: catalogId, fairnessWeight: 2 });

      // A second start of the same catalog while it runs is refused, and says where to look.
      const again = await run('catalog', 'start', feed, '--template', template, '--id', catalogId);
      expect(again.code).toBe(1);
      expect(again.err).toContain(`catalog ${catalogId} is already running`);
      expect(again.err).toContain(`darkroom catalog status ${catalogId}`);

      // No report before it finishes.
      const early = await run('catalog', 'report', catalogId);
      expect(early.code).toBe(1);
      expect(early.err).toContain(`catalog ${catalogId} is still running`);

      const running = await run('catalog', 'status', catalogId);
      expect(running.code).toBe(0);
      expect(running.out).toMatch(/^catalog {4}\S+ {2}(planning|running|reporting) /);
      if (!running.out.includes('  planning  ')) {
        expect(running.out).toMatch(/progress {3}\[[#.]{10}\] \d\/6 done · \d failed · \d running · \d awaiting review · \$0\.00/);
      }

      // --watch follows it to the end, then prints its result.
      const watched = await run('catalog', 'status', catalogId, '--watch');
      expect(watched.code).toBe(0);
      expect(watched.err).toMatch(/\[[#.]{10}\] \d\/6 done/);
      expect(watched.out).toContain(`catalog    ${catalogId}  completed`);
      expect(watched.out).toContain('6 done · 0 failed · 0 rejected · 0 skipped');
    });

    const result = await client.workflow.getHandle<typeof catalogWorkflow>(`catalog-${catalogId}`).result();
    expect(result).toMatchObject({ outcome: 'completed', counts: { done: 6 } });

    const status = await run('catalog', 'status', catalogId);
    expect(status.code).toBe(0);
    expect(status.out).toContain('6 done');
    const statusJson = JSON.parse((await run('catalog', 'status', catalogId, '--json')).out);
    expect(statusJson).toMatchObject({ catalogId, temporalStatus: 'COMPLETED', result: { outcome: 'completed', counts: { done: 6 } } });

    const report = await run('catalog', 'report', catalogId);
    expect(report.code).toBe(0);
    expect(report.out).toContain('rows       6: 6 done');
    expect(report.out).toContain(path.join(dataDir, 'blobs', 'catalogs', catalogId, 'report.csv'));
    const csv = await run('catalog', 'report', catalogId, '--csv');
    expect(csv.code).toBe(0);
    const rows = parseReport(csv.out);
    expect(rows).toHaveLength(6);
    expect(rows.every((r) => r.state === 'done')).toBe(true);
  });

  it('checks a feed without starting it, and refuses bad input with exit 2', async () => {
    const client = await testConnection();
    const { catalogId, dataDir, run, file } = setup('cat-dry');
    // A bad colour, a row without a SKU, a duplicate SKU and a row with an extra value (a warning).
    const feed = file('messy.csv', `${productFeed(4)}SKU-0005,"linen tote",rust,not-a-colour\r\n,"no sku tote",oat,#D8C8A8\r\nSKU-0002,"again",rust,#B7472A\r\nSKU-0006,"canvas tote",oat,#D8C8A8,surplus\r\n`);
    const template = file('template.json', JSON.stringify(testTemplate));

    const dry = await run('catalog', 'start', feed, '--template', template, '--id', catalogId, '--dry-run');
    expect(dry.err).toBe('');
    expect(dry.code).toBe(0);
    expect(dry.out).toContain('runs       5 runs: 5 rows, of 8 rows read (2 invalid, 1 duplicate)');
    expect(dry.out).toMatch(/line 6 +SKU-0005 +brandColors\[0\]: /);
    expect(dry.out).toMatch(/line 7 +\(no sku\) +sku: is empty/);
    expect(dry.out).toMatch(/line 9 +SKU-0006 +row: .*extra values ignored {2}\(warning: the row still runs\)/);
    expect(dry.out).toMatch(/SKU-0002 +lines 3, 8/);
    expect(dry.out).toContain('dry run: nothing stored, nothing started');
    await expect(client.workflow.getHandle(`catalog-${catalogId}`).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);
    expect(existsSync(path.join(dataDir, 'blobs', 'catalogs', catalogId))).toBe(false);

    const dryJson = JSON.parse((await run('catalog', 'start', feed, '--template', template, '--id', catalogId, '--dry-run', '--json')).out);
    expect(dryJson).toMatchObject({ catalogId, rows: 8, runs: 5, started: false, duplicates: [{ sku: 'SKU-0002', lines: [3, 8] }], forecast: { usd: 0, offline: true } });
    expect(dryJson.invalid.map((e: { line: number }) => e.line)).toEqual([6, 7]);

    // The catalog id comes from the feed's file name unless --id says otherwise.
    expect((await run('catalog', 'start', feed, '--template', template, '--dry-run')).out).toContain('catalog    messy  (feed ');

    const badJson = file('bad-template.json', '{ "subject": "a {name}", }');
    const bad = await run('catalog', 'start', feed, '--template', badJson, '--id', catalogId);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(`${badJson} is not valid JSON at line 1`);
    const missing = await run('catalog', 'start', feed, '--template', path.join(dataDir, 'nope.json'));
    expect(missing.code).toBe(2);
    expect(missing.err).toContain(`no such template file: ${path.join(dataDir, 'nope.json')}`);
    const wrongColumn = file('colour.json', JSON.stringify({ ...testTemplate, subject: 'studio product shot: {colour} {name}' }));
    const wide = await run('catalog', 'start', feed, '--template', wrongColumn, '--id', catalogId);
    expect(wide.code).toBe(2);
    expect(wide.err).toContain(`template ${wrongColumn} uses a column the feed does not have: "colour" (did you mean "color"?)`);
    const empty = await run('catalog', 'start', file('empty.csv', ''), '--template', template, '--id', catalogId);
    expect(empty.code).toBe(2);
    expect(empty.err).toMatch(/feed .*empty\.csv is empty/);
    // A feed saved as Latin-1 (a spreadsheet's plain "CSV") is refused by line, not read as "caf\uFFFD".
    const latin1 = path.join(dataDir, 'latin1.csv');
    writeFileSync(latin1, Buffer.concat([Buffer.from('sku,name,color,hex\r\nSKU-0001,"tote",oat,#D8C8A8\r\nSKU-0002,"caf'), Buffer.from([0xe9]), Buffer.from(' tote",oat,#D8C8A8\r\n')]));
    const notUtf8 = await run('catalog', 'start', latin1, '--template', template, '--id', catalogId, '--dry-run');
    expect(notUtf8.code).toBe(2);
    expect(notUtf8.err).toContain(`feed file ${latin1} is not UTF-8 text (line 3 has a byte that is not)`);
    expect((await run('catalog', 'start', feed, '--id', catalogId)).err).toContain('missing --template');
    expect((await run('catalog', 'start', feed, '--template', template, '--window', '0')).code).toBe(2);
    for (const weight of ['0', '-1', 'lots', '5000', '']) {
      const r = await run('catalog', 'start', feed, '--template', template, '--id', catalogId, `--weight=${weight}`);
      expect(r.code, weight).toBe(2);
      expect(r.err, weight).toContain('--weight must be a number from 0.001 to 1000');
    }
    expect((await run('catalog', 'start', feed, '--template', template, '--id', "bad'id")).code).toBe(2);
    expect((await run('catalog', 'status', catalogId, '--csv')).err).toContain('--csv does not apply here');

    // Unknown catalogs are bad input.
    for (const cmd of ['status', 'pause', 'resume', 'cancel', 'retry-failed', 'report']) {
      const r = await run('catalog', cmd, `no-such-${catalogId}`);
      expect(r.code, cmd).toBe(2);
      expect(r.err, cmd).toContain(`no catalog "no-such-${catalogId}"`);
    }
  });

  it('pauses, resumes, retries and cancels a running catalog', async () => {
    const client = await testConnection();
    const { taskQueue, dataDir, catalogId, run, file } = setup('cat-steer');
    const feed = file('feed.csv', productFeed(30));
    const template = file('template.json', JSON.stringify(testTemplate));
    const state = async () => (await client.workflow.getHandle(`catalog-${catalogId}`).query(catalogStatusQuery)).state;

    await withWorker({ taskQueue, dataDir }, async () => {
      expect((await run('catalog', 'start', feed, '--template', template, '--id', catalogId, '--window', '1')).code).toBe(0);
      await waitFor('running', async () => ((await state()) === 'running' ? true : undefined));

      const paused = await run('catalog', 'pause', catalogId);
      expect(paused.code).toBe(0);
      expect(paused.out).toBe(`✔ pausing catalog ${catalogId}: rows already running finish, no new rows start until "darkroom catalog resume ${catalogId}"`);
      await waitFor('paused', async () => ((await state()) === 'paused' ? true : undefined));
      const s = JSON.parse((await run('catalog', 'status', catalogId, '--json')).out) as { status: CatalogStatus };
      expect(s.status.state).toBe('paused');

      const resumed = await run('catalog', 'resume', catalogId);
      expect(resumed.code).toBe(0);
      expect(resumed.out).toContain(`✔ resumed catalog ${catalogId}`);
      await waitFor('running again', async () => ((await state()) === 'running' ? true : undefined));

      const retried = await run('catalog', 'retry-failed', catalogId);
      expect(retried.code).toBe(0);
      expect(retried.out).toContain(`✔ retrying the failed rows of catalog ${catalogId}`);

      const cancelled = await run('catalog', 'cancel', catalogId, '--reason', 'test over');
      expect(cancelled.code).toBe(0);
      expect(cancelled.out).toContain(`✔ cancelling catalog ${catalogId} (test over)`);
      const result = await client.workflow.getHandle<typeof catalogWorkflow>(`catalog-${catalogId}`).result();
      expect(result.outcome).toBe('cancelled');
      expect(result.counts.done).toBeLessThan(30);
    });

    const late = await run('catalog', 'pause', catalogId);
    expect(late.code).toBe(1);
    expect(late.err).toContain(`catalog ${catalogId} is not running (completed`);
    const report = await run('catalog', 'report', catalogId);
    expect(report.code).toBe(0);
    expect(report.out).toContain(`catalog    ${catalogId}  cancelled`);
  });

  it('schedules a catalog on a cron, updates the schedule and its feed, and deletes it', async () => {
    const client = await testConnection();
    const { taskQueue, dataDir, catalogId, run, file } = setup('cat-sched');
    const scheduleId = `catalog-${catalogId}-schedule`;
    const feed = file('feed.csv', productFeed(3));
    const template = file('template.json', JSON.stringify(testTemplate));
    try {
      const created = await run('catalog', 'schedule', feed, '--template', template, '--id', catalogId, '--cron', '0 2 * * *', '--window', '2', '--budget', '5');
      expect(created.err).toBe('');
      expect(created.code).toBe(0);
      expect(created.out).toContain(`✔ created schedule ${scheduleId}: cron "0 2 * * *"`);
      expect(created.out).toContain(`each run re-reads this stored feed; update it with "darkroom catalog upload ${catalogId} <feed>"`);
      expect(created.out).toContain('rows already shipped with an unchanged brief are skipped by the workflow');

      const d = await client.schedule.getHandle(scheduleId).describe();
      expect(d.action).toMatchObject({ type: 'startWorkflow', workflowType: 'catalogWorkflow', taskQueue, workflowId: `catalog-${catalogId}` });
      expect(d.action.args).toEqual([{ catalogId, feedKey: `catalogs/${catalogId}/feed.csv`, template: testTemplate, window: 2, budgetUsd: 5 }]);
      expect(d.policies.overlap).toBe('SKIP');
      // Temporal keeps a cron as a calendar: 02:00:00 every day.
      expect(d.spec.calendars).toEqual([expect.objectContaining({ second: [{ start: 0, end: 0, step: 1 }], minute: [{ start: 0, end: 0, step: 1 }], hour: [{ start: 2, end: 2, step: 1 }] })]);
      for (const t of d.info.nextActionTimes) expect([t.getUTCHours(), t.getUTCMinutes()]).toEqual([2, 0]);
      expect(d.action.staticSummary).toBe(`Darkroom catalog ${catalogId} on cron "0 2 * * *"`);

      // Scheduled runs get the scheduled time appended to their workflow id: status finds them by
      // DarkroomCatalogId, and a second run skips the rows the first one shipped.
      await withWorker({ taskQueue, dataDir }, async () => {
        const runOnce = async (previous?: string) => {
          await client.schedule.getHandle(scheduleId).trigger();
          const json = await waitFor('the scheduled run', async () => {
            const r = await run('catalog', 'status', catalogId, '--json');
            const j = r.code === 0 ? (JSON.parse(r.out) as { workflowId: string; temporalStatus: string }) : undefined;
            // A run that only skips rows can end between two polls, so any state of a new run counts.
            return j && j.workflowId !== previous && j.workflowId.startsWith(`catalog-${catalogId}-`) ? j : undefined;
          });
          expect(json.workflowId).toMatch(new RegExp(`^catalog-${catalogId}-\\d{4}-`));
          const watched = await run('catalog', 'status', catalogId, '--watch');
          expect(watched.code).toBe(0);
          return { workflowId: json.workflowId, out: watched.out };
        };
        const first = await runOnce();
        expect(first.out).toContain('3 done · 0 failed · 0 rejected · 0 skipped');
        const second = await runOnce(first.workflowId);
        expect(second.out).toContain('0 done · 0 failed · 0 rejected · 3 skipped');
        expect((await run('catalog', 'report', catalogId)).out).toContain('rows       3: 3 skipped');
      });

      // Scheduling again updates it.
      const updated = await run('catalog', 'schedule', feed, '--template', template, '--id', catalogId, '--cron', '30 3 * * 1');
      expect(updated.code).toBe(0);
      expect(updated.out).toContain(`✔ updated schedule ${scheduleId}: cron "30 3 * * 1"`);
      const d2 = await client.schedule.getHandle(scheduleId).describe();
      expect(d2.spec.calendars).toEqual([expect.objectContaining({ minute: [{ start: 30, end: 30, step: 1 }], hour: [{ start: 3, end: 3, step: 1 }], dayOfWeek: [{ start: 'MONDAY', end: 'MONDAY', step: 1 }] })]);
      expect(d2.action.staticSummary).toBe(`Darkroom catalog ${catalogId} on cron "30 3 * * 1"`);
      expect(d2.action.args).toEqual([{ catalogId, feedKey: `catalogs/${catalogId}/feed.csv`, template: testTemplate }]);

      // A new feed, as JSON lines, is checked against the schedule's template and the schedule follows its key.
      const jsonl = file('feed.jsonl', `${JSON.stringify({ sku: 'J-1', name: 'tote', color: 'rust', hex: '#B7472A' })}\n`);
      const uploaded = await run('catalog', 'upload', catalogId, jsonl);
      expect(uploaded.code).toBe(0);
      expect(uploaded.out).toContain('runs       1 run: 1 row, of 1 row read');
      expect(uploaded.out).toContain(`now points at catalogs/${catalogId}/feed.jsonl`);
      expect(((await client.schedule.getHandle(scheduleId).describe()).action.args![0] as { feedKey: string }).feedKey).toBe(`catalogs/${catalogId}/feed.jsonl`);
      const badUpload = await run('catalog', 'upload', catalogId, file('bad.jsonl', `${JSON.stringify({ name: 'no sku column' })}\n`));
      expect(badUpload.code).toBe(2);
      expect(badUpload.err).toContain('has no "sku" column');

      const badCron = await run('catalog', 'schedule', feed, '--template', template, '--id', `${catalogId}-x`, '--cron', 'every tuesday-ish');
      expect(badCron.code).toBe(2);
      expect(badCron.err).toContain('Temporal refused --cron "every tuesday-ish"');

      const gone = await run('catalog', 'unschedule', catalogId);
      expect(gone.code).toBe(0);
      expect(gone.out).toContain(`✔ deleted schedule ${scheduleId}`);
      await expect(client.schedule.getHandle(scheduleId).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
      const twice = await run('catalog', 'unschedule', catalogId);
      expect(twice.code).toBe(2);
      expect(twice.err).toContain(`no schedule ${scheduleId}`);
    } finally {
      await client.schedule.getHandle(scheduleId).delete().catch(() => undefined);
      await client.schedule.getHandle(`catalog-${catalogId}-x-schedule`).delete().catch(() => undefined);
    }
  });
});
