// Euler and Euler-ancestral sampling with "trailing" timestep spacing, as SD-Turbo uses them, after
// huggingface/diffusers: src/diffusers/schedulers/scheduling_euler_discrete.py,
// scheduling_euler_ancestral_discrete.py and the img2img `get_timesteps` of
// src/diffusers/pipelines/stable_diffusion/pipeline_stable_diffusion_img2img.py.
import { alphasCumprod, sigmaOf, type NoiseScheduleConfig } from './alphas';
import type { FittedParams, Sampler } from './Sampler';

export interface EulerSchedulerConfig extends NoiseScheduleConfig {
  /** EulerAncestral: re-inject noise after each step (down/up split of the next sigma) */
  ancestral?: boolean;
}

/** Steps actually used for img2img: init = min(floor(n·strength), n) UNet calls. */
export function eulerInitSteps(steps: number, strength: number): number {
  return Math.min(Math.floor(steps * strength), steps);
}

/**
 * The img2img guard of the Turbo path. diffusers would run zero steps (and fail) when
 * floor(steps·strength) < 1; radames/Real-Time-Latent-Consistency-Model
 * (server/pipelines/img2imgSDTurbo.py) raises steps to ceil(1/max(0.1, strength)). We raise steps
 * to the smallest n with floor(n·strength) ≥ 1 (its rule without the 0.1 floor, which still left
 * zero steps below strength 0.1). This costs nothing: the extra steps are the skipped noisy
 * part of the trailing schedule, the UNet still runs floor(n·strength) = 1 time.
 */
export function eulerAdjustedSteps(steps: number, strength: number): number {
  if (eulerInitSteps(steps, strength) >= 1) return steps;
  let n = Math.ceil(1 / strength);
  while (eulerInitSteps(n, strength) < 1) n++; // float rounding of n·strength
  return n;
}

/** numpy's round(): halves go to the even neighbour. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

export class EulerScheduler implements Sampler {
  readonly acp: Float64Array;
  readonly ancestral: boolean;
  /** the full trailing schedule for the requested steps, noisiest first */
  fullTimesteps: number[] = [];
  /** the img2img tail actually run */
  timesteps: number[] = [];
  /** σ for each entry of `timesteps`, plus the final 0 */
  sigmas: number[] = [];
  /** the step count after the guard (≥ requested) */
  steps = 0;

  constructor(cfg: EulerSchedulerConfig = {}) {
    this.acp = alphasCumprod(cfg);
    this.ancestral = cfg.ancestral ?? true;
  }

  /**
   * Trailing spacing: t = round(arange(N, 0, −N/n)) − 1 (n=4 → [999,749,499,249]); img2img keeps
   * the last init = min(floor(n·strength), n) of them. Steps are raised by eulerAdjustedSteps when
   * strength would leave no step.
   */
  setTimesteps(requestedSteps: number, strength = 1): number[] {
    const N = this.acp.length;
    if (!Number.isInteger(requestedSteps) || requestedSteps < 1 || requestedSteps > N) {
      throw new RangeError(`steps must be an integer from 1 to ${N} (got ${requestedSteps})`);
    }
    if (!(strength >= 1 / N && strength <= 1)) {
      throw new RangeError(`strength must be at least ${1 / N} and at most 1 (got ${strength})`);
    }
    const n = eulerAdjustedSteps(requestedSteps, strength);
    const ratio = N / n;
    this.fullTimesteps = [];
    for (let i = 0; i < n; i++) this.fullTimesteps.push(roundHalfEven(N - i * ratio) - 1);
    const start = n - eulerInitSteps(n, strength);
    this.timesteps = this.fullTimesteps.slice(start);
    this.sigmas = [...this.timesteps.map((t) => sigmaOf(this.acp, t)), 0];
    this.steps = n;
    return this.timesteps;
  }

  /**
   * For a live loop: strength is raised to the smallest one the schedule has (1/N, N = training
   * timesteps, 1/1000 for SD), and steps to the fewest that run one UNet call at that strength
   * (what setTimesteps would raise them to anyway).
   */
  fitParams(steps: number, strength: number): FittedParams {
    const s = Math.min(1, Math.max(strength, 1 / this.acp.length));
    return { steps: eulerAdjustedSteps(steps, s), strength: s };
  }

  /** Variance-exploding forward process: x = z₀ + σ₀·ε (EulerDiscreteScheduler.add_noise). */
  noiseCoefficients(): { signal: number; noise: number } {
    return { signal: 1, noise: this.sigmas[0] };
  }

  /** scale_model_input: the UNet expects x/√(σ²+1), which is the DDPM-form √ᾱ·x. */
  modelInputScale(i: number): number {
    const s = this.sigmas[i];
    return 1 / Math.sqrt(s * s + 1);
  }

  stepNeedsNoise(i: number): boolean {
    return this.ancestral && this.sigmas[i + 1] > 0;
  }

  /** Turbo-class models run without classifier-free guidance: a UNet that still has a guidance
   * input gets the embedding of 1 (unguided). */
  embeddedGuidance(_requested: number): number {
    return 1;
  }

  /** One Euler (or Euler-ancestral) step, in place on `sample`; `eps` is the epsilon prediction. */
  step(eps: ArrayLike<number>, i: number, sample: Float32Array, noise?: ArrayLike<number>): void {
    const sigma = this.sigmas[i];
    const sigmaNext = this.sigmas[i + 1];
    let sigmaDown = sigmaNext;
    let sigmaUp = 0;
    if (this.ancestral) {
      sigmaUp = Math.sqrt((sigmaNext * sigmaNext * (sigma * sigma - sigmaNext * sigmaNext)) / (sigma * sigma));
      sigmaDown = Math.sqrt(sigmaNext * sigmaNext - sigmaUp * sigmaUp);
    }
    const dt = sigmaDown - sigma;
    const invSigma = 1 / sigma; // multiply, not divide, in the per-element loop
    if (sigmaUp > 0 && !noise) throw new Error('EulerScheduler.step (ancestral) needs noise for every step but the last');
    for (let j = 0; j < sample.length; j++) {
      const x = sample[j];
      const x0 = x - sigma * eps[j]; // predicted original sample
      const derivative = (x - x0) * invSigma;
      sample[j] = sigmaUp > 0 ? x + derivative * dt + sigmaUp * noise![j] : x + derivative * dt;
    }
  }
}
