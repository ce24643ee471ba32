// The parameters of one img2img run, decided in one place: checked, fitted to the sampler and to a
// fixed-size UNet when the caller asks (a live loop must render something for any slider
// position), then scheduled. What comes out is what the run uses, and what its result reports.
import { DEFAULT_GUIDANCE, MAX_RENDER_SIDE, MIN_RENDER_SIDE, RENDER_SIDE_MULTIPLE } from '../protocol/limits';
import { EngineError } from './errors';
import type { Sampler } from './schedulers/Sampler';

export const MAX_STEPS = 50;
export const MAX_GUIDANCE = 50;

/** The ControlNet kinds a render can ask for (the control image is made by lib/image/controlImage). */
export type ControlKind = 'scribble' | 'canny';
export const CONTROL_KINDS: readonly ControlKind[] = ['scribble', 'canny'];
export const MAX_CONTROL_SCALE = 2;

/** Structural control of one render by a ControlNet. */
export interface ControlParams {
  kind: ControlKind;
  /** how strongly the control image holds the shape, 0..2 (default 1; 0 = no effect) */
  scale?: number;
  /** the part of the schedule the ControlNet runs in, as fractions 0..1: step i of n runs it when
   * start ≤ i/n < end (defaults 0 and 1: every step) */
  start?: number;
  end?: number;
}

/** A ControlParams with its defaults filled in: what a run used. */
export type RenderControl = Required<ControlParams>;

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
  /** ControlNet(s) guiding the render; absent (or an empty list) = plain img2img. Several at once
   * need different kinds. With control, strength 1 starts from (almost) pure noise and the
   * prompt paints while the control image holds the shape. */
  control?: ControlParams | readonly ControlParams[];
}

/** Parameters with every field set: what a run actually used (`control` only when there was
 * some, as a list with its defaults filled in). */
export type RenderParams = Required<Omit<Img2ImgParams, 'control'>> & { control?: RenderControl[] };

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
  const control = checkControl(p.control);
  return { prompt: p.prompt, strength: p.strength, steps: p.steps, seed: p.seed, guidance, width: p.width, height: p.height, ...(control && { control }) };
}

/** The control list with defaults filled in (undefined when there is none); each field in range,
 * each kind at most once. */
export function checkControl(raw: Img2ImgParams['control']): RenderControl[] | undefined {
  if (raw === undefined || raw === null) return undefined;
  const list: readonly ControlParams[] = Array.isArray(raw) ? raw : [raw as ControlParams];
  const out: RenderControl[] = [];
  for (const c of list) {
    if (!c || typeof c !== 'object' || !CONTROL_KINDS.includes(c.kind)) {
      throw bad(`control.kind must be one of ${CONTROL_KINDS.join(', ')} (got ${c && typeof c === 'object' ? c.kind : c})`);
    }
    if (out.some((o) => o.kind === c.kind)) throw bad(`control lists ${c.kind} twice`);
    const { scale = 1, start = 0, end = 1 } = c;
    if (typeof scale !== 'number' || !(scale >= 0 && scale <= MAX_CONTROL_SCALE)) throw bad(`control.scale must be from 0 to ${MAX_CONTROL_SCALE} (got ${scale})`);
    for (const [k, v] of [['start', start], ['end', end]] as const) {
      if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw bad(`control.${k} must be a fraction of the schedule from 0 to 1 (got ${v})`);
    }
    if (start > end) throw bad(`control.start (${start}) must not be after control.end (${end})`);
    out.push({ kind: c.kind, scale, start, end });
  }
  return out.length ? out : undefined;
}

/** Whether control `c` runs at step `i` of `n`: its window [start, end) holds i/n, and its scale is
 * not 0 (a zero scale adds nothing, so the ControlNet is not run at all). */
export function controlActiveAt(c: RenderControl, i: number, n: number): boolean {
  const at = i / n;
  return c.scale > 0 && at >= c.start && at < c.end;
}
