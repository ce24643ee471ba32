// WebAssembly SIMD kernels for the two per-pixel conversions of every frame: interleaved RGB bytes
// → three float planes in [-1, 1] (VAE input) and back (VAE output → image). In plain JS they cost
// ~2.5 ms per 512² frame, most of the engine's own time; with 128-bit SIMD (16 pixels per loop
// iteration) 0.3 ms and 0.75 ms including the copies in and out of wasm memory. The module is assembled here from its instructions (a few hundred bytes), so there is
// no toolchain or binary blob to trust; every instruction is listed with its WAT name.
//
// Arithmetic is float32 and defined to match the JS fallback bit for bit (tensor.ts):
//   to planes:  x = f32(f32(2·byte − 255) · f32(1/255))
//   to bytes:   byte = clamp(roundHalfEven(f32(f32(x·127.5) + 127.5)), 0, 255), NaN → 0

const LEB = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
};
const SLEB = (n: number): number[] => {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && !(b & 0x40)) || (n === -1 && b & 0x40)) {
      out.push(b);
      return out;
    }
    out.push(b | 0x80);
  }
};
const f32Bytes = (v: number) => [...new Uint8Array(Float32Array.of(v).buffer)];
const simd = (op: number, ...imm: number[]) => [0xfd, ...LEB(op), ...imm];
const memarg16 = (offset: number) => [...LEB(4), ...LEB(offset)]; // align 2^4 = 16 bytes

// instructions used below, by WAT name
const I = {
  localGet: (i: number) => [0x20, ...LEB(i)],
  localSet: (i: number) => [0x21, ...LEB(i)],
  localTee: (i: number) => [0x22, ...LEB(i)],
  i32Const: (v: number) => [0x41, ...SLEB(v)],
  i32Add: [0x6a],
  i32LtU: [0x49],
  i32Eqz: [0x45],
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  br: (d: number) => [0x0c, ...LEB(d)],
  brIf: (d: number) => [0x0d, ...LEB(d)],
  end: [0x0b],
  v128Load: (offset = 0) => simd(0x00, ...memarg16(offset)),
  v128Store: (offset = 0) => simd(0x0b, ...memarg16(offset)),
  i8x16Shuffle: (lanes: number[]) => simd(0x0d, ...lanes),
  i32x4Splat: simd(0x11),
  f32x4Splat: simd(0x13),
  f32Const: (v: number) => [0x43, ...f32Bytes(v)],
  f32x4Nearest: simd(0x6a),
  i8x16NarrowI16x8U: simd(0x66),
  i16x8NarrowI32x4S: simd(0x85),
  i16x8ExtendLowI8x16U: simd(0x89),
  i16x8ExtendHighI8x16U: simd(0x8a),
  i32x4ExtendLowI16x8U: simd(0xa9),
  i32x4ExtendHighI16x8U: simd(0xaa),
  i32x4Shl: simd(0xab),
  i32x4Sub: simd(0xb1),
  f32x4Add: simd(0xe4),
  f32x4Mul: simd(0xe6),
  i32x4TruncSatF32x4S: simd(0xf8),
  f32x4ConvertI32x4S: simd(0xfa),
};
const I32 = 0x7f;
const V128 = 0x7b;

// Shuffle lanes (0–15 first operand, 16–31 second; "don't care" lanes use 0).
// Deinterleave 16 RGB pixels held in three vectors v0 v1 v2 (48 bytes): first gather what v0 and
// v1 hold of a channel, then complete it from v2.
const R01 = [0, 3, 6, 9, 12, 15, 18, 21, 24, 27, 30, 0, 0, 0, 0, 0];
const R2 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 17, 20, 23, 26, 29];
const G01 = [1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31, 0, 0, 0, 0, 0];
const G2 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 18, 21, 24, 27, 30];
const B01 = [2, 5, 8, 11, 14, 17, 20, 23, 26, 29, 0, 0, 0, 0, 0, 0];
const B2 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 19, 22, 25, 28, 31];
// Interleave channel vectors r g b (16 bytes each) into three output vectors: first r with g,
// then fill the b lanes.
const O0_RG = [0, 16, 0, 1, 17, 0, 2, 18, 0, 3, 19, 0, 4, 20, 0, 5];
const O0_B = [0, 1, 16, 3, 4, 17, 6, 7, 18, 9, 10, 19, 12, 13, 20, 15];
const O1_RG = [21, 0, 6, 22, 0, 7, 23, 0, 8, 24, 0, 9, 25, 0, 10, 26];
const O1_B = [0, 21, 2, 3, 22, 5, 6, 23, 8, 9, 24, 11, 12, 25, 14, 15];
const O2_RG = [0, 11, 27, 0, 12, 28, 0, 13, 29, 0, 14, 30, 0, 15, 31, 0];
const O2_B = [26, 1, 2, 27, 4, 5, 28, 7, 8, 29, 10, 11, 30, 13, 14, 31];

/** (func $rgb_to_planes (param $src i32) (param $dst i32) (param $n i32)) — n a multiple of 16. */
function rgbToPlanesBody(): number[] {
  // params 0 src, 1 dst, 2 n; locals 3 i, 4 planeBytes(n·4), 5 v0, 6 v1, 7 v2, 8 scale, 9 bias255, 10 c
  const [src, dst, n, i, pb, v0, v1, v2, scale, bias, c] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const code: number[] = [];
  const emit = (...parts: number[][]) => parts.forEach((p) => code.push(...p));
  // planeBytes = n·4 (n << 2 via n+n+n+n to keep the opcode list short: i32.shl is 0x74)
  emit(I.localGet(n), I.localGet(n), I.i32Add, I.localTee(pb), I.localGet(pb), I.i32Add, I.localSet(pb));
  emit(I.f32Const(Math.fround(1 / 255)), I.f32x4Splat, I.localSet(scale));
  emit(I.i32Const(255), I.i32x4Splat, I.localSet(bias));
  emit(I.i32Const(0), I.localSet(i));
  emit(I.block, I.loop);
  emit(I.localGet(i), I.localGet(n), I.i32LtU, I.i32Eqz, I.brIf(1));
  emit(I.localGet(src), I.v128Load(0), I.localSet(v0));
  emit(I.localGet(src), I.v128Load(16), I.localSet(v1));
  emit(I.localGet(src), I.v128Load(32), I.localSet(v2));
  // one channel: 16 bytes in local c → four f32x4 stores at dst + plane·k + 0/16/32/48
  const channel = (first: number[], second: number[], planeIndex: number) => {
    emit(I.localGet(v0), I.localGet(v1), I.i8x16Shuffle(first), I.localGet(v2), I.i8x16Shuffle(second), I.localSet(c));
    const quarter = (extend16: number[], extend32: number[], offset: number) => {
      // address = dst + planeIndex·planeBytes
      emit(I.localGet(dst));
      for (let k = 0; k < planeIndex; k++) emit(I.localGet(pb), I.i32Add);
      // f32(2·byte − 255) · f32(1/255)
      emit(I.localGet(c), extend16, extend32, I.i32Const(1), I.i32x4Shl, I.localGet(bias), I.i32x4Sub, I.f32x4ConvertI32x4S);
      emit(I.localGet(scale), I.f32x4Mul, I.v128Store(offset));
    };
    quarter(I.i16x8ExtendLowI8x16U, I.i32x4ExtendLowI16x8U, 0);
    quarter(I.i16x8ExtendLowI8x16U, I.i32x4ExtendHighI16x8U, 16);
    quarter(I.i16x8ExtendHighI8x16U, I.i32x4ExtendLowI16x8U, 32);
    quarter(I.i16x8ExtendHighI8x16U, I.i32x4ExtendHighI16x8U, 48);
  };
  channel(R01, R2, 0);
  channel(G01, G2, 1);
  channel(B01, B2, 2);
  emit(I.localGet(src), I.i32Const(48), I.i32Add, I.localSet(src));
  emit(I.localGet(dst), I.i32Const(64), I.i32Add, I.localSet(dst));
  emit(I.localGet(i), I.i32Const(16), I.i32Add, I.localSet(i));
  emit(I.br(0), I.end, I.end);
  return withLocals([[2, I32], [6, V128]], code);
}

/** (func $planes_to_rgb (param $src i32) (param $dst i32) (param $n i32)) — n a multiple of 16. */
function planesToRgbBody(): number[] {
  // params 0 src, 1 dst, 2 n; locals 3 i, 4 planeBytes, 5 k127, 6 r, 7 g, 8 b
  const [src, dst, n, i, pb, k127, r, g, b] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const code: number[] = [];
  const emit = (...parts: number[][]) => parts.forEach((p) => code.push(...p));
  emit(I.localGet(n), I.localGet(n), I.i32Add, I.localTee(pb), I.localGet(pb), I.i32Add, I.localSet(pb));
  emit(I.f32Const(127.5), I.f32x4Splat, I.localSet(k127));
  emit(I.i32Const(0), I.localSet(i));
  emit(I.block, I.loop);
  emit(I.localGet(i), I.localGet(n), I.i32LtU, I.i32Eqz, I.brIf(1));
  // one channel: 16 floats from plane k → 16 bytes in the given local
  const channel = (planeIndex: number, into: number) => {
    const quad = (offset: number) => {
      emit(I.localGet(src));
      for (let k = 0; k < planeIndex; k++) emit(I.localGet(pb), I.i32Add);
      // nearest(x·127.5 + 127.5) → i32 (NaN → 0, ±Inf → INT_MIN/MAX); the clamp to 0..255 comes
      // free with the saturating narrows below (i32 → i16 signed, then i16 → u8). The signed
      // conversion is far cheaper on x86 than the unsigned one.
      emit(I.v128Load(offset), I.localGet(k127), I.f32x4Mul, I.localGet(k127), I.f32x4Add);
      emit(I.f32x4Nearest, I.i32x4TruncSatF32x4S);
    };
    quad(0);
    quad(16);
    emit(I.i16x8NarrowI32x4S);
    quad(32);
    quad(48);
    emit(I.i16x8NarrowI32x4S, I.i8x16NarrowI16x8U, I.localSet(into));
  };
  channel(0, r);
  channel(1, g);
  channel(2, b);
  const out = (rg: number[], withB: number[], offset: number) => {
    emit(I.localGet(dst), I.localGet(r), I.localGet(g), I.i8x16Shuffle(rg), I.localGet(b), I.i8x16Shuffle(withB), I.v128Store(offset));
  };
  out(O0_RG, O0_B, 0);
  out(O1_RG, O1_B, 16);
  out(O2_RG, O2_B, 32);
  emit(I.localGet(src), I.i32Const(64), I.i32Add, I.localSet(src));
  emit(I.localGet(dst), I.i32Const(48), I.i32Add, I.localSet(dst));
  emit(I.localGet(i), I.i32Const(16), I.i32Add, I.localSet(i));
  emit(I.br(0), I.end, I.end);
  return withLocals([[2, I32], [4, V128]], code);
}

function withLocals(groups: [number, number][], code: number[]): number[] {
  const body = [...LEB(groups.length), ...groups.flatMap(([count, type]) => [...LEB(count), type]), ...code, 0x0b];
  return [...LEB(body.length), ...body];
}

function section(id: number, payload: number[]): number[] {
  return [id, ...LEB(payload.length), ...payload];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const name = (s: string) => [...LEB(s.length), ...new TextEncoder().encode(s)];
  const type = section(1, [1, 0x60, 3, I32, I32, I32, 0]); // (i32, i32, i32) → ()
  const funcs = section(3, [2, 0, 0]);
  const memory = section(5, [1, 0x00, 1]); // one memory, min 1 page, no max
  const exports = section(7, [3, ...name('memory'), 0x02, 0, ...name('rgb_to_planes'), 0x00, 0, ...name('planes_to_rgb'), 0x00, 1]);
  const code = section(10, [2, ...rgbToPlanesBody(), ...planesToRgbBody()]);
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...type, ...funcs, ...memory, ...exports, ...code]);
}

interface KernelExports {
  memory: WebAssembly.Memory;
  rgb_to_planes(src: number, dst: number, n: number): void;
  planes_to_rgb(src: number, dst: number, n: number): void;
}

/**
 * The kernels and their scratch memory: `rgb` (3·n bytes) at offset 0 and `planes` (3·n floats)
 * after it. Views are only valid until the next reserve() (growing the memory detaches them).
 */
export class PixelKernels {
  private constructor(private readonly k: KernelExports) {}

  /** undefined where WebAssembly SIMD is unavailable; callers then use the JS loops. */
  static create(): PixelKernels | undefined {
    try {
      const instance = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes()));
      return new PixelKernels(instance.exports as unknown as KernelExports);
    } catch {
      return undefined;
    }
  }

  /** Scratch views for `pixels` (a multiple of 16) pixels. */
  reserve(pixels: number): { rgb: Uint8Array; planes: Float32Array } {
    if (pixels % 16 !== 0) throw new RangeError(`pixel count ${pixels} is not a multiple of 16`);
    const planesAt = alignUp(3 * pixels, 16);
    const need = planesAt + 12 * pixels;
    const mem = this.k.memory;
    if (mem.buffer.byteLength < need) mem.grow(Math.ceil((need - mem.buffer.byteLength) / 65536));
    return { rgb: new Uint8Array(mem.buffer, 0, 3 * pixels), planes: new Float32Array(mem.buffer, planesAt, 3 * pixels) };
  }

  /** views.rgb → views.planes */
  rgbToPlanes(views: { rgb: Uint8Array; planes: Float32Array }): void {
    this.k.rgb_to_planes(views.rgb.byteOffset, views.planes.byteOffset, views.rgb.length / 3);
  }

  /** views.planes → views.rgb */
  planesToRgb(views: { rgb: Uint8Array; planes: Float32Array }): void {
    this.k.planes_to_rgb(views.planes.byteOffset, views.rgb.byteOffset, views.rgb.length / 3);
  }
}

function alignUp(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}
