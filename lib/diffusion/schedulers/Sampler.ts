// What the img2img pipeline asks of a noise schedule, whichever one the model was distilled for
// (LcmScheduler, EulerScheduler). The pipeline only talks to this interface; each scheduler keeps
// its own math, next to the diffusers source it follows.

export interface FittedParams {
  steps: number;
  strength: number;
}

export interface Sampler {
  /**
   * Plans an img2img schedule and returns its UNet timesteps, noisiest first. Throws a RangeError
   * whose message says which knob to turn when the sampler cannot run this steps/strength pair.
   */
  setTimesteps(steps: number, strength: number): number[];
  /** the timesteps of the current schedule (what setTimesteps returned) */
  readonly timesteps: number[];
  /** the step count of the current schedule: the requested one, or more where the sampler raises
   * it by itself (Euler does when steps·strength < 1; see eulerAdjustedSteps) */
  readonly steps: number;
  /**
   * The nearest steps/strength this sampler runs, for a live loop that must render something for
   * any slider position: strength 0…1 and steps 1…MAX_STEPS come in, a pair setTimesteps accepts
   * comes out (the user's strength is kept whenever it can be).
   */
  fitParams(steps: number, strength: number): FittedParams;
  /** x = signal·z₀ + noise·ε: how the clean latent is noised to the first timestep */
  noiseCoefficients(): { signal: number; noise: number };
  /** the factor the latent is scaled by before UNet call `i` (scale_model_input) */
  modelInputScale(i: number): number;
  /** whether step `i` takes fresh Gaussian noise */
  stepNeedsNoise(i: number): boolean;
  /** one sampler step in place on `sample`; `eps` is the UNet's epsilon prediction */
  step(eps: ArrayLike<number>, i: number, sample: Float32Array, noise?: ArrayLike<number>): void;
  /** The guidance scale fed to a UNet that has a `timestep_cond` input: LCM embeds the requested
   * scale (no second UNet pass); other samplers run unguided, which the embedding of 1 means. */
  embeddedGuidance(requested: number): number;
}
