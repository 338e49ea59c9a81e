/**
 * Just enough PNG to compare images: decoding (8- and 16-bit greyscale, RGB, palette, with
 * alpha; not interlaced) into 8-bit RGBA, and encoding RGBA. The size is read from the header and
 * bounded before anything is inflated, and inflating is capped at what that size needs.
 */
import { promisify } from 'node:util';
import { crc32, deflate, inflate } from 'node:zlib';

const inflateAsync = promisify(inflate);
const deflateAsync = promisify(deflate);

const SIGNATURE = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);

export interface RgbaImage {
  width: number;
  height: number;
  /** width × height × 4 bytes, row by row. */
  pixels: Uint8Array;
}

/** A PNG this module cannot (or may not) decode; the sentence says why. */
export class PngError extends Error {}

/** Width and height from the header, without decoding (null: not a PNG). */
export function pngSize(
  head: Buffer
): { width: number; height: number } | null {
  if (
    head.length < 24 ||
    !head.subarray(0, 8).equals(SIGNATURE) ||
    head.toString('latin1', 12, 16) !== 'IHDR'
  ) {
    return null;
  }
  return { width: head.readUInt32BE(16), height: head.readUInt32BE(20) };
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

export async function decodePng(
  file: Buffer,
  maxPixels: number
): Promise<RgbaImage> {
  const size = pngSize(file);
  if (!size) {
    throw new PngError('It is not a PNG image.');
  }
  const { width, height } = size;
  if (width === 0 || height === 0 || width * height > maxPixels) {
    throw new PngError(
      `It is ${width}×${height} pixels; images of at most ${maxPixels} pixels are compared pixel by pixel.`
    );
  }
  const depth = file[24];
  const colorType = file[25];
  const interlace = file[28];
  const channels = CHANNELS[colorType];
  if (
    channels === undefined ||
    interlace !== 0 ||
    !(depth === 8 || depth === 16)
  ) {
    throw new PngError(
      `It is a PNG of a kind not compared pixel by pixel (bit depth ${depth}, colour type ${colorType}${interlace ? ', interlaced' : ''}).`
    );
  }
  let palette: Buffer | null = null;
  let transparency: Buffer | null = null;
  const data: Buffer[] = [];
  for (let at = 8; at + 8 <= file.length;) {
    const length = file.readUInt32BE(at);
    const type = file.toString('latin1', at + 4, at + 8);
    const body = file.subarray(at + 8, at + 8 + length);
    if (type === 'PLTE') palette = body;
    else if (type === 'tRNS') transparency = body;
    else if (type === 'IDAT') data.push(body);
    else if (type === 'IEND') break;
    at += 12 + length;
  }
  if (colorType === 3 && !palette) {
    throw new PngError('It is a palette PNG without a palette.');
  }
  const bytesPerPixel = (channels * depth) / 8;
  const stride = width * bytesPerPixel;
  let raw: Buffer;
  try {
    raw = await inflateAsync(Buffer.concat(data), {
      maxOutputLength: (stride + 1) * height
    });
  } catch {
    throw new PngError('Its image data is damaged or larger than its size.');
  }
  if (raw.length !== (stride + 1) * height) {
    throw new PngError('Its image data does not match its size.');
  }
  const rows = unfilter(raw, stride, height, bytesPerPixel);
  return {
    width,
    height,
    pixels: toRgba(rows, size, colorType, depth, palette, transparency)
  };
}

function unfilter(
  raw: Buffer,
  stride: number,
  height: number,
  bpp: number
): Uint8Array {
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const row = y * stride;
    const up = row - stride;
    for (let x = 0; x < stride; x++) {
      const left = x >= bpp ? out[row + x - bpp] : 0;
      const above = y > 0 ? out[up + x] : 0;
      const corner = y > 0 && x >= bpp ? out[up + x - bpp] : 0;
      let value = line[x];
      switch (filter) {
        case 0:
          break;
        case 1:
          value += left;
          break;
        case 2:
          value += above;
          break;
        case 3:
          value += (left + above) >> 1;
          break;
        case 4: {
          const p = left + above - corner;
          const pa = Math.abs(p - left);
          const pb = Math.abs(p - above);
          const pc = Math.abs(p - corner);
          value += pa <= pb && pa <= pc ? left : pb <= pc ? above : corner;
          break;
        }
        default:
          throw new PngError(`Its row ${y} has an unknown filter (${filter}).`);
      }
      out[row + x] = value & 0xff;
    }
  }
  return out;
}

function toRgba(
  rows: Uint8Array,
  { width, height }: { width: number; height: number },
  colorType: number,
  depth: number,
  palette: Buffer | null,
  transparency: Buffer | null
): Uint8Array {
  const channels = CHANNELS[colorType];
  const step = depth / 8;
  const pixels = new Uint8Array(width * height * 4);
  // 16-bit samples keep their high byte.
  const sample = (i: number, c: number) => rows[(i * channels + c) * step];
  for (let i = 0; i < width * height; i++) {
    let r: number, g: number, b: number, a: number;
    switch (colorType) {
      case 0:
        r = g = b = sample(i, 0);
        a = 255;
        break;
      case 2:
        r = sample(i, 0);
        g = sample(i, 1);
        b = sample(i, 2);
        a = 255;
        break;
      case 3: {
        const index = rows[i];
        r = palette![index * 3] ?? 0;
        g = palette![index * 3 + 1] ?? 0;
        b = palette![index * 3 + 2] ?? 0;
        a = transparency?.[index] ?? 255;
        break;
      }
      case 4:
        r = g = b = sample(i, 0);
        a = sample(i, 1);
        break;
      default:
        r = sample(i, 0);
        g = sample(i, 1);
        b = sample(i, 2);
        a = sample(i, 3);
    }
    pixels.set([r, g, b, a], i * 4);
  }
  return pixels;
}

function chunk(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(body.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), body])) >>> 0, 0);
  return Buffer.concat([head, body, crc]);
}

/** An 8-bit RGBA PNG of the image (rows unfiltered, deflated). */
export async function encodePng(image: RgbaImage): Promise<Buffer> {
  const { width, height, pixels } = image;
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 6;
  const stride = width * 4;
  const raw = Buffer.alloc((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw.set(
      pixels.subarray(y * stride, (y + 1) * stride),
      y * (stride + 1) + 1
    );
  }
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', header),
    chunk('IDAT', await deflateAsync(raw)),
    chunk('IEND', Buffer.alloc(0))
  ]);
}
