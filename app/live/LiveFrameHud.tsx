'use client';
// The strip under a live frame: renders per second, latency, engine and frame state, the
// size/steps trade-off on CPU, history stepping, render now, pin, and the lens peek toggle. A view-only
// page (tldraw's read-only mode) keeps what is local to it: history stepping and the peek.
import { useEffect, useState, type PointerEvent as ReactPointerEvent } from 'react';
import { useEditor, useValue } from 'tldraw';
import { relativeRenderCost } from '../../lib/canvas/liveFrame';
import type { LiveFrameShape } from '../../lib/canvas/liveFrameSchema';
import { frameNotice, type FrameRenders, type LiveEngineStatus } from './liveRenders';
import { getLiveSession } from './liveSession';

export const NO_MODEL_HINT = 'no model installed — run `npm run models:download -- <preset>`';

export type HudTone = 'ok' | 'busy' | 'warn' | 'error';

/** One line saying what the engine is doing for this frame, worded for the person drawing. */
export function describeState(
  engine: LiveEngineStatus | null,
  frame: FrameRenders | null,
  connected: boolean,
): { text: string; tone: HudTone } {
  if (!connected) return { text: 'offline — renders resume when the connection is back', tone: 'warn' };
  if (engine?.state === 'no-model') return { text: engine.message ?? NO_MODEL_HINT, tone: 'error' };
  if (engine?.state === 'error') return { text: engine.message ?? 'the engine failed to start', tone: 'error' };
  // after a crash the engine reloads, and its message says what happened: show that, not "loading"
  if (engine?.state === 'loading') return { text: engine.message ?? `loading ${engine.model ?? 'model'}…`, tone: 'busy' };
  const s = frame?.status;
  if (s?.state === 'no-model') return { text: s.message ?? NO_MODEL_HINT, tone: 'error' };
  if (s?.state === 'error') return { text: s.message ?? 'render failed', tone: 'error' };
  if (s?.state === 'rendering') return { text: 'rendering', tone: 'busy' };
  if (s?.state === 'queued') return { text: 'queued', tone: 'busy' };
  if (!frame?.history.length) return { text: 'draw to render', tone: 'ok' };
  return { text: 'idle', tone: 'ok' };
}

const seconds = (ms: number) => (ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`);

/** What loading the engine took, e.g. "tiny-lcm loaded in 1.2 s (0.4 s of it warm-up)"; null
 * before it is known. `warmupMs` is part of `loadMs`. */
export function describeEngineLoad(engine: LiveEngineStatus | null): string | null {
  if (engine?.state !== 'ready' || typeof engine.loadMs !== 'number') return null;
  // a warm-up under 0.05 s would read "0.0 s of it warm-up": say nothing rather than that
  const warm = typeof engine.warmupMs === 'number' && engine.warmupMs >= 50 ? ` (${seconds(engine.warmupMs)} of it warm-up)` : '';
  return `${engine.model ?? 'model'} loaded in ${seconds(engine.loadMs)}${warm}`;
}

const stop = (editor: ReturnType<typeof useEditor>) => (e: ReactPointerEvent) => {
  // keep the canvas from starting a selection or a stroke under the HUD
  editor.markEventAsHandled(e);
  e.stopPropagation();
};

export function LiveFrameHud({ frame }: { frame: LiveFrameShape }) {
  const editor = useEditor();
  const session = useValue('live session', () => getLiveSession(editor), [editor]);
  const renders = useValue('live frame renders', () => session?.renders.get(frame.id) ?? null, [session, frame.id]);
  const engine = useValue('live engine', () => session?.renders.engine.get() ?? null, [session]);
  const peeking = useValue('live peek', () => session?.isPeeking(frame.id) ?? false, [session, frame.id]);
  const readonly = useValue('read-only', () => editor.getIsReadonly(), [editor]);
  const [now, setNow] = useState(() => Date.now());
  const [pin, setPin] = useState<{ busy: boolean; message?: string }>({ busy: false });
  const [connected, setConnected] = useState(true);

  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  useEffect(() => {
    if (!session) return;
    const update = () => setConnected(session.socket.connected);
    update();
    session.socket.on('connect', update);
    session.socket.on('disconnect', update);
    return () => {
      session.socket.off('connect', update);
      session.socket.off('disconnect', update);
    };
  }, [session]);

  const n = renders?.history.length ?? 0;
  const index = renders?.viewIndex ?? n - 1;
  const shown = n > 0 ? renders!.history[index] : null;
  const fps = session && renders ? session.renders.fps(frame.id, now) : 0;
  const state = describeState(engine, renders, connected && !!session);
  const onCpu = !engine?.executionProvider || /cpu/i.test(engine.executionProvider);
  const cost = relativeRenderCost(frame.props);
  const notice = state.tone === 'error' ? null : frameNotice(renders);
  const engineLoad = describeEngineLoad(engine);

  const doPin = async () => {
    if (!session) return;
    setPin({ busy: true });
    const r = await session.pin(frame.id);
    setPin(r.ok ? { busy: false, message: 'pinned' } : { busy: false, message: r.message });
  };

  return (
    <div
      className="lc-hud"
      data-testid="live-hud"
      style={{ pointerEvents: 'all' }}
      onPointerDown={stop(editor)}
      onPointerUp={stop(editor)}
      onDoubleClick={(e) => e.stopPropagation()}
    >
      <div className="lc-hud__row">
        <span className={`lc-hud__state lc-hud__state--${state.tone}`} data-testid="live-state">
          {state.text}
        </span>
        <span className="lc-hud__metric" title="renders per second over the last 3 s">
          {fps.toFixed(1)} r/s
        </span>
        {shown && shown.latencyMs > 0 && (
          <span
            className="lc-hud__metric"
            title={
              shown.latencySource === 'own'
                ? 'from your snapshot to the render on screen'
                : 'server time from snapshot to render (someone else drew)'
            }
          >
            {Math.round(shown.latencyMs)} ms
          </span>
        )}
      </div>
      <div className="lc-hud__row">
        <button
          type="button"
          className="lc-hud__btn"
          aria-label="Older render"
          disabled={!session || index <= 0}
          onClick={() => session?.renders.step(frame.id, -1)}
        >
          ◀
        </button>
        <span className="lc-hud__metric" data-testid="live-history">
          {n ? `${index + 1}/${n}` : '0/0'}
          {renders?.viewIndex != null ? ' (paused)' : ''}
        </span>
        <button
          type="button"
          className="lc-hud__btn"
          aria-label="Newer render"
          disabled={!session || index >= n - 1}
          onClick={() => session?.renders.step(frame.id, 1)}
        >
          ▶
        </button>
        {!readonly && (
          <>
            <button
              type="button"
              className="lc-hud__btn"
              title="Send the frame to the engine again"
              disabled={!session}
              onClick={() => session?.renderNow(frame.id)}
            >
              Render now
            </button>
            <button
              type="button"
              className="lc-hud__btn"
              data-testid="live-pin"
              title="Put this render on the canvas for everyone"
              disabled={!shown || pin.busy}
              onClick={doPin}
            >
              {pin.busy ? 'Pinning…' : 'Pin'}
            </button>
          </>
        )}
        {frame.props.view === 'lens' && (
          <button
            type="button"
            className="lc-hud__btn"
            aria-pressed={peeking}
            title="Show the sketch under the lens"
            onClick={() => session?.setPeeking(frame.id, !peeking)}
          >
            {peeking ? 'Show render' : 'Peek sketch'}
          </button>
        )}
      </div>
      {notice && (
        <div className="lc-hud__notice" data-testid="live-notice">
          {notice}
        </div>
      )}
      {pin.message && pin.message !== 'pinned' && <div className="lc-hud__error">{pin.message}</div>}
      {onCpu && cost > 1 && (
        <div className="lc-hud__hint">
          CPU: {frame.props.outputSize}² × {frame.props.steps} step{frame.props.steps > 1 ? 's' : ''} costs ≈
          {cost.toFixed(cost < 10 ? 1 : 0)}× the 256² 1-step default
          {shown?.inferenceMs ? ` (${Math.round(shown.inferenceMs)} ms now)` : ''}.
        </div>
      )}
      {engineLoad && (
        <div className="lc-hud__hint" data-testid="live-engine" title="time the server took to load the model and warm it up">
          {engineLoad}
        </div>
      )}
    </div>
  );
}
