// Decode/resize/encode around sharp (libvips). Every path ends in packed RGB so the engine never
// sees alpha, palettes, grey or CMYK.
import sharp from 'sharp';
import { assertRgb, type RgbImage } from './rgb';

/** Refuse decompression bombs before libvips allocates: 4096² is 4× the largest render side squared. */
export const DEFAULT_MAX_INPUT_PIXELS = 4096 * 4096;

export interface DecodeOptions {
  /** target size; the image is scaled to cover it and centre-cropped (CSS object-fit: cover) */
  width?: number;
  height?: number;
  maxInputPixels?: number;
}

export class ImageDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageDecodeError';
  }
}

/** PNG/JPEG/WebP (anything libvips reads) → RGB, upright per its EXIF orientation (a phone photo
 * of a paper sketch is stored sideways with an orientation tag), transparent areas flattened onto
 * white (a sketch's empty canvas is white, not black), optionally cover-resized. */
export async function decodeImage(bytes: Uint8Array, opts: DecodeOptions = {}): Promise<RgbImage> {
  let pipeline = sharp(bytes, { limitInputPixels: opts.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS, failOn: 'error' });
  pipeline = pipeline.autoOrient().flatten({ background: '#ffffff' }).toColourspace('srgb');
  if (opts.width && opts.height) pipeline = pipeline.resize(opts.width, opts.height, { fit: 'cover', position: 'centre' });
  try {
    const { data, info } = await pipeline.removeAlpha().raw().toBuffer({ resolveWithObject: true });
    if (info.channels !== 3) throw new Error(`decoded to ${info.channels} channels`);
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
  } catch (e) {
    const msg = (e as Error).message;
    if (/pixel limit/i.test(msg)) {
      throw new ImageDecodeError(`input image is larger than ${opts.maxInputPixels ?? DEFAULT_MAX_INPUT_PIXELS} pixels; send a smaller image`);
    }
    throw new ImageDecodeError(`cannot decode input image (${msg.split('\n')[0]}); send a PNG, JPEG or WebP`);
  }
}

/** Cover-resizes raw RGB; returns the input itself when it already has the size. */
export async function resizeRgb(img: RgbImage, width: number, height: number): Promise<RgbImage> {
  assertRgb(img);
  if (img.width === width && img.height === height) return img;
  const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .resize(width, height, { fit: 'cover', position: 'centre' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

/** JPEG for the wire, tuned for a frame every few tens of milliseconds: quality 85, 4:2:0, no
 * mozjpeg trellis and no Huffman-table optimisation pass. Measured at 512² on the project machine
 * the optimisation pass costs ~1.2 ms of a ~2.7 ms encode for 7% fewer bytes. */
export async function encodeJpeg(img: RgbImage, quality = 85): Promise<Buffer> {
  assertRgb(img);
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } })
    .jpeg({ quality, mozjpeg: false, chromaSubsampling: '4:2:0', optimiseCoding: false })
    .toBuffer();
}

/** PNG for files and tests (lossless; a low compression level keeps it fast). */
export async function encodePng(img: RgbImage, compressionLevel = 3): Promise<Buffer> {
  assertRgb(img);
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 3 } }).png({ compressionLevel }).toBuffer();
}
