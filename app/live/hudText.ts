// What the live frame's HUD and panel say, in a designer's words: the numbers (renders per
// second, milliseconds, cost multipliers) go into the details tooltips next to the words.
import { DEFAULT_OUTPUT_SIZE, DEFAULT_STEPS, relativeRenderCost, type LiveFrameProps } from '../../lib/canvas/liveFrame';
import type { RefineState } from './liveRefine';
import type { FrameRenders, LiveEngineStatus, RenderEntry } from './liveRenders';

export const NO_MODEL_HINT = 'no model installed — run `npm run models:download -- <preset>`';

export type HudTone = 'ok' | 'busy' | 'warn' | 'error';

/** One line saying what the engine is doing for this frame, worded for the person drawing.
 * `caughtUp`: this tab has heard what was rendered before it joined (until then an empty history
 * does not mean nothing was rendered). */
export function describeState(
  engine: LiveEngineStatus | null,
  frame: FrameRenders | null,
  connected: boolean,
  caughtUp = true,
): { text: string; tone: HudTone } {
  if (!connected) return { text: 'offline: renders resume when the connection is back', tone: 'warn' };
  if (engine?.state === 'no-model') return { text: engine.message ?? NO_MODEL_HINT, tone: 'error' };
  if (engine?.state === 'error') return { text: engine.message ?? 'the engine failed to start', tone: 'error' };
  // after a crash the engine reloads, and its message says what happened: show that, not "loading"
  if (engine?.state === 'loading') return { text: engine.message ?? `loading ${engine.model ?? 'model'}…`, tone: 'busy' };
  const s = frame?.status;
  if (s?.state === 'no-model') return { text: s.message ?? NO_MODEL_HINT, tone: 'error' };
  if (s?.state === 'error') return { text: s.message ?? 'render failed', tone: 'error' };
  if (s?.state === 'rendering') return { text: 'rendering', tone: 'busy' };
  if (s?.state === 'queued') return { text: 'queued', tone: 'busy' };
  if (!frame?.history.length) return caughtUp ? { text: 'draw to render', tone: 'ok' } : { text: 'fetching the latest render…', tone: 'busy' };
  return { text: 'idle', tone: 'ok' };
}

export const seconds = (ms: number) => (ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`);

/** What loading the engine took, e.g. "tiny-lcm loaded in 1.2 s (0.4 s of it warm-up)"; null
 * before it is known. `warmupMs` is part of `loadMs`. */
export function describeEngineLoad(engine: LiveEngineStatus | null): string | null {
  if (engine?.state !== 'ready' || typeof engine.loadMs !== 'number') return null;
  // a warm-up under 0.05 s would read "0.0 s of it warm-up": say nothing rather than that
  const warm = typeof engine.warmupMs === 'number' && engine.warmupMs >= 50 ? ` (${seconds(engine.warmupMs)} of it warm-up)` : '';
  return `${engine.model ?? 'model'} loaded in ${seconds(engine.loadMs)}${warm}`;
}

/** "about 2 renders per second", "about 1 render every 3 s"; null when nothing came lately. */
export function describeSpeed(fps: number): string | null {
  if (!(fps > 0)) return null;
  if (fps >= 1.5) return `about ${Math.round(fps)} renders per second`;
  if (fps >= 0.75) return 'about 1 render per second';
  return `about 1 render every ${Math.round(1 / fps)} s`;
}

/** How long the render on screen took, when no renders came lately: "last render in 0.4 s". */
export function describeLatency(ms: number): string {
  return ms < 100 ? 'last render in under 0.1 s' : `last render in ${seconds(ms)}`;
}

/** The speed line's details tooltip: the numbers behind the words. */
export function speedDetails(fps: number, shown: RenderEntry | null): string {
  const lines = [`${fps.toFixed(1)} renders per second over the last 3 s`];
  if (shown && shown.latencyMs > 0) {
    lines.push(
      shown.latencySource === 'own'
        ? `${Math.round(shown.latencyMs)} ms from your drawing to this render on screen`
        : `${Math.round(shown.latencyMs)} ms on the server for this render (someone else drew)`,
    );
  }
  if (shown?.inferenceMs) lines.push(`${Math.round(shown.inferenceMs)} ms of it rendering`);
  if (shown) lines.push(renderDetails(shown));
  return lines.join('\n');
}

/** Who made the render on screen, for the details tooltips: the model, the render worker (cluster
 * mode), its size and seed. */
export function renderDetails(shown: Pick<RenderEntry, 'model' | 'worker' | 'width' | 'height' | 'seed'>): string {
  const by = `${shown.model || 'the server’s model'}${shown.worker ? ` on render worker ${shown.worker}` : ''}`;
  return `rendered by ${by} · ${shown.width}×${shown.height} · seed ${shown.seed}`;
}

/** A frame's refine in words for its HUD ("Refining 768×768…"), or null when there is nothing to
 * say (none, or finished a while ago). `now` and `at` on the same clock. */
export function describeRefine(
  r: RefineState | null,
  now: number,
): { text: string; tone: 'busy' | 'ok' | 'error'; details: string } | null {
  if (!r) return null;
  const size = r.width && r.height ? `${r.width}×${r.height}` : '';
  const who = r.by && !r.mine ? ` (asked by ${r.by})` : '';
  const details = 'Refine renders the picture on screen again, larger and with more steps, and places it beside the frame for everyone';
  switch (r.state) {
    case 'capturing':
      return { text: `Refining ${size}: capturing the frame…`, tone: 'busy', details };
    case 'queued':
      return { text: `Refine ${size}${who} queued behind live drawing`, tone: 'busy', details: `${details}; live renders go first` };
    case 'rendering':
      return { text: `Refining ${size}…${who}`, tone: 'busy', details };
    case 'done':
      return now - r.at < REFINE_DONE_SHOWN_MS ? { text: `Refined ${size}${who}: placed beside the frame`, tone: 'ok', details } : null;
    case 'error':
      return now - r.at < REFINE_ERROR_SHOWN_MS || r.mine ? { text: `Refine failed: ${r.message ?? 'unknown error'}`, tone: 'error', details } : null;
  }
}

/** how long "Refined …" and someone else's refine error stay in the HUD */
export const REFINE_DONE_SHOWN_MS = 8_000;
export const REFINE_ERROR_SHOWN_MS = 15_000;

/** On CPU, settings above the defaults in words ("Bigger sizes are slower on this machine") and
 * the numbers as details; null when the frame costs no more than the default. */
export function describeCost(
  props: Pick<LiveFrameProps, 'w' | 'h' | 'outputSize' | 'steps'>,
  inferenceMs?: number,
): { text: string; details: string } | null {
  const cost = relativeRenderCost(props);
  if (cost <= 1) return null;
  const bigger = props.outputSize > DEFAULT_OUTPUT_SIZE;
  const more = props.steps > DEFAULT_STEPS;
  const text = bigger && more
    ? 'A bigger size and more steps are slower on this machine'
    : more
      ? 'More steps are slower on this machine'
      : 'Bigger sizes are slower on this machine';
  const steps = `${props.steps} step${props.steps > 1 ? 's' : ''}`;
  const details =
    `${props.outputSize}² × ${steps}: about ${cost.toFixed(cost < 10 ? 1 : 0)}× the time of ${DEFAULT_OUTPUT_SIZE}² × ${DEFAULT_STEPS} step` +
    (inferenceMs ? ` (${Math.round(inferenceMs)} ms per render now)` : '');
  return { text, details };
}

/** A size in the size menu: the pixels, "ready" when the engine prepared it at start, and on CPU
 * how it compares with the default size (whatever the steps); the multiplier is the details. */
export function sizeChoiceText(size: number, warm: boolean, onCpu: boolean): { label: string; details: string } {
  const ratio = (size / DEFAULT_OUTPUT_SIZE) ** 2;
  const speed = !onCpu || ratio === 1 ? '' : ratio < 1 ? 'faster' : ratio <= 2.5 ? 'slower' : ratio <= 6 ? 'much slower' : 'very slow';
  const label = [`${size}²`, warm ? 'ready' : '', speed].filter(Boolean).join(' · ');
  const details =
    `about ${ratio < 1 ? ratio.toFixed(2) : ratio.toFixed(ratio < 10 ? 1 : 0)}× the time of ${DEFAULT_OUTPUT_SIZE}² per render` +
    (warm ? '; prepared when the server started' : '; the first render at this size is slower');
  return { label, details };
}
