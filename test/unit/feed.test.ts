import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  CATALOG_FEED_MAX_ROWS,
  briefsFromFeed,
  catalogChildId,
  catalogIdFor,
  expandTemplate,
  parseFeed,
  templatePlaceholders,
  type FeedRow,
} from '../../domain/feed';
import { hash16, stableStringify } from '../../domain/hash';
import { buildPrompt, scorePrompt } from '../../domain/prompt';
import { CONTROL_CHARS, decodeUtf8 } from '../../domain/text';

const example = (name: string) => readFileSync(new URL(`../../examples/catalog/${name}`, import.meta.url), 'utf8');

const template = {
  subject: 'a {color} {name} on a plain backdrop',
  channels: ['instagram-square'],
  brandColors: ['{hex}'],
  mustInclude: ['{category} styling'],
  candidates: 2,
};

/** Everything a real export gets wrong, one line each. Line numbers are the editor's. */
const messyFeed =
  '\uFEFF' +
  [
    'sku,name,color,category,hex', //                          1
    'TSHIRT-1,"tee, crew neck",red,tops,#c0392b', //            2  quoted comma
    'TSHIRT-2,"tee with a ""vintage"" print",blue,tops,#2E86C1', // 3 doubled quotes
    'MUG-3,"mug', //                                             4  quoted newline…
    'large",white,homeware,#FFF', //                            5  …ends here
    '', //                                                       6  blank
    'CAP-4,cap,green,accessories,#1E8449,EXTRA', //             7  extra column
    'SOCK-5,socks,grey', //                                      8  missing category and hex
    'TSHIRT-9,tee,pink,tops,pinkish', //                         9  bad hex colour
    ',nameless,black,tops,#000000', //                          10  no sku
    'TSHIRT-1,tee again,red,tops,#C0392B', //                   11  duplicate of line 2
    '   ', //                                                   12  blank (spaces)
    'HAT-7,"hat,brown,accessories,#8B4513', //                  13  unterminated quote
    'BAG-6,bag,tan,bags,#D2B48C', //                            14
  ].join('\r\n') +
  '\r\n';

describe('briefsFromFeed on a messy feed', () => {
  const plan = briefsFromFeed(messyFeed, template, { catalogId: 'spring' });

  it('runs exactly the good rows, in feed order', () => {
    expect(plan.runs.map((r) => [r.sku, r.line])).toEqual([
      ['TSHIRT-1', 2],
      ['TSHIRT-2', 3],
      ['MUG-3', 4],
      ['CAP-4', 7],
      ['SOCK-5', 8],
      ['BAG-6', 14],
    ]);
    expect(plan.rows).toBe(9);
    expect(plan.columns).toEqual(['sku', 'name', 'color', 'category', 'hex']);
  });

  it('reports each problem on its line, with the SKU and field', () => {
    expect(plan.errors).toEqual([
      { line: 7, sku: 'CAP-4', field: 'row', warning: true, message: 'has 6 fields, the header has 5: extra values ignored' },
      { line: 8, sku: 'SOCK-5', field: 'row', warning: true, message: 'has no value for columns "category", "hex" (the row is shorter than the header): read as empty' },
      { line: 9, sku: 'TSHIRT-9', field: 'brandColors[0]', message: 'must be a hex colour such as #0B3D91' },
      { line: 10, field: 'sku', message: 'is empty: every row needs a SKU in column "sku"' },
      { line: 13, field: 'row', message: expect.stringMatching(/never closed.*row skipped/) },
    ]);
  });

  it('runs the first of duplicate SKUs and lists every line they are on', () => {
    expect(plan.duplicates).toEqual([{ sku: 'TSHIRT-1', lines: [2, 11] }]);
    expect(plan.runs.find((r) => r.sku === 'TSHIRT-1')!.brief.subject).toBe('a red tee, crew neck on a plain backdrop');
  });

  it('fills each brief from its row', () => {
    const bySku = Object.fromEntries(plan.runs.map((r) => [r.sku, r]));
    expect(bySku['TSHIRT-1']!.brief).toMatchObject({ id: 'tshirt-1', sku: 'TSHIRT-1', brandColors: ['#C0392B'], mustInclude: ['tops styling'], candidates: 2 });
    expect(bySku['TSHIRT-2']!.brief.subject).toBe('a blue tee with a "vintage" print on a plain backdrop');
    expect(bySku['MUG-3']!.brief.subject).toBe('a white mug\nlarge on a plain backdrop');
    expect(bySku['MUG-3']!.brief.brandColors).toEqual(['#FFFFFF']);
    // An empty cell that is a whole value leaves the field out; inside text it is just empty.
    expect(bySku['SOCK-5']!.brief.brandColors).toEqual([]);
    expect(bySku['SOCK-5']!.brief.mustInclude).toEqual(['styling']);
    expect(bySku['CAP-4']!.brief.variant).toBeUndefined();
  });

  it('names each run with a workflow id and a hash of its brief', () => {
    const run = plan.runs[0]!;
    expect(run.workflowId).toBe('catalog-spring/TSHIRT-1');
    expect(run.briefHash).toBe(hash16(stableStringify(run.brief)));
    expect(run.briefHash).toMatch(/^[0-9a-f]{16}$/);
    expect(new Set(plan.runs.map((r) => r.briefHash)).size).toBe(plan.runs.length);
  });

  it('gives the same briefs whatever the line endings', () => {
    const lf = briefsFromFeed(messyFeed.replace(/\r\n/g, '\n'), template, { catalogId: 'spring' });
    const cr = briefsFromFeed(messyFeed.replace(/\r\n/g, '\r'), template, { catalogId: 'spring' });
    expect(lf.runs).toEqual(plan.runs);
    expect(cr.runs).toEqual(plan.runs);
    expect(lf.errors).toEqual(plan.errors);
  });
});

describe('parseFeed', () => {
  it('reads CSV by header, keeping values as text', () => {
    const feed = parseFeed('sku,price,tags\nA,19.90,a|b\n');
    expect(feed).toEqual({
      format: 'csv',
      columns: ['sku', 'price', 'tags'],
      rows: [{ line: 2, values: { sku: 'A', price: '19.90', tags: 'a|b' } }],
      errors: [],
    });
  });

  it('ignores trailing empty values and unnamed columns, and warns about a repeated column', () => {
    const feed = parseFeed('sku,name,,name\nA,x,ignored,y,,\n');
    expect(feed.columns).toEqual(['sku', 'name']);
    expect(feed.rows).toEqual([{ line: 2, values: { sku: 'A', name: 'x' } }]);
    expect(feed.errors).toEqual([{ line: 1, field: 'header', warning: true, message: 'column "name" appears twice (columns 2 and 4): the first is used' }]);
  });

  it('keeps a column named __proto__ as a column', () => {
    const feed = parseFeed('sku,__proto__\nA,x\n');
    expect(Object.hasOwn(feed.rows[0]!.values, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(feed.rows[0]!.values)).toBe(Object.prototype);
  });

  it('reads JSON lines, writing numbers and booleans as text and lists as JSON, and names bad lines', () => {
    const text = [
      '{"sku":"A-1","name":"mug","price":12.5,"onSale":true,"tags":["red","blue"],"dims":{"h":10},"note":null}',
      '',
      '{"sku":"A-2","name":"cup"',
      '["not","an","object"]',
      '{"sku":"A-3","name":"bowl","price":3}',
    ].join('\r\n');
    const feed = parseFeed(text);
    expect(feed.format).toBe('jsonl');
    expect(feed.columns).toEqual(['sku', 'name', 'price', 'onSale', 'tags', 'dims', 'note']);
    expect(feed.rows).toEqual([
      { line: 1, values: { sku: 'A-1', name: 'mug', price: '12.5', onSale: 'true', tags: '["red","blue"]', dims: '{"h":10}', note: '' } },
      { line: 5, values: { sku: 'A-3', name: 'bowl', price: '3', onSale: '', tags: '', dims: '', note: '' }, absent: ['onSale', 'tags', 'dims', 'note'] },
    ]);
    expect(feed.errors).toEqual([
      { line: 3, field: 'row', message: expect.stringMatching(/^is not valid JSON .*row skipped$/) },
      { line: 4, field: 'row', message: 'must be a JSON object, not a list: row skipped' },
    ]);
  });

  it('auto-detects JSON lines after a BOM and blank lines, and refuses a JSON array', () => {
    expect(parseFeed('\uFEFF\n  {"sku":"A"}\n').format).toBe('jsonl');
    expect(parseFeed('{"sku":"A"}', 'csv').format).toBe('csv');
    expect(parseFeed('[{"sku":"A"}]').errors).toEqual([{ line: 1, field: 'feed', message: expect.stringMatching(/JSON array.*one JSON object per line/) }]);
  });

  it('reads 5,000 rows', () => {
    const text = ['sku,name,color', ...Array.from({ length: 5000 }, (_, i) => `SKU-${i},"thing, no. ${i}",red`)].join('\n');
    const feed = parseFeed(text);
    expect(feed.errors).toEqual([]);
    expect(feed.rows).toHaveLength(5000);
    expect(feed.rows[4999]).toEqual({ line: 5001, values: { sku: 'SKU-4999', name: 'thing, no. 4999', color: 'red' } });
  });
});

describe('expandTemplate', () => {
  const row: FeedRow = { line: 2, values: { name: 'mug', color: 'teal', price: '007', tags: 'red | blue||green ', empty: '  ', json: '["a", 2, null]' } };

  it('replaces placeholders in every string, nested objects and lists included, and not in keys', () => {
    const tpl = { subject: '{color} {name}', deep: { list: ['x {name}', { y: '{ color }' }] }, '{name}': 1, n: 3, b: true, z: null };
    expect(expandTemplate(tpl, row)).toEqual({
      value: { subject: 'teal mug', deep: { list: ['x mug', { y: 'teal' }] }, '{name}': 1, n: 3, b: true, z: null },
      missing: [],
    });
  });

  it('writes {{ and }} as literal braces and keeps stray braces', () => {
    expect(expandTemplate('{{name}} is {name}; {{{color}}}', row).value).toBe('{name} is mug; {teal}');
    expect(expandTemplate('a } b { c {} d', row).value).toBe('a } b { c {} d');
  });

  it('keeps a number-like cell a string, for the brief schema to judge', () => {
    expect(expandTemplate({ seed: '{price}' }, row).value).toEqual({ seed: '007' });
  });

  it('expands {list:column} into a list: as a value, spliced into a list, or joined inside text', () => {
    expect(expandTemplate({ mustInclude: '{list:tags}' }, row).value).toEqual({ mustInclude: ['red', 'blue', 'green'] });
    expect(expandTemplate({ mustInclude: ['the logo', '{list:tags}', 'a cup'] }, row).value).toEqual({ mustInclude: ['the logo', 'red', 'blue', 'green', 'a cup'] });
    expect(expandTemplate({ subject: 'mug in {list:tags}' }, row).value).toEqual({ subject: 'mug in red, blue, green' });
    expect(expandTemplate({ a: '{list:json}', b: '{list:empty}' }, row).value).toEqual({ a: ['a', '2'], b: [] });
  });

  it('leaves out a field or item whose whole value is an empty cell', () => {
    expect(expandTemplate({ textInImage: '{empty}', mustInclude: ['{empty}', 'x'], subject: 'a {empty}' }, row).value).toEqual({ mustInclude: ['x'], subject: 'a   ' });
  });

  it('lists columns the row does not have and leaves their placeholders as written', () => {
    expect(expandTemplate({ a: '{colour}', b: ['{size} {colour}', '{list:sizes}'] }, row)).toEqual({
      value: { a: '{colour}', b: ['{size} {colour}', '{list:sizes}'] },
      missing: ['colour', 'size', 'sizes'],
    });
  });

  it('does not change the template', () => {
    const tpl = { subject: '{name}', list: ['{list:tags}'] };
    const copy = structuredClone(tpl);
    expandTemplate(tpl, row);
    expect(tpl).toEqual(copy);
  });

  it('finds the columns a template uses', () => {
    expect(templatePlaceholders({ a: '{x} {{y}}', b: ['{list:z}', { c: '{x}' }], d: 4 })).toEqual(['x', 'z']);
  });
});

describe('template problems', () => {
  const feed = 'sku,name,color\nA,mug,teal\nB,cup,red\n';

  it('stops the whole feed, once, when the template names a column the feed lacks', () => {
    const plan = briefsFromFeed(feed, { ...template, subject: 'a {colour} {name}' });
    expect(plan.runs).toEqual([]);
    expect(plan.errors).toEqual([
      {
        line: 1,
        field: 'template',
        message: 'uses columns the feed does not have: "colour" (did you mean "color"?), "hex", "category"; the feed\'s columns are "sku", "name", "color" (write {{ and }} for literal braces)',
      },
    ]);
  });

  it('stops the feed when it has no SKU column, saying to add one', () => {
    const plan = briefsFromFeed('code,name\nA,mug\n', { subject: 'a {name} product photo', channels: ['og-image'] });
    expect(plan.runs).toEqual([]);
    expect(plan.errors).toEqual([{ line: 1, field: 'sku', message: expect.stringMatching(/no "sku" column.*"code", "name".*add a column named sku/) }]);
    const named = briefsFromFeed('code,name\nA,mug\n', { subject: 'a {name} product photo', channels: ['og-image'] }, { skuColumn: 'code' });
    expect(named.errors).toEqual([]);
    expect(named.runs.map((r) => r.sku)).toEqual(['A']);
  });

  it('reports a template that is not JSON, not an object, or sets sku', () => {
    expect(briefsFromFeed(feed, '{ "subject": ').errors).toEqual([{ line: 1, field: 'template', message: expect.stringMatching(/^is not valid JSON/) }]);
    expect(briefsFromFeed(feed, '[]').errors).toEqual([{ line: 1, field: 'template', message: expect.stringMatching(/must be a JSON object/) }]);
    expect(briefsFromFeed(feed, { subject: 'x y', channels: ['og-image'], sku: '{name}' }).errors).toEqual([{ line: 1, field: 'template', message: expect.stringMatching(/sets sku/) }]);
  });

  it('reports an empty feed and refuses one over the row limit', () => {
    expect(briefsFromFeed('', template).errors).toEqual([{ line: 1, field: 'feed', message: expect.stringMatching(/is empty/) }]);
    const big = briefsFromFeed(feed, { subject: 'a {name} photo', channels: ['og-image'] }, { maxRows: 1 });
    expect(big.runs).toEqual([]);
    expect(big.errors).toEqual([{ line: 1, field: 'feed', message: 'has 2 rows; a catalog feed may have at most 1: split it' }]);
    expect(CATALOG_FEED_MAX_ROWS).toBe(100_000);
  });

  it('uses the id a template sets, placeholders included', () => {
    const plan = briefsFromFeed(feed, { id: 'shop-{name}', subject: 'a {name} photo', channels: ['og-image'] });
    expect(plan.runs.map((r) => r.brief.id)).toEqual(['shop-mug', 'shop-cup']);
  });
});

describe('A/B variants', () => {
  const feed = 'sku,name,color\nA-1,mug,teal\nA-2,cup,red\nA-1,mug again,teal\n';
  const ab = {
    subject: 'a {color} {name} product photo',
    channels: ['og-image'],
    lighting: 'soft window light',
    variants: [{ id: 'warm', lighting: 'warm tungsten light' }, { id: 'cool' }],
  };

  it('runs every row once per variant, with the variant on the brief and the workflow id', () => {
    const plan = briefsFromFeed(feed, ab, { catalogId: 'ab' });
    expect(plan.errors).toEqual([]);
    expect(plan.template).toEqual({ variants: 2, variantIds: ['warm', 'cool'], columns: ['color', 'name'] });
    expect(plan.runs.map((r) => [r.sku, r.variant, r.workflowId, r.brief.lighting])).toEqual([
      ['A-1', 'warm', 'catalog-ab/A-1~warm', 'warm tungsten light'],
      ['A-1', 'cool', 'catalog-ab/A-1~cool', 'soft window light'],
      ['A-2', 'warm', 'catalog-ab/A-2~warm', 'warm tungsten light'],
      ['A-2', 'cool', 'catalog-ab/A-2~cool', 'soft window light'],
    ]);
    expect(plan.runs.map((r) => r.brief.variant)).toEqual(['warm', 'cool', 'warm', 'cool']);
    expect('variants' in plan.runs[0]!.brief).toBe(false);
    expect(plan.duplicates).toEqual([{ sku: 'A-1', lines: [2, 4] }]);
  });

  it('reports a problem of one variant with the variant, a shared one once, and runs neither side of that row', () => {
    const plan = briefsFromFeed(feed.replace('A-2,cup,red', 'A-2,,red'), { ...ab, variants: [{ id: 'warm', lighting: 'x'.repeat(301) }, { id: 'cool' }] });
    expect(plan.errors).toEqual([
      { line: 2, sku: 'A-1', variant: 'warm', field: 'lighting', message: 'must be at most 300 characters' },
      { line: 3, sku: 'A-2', variant: 'warm', field: 'lighting', message: 'must be at most 300 characters' },
    ]);
    expect(plan.runs).toEqual([]);

    const shared = briefsFromFeed(feed, { ...ab, approval: 'sometimes' });
    expect(shared.errors).toEqual([
      { line: 2, sku: 'A-1', field: 'approval', message: 'must be one of "auto", "human", "when-unsure", not "sometimes"' },
      { line: 3, sku: 'A-2', field: 'approval', message: 'must be one of "auto", "human", "when-unsure", not "sometimes"' },
    ]);
  });

  it('refuses variants without safe, unique ids', () => {
    const bad = (variants: unknown) => briefsFromFeed(feed, { ...ab, variants }).errors;
    expect(bad([])).toEqual([{ line: 1, field: 'template', message: expect.stringMatching(/at least one/) }]);
    expect(bad([{ lighting: 'x' }])).toEqual([{ line: 1, field: 'template', message: expect.stringMatching(/variants\[0\]\.id/) }]);
    expect(bad([{ id: 'a/b' }])).toEqual([{ line: 1, field: 'template', message: expect.stringMatching(/variants\[0\]\.id/) }]);
    expect(bad([{ id: 'a' }, { id: 'a' }])).toEqual([{ line: 1, field: 'template', message: expect.stringMatching(/used twice/) }]);
    expect(bad([{ id: 'a', sku: 'x' }])).toEqual([{ line: 1, field: 'template', message: expect.stringMatching(/cannot override/) }]);
  });

  it('checks the columns variants use too', () => {
    const plan = briefsFromFeed(feed, { ...ab, variants: [{ id: 'a', subject: 'a {size} mug photo' }] });
    expect(plan.errors).toEqual([{ line: 1, field: 'template', message: expect.stringMatching(/"size"/) }]);
  });
});

describe('ids', () => {
  it('keeps workflow ids and blob keys safe whatever the SKU holds', () => {
    expect(catalogChildId('spring', 'TSHIRT-9')).toBe('catalog-spring/TSHIRT-9');
    expect(catalogChildId('spring', 'TSHIRT-9', 'warm')).toBe('catalog-spring/TSHIRT-9~warm');
    expect(catalogChildId('spring', 'a/b c~d#é')).toBe('catalog-spring/a_b_c_d__');
    expect(catalogChildId('spring', '..')).toBe('catalog-spring/_.');
    expect(catalogChildId('spring', '.hidden')).toBe('catalog-spring/_hidden');
    expect(catalogChildId('spring', 'v1.2_x-y')).toBe('catalog-spring/v1.2_x-y');
  });

  it('counts SKUs that become equal in ids, or differ only in case, as duplicates', () => {
    const plan = briefsFromFeed('sku,name\nA B,mug\nA/B,cup\na_b,bowl\nC,plate\n', { subject: 'a {name} product photo', channels: ['og-image'] }, { catalogId: 'x' });
    expect(plan.runs.map((r) => [r.sku, r.workflowId, r.brief.sku, r.brief.id])).toEqual([
      ['A B', 'catalog-x/A_B', 'A B', 'a-b'],
      ['C', 'catalog-x/C', 'C', 'c'],
    ]);
    expect(plan.duplicates).toEqual([{ sku: 'A B', lines: [2, 3, 4] }]);
  });

  it('derives catalog ids from names and file names', () => {
    expect(catalogIdFor('Spring Drop 2025')).toBe('spring-drop-2025');
    expect(catalogIdFor('feeds/Été Collection.csv')).toBe('ete-collection');
    expect(catalogIdFor('C:\\exports\\products.jsonl')).toBe('products');
    expect(catalogIdFor('***')).toBe('catalog');
  });

  it('defaults the catalog id to a hash of the feed and template', () => {
    const feed = 'sku,name\nA,mug\n';
    const tpl = { subject: 'a {name} product photo', channels: ['og-image'] };
    const a = briefsFromFeed(feed, tpl);
    expect(a.catalogId).toMatch(/^feed-[0-9a-f]{8}$/);
    expect(briefsFromFeed(feed, tpl).catalogId).toBe(a.catalogId);
    expect(briefsFromFeed(feed + 'B,cup\n', tpl).catalogId).not.toBe(a.catalogId);
  });
});

describe('examples/catalog', () => {
  const products = example('products.csv');

  it('template.json gives one valid, full-scoring brief per product', () => {
    const plan = briefsFromFeed(products, example('template.json'), { catalogId: catalogIdFor('products.csv') });
    expect(plan.errors).toEqual([]);
    expect(plan.duplicates).toEqual([]);
    expect(plan.runs).toHaveLength(12);
    expect(plan.columns).toEqual(['sku', 'name', 'color', 'category', 'material', 'hex']);
    for (const run of plan.runs) {
      expect(run.brief).toMatchObject({ channels: ['instagram-square', 'og-image'], candidates: 2, topK: 1, approval: 'auto' });
      expect(scorePrompt(buildPrompt(run.brief).knobs).score).toBe(8);
    }
    expect(plan.runs.find((r) => r.sku === 'TOTE-CV-030')!.brief.subject).toContain('canvas tote bag, large size');
    expect(plan.runs[0]!.workflowId).toBe('catalog-products/TEE-ORG-001');
  });

  it('template-ab.json gives two runs per product', () => {
    const plan = briefsFromFeed(products, example('template-ab.json'));
    expect(plan.errors).toEqual([]);
    expect(plan.runs).toHaveLength(24);
    expect(plan.template.variantIds).toEqual(['studio', 'lifestyle']);
    for (const run of plan.runs) expect(scorePrompt(buildPrompt(run.brief).knobs).score).toBe(8);
  });
});

describe('a large feed', () => {
  it('plans 5,000 rows', () => {
    const text = ['sku,name,color,hex', ...Array.from({ length: 5000 }, (_, i) => `SKU-${i},"thing, no. ${i}",red,#AA0000`)].join('\n');
    const plan = briefsFromFeed(text, { subject: 'a {color} {name} product photo', channels: ['og-image'], brandColors: ['{hex}'] });
    expect(plan.errors).toEqual([]);
    expect(plan.runs).toHaveLength(5000);
    expect(plan.runs[4999]).toMatchObject({ sku: 'SKU-4999', line: 5001 });
  });
});

describe('hostile feeds', () => {
  const small = { subject: 'a {name} on a plain backdrop', channels: ['og-image'] };
  const errorText = (plan: { errors: unknown[] }) => JSON.stringify(plan.errors);

  it('refuses a JSON-lines cell nested thousands deep as a row error, without blowing the stack', () => {
    const deep = `${'['.repeat(5000)}${']'.repeat(5000)}`;
    const feed = `{"sku":"A","name":"mug"}\n{"sku":"B","name":"cup","deep":${deep}}\n{"sku":"C","name":"bowl","ok":{"a":[1,{"b":2}]}}\n`;
    const plan = briefsFromFeed(feed, small, { format: 'jsonl' });
    expect(plan.runs.map((r) => r.sku)).toEqual(['A', 'C']);
    expect(plan.errors).toEqual([{ line: 2, field: 'row', message: expect.stringMatching(/nests JSON more than 32 levels deep: row skipped/) }]);
    // Brackets inside strings are text, not nesting.
    expect(parseFeed(`{"sku":"A","name":"${'['.repeat(5000)}"}\n`).rows).toHaveLength(1);
  });

  it('refuses a template nested thousands deep, as text or as a value', () => {
    const deepText = `{"subject":"a {name}","channels":["og-image"],"x":${'['.repeat(5000)}${']'.repeat(5000)}}`;
    expect(briefsFromFeed('sku,name\nA,mug\n', deepText).errors).toEqual([{ line: 1, field: 'template', message: expect.stringMatching(/nests JSON more than 32 levels deep/) }]);
    let value: unknown = 'leaf';
    for (let i = 0; i < 5000; i++) value = [value];
    expect(briefsFromFeed('sku,name\nA,mug\n', { ...small, x: value }).errors).toEqual([{ line: 1, field: 'template', message: expect.stringMatching(/nests more than 32 levels deep/) }]);
  });

  it('echoes no more than a preview of huge cells, keys and column names in its errors', () => {
    const huge = 'Z'.repeat(2_000_000);
    const csv = `sku,name,${huge},${huge}\nA,mug,x,y\n${huge},cup,x,y\nB,"${huge}",x,y\n`;
    const plan = briefsFromFeed(csv, { ...small, brandColors: ['{name}'] });
    expect(errorText(plan).length).toBeLessThan(8000);
    expect(plan.errors.find((e) => e.field === 'header')!.message).toMatch(/^column "Z{200}"… \(2000000 chars\) appears twice/);
    const bad = plan.errors.find((e) => e.line === 3)!;
    expect(bad.sku).toMatch(/^Z{200}… \(2000000 chars\)$/);
    const colour = plan.errors.find((e) => e.line === 4 && e.field === 'brandColors[0]');
    expect(colour).toBeDefined();

    const keys = Array.from({ length: 500 }, (_, i) => `${'k'.repeat(10_000)}${i}`);
    const missing = briefsFromFeed(`sku,${keys.join(',')}\nA,${keys.map(() => 'v').join(',')}\n`, small);
    expect(missing.errors).toHaveLength(1);
    expect(missing.errors[0]!.message).toMatch(/uses a column the feed does not have: "name"; the feed's columns are "sku", "k{200}"… \(10001 chars\),.* and 481 more/);
    expect(errorText(missing).length).toBeLessThan(8000);

    const noSku = briefsFromFeed(`code,name\nA,mug\n`, small, { skuColumn: huge });
    expect(errorText(noSku).length).toBeLessThan(8000);
    expect(briefsFromFeed('sku,name\nA,mug\n', { ...small, variants: [{ id: huge }] }).errors[0]!.message).toMatch(/not "Z{200}"… \(2000000 chars\)$/);
  });

  it('shows control characters in its errors as escapes', () => {
    const plan = briefsFromFeed('sku,name,\u001b[2J,\u001b[2J\nA\u001b]0;x\u0007,mug\u001b,a,b\n', small);
    for (const e of plan.errors) expect(`${e.sku ?? ''} ${e.field} ${e.message}`).not.toMatch(CONTROL_CHARS);
    expect(plan.errors.map((e) => e.field)).toEqual(expect.arrayContaining(['header', 'subject', 'sku']));
  });
});

describe('feed bytes', () => {
  it('decodes UTF-8 as it is (a BOM kept for the parser) and names the line of the first byte that is not', () => {
    const utf8 = new TextEncoder().encode('\uFEFFsku,name\nA,café\n');
    expect(decodeUtf8(utf8)).toEqual({ ok: true, text: '\uFEFFsku,name\nA,café\n' });
    const latin1 = Uint8Array.from([...new TextEncoder().encode('sku,name\nA,mug\nB,caf'), 0xe9, 0x0a]);
    expect(decodeUtf8(latin1)).toEqual({ ok: false, line: 3 });
    expect(decodeUtf8(Uint8Array.from([0xff]))).toEqual({ ok: false, line: 1 });
  });
});
