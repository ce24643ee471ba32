// Which sampler drives a model, read from its scheduler/scheduler_config.json the way diffusers
// instantiates the scheduler class named there. The choice matters: SD-Turbo ships
// EulerDiscreteScheduler, which never re-injects noise; running it as Euler-ancestral gives a
// different (noisier) picture than the reference pipeline for every step count above one.
import { noiseScheduleFromConfig } from './alphas';
import { EulerScheduler } from './EulerScheduler';
import { LcmScheduler } from './LcmScheduler';
import type { Sampler } from './Sampler';

export type SamplerName = 'lcm' | 'euler' | 'euler-ancestral';

/** Scheduler classes we implement, and the documented substitutes for a few other classes that
 * exports ship (see docs/architecture.md "Engine contract"):
 * - DDIMScheduler (eta 0) is the same first-order solver of the probability-flow ODE as Euler,
 *   written in x/√ᾱ instead of σ: Euler with trailing spacing reproduces it.
 * - PNDMScheduler (PLMS) is a multistep solver of that ODE whose warm-up needs more steps than a
 *   few-step model runs; at 1–4 steps plain Euler is what these models are distilled against.
 * - DDPMScheduler samples ancestrally (fresh noise each step): Euler-ancestral is its σ-space
 *   counterpart. */
export const SAMPLER_BY_SCHEDULER_CLASS: Readonly<Record<string, SamplerName>> = {
  LCMScheduler: 'lcm',
  EulerDiscreteScheduler: 'euler',
  EulerAncestralDiscreteScheduler: 'euler-ancestral',
  DDIMScheduler: 'euler',
  PNDMScheduler: 'euler',
  DDPMScheduler: 'euler-ancestral',
};

export class SchedulerConfigError extends Error {}

/** The sampler for a scheduler config; throws SchedulerConfigError for a class or prediction type
 * the engine cannot drive. `override` (PipelineLoadOptions.sampler) skips the class lookup only. */
export function chooseSampler(config: Record<string, unknown>, override?: SamplerName): SamplerName {
  // the engine turns every UNet output into x0 = (x − √(1−ᾱ)·ε)/√ᾱ: only ε-prediction models fit
  const prediction = config.prediction_type ?? 'epsilon';
  if (prediction !== 'epsilon') {
    throw new SchedulerConfigError(
      `prediction_type "${String(prediction)}" is not supported (only "epsilon": v-prediction models such as SD 2.x 768-v need a different step); use an LCM or SD-Turbo-class ε-prediction export`,
    );
  }
  if (override) return override;
  const cls = String(config._class_name ?? '');
  const sampler = SAMPLER_BY_SCHEDULER_CLASS[cls];
  if (!sampler) {
    throw new SchedulerConfigError(
      `scheduler class "${cls || '(none)'}" is not supported; use a model whose _class_name is one of ${Object.keys(SAMPLER_BY_SCHEDULER_CLASS).join(', ')}, or pass the sampler option`,
    );
  }
  return sampler;
}

/** The sampler a model's scheduler_config.json asks for (or `override`), configured from it.
 * Throws (SchedulerConfigError or Error) for a config the engine cannot drive. */
export function samplerFromConfig(config: Record<string, unknown>, override?: SamplerName): { name: SamplerName; sampler: Sampler } {
  const schedule = noiseScheduleFromConfig(config);
  const name = chooseSampler(config, override);
  const num = (v: unknown) => (typeof v === 'number' ? v : undefined);
  const sampler =
    name === 'lcm'
      ? new LcmScheduler({ ...schedule, originalInferenceSteps: num(config.original_inference_steps), timestepScaling: num(config.timestep_scaling) })
      : new EulerScheduler({ ...schedule, ancestral: name === 'euler-ancestral' });
  return { name, sampler };
}
