/**
 * `npx tsx scripts/c2pa-dev-cert.ts [dir]` (the same as `darkroom c2pa dev-cert [dir]`): a
 * throwaway local CA and an ES256 C2PA signing certificate under it (openssl), written to `dir`
 * (default `.darkroom/c2pa-dev`); prints the environment lines that turn signing on on stdout,
 * and on stderr that it is for trying things out, not for production.
 */
import path from 'node:path';
import { devCaInstructions, makeDevCa } from '../activities/provenance/dev-ca';

const DAYS = 90;
const dir = path.resolve(process.argv[2] ?? '.darkroom/c2pa-dev');
const { notice, env } = devCaInstructions(makeDevCa({ name: 'Darkroom Dev', dir, days: DAYS }), dir, DAYS);
process.stderr.write(`${notice}\n`);
process.stdout.write(`${env}\n`);
