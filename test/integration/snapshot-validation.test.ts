// validateSnapshot against real encoded images made with sharp.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { MAX_SNAPSHOT_BYTES } from '../../lib/protocol';
import { validateSnapshot } from '../../server/render/validateSnapshot';

const solid = (w: number, h: number) =>
  sharp({ create: { width: w, height: h, channels: 3, background: { r: 200, g: 40, b: 40 } } });

describe('validateSnapshot', () => {
  it('accepts a PNG, a JPEG and a WebP and reports their size', async () => {
    for (const [mime, img] of [
      ['image/png', await solid(320, 200).png().toBuffer()],
      ['image/jpeg', await solid(320, 200).jpeg().toBuffer()],
      ['image/webp', await solid(320, 200).webp().toBuffer()],
    ] as const) {
      expect(await validateSnapshot(new Uint8Array(img), mime)).toMatchObject({ ok: true, width: 320, height: 200 });
    }
  });

  it('refuses more bytes than MAX_SNAPSHOT_BYTES as too-large', async () => {
    const r = await validateSnapshot(new Uint8Array(MAX_SNAPSHOT_BYTES + 1), 'image/png');
    expect(r).toMatchObject({ ok: false, code: 'too-large' });
  });

  it('refuses dimensions above 2048 as too-large without decoding the pixels', async () => {
    const big = await solid(4000, 100).png({ compressionLevel: 9 }).toBuffer();
    expect(big.byteLength).toBeLessThan(MAX_SNAPSHOT_BYTES);
    expect(await validateSnapshot(new Uint8Array(big), 'image/png')).toMatchObject({ ok: false, code: 'too-large' });
    const huge = await solid(9000, 9000).png({ compressionLevel: 9 }).toBuffer();
    expect(await validateSnapshot(new Uint8Array(huge), 'image/png')).toMatchObject({ ok: false, code: 'too-large' });
  });

  it('refuses garbage and a mime that does not match the bytes as bad-image', async () => {
    const garbage = new Uint8Array(1000).map((_, i) => (i * 31) & 255);
    const r = await validateSnapshot(garbage, 'image/jpeg');
    expect(r).toMatchObject({ ok: false, code: 'bad-image' });
    expect((r as { message: string }).message).toMatch(/not a readable image\/jpeg image/);
    const png = await solid(64, 64).png().toBuffer();
    expect(await validateSnapshot(new Uint8Array(png), 'image/jpeg')).toMatchObject({ ok: false, code: 'bad-image' });
  });
});
