/**
 * `npx tsx scripts/bundle-workflows.ts <file>`: bundles the workflows once, for workers started with
 * DARKROOM_WORKFLOW_BUNDLE=<file> (no webpack in each worker process). Bundles with the encrypting
 * failure converter when DARKROOM_CODEC_KEYS is set, as a worker bundling for itself would.
 */
import { writeFile } from 'node:fs/promises';
import { bundleWorkflowCode } from '@temporalio/worker';
import { parseConfig } from '../domain/config';
import { bundleConverters, codecFromConfig } from '../temporal/codec';
import { WORKFLOWS_PATH } from '../workers/worker';

const file = process.argv[2];
if (!file) {
  console.error('usage: npx tsx scripts/bundle-workflows.ts <file>');
  process.exit(2);
}
const encrypted = Boolean(codecFromConfig(parseConfig(process.env)));
const { code } = await bundleWorkflowCode({
  workflowsPath: WORKFLOWS_PATH,
  ...bundleConverters(encrypted),
});
await writeFile(file, code);
console.log(`workflows bundled to ${file}${encrypted ? ' (failures encrypted)' : ''}`);
