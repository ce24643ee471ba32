// RGB bytes ⇄ NCHW float tensors in [-1, 1], the range every SD VAE (KL and TAESD-as-exported by
// diffusers' AutoencoderTiny) takes and returns. Plain indexed loops over typed arrays with
// caller-supplied outputs: no per-pixel allocation, and the engine reuses buffers across frames.
import { assertRgb, type RgbImage } from './rgb';

// byte → [-1, 1] once per byte value: a table load beats the multiply-subtract in the hot loop
const BYTE_TO_UNIT = new Float32Array(256).map((_, i) => i / 127.5 - 1);

/** x = byte/127.5 − 1, interleaved HWC → planar CHW (batch 1). */
export function rgbToNchw(img: RgbImage, out: Float32Array = new Float32Array(img.width * img.height * 3)): Float32Array {
  assertRgb(img);
  const plane = img.width * img.height;
  if (out.length !== plane * 3) throw new RangeError(`NCHW buffer has ${out.length} values, expected ${plane * 3}`);
  const src = img.data;
  const lut = BYTE_TO_UNIT;
  for (let p = 0, s = 0; p < plane; p++, s += 3) {
    out[p] = lut[src[s]];
    out[plane + p] = lut[src[s + 1]];
    out[2 * plane + p] = lut[src[s + 2]];
  }
  return out;
}

/** byte = round(clamp((x+1)/2, 0, 1)·255), as diffusers' postprocess + numpy_to_pil. */
export function nchwToRgb(
  src: ArrayLike<number>,
  width: number,
  height: number,
  out: Uint8Array = new Uint8Array(width * height * 3),
): RgbImage {
  const plane = width * height;
  if (src.length < plane * 3) throw new RangeError(`NCHW tensor has ${src.length} values, expected ${plane * 3}`);
  if (out.length !== plane * 3) throw new RangeError(`RGB buffer has ${out.length} bytes, expected ${plane * 3}`);
  // Uint8ClampedArray stores clamp-then-round-half-to-even, which is numpy's rounding, for free;
  // NaN stores as 0
  const c = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length);
  for (let p = 0, d = 0; p < plane; p++, d += 3) {
    c[d] = (src[p] + 1) * 127.5;
    c[d + 1] = (src[plane + p] + 1) * 127.5;
    c[d + 2] = (src[2 * plane + p] + 1) * 127.5;
  }
  return { data: out, width, height };
}
