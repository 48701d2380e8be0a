import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { c2paInstallProblem, defaultC2paDir, nodeRunsC2paInProcess } from '../../activities/provenance/install';

/**
 * The C2PA SDK's installation for tests: DARKROOM_C2PA_DIR, else the default cache directory.
 * Missing, the tests fail (they never skip) and say how to install it.
 */
export async function testC2paDir(): Promise<string> {
  const dir = process.env.DARKROOM_C2PA_DIR || defaultC2paDir();
  const problem = await c2paInstallProblem(dir, !nodeRunsC2paInProcess());
  if (problem) {
    throw new Error(`${problem}. The C2PA tests need the SDK: run \`npx tsx scripts/c2pa.ts\` once (it installs @contentauth/c2pa-node and a Node 22 into ${defaultC2paDir()} and prints the directory), then export DARKROOM_C2PA_DIR=<that directory> if it is not the default.`);
  }
  return dir;
}

/** A certificate authority made with openssl for one test file, and a C2PA signing identity under it. */
export interface TestCa {
  /** The root certificate (PEM): the trust anchor. */
  rootPem: string;
  /** Files to configure: DARKROOM_C2PA_CERT (signer then root), DARKROOM_C2PA_KEY (PKCS#8). */
  certFile: string;
  keyFile: string;
  rootFile: string;
}

/**
 * A root CA and an ES256 (P-256) end-entity certificate with what C2PA requires of a signer:
 * key usage digitalSignature (critical), an extended key usage C2PA accepts (emailProtection),
 * not a CA, and an authority key identifier chaining it to the root.
 */
export function makeTestCa(name: string, dir = mkdtempSync(path.join(os.tmpdir(), 'darkroom-ca-'))): TestCa {
  const file = (f: string) => path.join(dir, f);
  writeFileSync(file('ext.cnf'), [
    '[req]',
    'distinguished_name = dn',
    '[dn]',
    '[root]',
    'basicConstraints = critical, CA:TRUE',
    'keyUsage = critical, keyCertSign, cRLSign',
    'subjectKeyIdentifier = hash',
    '[signer]',
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature, nonRepudiation',
    'extendedKeyUsage = emailProtection',
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid:always',
    '',
  ].join('\n'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'root.key');
  openssl('req', '-new', '-x509', '-key', 'root.key', '-out', 'root.pem', '-days', '30', '-sha256',
    '-subj', `/CN=${name} Test Root/O=${name}`, '-config', file('ext.cnf'), '-extensions', 'root');
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'signer.key');
  openssl('req', '-new', '-key', 'signer.key', '-out', 'signer.csr', '-subj', `/CN=${name} Signer/O=${name}`, '-config', file('ext.cnf'));
  openssl('x509', '-req', '-in', 'signer.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-out', 'signer.pem',
    '-days', '30', '-sha256', '-extfile', file('ext.cnf'), '-extensions', 'signer');
  const rootPem = readFileSync(file('root.pem'), 'utf8');
  writeFileSync(file('chain.pem'), readFileSync(file('signer.pem'), 'utf8') + rootPem);
  return { rootPem, certFile: file('chain.pem'), keyFile: file('signer.key'), rootFile: file('root.pem') };
}

/** The environment that turns signing on with `ca`, for parseConfig or a test worker. */
export function signingEnv(ca: TestCa, dir: string): Record<string, string> {
  return { DARKROOM_C2PA_DIR: dir, DARKROOM_C2PA_CERT: ca.certFile, DARKROOM_C2PA_KEY: ca.keyFile };
}
