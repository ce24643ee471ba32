// Live frames allow any strength 0..1 and steps 1..8; not every combination is valid for every
// sampler. The engine refuses invalid ones with advice (lib/diffusion schedulers); a live loop must
// still render something, so we apply that advice here, keeping the user's strength whenever we can:
// - LCM needs floor(originalSteps·strength) ≥ steps: lower steps to that, and raise a strength
//   below 1/originalSteps to exactly that (one step).
// - Euler (Turbo) raises steps itself when steps·strength < 1; it only needs strength ≥ 1/1000.
import type { RenderParams } from './messages';

export function adjustParams(p: RenderParams, sampler: string, originalSteps = 50): RenderParams {
  const out = { ...p };
  if (sampler === 'lcm') {
    out.strength = Math.min(1, Math.max(out.strength, 1 / originalSteps));
    out.steps = Math.max(1, Math.min(out.steps, Math.floor(originalSteps * out.strength + 1e-9)));
  } else {
    out.strength = Math.min(1, Math.max(out.strength, 1 / 1000));
  }
  return out;
}
