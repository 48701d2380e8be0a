import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DevServerStartError, INDEXED_VALUE_TYPE, SEARCH_ATTRIBUTES, freePort, isServerReachable, startDevServer, type DevServer } from '../../scripts/dev-server';
import { ensureTemporalCli, TemporalCliNotFoundError } from '../../scripts/temporal-cli';
import { closeTestConnection, testAddress, testConnection, testDataDir, uniqueTaskQueue, uniqueWorkflowId } from '../support/temporal';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('the run-wide dev server', () => {
  afterAll(closeTestConnection);

  it('answers on the injected address, with the default namespace', async () => {
    const client = await testConnection();
    const info = await client.workflowService.getSystemInfo({});
    expect(info.serverVersion).toBe('1.29.1');
    const ns = await client.workflowService.describeNamespace({ namespace: 'default' });
    expect(ns.namespaceInfo?.name).toBe('default');
    expect(await isServerReachable(testAddress())).toBe(true);
  });

  it('has the five Darkroom search attributes with their types', async () => {
    const client = await testConnection();
    const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace: 'default' });
    const darkroom = Object.fromEntries(Object.entries(customAttributes ?? {}).filter(([name]) => name.startsWith('Darkroom')));
    expect(darkroom).toEqual({
      DarkroomStage: INDEXED_VALUE_TYPE.Keyword,
      DarkroomChannel: INDEXED_VALUE_TYPE.Keyword,
      DarkroomCatalogId: INDEXED_VALUE_TYPE.Keyword,
      DarkroomCostUsd: INDEXED_VALUE_TYPE.Double,
      DarkroomAwaitingReview: INDEXED_VALUE_TYPE.Bool,
    });
    expect(Object.keys(SEARCH_ATTRIBUTES).sort()).toEqual(Object.keys(darkroom).sort());
  });

  it('provides a data dir and fresh dirs under it', () => {
    const a = testDataDir('some test');
    const b = testDataDir('some test');
    expect(a).not.toBe(b);
    expect(path.dirname(a)).toBe(inject('testDataDir'));
    expect(uniqueTaskQueue('q')).not.toBe(uniqueTaskQueue('q'));
  });
});

// These start servers of their own, so they need the CLI (absent with TEMPORAL_TEST_ADDRESS and no binary).
describe('startDevServer on an SQLite file', () => {
  const stage = defineSearchAttributeKey('DarkroomStage', SearchAttributeType.KEYWORD);
  const cost = defineSearchAttributeKey('DarkroomCostUsd', SearchAttributeType.DOUBLE);
  let dir: string;
  let server: DevServer | undefined;

  beforeAll(async () => {
    dir = testDataDir('restart');
  });
  afterAll(async () => {
    await server?.stop();
  });

  async function withClient<T>(address: string, fn: (client: Client) => Promise<T>): Promise<T> {
    const connection = await Connection.connect({ address });
    try {
      return await fn(new Client({ connection }));
    } finally {
      await connection.close();
    }
  }

  it('keeps workflows across a stop and a restart on the same file', async () => {
    const dbFile = path.join(dir, 'temporal.sqlite');
    const logFile = path.join(dir, 'server.log');
    const workflowId = uniqueWorkflowId('persisted');

    let t = Date.now();
    server = await startDevServer({ dbFile, uiPort: false, cli: inject('temporalCli'), logFile });
    const freshMs = Date.now() - t;
    expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.uiUrl).toBeUndefined();

    // Nobody polls this task queue: the execution just sits there, in the SQLite file.
    const runId = await withClient(server.address, async (client) => {
      const handle = await client.workflow.start('noSuchWorkflow', {
        taskQueue: 'nobody',
        workflowId,
        typedSearchAttributes: [
          { key: stage, value: 'queued' },
          { key: cost, value: 0.25 },
        ],
      });
      return handle.firstExecutionRunId;
    });

    const firstPid = server.pid;
    const firstAddress = server.address;
    await server.stop();
    await server.stop(); // idempotent
    expect(isRunning(firstPid)).toBe(false);
    expect(await isServerReachable(firstAddress, 500)).toBe(false);

    t = Date.now();
    // Same file: the search attributes are already registered and that must not stop the start.
    server = await startDevServer({ dbFile, uiPort: false, cli: inject('temporalCli'), logFile });
    const restartMs = Date.now() - t;

    const description = await withClient(server.address, (client) => client.workflow.getHandle(workflowId).describe());
    expect(description.runId).toBe(runId);
    expect(description.type).toBe('noSuchWorkflow');
    expect(description.status.name).toBe('RUNNING');
    expect(description.typedSearchAttributes.get(stage)).toBe('queued');
    expect(description.typedSearchAttributes.get(cost)).toBe(0.25);

    await withClient(server.address, (client) => client.workflow.getHandle(workflowId).terminate('test done'));
    await server.stop();
    expect(isRunning(server.pid)).toBe(false);
    server = undefined;
    console.log(`dev server start: fresh ${freshMs}ms, restart ${restartMs}ms`);
  });

  it('serves the Web UI on the requested port unless headless', async () => {
    const uiPort = await freePort();
    server = await startDevServer({ dbFile: path.join(dir, 'ui.sqlite'), uiPort, cli: inject('temporalCli') });
    try {
      expect(server.uiUrl).toBe(`http://127.0.0.1:${uiPort}`);
      const res = await fetch(server.uiUrl!);
      expect(res.status).toBe(200);
    } finally {
      await server.stop();
      server = undefined;
    }
  });

  it('fails with the server output when the port is taken', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      const err = await startDevServer({ dbFile: path.join(dir, 'taken.sqlite'), port, uiPort: false, cli: inject('temporalCli'), readyTimeoutMs: 20_000 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DevServerStartError);
      expect((err as Error).message).toMatch(/exited before it was ready|not ready/);
      expect((err as DevServerStartError).outputTail).toMatch(/address already in use/);
    } finally {
      blocker.close();
    }
  });
});

describe('ensureTemporalCli', () => {
  let empty: string;
  beforeAll(async () => {
    empty = await mkdtemp(path.join(os.tmpdir(), 'darkroom-cli-'));
  });
  afterAll(async () => {
    await rm(empty, { recursive: true, force: true });
  });

  it('uses TEMPORAL_CLI when it is set', async () => {
    const cli = inject('temporalCli');
    await expect(ensureTemporalCli({ env: { TEMPORAL_CLI: cli, PATH: '' } })).resolves.toBe(cli);
  });

  it('says so when TEMPORAL_CLI is not an executable file', async () => {
    const notExecutable = path.join(empty, 'temporal-not-x');
    await writeFile(notExecutable, '');
    await chmod(notExecutable, 0o644);
    for (const bad of [path.join(empty, 'missing'), notExecutable, empty]) {
      await expect(ensureTemporalCli({ env: { TEMPORAL_CLI: bad } })).rejects.toThrow(/TEMPORAL_CLI is set to .*not an executable file/);
    }
  });

  it('finds a temporal on PATH', async () => {
    const bin = path.join(empty, 'bin');
    await mkdir(bin, { recursive: true });
    await symlink(inject('temporalCli'), path.join(bin, 'temporal'));
    const logs: string[] = [];
    await expect(ensureTemporalCli({ env: { PATH: bin, XDG_CACHE_HOME: empty }, log: (m) => logs.push(m) })).resolves.toBe(path.join(bin, 'temporal'));
    expect(logs.join('\n')).toMatch(/Server 1\.29\.1/);
  });

  it('explains how to get one when there is none and no Go', async () => {
    const err = await ensureTemporalCli({ env: { PATH: '', HOME: empty, XDG_CACHE_HOME: empty, GOROOT: empty }, build: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TemporalCliNotFoundError);
    const message = (err as Error).message;
    expect(message).toMatch(/TEMPORAL_CLI=/);
    expect(message).toMatch(/on PATH/);
    expect(message).toMatch(/install Go/);
    expect(message).toContain(path.join(empty, 'darkroom', 'temporal-v1.5.1'));
  });
});
