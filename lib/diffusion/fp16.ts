// float32 ⇄ float16 bit conversion. onnxruntime-node takes and returns float16 tensors as
// Uint16Array bits and Node 20 has no Float16Array, so fp16 models need this on every UNet step.
import { byteOfUnit, unitOfByte } from '../image/tensor';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → float16 bits, round-to-nearest-even, with subnormals, ±Inf and NaN (IEEE 754). */
export function toHalfBits(value: number): number {
  f32[0] = value;
  return halfFromFloatBits(u32[0]);
}

// Normal results take the branch-free rounding of Fabian Giesen's float_to_half_fast3_rtne:
// rebias the exponent, add 0xfff plus the would-be mantissa's low bit (round to nearest, ties to
// even; a carry correctly bumps the exponent, up to Inf), shift. Subnormals, Inf and NaN are rare
// and handled separately.
const F16_MAX_BITS = (127 + 16) << 23; // first float that rounds to Inf
const F16_MIN_NORMAL_BITS = 113 << 23; // 2^-14

function halfFromFloatBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const a = x & 0x7fffffff;
  if (a >= F16_MIN_NORMAL_BITS && a < F16_MAX_BITS) {
    return sign | ((a - ((127 - 15) << 23) + 0xfff + ((a >>> 13) & 1)) >>> 13);
  }
  if (a >= F16_MAX_BITS) return sign | (a > 0x7f800000 ? 0x7e00 : 0x7c00); // NaN (quiet) / Inf
  // subnormal half or zero: shift the implicit bit in, then round to nearest even
  const e = (a >>> 23) - 127 + 15;
  if (e < -10) return sign;
  const mant = (a & 0x7fffff) | 0x800000;
  const shift = 14 - e;
  const half = mant >>> shift;
  const rem = mant & ((1 << shift) - 1);
  const mid = 1 << (shift - 1);
  return sign | (rem > mid || (rem === mid && half & 1) ? half + 1 : half);
}

/** float16 bits → number, exact. */
export function fromHalfBits(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

// All 65,536 halves decoded once (256 KiB): decoding is then a single indexed load.
let decodeTable: Float32Array | undefined;
function table(): Float32Array {
  if (!decodeTable) {
    decodeTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) decodeTable[h] = fromHalfBits(h);
  }
  return decodeTable;
}

export function float32ToFloat16(src: Float32Array, out: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  // read the float bits in place instead of round-tripping each value through a scratch cell
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const n = src.length;
  for (let i = 0; i < n; i++) out[i] = halfFromFloatBits(bits[i]);
  return out;
}

export function float16ToFloat32(src: Uint16Array, out: Float32Array = new Float32Array(src.length)): Float32Array {
  const t = table();
  const n = src.length;
  for (let i = 0; i < n; i++) out[i] = t[src[i]];
  return out;
}

let byteToHalf: Uint16Array | undefined;
/** Half bits of the image value of every byte (unitOfByte): image → float16 tensor by table lookup. */
export function byteToHalfTable(): Uint16Array {
  return (byteToHalf ??= Uint16Array.from({ length: 256 }, (_, b) => toHalfBits(unitOfByte(b))));
}

let halfToByte: Uint8Array | undefined;
/** The byte (byteOfUnit) of every half: float16 tensor → image by table lookup. */
export function halfToByteTable(): Uint8Array {
  return (halfToByte ??= Uint8Array.from({ length: 65536 }, (_, h) => byteOfUnit(fromHalfBits(h))));
}
