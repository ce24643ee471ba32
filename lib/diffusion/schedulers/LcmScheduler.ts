// Latent Consistency Model multistep sampling, after huggingface/diffusers:
// src/diffusers/schedulers/scheduling_lcm.py (LCMScheduler.set_timesteps / step) and
// src/diffusers/pipelines/latent_consistency_models/pipeline_latent_consistency_img2img.py.
import { alphasCumprod, type NoiseScheduleConfig } from './alphas';
import type { FittedParams, Sampler } from './Sampler';

export interface LcmSchedulerConfig extends NoiseScheduleConfig {
  /** the distillation schedule the model was trained on (`original_inference_steps`) */
  originalInferenceSteps?: number;
  /** `timestep_scaling` of the consistency boundary condition */
  timestepScaling?: number;
  /** `sigma_data` of the consistency boundary condition */
  sigmaData?: number;
}

/** What strength/steps an LCM schedule can do: steps must fit into floor(original·strength)
 * skeleton timesteps. diffusers raises a ValueError otherwise; so do we (see setTimesteps). */
export function lcmMaxSteps(strength: number, originalSteps = 50): number {
  return Math.min(originalSteps, Math.floor(originalSteps * strength));
}

export class LcmScheduler implements Sampler {
  readonly acp: Float64Array;
  readonly originalSteps: number;
  readonly timestepScaling: number;
  readonly sigmaData: number;
  timesteps: number[] = [];

  constructor(cfg: LcmSchedulerConfig = {}) {
    this.acp = alphasCumprod(cfg);
    this.originalSteps = cfg.originalInferenceSteps ?? 50;
    this.timestepScaling = cfg.timestepScaling ?? 10;
    this.sigmaData = cfg.sigmaData ?? 0.5;
  }

  get steps(): number {
    return this.timesteps.length;
  }

  /**
   * Picks `steps` timesteps from the skeleton [k−1, 2k−1, …] (k = 1000/original) cut to the first
   * floor(original·strength) entries, evenly spaced from the noisiest. Exactly `steps` UNet calls.
   *
   * Guard: when floor(original·strength) < steps, diffusers raises ValueError. We reject too
   * (never silently run fewer or different steps) and say which knob to turn: LCM quality drops
   * with more steps at a short schedule, so raising steps (the Turbo fix) would be the wrong advice.
   */
  setTimesteps(steps: number, strength = 1): number[] {
    const n = this.acp.length;
    if (!Number.isInteger(steps) || steps < 1 || steps > this.originalSteps) {
      throw new RangeError(`steps must be an integer from 1 to ${this.originalSteps} for an LCM model (got ${steps})`);
    }
    if (!(strength > 0 && strength <= 1)) {
      throw new RangeError(`strength must be greater than 0 and at most 1 (got ${strength})`);
    }
    const k = Math.floor(n / this.originalSteps);
    const originCount = lcmMaxSteps(strength, this.originalSteps);
    if (originCount < steps) {
      const minStrength = Math.ceil((steps / this.originalSteps) * 100) / 100;
      throw new RangeError(
        originCount < 1
          ? `strength ${strength} is too low for an LCM model: use strength ≥ ${(1 / this.originalSteps).toFixed(2)}`
          : `strength ${strength} allows at most ${originCount} LCM steps (floor(${this.originalSteps}×strength)): lower steps to ${originCount} or raise strength to ≥ ${minStrength}`,
      );
    }
    // origin = [1..originCount]·k − 1, reversed to start from the noisiest
    const origin: number[] = [];
    for (let i = originCount; i >= 1; i--) origin.push(i * k - 1);
    // indices = floor(np.linspace(0, len, steps, endpoint=False)). numpy computes each point as
    // j·(len/steps) in float64, which can land just below an integer that the exact j·len/steps
    // hits (len 30, 22 steps, j 11: 14.999… → 14, not 15), so reproduce its rounding, not the
    // exact rational.
    const spacing = origin.length / steps;
    this.timesteps = [];
    for (let j = 0; j < steps; j++) this.timesteps.push(origin[Math.floor(j * spacing)]);
    return this.timesteps;
  }

  /**
   * For a live loop: lower steps to what the strength holds (lcmMaxSteps), and raise a strength
   * below 1/original to exactly 1/original (one step). Fewer steps rather than a higher strength:
   * strength is what the user sees change, and LCM quality drops with more steps at a short
   * schedule anyway.
   */
  fitParams(steps: number, strength: number): FittedParams {
    const s = Math.min(1, Math.max(strength, 1 / this.originalSteps));
    return { steps: Math.max(1, Math.min(steps, lcmMaxSteps(s, this.originalSteps))), strength: s };
  }

  /** DDPM forward process used for the img2img start: x = √ᾱₜ·z₀ + √(1−ᾱₜ)·ε at the first timestep. */
  noiseCoefficients(): { signal: number; noise: number } {
    const a = this.acp[this.timesteps[0]];
    return { signal: Math.sqrt(a), noise: Math.sqrt(1 - a) };
  }

  /** LCM feeds the latent to the UNet unscaled. */
  modelInputScale(_i: number): number {
    return 1;
  }

  /** Fresh noise is injected after every step except the last. */
  stepNeedsNoise(i: number): boolean {
    return i < this.timesteps.length - 1;
  }

  /** Consistency boundary condition (get_scalings_for_boundary_condition_discrete). */
  boundaryScalings(t: number): { cSkip: number; cOut: number } {
    const st = t * this.timestepScaling;
    const sd2 = this.sigmaData * this.sigmaData;
    return { cSkip: sd2 / (st * st + sd2), cOut: st / Math.sqrt(st * st + sd2) };
  }

  /** The distilled UNet takes the guidance scale as an embedding (see guidanceEmbedding). */
  embeddedGuidance(requested: number): number {
    return requested;
  }

  /** One LCM step, in place on `sample`. `eps` is the UNet's epsilon prediction. */
  step(eps: ArrayLike<number>, i: number, sample: Float32Array, noise?: ArrayLike<number>): void {
    const t = this.timesteps[i];
    const last = i === this.timesteps.length - 1;
    const tPrev = last ? t : this.timesteps[i + 1];
    const a = this.acp[t];
    // final_alpha_cumprod (=1) is only used when tPrev < 0, which the skeleton never produces
    const aPrev = tPrev >= 0 ? this.acp[tPrev] : 1;
    const { cSkip, cOut } = this.boundaryScalings(t);
    const invSqrtA = 1 / Math.sqrt(a); // multiply, not divide, in the per-element loop
    const sqrt1mA = Math.sqrt(1 - a);
    const sqrtAPrev = Math.sqrt(aPrev);
    const sqrt1mAPrev = Math.sqrt(1 - aPrev);
    if (!last && !noise) throw new Error('LcmScheduler.step needs noise for every step but the last');
    for (let j = 0; j < sample.length; j++) {
      const x = sample[j];
      const x0 = (x - sqrt1mA * eps[j]) * invSqrtA; // predicted original sample (epsilon prediction)
      const denoised = cOut * x0 + cSkip * x;
      sample[j] = last ? denoised : sqrtAPrev * denoised + sqrt1mAPrev * noise![j];
    }
  }
}

/**
 * LCM's guidance conditioning (get_guidance_scale_embedding in the LCM pipelines): the distilled
 * model takes the CFG scale as an input instead of running a second UNet pass. diffusers feeds
 * w = guidance_scale − 1 (Imagen-style CFG), scaled by 1000, through sinusoids.
 */
export function guidanceEmbedding(guidanceScale: number, dim = 256): Float32Array {
  const w = (guidanceScale - 1) * 1000;
  const half = dim >> 1;
  const out = new Float32Array(dim);
  const logBase = Math.log(10000) / (half - 1);
  for (let j = 0; j < half; j++) {
    const e = w * Math.exp(-j * logBase);
    out[j] = Math.sin(e);
    out[half + j] = Math.cos(e);
  }
  return out;
}
