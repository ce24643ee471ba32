// lib/image: the pixels that enter and leave the pipeline (decode, flatten, cover-resize, tensor
// conversion, encode), checked on real sharp output.
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { byteToHalfTable, fromHalfBits, halfToByteTable } from '../../lib/diffusion/fp16';
import { byteOfUnit, decodeImage, encodeJpeg, encodePng, nchw16ToRgb, nchwToRgb, PlanarConverter, resizeRgb, rgbToNchw, rgbToNchw16, unitOfByte, type RgbImage } from '../../lib/image';

function gradient(w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let i = 0; i < w * h; i++) {
    data[i * 3] = i % 256;
    data[i * 3 + 1] = (i * 7) % 256;
    data[i * 3 + 2] = 255 - (i % 256);
  }
  return { data, width: w, height: h };
}

describe('RGB ⇄ NCHW', () => {
  it('maps bytes to [-1, 1] planes and back exactly (word path and odd-size path)', () => {
    for (const [w, h] of [[64, 32], [7, 3]]) {
      const img = gradient(w, h);
      const t = rgbToNchw(img);
      const plane = w * h;
      expect(t[0]).toBeCloseTo(img.data[0] / 127.5 - 1, 6);
      expect(t[plane + 1]).toBeCloseTo(img.data[4] / 127.5 - 1, 6); // G of pixel 1
      expect(t[2 * plane + 2]).toBeCloseTo(img.data[8] / 127.5 - 1, 6); // B of pixel 2
      const back = nchwToRgb(t, w, h);
      expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
    }
  });

  it('float16 variants: planes of half bits, exact round trip', () => {
    for (const [w, h] of [[64, 32], [7, 3]]) {
      const img = gradient(w, h);
      const t = rgbToNchw16(img, new Uint16Array(w * h * 3), byteToHalfTable());
      expect(fromHalfBits(t[w * h + 1])).toBeCloseTo(img.data[4] / 127.5 - 1, 3);
      const back = nchw16ToRgb(t, w, h, halfToByteTable());
      expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
    }
  });

  it('clamps out-of-range values and maps NaN to 0', () => {
    const t = Float32Array.from([-3, 2, NaN, 0, 0.999, -0.999, 0, 0, 0, 0, 0, 0]);
    const out = nchwToRgb(t, 4, 1).data; // 4 pixels: R plane = t[0..3], G = t[4..7], B = t[8..11]
    expect(Array.from(out.subarray(0, 3))).toEqual([0, 255, 128]);
    expect(out[3]).toBe(255);
    expect(out[6]).toBe(0); // NaN → 0
  });

  it('works on unaligned views (falls back to the byte path)', () => {
    const img = gradient(8, 8);
    const shifted = new Uint8Array(img.data.length + 1);
    shifted.set(img.data, 1);
    const view = { data: shifted.subarray(1), width: 8, height: 8 };
    const out = new Uint8Array(shifted.length);
    const back = nchwToRgb(rgbToNchw(view), 8, 8, out.subarray(1));
    expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
  });
});

describe('PlanarConverter: WebAssembly SIMD kernels give the same bits as the JS loops', () => {
  const simd = new PlanarConverter();
  const js = new PlanarConverter({ simd: false });

  it('uses the SIMD kernels on this runtime', () => {
    expect(simd.implementation).toBe('wasm-simd');
    expect(js.implementation).toBe('js');
  });

  it('RGB → planes', () => {
    const img = gradient(64, 48);
    const a = Float32Array.from(simd.toPlanes(img)); // copy: the result is scratch memory
    const b = js.toPlanes(img);
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))).toBe(true);
    expect(a[0]).toBe(unitOfByte(img.data[0]));
  });

  it('planes → RGB, including out-of-range values, ±Inf, NaN and exact halves', () => {
    const w = 32, h = 16;
    const special = [NaN, Infinity, -Infinity, 2, -2, 0, 1, -1, 0.5, -0.5, 1 / 255, -1e-30];
    let seed = 1;
    const planes = Float32Array.from({ length: w * h * 3 }, (_, i) => {
      if (i % 7 === 0) return special[(i / 7) % special.length];
      seed = (Math.imul(seed, 1103515245) + 12345) | 0;
      return ((seed >>> 8) / 2 ** 24) * 2.4 - 1.2;
    });
    // f32(x·127.5) + 127.5 lands exactly on 128.5 and 129.5: round half to even gives 128 and 130
    planes[1] = Math.fround(1 / 127.5);
    planes[2] = Math.fround(2 / 127.5);
    const a = simd.toRgb(planes, w, h).data;
    const b = js.toRgb(planes, w, h).data;
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    for (let p = 0; p < w * h; p++) expect(a[p * 3]).toBe(byteOfUnit(planes[p]));
    expect([a[3], a[6]]).toEqual([128, 130]);
  });

  it('round-trips every byte exactly on both paths, and falls back to JS for sizes that are not multiples of 16 pixels', () => {
    for (const [w, h] of [[64, 64], [5, 3]]) {
      const img = gradient(w, h);
      for (const c of [simd, js]) {
        const back = c.toRgb(Float32Array.from(c.toPlanes(img)), w, h);
        expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
      }
    }
  });
});

describe('decode / resize / encode', () => {
  it('flattens transparency onto white (an empty sketch is white paper)', async () => {
    const rgba = await sharp({ create: { width: 8, height: 8, channels: 4, background: { r: 255, g: 0, b: 0, alpha: 0 } } }).png().toBuffer();
    const img = await decodeImage(rgba);
    expect(Array.from(img.data.subarray(0, 3))).toEqual([255, 255, 255]);
  });

  it('turns grey images into RGB and cover-resizes to the requested size', async () => {
    const grey = await sharp(Buffer.alloc(40 * 20, 77), { raw: { width: 40, height: 20, channels: 1 } }).png().toBuffer();
    const img = await decodeImage(grey, { width: 16, height: 16 });
    expect([img.width, img.height, img.data.length]).toEqual([16, 16, 16 * 16 * 3]);
    expect(Array.from(img.data.subarray(0, 3))).toEqual([77, 77, 77]);
  });

  it('cover-crops: a wide image keeps its centre', async () => {
    // left third red, middle third green, right third blue
    const w = 300, h = 100;
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[(y * w + x) * 3 + Math.floor(x / 100)] = 255;
    const png = await sharp(data, { raw: { width: w, height: h, channels: 3 } }).png().toBuffer();
    const img = await decodeImage(png, { width: 64, height: 64 });
    const centre = (32 * 64 + 32) * 3;
    expect(img.data[centre + 1]).toBeGreaterThan(200);
    expect(img.data[centre]).toBeLessThan(50);
    const r = await resizeRgb({ data, width: w, height: h }, 64, 64);
    expect(r.data[centre + 1]).toBeGreaterThan(200);
  });

  it('applies the EXIF orientation (a phone photo stored sideways comes out upright)', async () => {
    // stored 40×20: left half red, right half blue; orientation 6 = "rotate 90° clockwise to view"
    const w = 40, h = 20;
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[(y * w + x) * 3 + (x < w / 2 ? 0 : 2)] = 255;
    const jpeg = await sharp(data, { raw: { width: w, height: h, channels: 3 } }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
    const img = await decodeImage(jpeg);
    expect([img.width, img.height]).toEqual([20, 40]);
    // upright: the stored left (red) half is now the top, the right (blue) half the bottom
    const at = (x: number, y: number) => Array.from(img.data.subarray((y * 20 + x) * 3, (y * 20 + x) * 3 + 3));
    expect(at(10, 5)[0]).toBeGreaterThan(200);
    expect(at(10, 5)[2]).toBeLessThan(60);
    expect(at(10, 34)[2]).toBeGreaterThan(200);
    expect(at(10, 34)[0]).toBeLessThan(60);
  });

  it('refuses images over the pixel limit and bytes that are not an image', async () => {
    const big = await sharp({ create: { width: 200, height: 200, channels: 3, background: '#000' } }).png().toBuffer();
    await expect(decodeImage(big, { maxInputPixels: 100 * 100 })).rejects.toThrow(/larger than 10000 pixels; send a smaller image/);
    await expect(decodeImage(Buffer.from('hello'))).rejects.toThrow(/cannot decode input image/);
  });

  it('encodes JPEG and PNG that decode to the same size (PNG losslessly)', async () => {
    const img = gradient(64, 48);
    const jpeg = await encodeJpeg(img);
    const meta = await sharp(jpeg).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 64, 48]);
    const png = await encodePng(img);
    const back = await decodeImage(png);
    expect(Buffer.from(back.data).equals(Buffer.from(img.data))).toBe(true);
  });
});
