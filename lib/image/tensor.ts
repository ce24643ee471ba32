// RGB bytes ⇄ NCHW float tensors in [-1, 1], the range every SD VAE (KL and TAESD-as-exported by
// diffusers' AutoencoderTiny) takes and returns. The engine normally runs the WebAssembly SIMD
// kernels (pixelKernels.ts, via PlanarConverter); these JS loops are the reference and fallback
// and compute exactly the same float32 arithmetic:
//   unit(byte) = f32(f32(2·byte − 255) · f32(1/255))
//   byte(x)    = clamp(roundHalfEven(f32(f32(x·127.5) + 127.5)), 0, 255), NaN → 0
// They write into caller-supplied buffers (no allocation).
import { assertRgb, type RgbImage } from './rgb';
import { LITTLE_ENDIAN } from './words';

/** byte → [-1, 1] as defined above (scalar reference). */
export function unitOfByte(b: number): number {
  return Math.fround((2 * b - 255) * Math.fround(1 / 255));
}

/** [-1, 1] → byte as defined above (scalar reference); Uint8ClampedArray stores clamp and round
 * half to even, and NaN as 0. */
const clampCell = new Uint8ClampedArray(1);
export function byteOfUnit(x: number): number {
  clampCell[0] = Math.fround(Math.fround(x * 127.5) + 127.5);
  return clampCell[0];
}

// byte → [-1, 1] once per byte value: a table load beats the arithmetic in the hot loop, and
// copying the float's bits as integers skips two float32 ⇄ float64 conversions per value
const BYTE_TO_UNIT_BITS = new Uint32Array(new Float32Array(256).map((_, i) => unitOfByte(i)).buffer);

/** The word-at-a-time paths need a little-endian host, 4-byte alignment and a pixel count
 * divisible by 4 (always true for the engine's multiple-of-64 sizes). */
function canUseWords(bytes: Uint8Array, pixels: number): boolean {
  return LITTLE_ENDIAN && bytes.byteOffset % 4 === 0 && pixels % 4 === 0;
}

type Lut = Uint32Array | Uint16Array;

/**
 * Interleaved HWC bytes → three planes, each byte replaced by `lut[byte]`. The float32 path passes
 * the float bits of unitOfByte through a Uint32Array view, the float16 path half-float bits, so one loop
 * serves both without per-pixel float conversion.
 */
function deinterleaveThroughLut<T extends Lut>(src: Uint8Array, plane: number, out: T, lut: T): void {
  const R = out.subarray(0, plane);
  const G = out.subarray(plane, 2 * plane);
  const B = out.subarray(2 * plane, 3 * plane);
  if (!canUseWords(src, plane)) {
    for (let p = 0, s = 0; p < plane; p++, s += 3) {
      R[p] = lut[src[s]];
      G[p] = lut[src[s + 1]];
      B[p] = lut[src[s + 2]];
    }
    return;
  }
  const words = new Uint32Array(src.buffer, src.byteOffset, (plane * 3) >> 2);
  for (let p = 0, k = 0; p < plane; p += 4, k += 3) {
    // bytes r0 g0 b0 r1 | g1 b1 r2 g2 | b2 r3 g3 b3
    const a = words[k];
    const b = words[k + 1];
    const c = words[k + 2];
    R[p] = lut[a & 255];
    G[p] = lut[(a >>> 8) & 255];
    B[p] = lut[(a >>> 16) & 255];
    R[p + 1] = lut[a >>> 24];
    G[p + 1] = lut[b & 255];
    B[p + 1] = lut[(b >>> 8) & 255];
    R[p + 2] = lut[(b >>> 16) & 255];
    G[p + 2] = lut[b >>> 24];
    B[p + 2] = lut[c & 255];
    R[p + 3] = lut[(c >>> 8) & 255];
    G[p + 3] = lut[(c >>> 16) & 255];
    B[p + 3] = lut[c >>> 24];
  }
}

/** x = byte/127.5 − 1, interleaved HWC → planar CHW (batch 1). */
export function rgbToNchw(img: RgbImage, out: Float32Array = new Float32Array(img.width * img.height * 3)): Float32Array {
  assertRgb(img);
  const plane = img.width * img.height;
  if (out.length !== plane * 3) throw new RangeError(`NCHW buffer has ${out.length} values, expected ${plane * 3}`);
  deinterleaveThroughLut(img.data, plane, new Uint32Array(out.buffer, out.byteOffset, plane * 3), BYTE_TO_UNIT_BITS);
  return out;
}

/** Sizes for planar → interleaved conversion: a tensor with at least 3 planes, an RGB buffer of
 * exactly 3 bytes per pixel. Returns the plane size. */
function checkPlanarToRgb(srcLength: number, outLength: number, plane: number): number {
  if (srcLength < plane * 3) throw new RangeError(`NCHW tensor has ${srcLength} values, expected ${plane * 3}`);
  if (outLength !== plane * 3) throw new RangeError(`RGB buffer has ${outLength} bytes, expected ${plane * 3}`);
  return plane;
}

/** Planar float → interleaved RGB bytes (the inverse of rgbToNchw up to rounding). */
export function nchwToRgb(
  src: Float32Array,
  width: number,
  height: number,
  out: Uint8Array = new Uint8Array(width * height * 3),
): RgbImage {
  const plane = checkPlanarToRgb(src.length, out.length, width * height);
  const R = src.subarray(0, plane);
  const G = src.subarray(plane, 2 * plane);
  const B = src.subarray(2 * plane, 3 * plane);
  const c = new Uint8ClampedArray(out.buffer, out.byteOffset, out.length);
  const f = Math.fround;
  for (let p = 0, d = 0; p < plane; p++, d += 3) {
    c[d] = f(f(R[p] * 127.5) + 127.5);
    c[d + 1] = f(f(G[p] * 127.5) + 127.5);
    c[d + 2] = f(f(B[p] * 127.5) + 127.5);
  }
  return { data: out, width, height };
}

/**
 * rgbToNchw for 16-bit tensors (float16 models): each byte maps through `byteTo16` (256 entries,
 * e.g. the half-float bits of byte/127.5 − 1), so no float conversion happens per pixel.
 */
export function rgbToNchw16(img: RgbImage, out: Uint16Array, byteTo16: Uint16Array): Uint16Array {
  assertRgb(img);
  const plane = img.width * img.height;
  if (out.length !== plane * 3) throw new RangeError(`NCHW buffer has ${out.length} values, expected ${plane * 3}`);
  deinterleaveThroughLut(img.data, plane, out, byteTo16);
  return out;
}

/** nchwToRgb for 16-bit tensors: every one of the 65,536 codes maps to its byte through `codeToByte`. */
export function nchw16ToRgb(
  src: Uint16Array,
  width: number,
  height: number,
  codeToByte: Uint8Array,
  out: Uint8Array = new Uint8Array(width * height * 3),
): RgbImage {
  const plane = checkPlanarToRgb(src.length, out.length, width * height);
  const t = codeToByte;
  for (let p = 0, d = 0; p < plane; p++, d += 3) {
    out[d] = t[src[p]];
    out[d + 1] = t[src[plane + p]];
    out[d + 2] = t[src[2 * plane + p]];
  }
  return { data: out, width, height };
}
