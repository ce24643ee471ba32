// The engine's own seeded Gaussian source. Reproducibility ("same seed → same image, on every
// machine and every release") must not depend on Math.random or a third-party generator whose
// stream could change, so it is a few lines we own: xoshiro128** (Blackman & Vigna) seeded
// through splitmix32, turned into normals by the ziggurat method (Marsaglia & Tsang 2000, 128
// layers). It does not reproduce torch.randn; no JS engine can cheaply.
//
// Why ziggurat and not Box-Muller: a 4-step LCM run at 512² draws 64k normals per frame.
// Box-Muller (log, sqrt, sin, cos per pair) took ~3.5 ms for them on the project machine; the
// ziggurat needs one table compare and multiply for ~97% of samples and takes ~0.4 ms.

/** splitmix32 step: turns any 32-bit seed (including 0) into well-mixed state words. */
function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [state, (z ^ (z >>> 16)) >>> 0];
}

const INV_2_32 = 1 / 4294967296;

// Ziggurat tables (zigset in the paper). The layer index comes from the low 7 bits of a draw and
// the signed value from the other 25, so the two are independent (Doornik 2005 pointed out the
// correlation when the paper's version reuses the same bits).
const LAYERS = 128;
const R = 3.442619855899; // start of the right tail
const M = 2 ** 24; // scale of the 25-bit signed value
const KN = new Float64Array(LAYERS);
const WN = new Float64Array(LAYERS);
const FN = new Float64Array(LAYERS);
{
  const vn = 9.91256303526217e-3; // area of each layer
  let dn = R;
  let tn = dn;
  const q = vn / Math.exp(-0.5 * dn * dn);
  KN[0] = (dn / q) * M;
  KN[1] = 0;
  WN[0] = q / M;
  WN[LAYERS - 1] = dn / M;
  FN[0] = 1;
  FN[LAYERS - 1] = Math.exp(-0.5 * dn * dn);
  for (let i = LAYERS - 2; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(vn / dn + Math.exp(-0.5 * dn * dn)));
    KN[i + 1] = (dn / tn) * M;
    tn = dn;
    FN[i] = Math.exp(-0.5 * dn * dn);
    WN[i] = dn / M;
  }
}

/** xoshiro128** step on a 4-word state; small enough for V8 to inline into the loops below. */
function xoshiroNext(st: Int32Array): number {
  const s1 = st[1];
  const m = Math.imul(s1, 5);
  const result = Math.imul((m << 7) | (m >>> 25), 9);
  const t = s1 << 9;
  const s2 = st[2] ^ st[0];
  const s3 = st[3] ^ s1;
  st[1] = s1 ^ s2;
  st[0] ^= s3;
  st[2] = s2 ^ t;
  st[3] = (s3 << 11) | (s3 >>> 21);
  return result;
}

const uniformOf = (bits: number) => ((bits >>> 0) + 0.5) * INV_2_32;

export class GaussianRng {
  // a typed array rather than four fields: the hot loop then inlines xoshiroNext with plain loads
  private readonly state = new Int32Array(4);

  /** `seed` is any non-negative integer up to 2^53; both 32-bit halves feed the state. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer (got ${seed})`);
    let st = (seed >>> 0) ^ Math.imul(Math.floor(seed / 4294967296), 0x27d4eb2d);
    for (let i = 0; i < 4; i++) {
      const [next, w] = splitmix32(st);
      st = next;
      this.state[i] = w;
    }
  }

  /** Next 32 random bits, as a signed int32. */
  nextInt32(): number {
    return xoshiroNext(this.state);
  }

  /** Uniform in (0, 1): never 0, so log() stays finite. */
  nextUniform(): number {
    return uniformOf(xoshiroNext(this.state));
  }

  /** One N(0, 1) sample. */
  nextNormal(): number {
    const u = xoshiroNext(this.state);
    const iz = u & (LAYERS - 1);
    const hz = u >> 7;
    // inside the layer's rectangle: accept at once (the common case)
    if (Math.abs(hz) < KN[iz]) return hz * WN[iz];
    return this.normalSlowPath(hz, iz);
  }

  /** Fills `out` with independent N(0, 1) samples (the same stream as repeated nextNormal()). */
  fillNormal(out: Float32Array): Float32Array {
    const st = this.state;
    const kn = KN;
    const wn = WN;
    for (let i = 0; i < out.length; i++) {
      const u = xoshiroNext(st);
      const iz = u & (LAYERS - 1);
      const hz = u >> 7;
      out[i] = Math.abs(hz) < kn[iz] ? hz * wn[iz] : this.normalSlowPath(hz, iz);
    }
    return out;
  }

  /** nfix of the paper: the base strip's tail and the wedges, by rejection (≈3% of draws). */
  private normalSlowPath(hz: number, iz: number): number {
    const st = this.state;
    for (;;) {
      if (iz === 0) {
        let x: number;
        let y: number;
        do {
          x = -Math.log(uniformOf(xoshiroNext(st))) / R;
          y = -Math.log(uniformOf(xoshiroNext(st)));
        } while (y + y < x * x);
        return hz > 0 ? R + x : -R - x;
      }
      const x = hz * WN[iz];
      if (FN[iz] + uniformOf(xoshiroNext(st)) * (FN[iz - 1] - FN[iz]) < Math.exp(-0.5 * x * x)) return x;
      const u = xoshiroNext(st);
      iz = u & (LAYERS - 1);
      hz = u >> 7;
      if (Math.abs(hz) < KN[iz]) return hz * WN[iz];
    }
  }
}
