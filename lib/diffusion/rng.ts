// The engine's own seeded Gaussian source. Reproducibility ("same seed → same image, on every
// machine and every release") must not depend on Math.random or a third-party generator whose
// stream could change, so it is a few lines we own: xoshiro128** seeded through splitmix32,
// normals by Box-Muller. It does not reproduce torch.randn; no JS engine can cheaply.

/** splitmix32 step: turns any 32-bit seed (including 0) into well-mixed state words. */
function splitmix32(state: number): [number, number] {
  state = (state + 0x9e3779b9) | 0;
  let z = state;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return [state, (z ^ (z >>> 16)) >>> 0];
}

const TWO_PI = 2 * Math.PI;
const INV_2_32 = 1 / 4294967296;

export class GaussianRng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `seed` is any non-negative integer up to 2^53; both 32-bit halves feed the state. */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer (got ${seed})`);
    let st = (seed >>> 0) ^ Math.imul(Math.floor(seed / 4294967296), 0x27d4eb2d);
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const [next, w] = splitmix32(st);
      st = next;
      words.push(w);
    }
    [this.s0, this.s1, this.s2, this.s3] = words;
  }

  /** xoshiro128**: next uint32. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in (0, 1): never 0, so log() in Box-Muller stays finite. */
  nextUniform(): number {
    return (this.nextUint32() + 0.5) * INV_2_32;
  }

  /** Fills `out` with independent N(0, 1) samples; both Box-Muller outputs are used. */
  fillNormal(out: Float32Array): Float32Array {
    const n = out.length;
    let i = 0;
    for (; i + 1 < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(this.nextUniform()));
      const th = TWO_PI * this.nextUniform();
      out[i] = r * Math.cos(th);
      out[i + 1] = r * Math.sin(th);
    }
    if (i < n) out[i] = Math.sqrt(-2 * Math.log(this.nextUniform())) * Math.cos(TWO_PI * this.nextUniform());
    return out;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
