/**
 * `npx tsx scripts/c2pa-dev-cert.ts [dir]`: a throwaway local CA and an ES256 C2PA signing
 * certificate under it (openssl), written to `dir` (default `.darkroom/c2pa-dev`), then the
 * environment lines that turn signing on. For trying signing out only: files signed with it
 * verify as `Trusted` only where this root is a trust anchor. Production signing needs a
 * certificate from a C2PA-conformant CA.
 */
import path from 'node:path';
import { makeDevCa } from '../activities/provenance/dev-ca';

const dir = path.resolve(process.argv[2] ?? '.darkroom/c2pa-dev');
const ca = makeDevCa({ name: 'Darkroom Dev', dir, days: 90 });
process.stderr.write([
  `Made a throwaway C2PA signing certificate in ${dir} (valid 90 days).`,
  'It is for trying Darkroom out on this machine, NOT for production: nobody else trusts its root.',
  'Real provenance needs a signing certificate from a C2PA-conformant CA.',
  'Export these where the worker runs (the worker signs every published file):',
  '',
].join('\n'));
process.stdout.write([
  `DARKROOM_C2PA_CERT=${ca.certFile}`,
  `DARKROOM_C2PA_KEY=${ca.keyFile}`,
  `DARKROOM_C2PA_TRUST_ANCHORS=${ca.rootFile}`,
  '',
].join('\n'));
