// The noise schedule shared by SD 1.x/2.x, LCM and SD-Turbo: "scaled_linear" betas over 1000
// training steps (huggingface/diffusers:src/diffusers/schedulers/scheduling_lcm.py and
// scheduling_euler_discrete.py, `beta_schedule == "scaled_linear"`).
//
// diffusers builds these tensors in float32; we keep float64. The two differ by at most 2e-6
// relative (at t=999; measured by emulating the float32 loop), far below what an 8-bit image can
// show, and float64 makes the values reproducible against the reference numbers in the tests.

export const TRAIN_TIMESTEPS = 1000;
export const BETA_START = 0.00085;
export const BETA_END = 0.012;

export interface NoiseScheduleConfig {
  numTrainTimesteps?: number;
  betaStart?: number;
  betaEnd?: number;
}

/** beta[i] = (√start + (√end − √start)·i/(N−1))², i.e. linspace in √β, squared. */
export function scaledLinearBetas(cfg: NoiseScheduleConfig = {}): Float64Array {
  const n = cfg.numTrainTimesteps ?? TRAIN_TIMESTEPS;
  const a = Math.sqrt(cfg.betaStart ?? BETA_START);
  const b = Math.sqrt(cfg.betaEnd ?? BETA_END);
  const betas = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = a + ((b - a) * i) / (n - 1);
    betas[i] = s * s;
  }
  return betas;
}

/** ᾱ[t] = Π_{i≤t} (1 − β[i]): how much of the clean signal survives at timestep t. */
export function alphasCumprod(cfg: NoiseScheduleConfig = {}): Float64Array {
  const betas = scaledLinearBetas(cfg);
  const acp = new Float64Array(betas.length);
  let prod = 1;
  for (let i = 0; i < betas.length; i++) {
    prod *= 1 - betas[i];
    acp[i] = prod;
  }
  return acp;
}

/** σ(t) = √((1 − ᾱ)/ᾱ): the noise level of timestep t in the "variance exploding" form the Euler
 * schedulers use (x_σ = x₀ + σ·ε). */
export function sigmaOf(acp: Float64Array, t: number): number {
  return Math.sqrt((1 - acp[t]) / acp[t]);
}

/** Reads the schedule fields of a diffusers scheduler_config.json; anything other than
 * scaled_linear is refused because every SD-family few-step model uses it. */
export function noiseScheduleFromConfig(config: Record<string, unknown>): NoiseScheduleConfig {
  const schedule = config.beta_schedule ?? 'scaled_linear';
  if (schedule !== 'scaled_linear') {
    throw new Error(`unsupported beta_schedule "${String(schedule)}" (only "scaled_linear" is implemented)`);
  }
  return {
    numTrainTimesteps: typeof config.num_train_timesteps === 'number' ? config.num_train_timesteps : undefined,
    betaStart: typeof config.beta_start === 'number' ? config.beta_start : undefined,
    betaEnd: typeof config.beta_end === 'number' ? config.beta_end : undefined,
  };
}
