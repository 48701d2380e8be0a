/**
 * The CLI's upload of reference images on the user's disk: a brief's paths (relative to the
 * brief file) and a feed's packshot column (relative to the feed file) become `blob:<key>`
 * content-addressed keys; a missing file or one that is not an image names where it was given.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FsBlobStore } from '../../activities/blob-store/fs';
import { CliError } from '../../client/errors';
import { referenceColumns, uploadBriefReferences, uploadFeedReferences } from '../../client/references';
import { validateBrief } from '../../domain/brief';
import { briefsFromFeed, parseFeed } from '../../domain/feed';
import { testBrief } from '../support/briefs';

const EXAMPLES = path.join(__dirname, '../../examples/catalog');
const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

let dir: string;
let blobs: FsBlobStore;
beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'darkroom-upload-'));
  blobs = new FsBlobStore(path.join(dir, 'blobs'));
  mkdirSync(path.join(dir, 'shots'));
  copyFileSync(path.join(EXAMPLES, 'packshots/serum-bottle.png'), path.join(dir, 'shots/serum.png'));
  copyFileSync(path.join(EXAMPLES, 'packshots/cream-jar.png'), path.join(dir, 'shots/jar.png'));
  writeFileSync(path.join(dir, 'shots/notes.png'), 'not an image at all');
});
afterAll(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

describe('uploading a brief’s local references', () => {
  it('uploads paths relative to the brief file, content-addressed, and leaves blob: and https references alone', async () => {
    const brief = validateBrief(testBrief({ references: { product: 'shots/serum.png', style: ['https://cdn.example.com/look.jpg', './shots/jar.png', 'shots/serum.png'] } }));
    const { brief: out, uploaded } = await uploadBriefReferences(brief, path.join(dir, 'brief.json'), blobs);
    const serum = `references/${sha(path.join(dir, 'shots/serum.png'))}.png`;
    const jar = `references/${sha(path.join(dir, 'shots/jar.png'))}.png`;
    expect(out.references).toEqual({ product: `blob:${serum}`, style: ['https://cdn.example.com/look.jpg', `blob:${jar}`, `blob:${serum}`] });
    expect(uploaded.map((u) => u.field)).toEqual(['references.product', 'references.style[1]', 'references.style[2]']);
    expect(await blobs.head(serum)).toMatchObject({ mime: 'image/png', width: 240, height: 400 });
    // The brief the user wrote is not changed in place.
    expect(brief.references?.product).toBe('shots/serum.png');
    // A brief without local paths is returned as it is.
    const plain = validateBrief(testBrief({ references: { product: `blob:${serum}` } }));
    expect((await uploadBriefReferences(plain, path.join(dir, 'brief.json'), blobs)).brief).toBe(plain);
  });

  it('names the field and the file when it is missing or not an image', async () => {
    const missing = validateBrief(testBrief({ references: { product: 'shots/nope.png' } }));
    const e1 = await uploadBriefReferences(missing, path.join(dir, 'brief.json'), blobs).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(CliError);
    expect((e1 as Error).message).toBe(`no such reference image (references.product): ${path.join(dir, 'shots/nope.png')}`);
    const bad = validateBrief(testBrief({ references: { style: ['shots/notes.png'] } }));
    const e2 = await uploadBriefReferences(bad, path.join(dir, 'brief.json'), blobs).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(CliError);
    expect((e2 as Error).message).toMatch(/^references\.style\[0\]: .*shots\/notes\.png is not an image that can be decoded/);
  });
});

describe('uploading a feed’s packshots', () => {
  const template = JSON.parse(readFileSync(path.join(EXAMPLES, 'template-packshots.json'), 'utf8')) as unknown;

  it('finds the columns a template puts into references, variants included', () => {
    expect(referenceColumns(template)).toEqual(['packshot']);
    expect(referenceColumns({ subject: '{name}', variants: [{ id: 'b', references: { product: '{front}', style: ['{mood}'] } }] })).toEqual(['front', 'mood']);
    expect(referenceColumns({ subject: '{name}' })).toEqual([]);
  });

  it('uploads the example feed’s packshots (relative to the feed) and writes a feed that plans to the same briefs with blob: keys', async () => {
    const feedFile = path.join(EXAMPLES, 'products-packshots.csv');
    const feedText = readFileSync(feedFile, 'utf8');
    const out = await uploadFeedReferences({ feedText, format: 'csv', feedFile, template }, blobs);
    expect(out.uploaded).toHaveLength(3);
    const before = parseFeed(feedText, 'csv');
    const after = parseFeed(out.feedText, 'csv');
    expect(after.columns).toEqual(before.columns);
    after.rows.forEach((row, i) => {
      const original = before.rows[i]!.values;
      const file = path.join(EXAMPLES, original.packshot!);
      expect(row.values).toEqual({ ...original, packshot: `blob:references/${sha(file)}.png` });
    });
    const plan = briefsFromFeed(out.feedText, template, { format: 'csv' });
    expect(plan.errors).toEqual([]);
    expect(plan.runs.map((r) => r.brief.references?.product)).toEqual(after.rows.map((r) => r.values.packshot));
  });

  it('rewrites JSON lines too, names the line and column of a missing file, and leaves a feed without local paths byte for byte', async () => {
    const feedFile = path.join(dir, 'feed.jsonl');
    const lines = [
      JSON.stringify({ sku: 'A-1', name: 'serum', packshot: 'shots/serum.png' }),
      JSON.stringify({ sku: 'B-2', name: 'jar', packshot: 'https://cdn.example.com/jar.png' }),
    ].join('\n');
    const t = { subject: 'a {name}', channels: ['email-header'], references: { product: '{packshot}' } };
    const out = await uploadFeedReferences({ feedText: lines, format: 'jsonl', feedFile, template: t }, blobs);
    const rows = out.feedText.split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(rows[0]!.packshot).toBe(`blob:references/${sha(path.join(dir, 'shots/serum.png'))}.png`);
    expect(rows[1]!.packshot).toBe('https://cdn.example.com/jar.png');

    const untouched = 'sku,name,packshot\r\nA-1,"serum, 30 ml",https://cdn.example.com/a.png\r\n';
    expect((await uploadFeedReferences({ feedText: untouched, format: 'csv', feedFile: path.join(dir, 'f.csv'), template: t }, blobs)).feedText).toBe(untouched);

    const missing = 'sku,name,packshot\nA-1,serum,shots/gone.png\n';
    const err = await uploadFeedReferences({ feedText: missing, format: 'csv', feedFile: path.join(dir, 'f.csv'), template: t }, blobs).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as Error).message).toBe(`no such reference image (line 2, column packshot): ${path.join(dir, 'shots/gone.png')}`);
  });
});
