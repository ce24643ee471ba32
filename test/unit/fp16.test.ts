// float16 bits checked against numpy's float32→float16 cast (values computed with numpy 2.4).
import { describe, expect, it } from 'vitest';
import { byteToHalfTable, float16ToFloat32, float32ToFloat16, fromHalfBits, halfToByteTable, toHalfBits } from '../../lib/diffusion/fp16';

describe('fp16', () => {
  it.each([
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [1 / 3, 0x3555],
    [0.1, 0x2e66],
    [65504, 0x7bff], // largest half
    [65519.99, 0x7bff], // rounds down
    [65520, 0x7c00], // rounds to +Inf
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // tie → even (0)
    [3 * 2 ** -26, 0x0001],
    [2 ** -14, 0x0400], // smallest normal
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [1 + 2 ** -11, 0x3c00], // tie → even
    [1 + 3 * 2 ** -11, 0x3c02], // tie → even (up)
  ])('toHalfBits(%f) = %i', (v, bits) => {
    expect(toHalfBits(v)).toBe(bits);
  });

  it('NaN stays NaN', () => {
    expect(Number.isNaN(fromHalfBits(toHalfBits(NaN)))).toBe(true);
  });

  it('every finite half survives half → float → half', () => {
    for (let h = 0; h < 65536; h++) {
      const f = fromHalfBits(h);
      if (!Number.isNaN(f)) expect(toHalfBits(f)).toBe(h);
    }
  });

  it('array conversions agree with the scalar ones and stay within half precision', () => {
    const src = Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i) * 100);
    const h = float32ToFloat16(src);
    const back = float16ToFloat32(h);
    for (let i = 0; i < src.length; i++) {
      expect(h[i]).toBe(toHalfBits(src[i]));
      expect(Math.abs(back[i] - src[i])).toBeLessThanOrEqual(Math.abs(src[i]) * 2 ** -11 + 1e-7);
    }
  });

  it('image tables: byte → half of byte/127.5−1, half → clamped rounded byte', () => {
    const b2h = byteToHalfTable();
    for (let b = 0; b < 256; b++) {
      expect(b2h[b]).toBe(toHalfBits(b / 127.5 - 1));
      expect(halfToByteTable()[b2h[b]]).toBe(b); // a byte survives the trip through half precision
    }
    const h2b = halfToByteTable();
    expect(h2b[toHalfBits(1)]).toBe(255);
    expect(h2b[toHalfBits(-1)]).toBe(0);
    expect(h2b[toHalfBits(0)]).toBe(128);
    expect(h2b[toHalfBits(7)]).toBe(255);
    expect(h2b[toHalfBits(-Infinity)]).toBe(0);
    expect(h2b[toHalfBits(Infinity)]).toBe(255);
    expect(h2b[toHalfBits(NaN)]).toBe(0);
  });
});
