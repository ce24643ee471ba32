// decodeSnapshot against real encoded images made with sharp: header checks, and the full decode
// (+ resize to the render size) that a snapshot must survive before it may take a frame's slot.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { MAX_SNAPSHOT_BYTES } from '../../lib/protocol';
import { decodeSnapshot } from '../../server/render/decodeSnapshot';

const solid = (w: number, h: number) =>
  sharp({ create: { width: w, height: h, channels: 3, background: { r: 200, g: 40, b: 40 } } });

describe('decodeSnapshot', () => {
  it('accepts a PNG, a JPEG and a WebP and reports their size', async () => {
    for (const [mime, img] of [
      ['image/png', await solid(320, 200).png().toBuffer()],
      ['image/jpeg', await solid(320, 200).jpeg().toBuffer()],
      ['image/webp', await solid(320, 200).webp().toBuffer()],
    ] as const) {
      expect(await decodeSnapshot(new Uint8Array(img), mime)).toMatchObject({ ok: true, width: 320, height: 200 });
    }
  });

  it('decodes to raw RGB at the render size (cover + centre crop) in a buffer of its own', async () => {
    // left half red, right half blue; 320×200 cover-resized to 128×128 keeps the middle
    const img = await sharp({ create: { width: 320, height: 200, channels: 3, background: '#ff0000' } })
      .composite([{ input: { create: { width: 160, height: 200, channels: 3, background: '#0000ff' } }, left: 160, top: 0 }])
      .png()
      .toBuffer();
    const r = await decodeSnapshot(new Uint8Array(img), 'image/png', { width: 128, height: 128 });
    if (!r.ok) throw new Error(r.message);
    expect(r.rgb).toMatchObject({ width: 128, height: 128 });
    expect(r.rgb.data.byteLength).toBe(128 * 128 * 3);
    expect(r.rgb.data.byteOffset).toBe(0);
    expect(r.rgb.data.buffer.byteLength).toBe(128 * 128 * 3);
    const px = (x: number, y: number) => [...r.rgb.data.subarray((y * 128 + x) * 3, (y * 128 + x) * 3 + 3)];
    expect(px(10, 64)).toEqual([255, 0, 0]);
    expect(px(117, 64)).toEqual([0, 0, 255]);
    expect(r.decodeMs).toBeGreaterThan(0);
  });

  it('refuses a JPEG whose header is fine but whose data is cut off as bad-image', async () => {
    const jpeg = await solid(256, 256)
      .composite([{ input: Buffer.from('<svg width="256" height="256"><circle cx="128" cy="128" r="80" stroke="black" stroke-width="6" fill="none"/></svg>') }])
      .jpeg()
      .toBuffer();
    const truncated = new Uint8Array(jpeg.subarray(0, Math.floor(jpeg.byteLength / 2)));
    expect((await sharp(truncated).metadata()).width).toBe(256); // the header alone would pass
    const r = await decodeSnapshot(truncated, 'image/jpeg', { width: 128, height: 128 });
    expect(r).toMatchObject({ ok: false, code: 'bad-image' });
    expect((r as { message: string }).message).toMatch(/could not be decoded/);
  });

  it('refuses more bytes than MAX_SNAPSHOT_BYTES as too-large', async () => {
    const r = await decodeSnapshot(new Uint8Array(MAX_SNAPSHOT_BYTES + 1), 'image/png');
    expect(r).toMatchObject({ ok: false, code: 'too-large' });
  });

  it('refuses dimensions above 2048 as too-large without decoding the pixels', async () => {
    const big = await solid(4000, 100).png({ compressionLevel: 9 }).toBuffer();
    expect(big.byteLength).toBeLessThan(MAX_SNAPSHOT_BYTES);
    expect(await decodeSnapshot(new Uint8Array(big), 'image/png')).toMatchObject({ ok: false, code: 'too-large' });
    const huge = await solid(9000, 9000).png({ compressionLevel: 9 }).toBuffer();
    expect(await decodeSnapshot(new Uint8Array(huge), 'image/png')).toMatchObject({ ok: false, code: 'too-large' });
  });

  it('refuses garbage and a mime that does not match the bytes as bad-image', async () => {
    const garbage = new Uint8Array(1000).map((_, i) => (i * 31) & 255);
    const r = await decodeSnapshot(garbage, 'image/jpeg');
    expect(r).toMatchObject({ ok: false, code: 'bad-image' });
    expect((r as { message: string }).message).toMatch(/not a readable image\/jpeg image/);
    const png = await solid(64, 64).png().toBuffer();
    expect(await decodeSnapshot(new Uint8Array(png), 'image/jpeg')).toMatchObject({ ok: false, code: 'bad-image' });
  });
});
