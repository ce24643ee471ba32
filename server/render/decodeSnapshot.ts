// Checks a snapshot image before it may reach the render queue, and decodes it there once:
// size in bytes, the image header (dimensions, format = mime), then a full decode + resize to the
// render size. Everything after the byte count runs in sharp, i.e. in libuv's pool, so the event
// loop stays free. Only a snapshot that decoded completely may take a frame's slot: a truncated or
// corrupt one must not replace (and so knock out) a valid snapshot waiting there. The engine
// worker gets the raw RGB and decodes nothing.
import sharp, { type Metadata } from 'sharp';
import { decodeImage, ImageDecodeError, type RgbImage } from '../../lib/image';
import { MAX_SNAPSHOT_BYTES, MAX_SNAPSHOT_SIDE, type SnapshotMime } from '../../lib/protocol';

export type { SnapshotMime };

export type SnapshotDecode =
  | {
      ok: true;
      /** the snapshot's own size */
      width: number;
      height: number;
      format: string;
      /** the pixels, cover-resized to the requested size (else at the snapshot's size), in a
       * buffer of their own so it can be transferred to the engine worker */
      rgb: RgbImage;
      /** header read + decode + resize */
      decodeMs: number;
    }
  | { ok: false; code: 'too-large' | 'bad-image'; message: string };

const FORMAT_OF_MIME: Record<SnapshotMime, string> = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/webp': 'webp',
};

const MAX_PIXELS = MAX_SNAPSHOT_SIDE * MAX_SNAPSHOT_SIDE;

export async function decodeSnapshot(
  image: Uint8Array,
  mime: SnapshotMime,
  size?: { width: number; height: number },
): Promise<SnapshotDecode> {
  const t0 = performance.now();
  if (image.byteLength > MAX_SNAPSHOT_BYTES) {
    return {
      ok: false,
      code: 'too-large',
      message: `snapshot is ${image.byteLength} bytes, the limit is ${MAX_SNAPSHOT_BYTES}: send a smaller or more compressed image`,
    };
  }
  // the header first: cheap, and it tells "too large" and "wrong format" apart from "broken"
  let meta: Metadata;
  try {
    meta = await sharp(image, { limitInputPixels: MAX_PIXELS }).metadata();
  } catch (err) {
    if (/pixel limit/i.test(conciseSharpError(err))) return tooManyPixels();
    return { ok: false, code: 'bad-image', message: `snapshot is not a readable ${mime} image (${conciseSharpError(err)})` };
  }
  const { width, height, format } = meta;
  if (!width || !height) return { ok: false, code: 'bad-image', message: 'snapshot has no dimensions' };
  if (width > MAX_SNAPSHOT_SIDE || height > MAX_SNAPSHOT_SIDE) {
    return {
      ok: false,
      code: 'too-large',
      message: `snapshot is ${width}×${height}, the limit is ${MAX_SNAPSHOT_SIDE}×${MAX_SNAPSHOT_SIDE}: capture at a smaller scale`,
    };
  }
  if (format !== FORMAT_OF_MIME[mime]) {
    return { ok: false, code: 'bad-image', message: `snapshot says ${mime} but holds ${format ?? 'unknown'} data` };
  }
  let decoded: RgbImage;
  try {
    decoded = await decodeImage(image, { ...size, maxInputPixels: MAX_PIXELS });
  } catch (err) {
    if (!(err instanceof ImageDecodeError)) throw err;
    if (/pixel/i.test(err.message) && /larger than/i.test(err.message)) return tooManyPixels();
    return { ok: false, code: 'bad-image', message: `snapshot ${width}×${height} ${mime} could not be decoded (${conciseSharpError(err)})` };
  }
  // sharp's output buffer is external memory that cannot be detached: copy it once into our own
  const data = new Uint8Array(decoded.data.byteLength);
  data.set(decoded.data);
  return {
    ok: true,
    width,
    height,
    format,
    rgb: { data, width: decoded.width, height: decoded.height },
    decodeMs: performance.now() - t0,
  };
}

function tooManyPixels(): SnapshotDecode {
  return {
    ok: false,
    code: 'too-large',
    message: `snapshot has more than ${MAX_SNAPSHOT_SIDE}×${MAX_SNAPSHOT_SIDE} pixels: capture at a smaller scale`,
  };
}

function conciseSharpError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0].slice(0, 160);
}
