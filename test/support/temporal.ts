/**
 * Helpers for test files that talk to the run's Temporal dev server (see test/global-setup.ts).
 *
 * ```ts
 * const client = await testConnection();
 * afterAll(closeTestConnection);
 * const taskQueue = uniqueTaskQueue('brief');
 * ```
 */
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { inject } from 'vitest';

/** host:port of the run's Temporal frontend, for NativeConnection.connect in test workers. */
export function testAddress(): string {
  return inject('temporalAddress');
}

/** The namespace tests use. */
export const testNamespace = 'default';

// Vitest gives each test file its own module instance, so this is one connection per file.
let cached: Promise<{ connection: Connection; client: Client }> | undefined;

/** A Client on the run's server, shared by the tests of one file. Close it with closeTestConnection. */
export async function testConnection(): Promise<Client> {
  cached ??= Connection.connect({ address: testAddress() }).then((connection) => ({
    connection,
    client: new Client({ connection, namespace: testNamespace }),
  }));
  try {
    return (await cached).client;
  } catch (err) {
    cached = undefined;
    throw err;
  }
}

/** Closes the file's connection, if one was opened; for `afterAll(closeTestConnection)`. */
export async function closeTestConnection(): Promise<void> {
  const current = cached;
  cached = undefined;
  if (current) await (await current.catch(() => undefined))?.connection.close();
}

/** `<prefix>-<random>`, so tests running side by side never share a task queue. */
export function uniqueTaskQueue(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** `<prefix>-<random>`, for workflow ids. */
export function uniqueWorkflowId(prefix: string): string {
  return `${prefix}-${randomUUID()}`;
}

/** A fresh, empty directory under the run's data dir, named after `name`. */
export function testDataDir(name: string): string {
  // The base dir is made by global-setup; not recreating it here means a test worker orphaned
  // by an interrupted run fails instead of leaving files in a run dir that was cleaned up.
  const base = inject('testDataDir');
  return mkdtempSync(path.join(base, `${name.replace(/[^\w.-]+/g, '-')}-`));
}
