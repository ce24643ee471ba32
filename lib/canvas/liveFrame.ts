// The live frame's settings: one definition read by the browser (tldraw shape props, settings
// panel) and by the server (render settings straight from the Yjs record). No tldraw runtime here
// so the server can import it without pulling in React.
import { DEFAULT_GUIDANCE, MAX_RENDER_SIDE, MIN_RENDER_SIDE, RENDER_SIDE_MULTIPLE } from '../protocol/limits';

export const LIVE_FRAME_TYPE = 'live-frame';

export const LIVE_FRAME_VIEWS = ['frame', 'lens', 'side'] as const;
export type LiveFrameView = (typeof LIVE_FRAME_VIEWS)[number];

/** Structural control (ControlNet): none = plain img2img; scribble keeps the strokes; canny keeps
 * the edges of whatever is in the frame. */
export const LIVE_FRAME_CONTROLS = ['none', 'scribble', 'canny'] as const;
export type LiveFrameControl = (typeof LIVE_FRAME_CONTROLS)[number];

export interface LiveFrameProps {
  /** size on the canvas, in page units */
  w: number;
  h: number;
  prompt: string;
  /** img2img strength: how much of the sketch is replaced by noise */
  strength: number;
  steps: number;
  seed: number;
  /** a locked seed keeps the noise fixed while drawing, so only the sketch changes the picture */
  seedLocked: boolean;
  /** classifier-free guidance scale, only used by LCM (embedded guidance) */
  guidance: number;
  /** model preset name; '' = whatever the server runs by default */
  model: string;
  /** long side of the render in pixels, multiple of 64 */
  outputSize: number;
  view: LiveFrameView;
  /** ControlNet kind ('none' = plain img2img) */
  control: LiveFrameControl;
  /** how strongly the control image holds the shape, 0..2 */
  controlScale: number;
  /** the part of the schedule (fractions, start < end) in which the control applies */
  controlStart: number;
  controlEnd: number;
}

export const LIVE_FRAME_LIMITS = {
  side: { min: 32, max: 8192 },
  prompt: { maxLength: 1000 },
  strength: { min: 0, max: 1 },
  steps: { min: 1, max: 8 },
  seed: { min: 0, max: 2 ** 32 - 1 },
  guidance: { min: 0, max: 20 },
  outputSize: { min: MIN_RENDER_SIDE, max: MAX_RENDER_SIDE, step: RENDER_SIDE_MULTIPLE },
  model: { maxLength: 200 },
  controlScale: { min: 0, max: 2 },
  controlRange: { min: 0, max: 1 },
} as const;

/** One step is the CPU default: on 2 cores a 256² LCM step costs well under a second, four do
 * not feel live. GPU presets suggest 4 through `suggestedStepsForModel`. */
export const DEFAULT_STEPS = 1;
export const DEFAULT_OUTPUT_SIZE = 256;
export const DEFAULT_FRAME_SIDE = 320;

/** A fresh random seed that survives a round trip through any 32-bit RNG. */
export function randomSeed(random: () => number = Math.random): number {
  return Math.floor(random() * 2 ** 31);
}

export function defaultLiveFrameProps(random: () => number = Math.random): LiveFrameProps {
  return {
    w: DEFAULT_FRAME_SIDE,
    h: DEFAULT_FRAME_SIDE,
    prompt: '',
    strength: 0.5,
    steps: DEFAULT_STEPS,
    seed: randomSeed(random),
    seedLocked: true,
    guidance: DEFAULT_GUIDANCE,
    model: '',
    outputSize: DEFAULT_OUTPUT_SIZE,
    view: 'frame',
    control: 'none',
    controlScale: 1,
    controlStart: 0,
    controlEnd: 1,
  };
}

/** Steps a model preset suggests: distilled Turbo models are trained for one step, LCM wants ~4
 * when the hardware can afford it. The frame keeps one default; the panel offers this as a hint. */
export function suggestedStepsForModel(model: string, onGpu: boolean): number {
  if (/turbo/i.test(model)) return 1;
  return onGpu ? 4 : DEFAULT_STEPS;
}

/** Guidance only matters to LCM-style UNets that take a guidance embedding. */
export function modelUsesGuidance(model: string): boolean {
  return model === '' || /lcm/i.test(model);
}

const clamp = (v: number, min: number, max: number) => Math.min(max, Math.max(min, v));

/** Rounds to the nearest multiple of 64 inside the accepted render sizes. */
export function normalizeOutputSize(v: number): number {
  const { min, max, step } = LIVE_FRAME_LIMITS.outputSize;
  return clamp(Math.round(v / step) * step, min, max);
}

// Each field is read leniently: a value from an older client or a hand-edited record is clamped
// or replaced by the default instead of making the whole frame unreadable.
function finiteOr(v: unknown, fallback: number): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : fallback;
}

/** Reads live-frame props from anything (a Yjs record's `props`, a client message) and returns a
 * complete, in-range props object. Never throws; unknown keys are dropped. A missing seed falls
 * back to 0 rather than a random one so that two servers reading the same record agree. */
export function parseLiveFrameProps(raw: unknown): LiveFrameProps {
  const d = defaultLiveFrameProps(() => 0);
  const r = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const L = LIVE_FRAME_LIMITS;
  return {
    w: clamp(finiteOr(r.w, d.w), L.side.min, L.side.max),
    h: clamp(finiteOr(r.h, d.h), L.side.min, L.side.max),
    prompt: typeof r.prompt === 'string' ? r.prompt.slice(0, L.prompt.maxLength) : d.prompt,
    strength: clamp(finiteOr(r.strength, d.strength), L.strength.min, L.strength.max),
    steps: clamp(Math.round(finiteOr(r.steps, d.steps)), L.steps.min, L.steps.max),
    seed: clamp(Math.floor(finiteOr(r.seed, d.seed)), L.seed.min, L.seed.max),
    seedLocked: typeof r.seedLocked === 'boolean' ? r.seedLocked : d.seedLocked,
    guidance: clamp(finiteOr(r.guidance, d.guidance), L.guidance.min, L.guidance.max),
    model: typeof r.model === 'string' && r.model.length <= L.model.maxLength ? r.model : d.model,
    outputSize: normalizeOutputSize(finiteOr(r.outputSize, d.outputSize)),
    view: (LIVE_FRAME_VIEWS as readonly unknown[]).includes(r.view) ? (r.view as LiveFrameView) : d.view,
    ...parseControl(r, d),
  };
}

/** The control props; an end not after the start falls back to the whole schedule. */
function parseControl(r: Record<string, unknown>, d: LiveFrameProps): Pick<LiveFrameProps, 'control' | 'controlScale' | 'controlStart' | 'controlEnd'> {
  const { controlScale: S, controlRange: R } = LIVE_FRAME_LIMITS;
  const start = clamp(finiteOr(r.controlStart, d.controlStart), R.min, R.max);
  const end = clamp(finiteOr(r.controlEnd, d.controlEnd), R.min, R.max);
  return {
    control: (LIVE_FRAME_CONTROLS as readonly unknown[]).includes(r.control) ? (r.control as LiveFrameControl) : d.control,
    controlScale: clamp(finiteOr(r.controlScale, d.controlScale), S.min, S.max),
    ...(end > start ? { controlStart: start, controlEnd: end } : { controlStart: d.controlStart, controlEnd: d.controlEnd }),
  };
}

/** A live-frame record as stored in the shared document (`tl_records`), or null for anything else. */
export function readLiveFrameRecord(
  record: unknown,
): { id: string; parentId: string; x: number; y: number; props: LiveFrameProps } | null {
  if (!record || typeof record !== 'object') return null;
  const r = record as Record<string, unknown>;
  if (r.typeName !== 'shape' || r.type !== LIVE_FRAME_TYPE || typeof r.id !== 'string') return null;
  return {
    id: r.id,
    parentId: typeof r.parentId === 'string' ? r.parentId : '',
    x: typeof r.x === 'number' ? r.x : 0,
    y: typeof r.y === 'number' ? r.y : 0,
    props: parseLiveFrameProps(r.props),
  };
}

/** A live-frame record as tldraw stores it in the shared document, for code that writes the
 * document without an editor (benchmarks, tests, scripts). */
export function liveFrameRecord(
  id: string,
  props: Partial<LiveFrameProps> = {},
  at: { x?: number; y?: number; parentId?: string; index?: string } = {},
): Record<string, unknown> {
  return {
    id,
    typeName: 'shape',
    type: LIVE_FRAME_TYPE,
    parentId: at.parentId ?? 'page:page',
    index: at.index ?? 'a1',
    x: at.x ?? 0,
    y: at.y ?? 0,
    rotation: 0,
    isLocked: false,
    opacity: 1,
    meta: {},
    props: { ...defaultLiveFrameProps(), ...props },
  };
}

/** The pixel size of a frame's snapshot and render: the long side is `outputSize`, the short side
 * follows the frame's aspect ratio rounded to a multiple of 64 (UNets want multiples of 64). */
export function renderSizeForFrame(props: Pick<LiveFrameProps, 'w' | 'h' | 'outputSize'>): {
  width: number;
  height: number;
} {
  const long = normalizeOutputSize(props.outputSize);
  const w = Math.max(props.w, 1);
  const h = Math.max(props.h, 1);
  const short = (side: number) => normalizeOutputSize((long * side) / Math.max(w, h));
  return w >= h ? { width: long, height: short(h) } : { width: short(w), height: long };
}

/** Refine: the frame at a larger size (twice the live size, 512 to 768 on the long side) and at
 * least 4 steps — a finished image of the composition being drawn. */
export function refineSettingsFor(props: LiveFrameProps): { width: number; height: number; steps: number } {
  const long = Math.min(768, Math.max(512, normalizeOutputSize(props.outputSize * 2)));
  const { width, height } = renderSizeForFrame({ ...props, outputSize: long });
  return { width, height, steps: Math.max(props.steps, 4) };
}

/** The settings that change what the engine produces (view and seed lock do not). */
export const RENDER_SETTING_KEYS = [
  'w',
  'h',
  'prompt',
  'strength',
  'steps',
  'seed',
  'guidance',
  'model',
  'outputSize',
  'control',
  'controlScale',
  'controlStart',
  'controlEnd',
] as const satisfies readonly (keyof LiveFrameProps)[];

export type RenderSettings = Pick<LiveFrameProps, (typeof RENDER_SETTING_KEYS)[number]>;

export function renderSettingsOf(props: LiveFrameProps): RenderSettings {
  const out = {} as Record<string, unknown>;
  for (const k of RENDER_SETTING_KEYS) out[k] = props[k];
  return out as RenderSettings;
}

export type StrengthZone = 'close' | 'balanced' | 'reinvents';

/** What a strength value does to the sketch, in words the settings panel shows next to the slider. */
export function strengthZone(strength: number): { zone: StrengthZone; label: string } {
  if (strength < 0.45) return { zone: 'close', label: 'stays close to the sketch' };
  if (strength < 0.8) return { zone: 'balanced', label: 'balanced' };
  return { zone: 'reinvents', label: 'reinvents the sketch' };
}

/** JSON with object keys sorted, so equal values give equal strings whatever their key order.
 * `undefined` members are dropped like JSON.stringify does. */
export function stableStringify(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) return 'null';
    return JSON.stringify(value) ?? 'null';
  }
  if (Array.isArray(value)) return `[${value.map((v) => stableStringify(v)).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(obj[k])}`).join(',')}}`;
}

/** 64-bit non-cryptographic hash (two cyrb53-style lanes) of a string, as 16 hex digits. Fast
 * enough to run on every stroke update; collisions only cost one skipped snapshot. */
export function hashString(s: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

/** Fields of a shape record that do not change how it looks in a snapshot. */
const VOLATILE_RECORD_KEYS = new Set(['meta']);

/**
 * Hash of everything that determines a frame's render: its render settings and the records of the
 * shapes drawn into it. Record order and key order do not matter; positions are taken relative to
 * the frame so that moving the whole frame with its content does not re-render.
 */
export function liveFrameContentHash(
  frame: { x: number; y: number; props: LiveFrameProps },
  shapes: readonly Record<string, unknown>[],
): string {
  const content = shapes
    .map((s) => {
      const kept: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s)) if (!VOLATILE_RECORD_KEYS.has(k)) kept[k] = v;
      if (s.parentId !== undefined && typeof s.x === 'number' && typeof s.y === 'number') {
        // children store frame-relative coordinates already; page-level shapes are made relative
        const onPage = typeof s.parentId === 'string' && s.parentId.startsWith('page:');
        if (onPage) {
          kept.x = s.x - frame.x;
          kept.y = s.y - frame.y;
        }
      }
      return stableStringify(kept);
    })
    .sort();
  return hashString(stableStringify({ settings: renderSettingsOf(frame.props), content }));
}

/** Rough cost of a render relative to the CPU default (256², one step): UNet time grows with the
 * pixel count times the steps. The HUD uses it to explain the size/steps trade-off on CPU. */
export function relativeRenderCost(props: Pick<LiveFrameProps, 'w' | 'h' | 'outputSize' | 'steps'>): number {
  const { width, height } = renderSizeForFrame(props);
  return ((width * height) / DEFAULT_OUTPUT_SIZE ** 2) * props.steps;
}

export interface OutputSizeChoice {
  size: number;
  /** the engine warmed up on this size at start, so its first render is not the slowest */
  warm: boolean;
  /** relativeRenderCost at this size with the frame's steps and aspect */
  cost: number;
  label: string;
}

/** Every output size the engine accepts (multiples of 64 from 128 to 1024) for the size picker,
 * marking the warmed-up ones and, on CPU, what the larger ones cost next to the default. */
export function outputSizeChoices(
  props: Pick<LiveFrameProps, 'w' | 'h' | 'steps'>,
  warmSizes: readonly number[] = [],
  onCpu = true,
): OutputSizeChoice[] {
  const { min, max, step } = LIVE_FRAME_LIMITS.outputSize;
  const out: OutputSizeChoice[] = [];
  for (let size = min; size <= max; size += step) {
    const warm = warmSizes.includes(size);
    const cost = relativeRenderCost({ ...props, outputSize: size });
    const costText = onCpu && cost > 1 ? ` · ≈${cost < 10 ? cost.toFixed(1) : Math.round(cost)}× CPU time` : '';
    out.push({ size, warm, cost, label: `${size}²${warm ? ' · warm' : ''}${costText}` });
  }
  return out;
}
