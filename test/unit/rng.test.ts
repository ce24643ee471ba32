import { describe, expect, it } from 'vitest';
import { GaussianRng } from '../../lib/diffusion/rng';

describe('GaussianRng', () => {
  it('is deterministic per seed and differs between seeds', () => {
    const a = new GaussianRng(42).fillNormal(new Float32Array(1001));
    const b = new GaussianRng(42).fillNormal(new Float32Array(1001));
    const c = new GaussianRng(43).fillNormal(new Float32Array(1001));
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false);
  });

  it('fillNormal (the fast inlined loop) gives the same stream as nextNormal', () => {
    const bulk = new GaussianRng(99).fillNormal(new Float32Array(50_000));
    const one = new GaussianRng(99);
    for (let i = 0; i < bulk.length; i++) expect(bulk[i]).toBe(Math.fround(one.nextNormal()));
  });

  it('uses the high half of large seeds', () => {
    const lo = new GaussianRng(5).fillNormal(new Float32Array(8));
    const hi = new GaussianRng(5 + 2 ** 32).fillNormal(new Float32Array(8));
    expect(Array.from(lo)).not.toEqual(Array.from(hi));
  });

  it('keeps its stream stable across releases (pinned values)', () => {
    // if this changes, every saved seed renders differently: change it only on purpose
    const v = new GaussianRng(0).fillNormal(new Float32Array(4));
    expect(Array.from(v, (x) => Number(x.toFixed(5)))).toEqual(PINNED_SEED0);
  });

  it('has standard normal moments', () => {
    const n = 200_000;
    const v = new GaussianRng(7).fillNormal(new Float32Array(n));
    let m = 0, m2 = 0, m4 = 0, tail = 0, farTail = 0;
    for (const x of v) {
      m += x;
      m2 += x * x;
      m4 += x ** 4;
      if (Math.abs(x) > 1.959964) tail++;
      if (Math.abs(x) > 3.5) farTail++; // beyond the ziggurat's base strip (3.44)
    }
    m /= n;
    m2 /= n;
    m4 /= n;
    expect(Math.abs(m)).toBeLessThan(0.01); // 4.5 standard errors
    expect(Math.abs(m2 - 1)).toBeLessThan(0.015);
    expect(Math.abs(m4 - 3)).toBeLessThan(0.1);
    expect(Math.abs(tail / n - 0.05)).toBeLessThan(0.003);
    // P(|x| > 3.5) = 4.65e-4 → 93 expected, sd ≈ 9.6
    expect(farTail).toBeGreaterThan(60);
    expect(farTail).toBeLessThan(130);
  });

  it('rejects seeds that are not non-negative integers', () => {
    expect(() => new GaussianRng(-1)).toThrow(/non-negative integer/);
    expect(() => new GaussianRng(1.5)).toThrow(/non-negative integer/);
  });
});

const PINNED_SEED0 = [-0.42655, 1.10999, 0.02368, -1.36094];
