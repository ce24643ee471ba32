// The parameters of one img2img run, decided in one place: checked, fitted to the sampler and to a
// fixed-size UNet when the caller asks (a live loop must render something for any slider
// position), then scheduled. What comes out is what the run uses, and what its result reports.
import { DEFAULT_GUIDANCE, MAX_RENDER_SIDE, MIN_RENDER_SIDE, RENDER_SIDE_MULTIPLE } from '../protocol/limits';
import { EngineError } from './errors';
import type { Sampler } from './schedulers/Sampler';

export const MAX_STEPS = 50;
export const MAX_GUIDANCE = 50;

export interface Img2ImgParams {
  prompt: string;
  /** how much of the input is replaced: (0, 1]; with `fit`, [0, 1] */
  strength: number;
  steps: number;
  seed: number;
  /** LCM guidance scale (embedded, no second UNet pass); ignored by Turbo models.
   * Default DEFAULT_GUIDANCE. */
  guidance?: number;
  width: number;
  height: number;
}

/** Parameters with every field set: what a run actually used. */
export type RenderParams = Required<Img2ImgParams>;

export interface Size {
  width: number;
  height: number;
}

/**
 * The parameters a run uses and its UNet timesteps. Without `fit`, a combination the sampler cannot
 * run or a size a fixed-size UNet was not exported for is refused (INVALID_PARAMS, with the fix in
 * the message). With `fit`, the fixed size replaces the requested one and steps/strength become
 * the nearest pair the sampler runs (Sampler.fitParams). Either way the reported steps are the
 * ones scheduled (Euler raises them when steps·strength < 1).
 */
export function decideParams(raw: Img2ImgParams, sampler: Sampler, fixedSize: Size | undefined, fit: boolean): { params: RenderParams; timesteps: number[] } {
  const p = checkParams(fit ? { ...raw, ...fitSize(raw, fixedSize) } : raw, fit);
  if (fixedSize && (fixedSize.width !== p.width || fixedSize.height !== p.height)) {
    throw bad(`this model's UNet was exported for ${fixedSize.width}×${fixedSize.height} only; use that size`);
  }
  if (fit) Object.assign(p, sampler.fitParams(p.steps, p.strength));
  let timesteps: number[];
  try {
    timesteps = [...sampler.setTimesteps(p.steps, p.strength)];
  } catch (e) {
    throw bad((e as Error).message);
  }
  return { params: { ...p, steps: sampler.steps }, timesteps };
}

/** The size a fitted run renders: a fixed-size UNet's own size, else the requested one. */
export function fitSize(requested: Size, fixedSize: Size | undefined): Size {
  const s = fixedSize ?? requested;
  return { width: s.width, height: s.height };
}

const bad = (msg: string) => new EngineError('INVALID_PARAMS', msg);

/** Each field in its own range (strength may be 0 when it will be fitted); guidance defaulted. */
export function checkParams(p: Img2ImgParams, fit: boolean): RenderParams {
  if (typeof p.prompt !== 'string') throw bad('prompt must be a string');
  if (fit) {
    if (typeof p.strength !== 'number' || !(p.strength >= 0 && p.strength <= 1)) throw bad(`strength must be from 0 to 1 (got ${p.strength})`);
  } else if (typeof p.strength !== 'number' || !(p.strength > 0 && p.strength <= 1)) {
    throw bad(`strength must be greater than 0 and at most 1 (got ${p.strength})`);
  }
  if (!Number.isInteger(p.steps) || p.steps < 1 || p.steps > MAX_STEPS) throw bad(`steps must be an integer from 1 to ${MAX_STEPS} (got ${p.steps})`);
  if (!Number.isSafeInteger(p.seed) || p.seed < 0) throw bad(`seed must be a non-negative integer (got ${p.seed})`);
  const guidance = p.guidance ?? DEFAULT_GUIDANCE;
  if (typeof guidance !== 'number' || !Number.isFinite(guidance) || guidance < 0 || guidance > MAX_GUIDANCE) {
    throw bad(`guidance must be a number from 0 to ${MAX_GUIDANCE} (got ${p.guidance})`);
  }
  for (const [k, v] of [['width', p.width], ['height', p.height]] as const) {
    if (!Number.isInteger(v) || v < MIN_RENDER_SIDE || v > MAX_RENDER_SIDE || v % RENDER_SIDE_MULTIPLE !== 0) {
      throw bad(`${k} must be a multiple of ${RENDER_SIDE_MULTIPLE} from ${MIN_RENDER_SIDE} to ${MAX_RENDER_SIDE} (got ${v})`);
    }
  }
  return { prompt: p.prompt, strength: p.strength, steps: p.steps, seed: p.seed, guidance, width: p.width, height: p.height };
}
