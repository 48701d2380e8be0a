/**
 * A throwaway certificate authority made with openssl, and a C2PA signing identity under it: for
 * trying signing out locally and for tests. A real signing certificate comes from a
 * C2PA-conformant CA; files signed with this one verify as `Trusted` only where its root is
 * configured as a trust anchor.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The files a dev CA leaves in its directory. */
export interface DevCa {
  /** The root certificate (PEM): the trust anchor. */
  rootPem: string;
  /** DARKROOM_C2PA_CERT: the signer's certificate, then the root. */
  certFile: string;
  /** DARKROOM_C2PA_KEY: the signer's private key (PKCS#8 PEM). */
  keyFile: string;
  /** DARKROOM_C2PA_TRUST_ANCHORS: the root alone. */
  rootFile: string;
}

export interface DevCaOptions {
  /** Names the root (`<name> Test Root`) and the signer (`<name> Signer`), both with O=<name>. */
  name: string;
  /** Where the keys and certificates are written (created if missing). */
  dir: string;
  /** How long both certificates are valid. @default 30 */
  days?: number;
}

/**
 * Makes a root CA and an ES256 (P-256) end-entity certificate with what C2PA requires of a signer:
 * key usage digitalSignature (critical), an extended key usage C2PA accepts (emailProtection),
 * not a CA, and an authority key identifier chaining it to the root. Needs `openssl` on PATH.
 */
export function makeDevCa({ name, dir, days = 30 }: DevCaOptions): DevCa {
  mkdirSync(dir, { recursive: true });
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
  const valid = String(days);
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'root.key');
  openssl('req', '-new', '-x509', '-key', 'root.key', '-out', 'root.pem', '-days', valid, '-sha256',
    '-subj', `/CN=${name} Test Root/O=${name}`, '-config', file('ext.cnf'), '-extensions', 'root');
  openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'signer.key');
  openssl('req', '-new', '-key', 'signer.key', '-out', 'signer.csr', '-subj', `/CN=${name} Signer/O=${name}`, '-config', file('ext.cnf'));
  openssl('x509', '-req', '-in', 'signer.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-out', 'signer.pem',
    '-days', valid, '-sha256', '-extfile', file('ext.cnf'), '-extensions', 'signer');
  const rootPem = readFileSync(file('root.pem'), 'utf8');
  writeFileSync(file('chain.pem'), readFileSync(file('signer.pem'), 'utf8') + rootPem);
  return { rootPem, certFile: file('chain.pem'), keyFile: file('signer.key'), rootFile: file('root.pem') };
}

/** What to tell a person who made a dev CA: that it is not for production, and the lines that turn signing on. */
export function devCaInstructions(ca: DevCa, dir: string, days: number): { notice: string; env: string } {
  return {
    notice: [
      `Made a throwaway C2PA signing certificate in ${dir} (valid ${days} days).`,
      'It is for trying Darkroom out on this machine, NOT for production: nobody else trusts its root.',
      'Real provenance needs a signing certificate from a C2PA-conformant CA.',
      'Export these where the worker runs (it then signs every published file):',
    ].join('\n'),
    env: [
      `DARKROOM_C2PA_CERT=${ca.certFile}`,
      `DARKROOM_C2PA_KEY=${ca.keyFile}`,
      `DARKROOM_C2PA_TRUST_ANCHORS=${ca.rootFile}`,
    ].join('\n'),
  };
}
