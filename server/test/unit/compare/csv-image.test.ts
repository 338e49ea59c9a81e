/** CSV cell by cell with a tolerance; PNG decoded (bounded first) and compared pixel by pixel. */
import { deflateSync } from 'node:zlib';
import { compareCsv, parseCsv } from '../../../src/compare/csv';
import { compareImages } from '../../../src/compare/image';
import { decodePng, encodePng, PngError } from '../../../src/compare/png';
import { viewOf } from '../../../src/compare/view';

describe('compareCsv', () => {
  const a = 'name,value,count\nx,1.0,3\ny,2.5,4\n';

  it('lists changed cells with their column name and numeric delta', () => {
    const diff = compareCsv(a, 'name,value,count\nx,1.5,3\ny,2.5,five\n', ',', {
      absolute: 0,
      relative: 0
    });
    expect(diff.verdict).toBe('changed');
    expect(diff.changedCells).toBe(2);
    expect(diff.cells).toEqual([
      {
        row: 1,
        column: 1,
        columnName: 'value',
        a: '1.0',
        b: '1.5',
        delta: 0.5,
        withinTolerance: false
      },
      {
        row: 2,
        column: 2,
        columnName: 'count',
        a: '4',
        b: 'five',
        delta: null,
        withinTolerance: false
      }
    ]);
  });

  it('says changed only within tolerance, absolute or relative', () => {
    const b = 'name,value,count\nx,1.001,3\ny,2.5,4.0\n';
    expect(compareCsv(a, b, ',', { absolute: 0.01, relative: 0 }).verdict).toBe(
      'within-tolerance'
    );
    expect(compareCsv(a, b, ',', { absolute: 0, relative: 0.01 }).verdict).toBe(
      'within-tolerance'
    );
    expect(
      compareCsv(a, b, ',', { absolute: 0.0001, relative: 0 }).verdict
    ).toBe('changed');
  });

  it('reports added rows as changed, never within tolerance', () => {
    const diff = compareCsv(a, a + 'z,3,5\n', ',', {
      absolute: 1e9,
      relative: 1
    });
    expect(diff.verdict).toBe('changed');
    expect(diff.rows).toEqual({ a: 3, b: 4 });
    expect(diff.cells[0]).toMatchObject({ row: 3, a: null, b: 'z' });
  });

  it('is identical for the same cells', () => {
    expect(compareCsv(a, a, ',', { absolute: 0, relative: 0 })).toMatchObject({
      verdict: 'identical',
      changedCells: 0
    });
  });

  it('parses quotes, separators and newlines inside cells, and tabs for TSV', () => {
    expect(parseCsv('"a,b","say ""hi""\nthere"\r\nc,d')).toEqual([
      ['a,b', 'say "hi"\nthere'],
      ['c', 'd']
    ]);
    expect(parseCsv('a\tb\n', '\t')).toEqual([['a', 'b']]);
  });

  it('is too large past the row and column bounds', () => {
    const bounds = { csvRows: 2, csvColumns: 3, csvCellsListed: 10 };
    expect(
      compareCsv(
        '1\n2\n3\n4\n',
        '1\n',
        ',',
        { absolute: 0, relative: 0 },
        bounds
      ).tooLarge
    ).toMatch(/more than 2 rows/);
    expect(parseCsv('1,2,3,4,5\n', ',', bounds)).toEqual({
      tooLarge: 'more than 3 columns'
    });
  });
});

function image(width: number, height: number, at?: [number, number]) {
  const pixels = new Uint8Array(width * height * 4).fill(255);
  if (at) {
    pixels.set([0, 0, 255, 255], (at[1] * width + at[0]) * 4);
  }
  return { width, height, pixels };
}

/** A PNG by hand: 8-bit RGB, every row with the given filter type. */
function rgbPng(
  width: number,
  height: number,
  rgb: number[],
  filter: number
): Buffer {
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    rows[y * (width * 3 + 1)] = filter;
    for (let x = 0; x < width * 3; x++) {
      // Filter 2 (up): the first row as is, then differences (zero: same as above).
      rows[y * (width * 3 + 1) + 1 + x] =
        filter === 2 && y > 0 ? 0 : rgb[x % 3];
    }
  }
  const chunk = (type: string, body: Buffer) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(body.length);
    return Buffer.concat([
      length,
      Buffer.from(type, 'latin1'),
      body,
      Buffer.alloc(4)
    ]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 2;
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0))
  ]);
}

describe('PNG', () => {
  it('round-trips RGBA through encode and decode', async () => {
    const original = image(7, 5, [3, 2]);
    const decoded = await decodePng(await encodePng(original), 1000);
    expect(decoded.width).toBe(7);
    expect(
      Buffer.from(decoded.pixels).equals(Buffer.from(original.pixels))
    ).toBe(true);
  });

  it('decodes RGB rows with the up filter', async () => {
    const decoded = await decodePng(rgbPng(3, 3, [10, 20, 30], 2), 100);
    expect(Array.from(decoded.pixels.subarray(32, 36))).toEqual([
      10, 20, 30, 255
    ]);
  });

  it('bounds width × height before inflating anything', async () => {
    const huge = rgbPng(1, 1, [0, 0, 0], 0);
    huge.writeUInt32BE(100_000, 16);
    huge.writeUInt32BE(100_000, 20);
    await expect(decodePng(huge, 16 * 1024 * 1024)).rejects.toThrow(PngError);
    await expect(decodePng(huge, 16 * 1024 * 1024)).rejects.toThrow(
      /100000×100000 pixels/
    );
  });

  it('refuses image data larger than the header says (a zip bomb)', async () => {
    const bomb = rgbPng(4, 4, [0, 0, 0], 0);
    const rows = deflateSync(Buffer.alloc(10 * 1024 * 1024));
    const idat = Buffer.alloc(8 + rows.length + 4);
    idat.writeUInt32BE(rows.length, 0);
    idat.write('IDAT', 4, 'latin1');
    rows.copy(idat, 8);
    const at = bomb.indexOf('IDAT') - 4;
    const forged = Buffer.concat([
      bomb.subarray(0, at),
      idat,
      bomb.subarray(bomb.indexOf('IEND') - 4)
    ]);
    await expect(decodePng(forged, 1000)).rejects.toThrow(/damaged or larger/);
  });

  it('counts differing pixels and draws them red', async () => {
    const a = await encodePng(image(10, 10));
    const b = await encodePng(image(10, 10, [4, 6]));
    const { diff, png } = await compareImages(a, b);
    expect(diff).toMatchObject({ differingPixels: 1, ratio: 0.01, note: null });
    const difference = await decodePng(await png!(), 1000);
    expect(
      Array.from(difference.pixels.subarray((6 * 10 + 4) * 4, (6 * 10 + 5) * 4))
    ).toEqual([255, 0, 0, 255]);
    expect(Array.from(difference.pixels.subarray(0, 4))).toEqual([
      255, 255, 255, 255
    ]);
  });

  it('says when sizes differ or an image is not a PNG', async () => {
    const a = await encodePng(image(10, 10));
    expect(
      (await compareImages(a, await encodePng(image(5, 10)))).diff.note
    ).toMatch(/differ in size \(10×10 and 5×10\)/);
    expect(
      (await compareImages(a, Buffer.from('not a png'))).diff.note
    ).toMatch(/not a PNG image/);
  });
});

describe('viewOf', () => {
  it.each([
    ['table.csv', 'a,b', 'csv'],
    ['data.tsv', 'a\tb', 'csv'],
    ['plot.png', '\x89PNG', 'png'],
    ['plot.svg', '<svg/>', 'svg'],
    ['notes', 'plain text\n', 'text'],
    ['/tmp/out/log.txt', 'é', 'text'],
    ['blob', '\0\x01\x02', 'binary'],
    ['archive.gz', 'text-looking', 'binary'],
    ['latin1.txt', '\xe9t\xe9', 'binary']
  ])('%s (%j) is %s', (name, head, view) => {
    expect(
      viewOf(name, Buffer.from(head, head === 'é' ? 'utf8' : 'latin1'))
    ).toBe(view);
  });
});
