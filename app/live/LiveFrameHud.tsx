'use client';
// The strip under a live frame: what the engine is doing, how fast renders come (numbers in the
// details tooltip; who rendered the picture on screen in the state's tooltip), history stepping
// with an obvious way back to live, render now, pin, refine (with its progress for everyone), and
// the lens view's hold-to-peek. A view-only page (tldraw's read-only mode) keeps what is local to it:
// history stepping and the peek.
import { useEffect, useRef, useState, type KeyboardEvent, type PointerEvent as ReactPointerEvent } from 'react';
import { useEditor, useValue } from 'tldraw';
import { refineSettingsFor } from '../../lib/canvas/liveFrame';
import type { LiveFrameShape } from '../../lib/canvas/liveFrameSchema';
import { describeCost, describeEngineLoad, describeLatency, describeRefine, describeSpeed, describeState, renderDetails, speedDetails } from './hudText';
import { refineInProgress } from './liveRefine';
import { frameNotice } from './liveRenders';
import { getLiveSession, type LiveSession } from './liveSession';
import { revealPin } from './reveal';

export { describeEngineLoad, describeState, NO_MODEL_HINT, type HudTone } from './hudText';

export const PIN_TITLE =
  'Put this render on the canvas for everyone. Pinning also picks a new seed, even when the seed is locked, ' +
  'so the next renders do not repeat an over-baked picture.';
const PIN_OFFLINE_TITLE = 'Offline: pinning needs the connection to the server';

export function refineTitle(size: { width: number; height: number; steps: number }): string {
  return (
    `Render this picture again at ${size.width}×${size.height} with ${size.steps} steps (same seed), ` +
    'and put it on the canvas for everyone. Takes a few seconds; live drawing goes first.'
  );
}
const REFINE_OFFLINE_TITLE = 'Offline: refining needs the connection to the server';

const stop = (editor: ReturnType<typeof useEditor>) => (e: ReactPointerEvent) => {
  // keep the canvas from starting a selection or a stroke under the HUD
  editor.markEventAsHandled(e);
  e.stopPropagation();
};

/** Whether the room's socket is connected, following its connects and disconnects. */
function useConnected(session: LiveSession | null): boolean {
  const [connected, setConnected] = useState(true);
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
  return connected && !!session;
}

export function LiveFrameHud({ frame }: { frame: LiveFrameShape }) {
  const editor = useEditor();
  const session = useValue('live session', () => getLiveSession(editor), [editor]);
  const renders = useValue('live frame renders', () => session?.renders.get(frame.id) ?? null, [session, frame.id]);
  const engine = useValue('live engine', () => session?.renders.engine.get() ?? null, [session]);
  const caughtUp = useValue('live caught up', () => session?.hasCaughtUp() ?? false, [session]);
  const readonly = useValue('read-only', () => editor.getIsReadonly(), [editor]);
  const [now, setNow] = useState(() => Date.now());
  const [pin, setPin] = useState<{ busy: boolean; message?: string }>({ busy: false });
  const connected = useConnected(session);
  const refine = useValue('live refine', () => session?.refines.get(frame.id) ?? null, [session, frame.id]);

  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  // a pin that failed while the connection was down says nothing true once it is back
  const wasConnected = useRef(connected);
  useEffect(() => {
    if (connected) setPin((p) => (p.message && !p.busy ? { busy: false } : p));
    // likewise a refine that failed before the reconnect (not on every mount of the HUD)
    if (connected && !wasConnected.current && session?.refines.get(frame.id)?.state === 'error') session.refines.clear(frame.id);
    wasConnected.current = connected;
  }, [connected, session, frame.id]);

  const n = renders?.history.length ?? 0;
  const paused = renders?.viewIndex != null;
  const index = renders?.viewIndex ?? n - 1;
  const shown = n > 0 ? renders!.history[index] : null;
  const held = renders?.held?.length ?? 0;
  const fps = session && renders ? session.renders.fps(frame.id, now) : 0;
  const state = describeState(engine, renders, connected, caughtUp || n > 0);
  const onCpu = !engine?.executionProvider || /cpu/i.test(engine.executionProvider);
  const cost = onCpu ? describeCost(frame.props, shown?.inferenceMs) : null;
  const notice = state.tone === 'error' ? null : frameNotice(renders);
  const engineLoad = describeEngineLoad(engine);
  const speed = describeSpeed(fps) ?? (shown && shown.latencyMs > 0 && !paused ? describeLatency(shown.latencyMs) : null);

  const refineLine = describeRefine(refine, now);
  const refining = refineInProgress(refine);
  const doRefine = () => void session?.refine(frame.id).then((r) => r.ok && revealPin(editor, frame.id, r.shapeId));

  const doPin = async () => {
    if (!session) return;
    setPin({ busy: true });
    const r = await session.pin(frame.id);
    setPin(r.ok ? { busy: false } : { busy: false, message: r.message });
    if (r.ok) revealPin(editor, frame.id, r.shapeId);
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
        <span
          className={`lc-hud__state lc-hud__state--${state.tone}${shown ? ' lc-hud__details' : ''}`}
          data-testid="live-state"
          title={shown ? renderDetails(shown) : undefined}
        >
          {state.text}
        </span>
        {speed && (
          <span className="lc-hud__metric lc-hud__details" data-testid="live-speed" title={speedDetails(fps, shown)}>
            {speed}
          </span>
        )}
      </div>
      <div className="lc-hud__row">
        <button
          type="button"
          className="lc-hud__btn"
          aria-label="Older render"
          title="Older render"
          disabled={!session || index <= 0}
          onClick={() => session?.renders.step(frame.id, -1)}
        >
          ◀
        </button>
        <span className="lc-hud__metric lc-hud__position" data-testid="live-history" title="render on screen / renders kept">
          {n ? `${index + 1}/${n}` : caughtUp ? '0/0' : '–'}
        </span>
        <button
          type="button"
          className="lc-hud__btn"
          aria-label="Newer render"
          title="Newer render"
          disabled={!session || !paused}
          onClick={() => session?.renders.step(frame.id, 1)}
        >
          ▶
        </button>
        {!readonly && (
          <>
            <button
              type="button"
              className="lc-hud__btn"
              data-testid="live-render-now"
              title="Render the frame again now (and follow the live renders)"
              disabled={!session}
              onClick={() => session?.renderNow(frame.id)}
            >
              Render now
            </button>
            <button
              type="button"
              className="lc-hud__btn"
              data-testid="live-pin"
              title={connected ? PIN_TITLE : PIN_OFFLINE_TITLE}
              disabled={!shown || pin.busy || !connected}
              onClick={doPin}
            >
              {pin.busy ? 'Pinning…' : 'Pin'}
            </button>
            <button
              type="button"
              className="lc-hud__btn lc-hud__refine"
              data-testid="live-refine"
              title={connected ? refineTitle(refineSettingsFor(frame.props)) : REFINE_OFFLINE_TITLE}
              disabled={!shown || refining || !connected}
              onClick={doRefine}
            >
              {refining ? 'Refining…' : 'Refine'}
            </button>
          </>
        )}
        {frame.props.view === 'lens' && <PeekButton session={session} frameId={frame.id} />}
      </div>
      {paused && (
        <div className="lc-hud__paused" data-testid="live-paused">
          <span>
            Paused on render {index + 1} of {n}
            {held ? ` · ${held} newer` : ''}
          </span>
          <button
            type="button"
            className="lc-hud__live"
            data-testid="live-back-to-live"
            title="Show the newest render and follow new ones again"
            onClick={() => session?.renders.live(frame.id)}
          >
            Back to live
          </button>
        </div>
      )}
      {notice && (
        <div className="lc-hud__notice" data-testid="live-notice">
          {notice}
        </div>
      )}
      {refineLine && (
        <div className={`lc-hud__refine-status lc-hud__refine-status--${refineLine.tone}`} data-testid="live-refine-status" data-state={refine?.state} title={refineLine.details}>
          {refineLine.text}
        </div>
      )}
      {pin.message && (
        <div className="lc-hud__error" data-testid="live-pin-error">
          {pin.message}
        </div>
      )}
      {cost && (
        <div className="lc-hud__hint lc-hud__details" data-testid="live-cost" title={cost.details}>
          {cost.text}
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

/** The lens view's peek: press and hold shows the sketch under the render; releasing shows the
 * render again (mouse, touch, or Space/Enter held on the focused button). */
function PeekButton({ session, frameId }: { session: LiveSession | null; frameId: string }) {
  const peeking = useValue('live peek', () => session?.isPeeking(frameId) ?? false, [session, frameId]);
  const set = (on: boolean) => session?.setPeeking(frameId, on);
  useEffect(() => () => void session?.setPeeking(frameId, false), [session, frameId]);
  const onKey = (on: boolean) => (e: KeyboardEvent) => {
    if (e.key !== ' ' && e.key !== 'Enter') return;
    e.preventDefault();
    e.stopPropagation();
    if (!e.repeat) set(on);
  };
  return (
    <button
      type="button"
      className="lc-hud__btn lc-hud__peek"
      data-testid="live-peek"
      aria-pressed={peeking}
      title="Press and hold to see your sketch under the render"
      onPointerDown={(e) => {
        e.currentTarget.setPointerCapture?.(e.pointerId);
        set(true);
      }}
      onPointerUp={() => set(false)}
      onPointerCancel={() => set(false)}
      onLostPointerCapture={() => set(false)}
      onKeyDown={onKey(true)}
      onKeyUp={onKey(false)}
      onBlur={() => set(false)}
      onContextMenu={(e) => e.preventDefault()}
    >
      {peeking ? 'Showing sketch' : 'Hold to peek'}
    </button>
  );
}
