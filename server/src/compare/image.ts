/**
 * Two PNG images compared pixel by pixel: how many pixels differ, and a difference image (the
 * differing pixels red over a faded copy of A) the panel shows beside the two.
 */
import type { ImageDiff } from '../contract/wire';
import { COMPARE_BOUNDS } from './bounds';
import { decodePng, encodePng, PngError, pngSize, type RgbaImage } from './png';

export interface ImageComparison {
  diff: ImageDiff;
  /** The difference image as a PNG, when both decode at the same size. */
  png: (() => Promise<Buffer>) | null;
}

export async function compareImages(
  a: Buffer | null,
  b: Buffer | null,
  maxPixels: number = COMPARE_BOUNDS.pngPixels
): Promise<ImageComparison> {
  const sizeA = a && pngSize(a);
  const sizeB = b && pngSize(b);
  const diff: ImageDiff = {
    a: sizeA ?? null,
    b: sizeB ?? null,
    differingPixels: null,
    ratio: null,
    note: null
  };
  if (!a || !b) {
    diff.note = `An image is larger than ${COMPARE_BOUNDS.pngBytes} bytes: compared by size and hash.`;
    return { diff, png: null };
  }
  let imageA: RgbaImage;
  let imageB: RgbaImage;
  try {
    imageA = await decodePng(a, maxPixels);
    imageB = await decodePng(b, maxPixels);
  } catch (error) {
    if (error instanceof PngError) {
      diff.note = `${error.message} Compared by size and hash.`;
      return { diff, png: null };
    }
    throw error;
  }
  if (imageA.width !== imageB.width || imageA.height !== imageB.height) {
    diff.note = `The images differ in size (${imageA.width}×${imageA.height} and ${imageB.width}×${imageB.height}).`;
    return { diff, png: null };
  }
  const { differing, image } = differenceImage(imageA, imageB);
  diff.differingPixels = differing;
  diff.ratio = differing / (imageA.width * imageA.height);
  return { diff, png: () => encodePng(image) };
}

/** Differing pixels red, the others A's faded towards white (so the eye finds the red). */
export function differenceImage(
  a: RgbaImage,
  b: RgbaImage
): { differing: number; image: RgbaImage } {
  const pixels = new Uint8Array(a.pixels.length);
  let differing = 0;
  for (let i = 0; i < pixels.length; i += 4) {
    const same =
      a.pixels[i] === b.pixels[i] &&
      a.pixels[i + 1] === b.pixels[i + 1] &&
      a.pixels[i + 2] === b.pixels[i + 2] &&
      a.pixels[i + 3] === b.pixels[i + 3];
    if (same) {
      const grey =
        (a.pixels[i] * 0.3 + a.pixels[i + 1] * 0.59 + a.pixels[i + 2] * 0.11) *
          (a.pixels[i + 3] / 255) +
        255 * (1 - a.pixels[i + 3] / 255);
      const faded = 191 + Math.round(grey / 4);
      pixels.set([faded, faded, faded, 255], i);
    } else {
      differing++;
      pixels.set([255, 0, 0, 255], i);
    }
  }
  return { differing, image: { width: a.width, height: a.height, pixels } };
}
