// Checks a snapshot image before it may reach the engine: size in bytes, the image header (sharp
// reads only the header here, in libuv's pool, so the event loop stays free) and its dimensions.
// Full pixel decoding happens once, in the engine worker; a failure there is reported as bad-image too.
import sharp, { type Metadata } from 'sharp';
import { MAX_SNAPSHOT_BYTES, MAX_SNAPSHOT_SIDE } from '../../lib/protocol';

export type SnapshotMime = 'image/jpeg' | 'image/webp' | 'image/png';

export type SnapshotCheck =
  | { ok: true; width: number; height: number; format: string }
  | { ok: false; code: 'too-large' | 'bad-image'; message: string };

const FORMAT_OF_MIME: Record<SnapshotMime, string> = {
  'image/jpeg': 'jpeg',
  'image/png': 'png',
  'image/webp': 'webp',
};

export async function validateSnapshot(image: Uint8Array, mime: SnapshotMime): Promise<SnapshotCheck> {
  if (image.byteLength > MAX_SNAPSHOT_BYTES) {
    return {
      ok: false,
      code: 'too-large',
      message: `snapshot is ${image.byteLength} bytes, the limit is ${MAX_SNAPSHOT_BYTES}: send a smaller or more compressed image`,
    };
  }
  let meta: Metadata;
  try {
    meta = await sharp(image, { limitInputPixels: MAX_SNAPSHOT_SIDE * MAX_SNAPSHOT_SIDE }).metadata();
  } catch (err) {
    if (/pixel limit/i.test(conciseSharpError(err))) {
      return {
        ok: false,
        code: 'too-large',
        message: `snapshot has more than ${MAX_SNAPSHOT_SIDE}×${MAX_SNAPSHOT_SIDE} pixels: capture at a smaller scale`,
      };
    }
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
  return { ok: true, width, height, format };
}

function conciseSharpError(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0].slice(0, 160);
}
