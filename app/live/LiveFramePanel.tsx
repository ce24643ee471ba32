'use client';
// Settings of the selected live frame. Every edit is an `editor.updateShape`, so it is undoable
// and reaches everyone through the shared document; the server reads the same props to render.
// A view-only page (tldraw's read-only mode) shows the settings disabled and cannot add a frame.
// The shape guide (ControlNet: None / Scribble / Edges, and how firmly it holds) follows the
// strength; when in the render it applies is in Advanced (LiveFrameControl.tsx).
// Layout: every label and hint keeps to one line and every button has a fixed width, so no
// control moves under the pointer when a value changes; the rarely changed settings sit in a
// collapsed Advanced section, and the whole panel fits a 1280×800 window.
import { useId, useState } from 'react';
import { createShapeId, EditorPortal, useEditor, useValue, type Editor } from 'tldraw';
import {
  LIVE_FRAME_LIMITS,
  LIVE_FRAME_TYPE,
  LIVE_FRAME_VIEWS,
  randomSeed,
  strengthZone,
  type LiveFrameView,
} from '../../lib/canvas/liveFrame';
import type { LiveFrameShape } from '../../lib/canvas/liveFrameSchema';
import { isLiveFrame } from '../../lib/canvas/liveFrameContent';
import { LiveFrameAdvanced } from './LiveFrameAdvanced';
import { ShapeGuideFields } from './LiveFrameControl';
import { getLiveSession } from './liveSession';
import { Field, SettingSlider, frameUpdater } from './panelField';
import { clearAreaCenter, revealBeside } from './reveal';

const ADVANCED_KEY = 'livecanvas:live-advanced';
const STRENGTH_DETAILS = 'how much of the sketch is redrawn: ≈0.3 stays close to it · 0.5–0.7 balanced · 0.8 and up reinvents it';

const VIEW_LABELS: Record<LiveFrameView, { label: string; title: string }> = {
  frame: { label: 'Frame', title: 'render behind your strokes' },
  lens: { label: 'Lens', title: 'render covers the frame (faded while you draw); hold “Hold to peek” under it to see the sketch' },
  side: { label: 'Side', title: 'render beside the frame, same size' },
};

/** The live frame the settings apply to: the selected frame, or the frame of a selected shape. */
export function selectedLiveFrame(editor: Editor): LiveFrameShape | null {
  const only = editor.getOnlySelectedShape();
  if (!only) return null;
  if (isLiveFrame(only)) return only;
  const frame = editor.findShapeAncestor(only, (s) => isLiveFrame(s));
  return isLiveFrame(frame) ? frame : null;
}

/** A new frame in the middle of the part of the window no panel covers. */
export function addLiveFrameAtViewportCenter(editor: Editor): void {
  const c = clearAreaCenter(editor);
  const id = createShapeId();
  editor.markHistoryStoppingPoint('add live frame');
  editor.createShape({ id, type: LIVE_FRAME_TYPE, x: c.x, y: c.y });
  const frame = editor.getShape(id);
  if (isLiveFrame(frame)) {
    editor.updateShape({ id, type: LIVE_FRAME_TYPE, x: c.x - frame.props.w / 2, y: c.y - frame.props.h / 2 });
  }
  editor.select(id);
}

export function LiveFramePanel() {
  const editor = useEditor();
  const frame = useValue('selected live frame', () => selectedLiveFrame(editor), [editor]);
  const engine = useValue('live engine', () => getLiveSession(editor)?.renders.engine.get() ?? null, [editor]);
  const frameId = frame?.id;
  const status = useValue('live frame status', () => (frameId ? getLiveSession(editor)?.renders.get(frameId).status ?? null : null), [editor, frameId]);
  const readonly = useValue('read-only', () => editor.getIsReadonly(), [editor]);
  const ids = { prompt: useId(), strength: useId(), seed: useId() };
  const [advanced, setAdvanced] = useState(() => readAdvancedOpen());

  const keepFromCanvas = {
    onPointerDown: (e: React.PointerEvent) => editor.markEventAsHandled(e),
    onKeyDown: (e: React.KeyboardEvent) => e.stopPropagation(),
  };

  if (!frame) {
    if (readonly) return null;
    return (
      <EditorPortal>
        <div className="lc-panel lc-panel--collapsed" {...keepFromCanvas}>
          <button
            type="button"
            className="lc-panel__add"
            data-testid="live-add"
            onClick={() => addLiveFrameAtViewportCenter(editor)}
            title="Add a live frame (shortcut I): what you draw in it is rendered live"
          >
            + Live frame
          </button>
        </div>
      </EditorPortal>
    );
  }

  const p = frame.props;
  const { update, beginEdit } = frameUpdater(editor, frame);
  const zone = strengthZone(p.strength);
  const L = LIVE_FRAME_LIMITS;
  const toggleAdvanced = (open: boolean) => {
    setAdvanced(open);
    try {
      localStorage.setItem(ADVANCED_KEY, open ? '1' : '0');
    } catch {
      /* remembered for this panel only */
    }
  };

  return (
    <EditorPortal>
      <div className="lc-panel" data-testid="live-panel" data-frame-id={frame.id} data-readonly={readonly || undefined} {...keepFromCanvas}>
        <div className="lc-panel__title">Live frame</div>
        {readonly && (
          <p className="lc-panel__hint" data-testid="live-panel-readonly">
            View only: the owner and editors change these settings.
          </p>
        )}
        <fieldset className="lc-panel__fields" disabled={readonly}>
          <Field label="Prompt" htmlFor={ids.prompt}>
            <textarea
              id={ids.prompt}
              data-testid="live-prompt"
              className="lc-panel__prompt"
              rows={3}
              maxLength={L.prompt.maxLength}
              placeholder="a watercolor fox in the snow"
              value={p.prompt}
              onFocus={beginEdit}
              onChange={(e) => update({ prompt: e.target.value }, false)}
            />
          </Field>

          <Field
            label="Strength"
            value={p.strength.toFixed(2)}
            htmlFor={ids.strength}
            hint={<span data-testid="live-strength-zone">{zone.label}</span>}
            details={STRENGTH_DETAILS}
            testId="live-strength"
          >
            <SettingSlider
              id={ids.strength}
              min={0.05}
              max={1}
              step={0.05}
              value={p.strength}
              title={STRENGTH_DETAILS}
              onGrab={beginEdit}
              onValue={(v) => update({ strength: v }, false)}
            />
          </Field>

          <ShapeGuideFields editor={editor} frame={frame} status={status} />

          <Field
            label="Seed"
            htmlFor={ids.seed}
            hint={p.seedLocked ? 'locked: the same noise while you draw' : 'unlocked: new noise for every render'}
            details="the noise the render starts from; Pin picks a new one even when it is locked"
            testId="live-seed"
          >
            <div className="lc-panel__row">
              <input
                id={ids.seed}
                type="number"
                className="lc-panel__seed"
                min={L.seed.min}
                max={L.seed.max}
                value={p.seed}
                onFocus={beginEdit}
                onChange={(e) => {
                  const v = Math.floor(Number(e.target.value));
                  if (Number.isFinite(v)) update({ seed: Math.min(L.seed.max, Math.max(L.seed.min, v)) }, false);
                }}
              />
              <button
                type="button"
                className="lc-panel__lock"
                data-testid="live-seed-lock"
                aria-pressed={p.seedLocked}
                title={p.seedLocked ? 'Unlock the seed: new noise for every render' : 'Lock the seed: the same noise while you draw'}
                onClick={() => update({ seedLocked: !p.seedLocked })}
              >
                {p.seedLocked ? 'Locked' : 'Unlocked'}
              </button>
              <button type="button" className="lc-panel__shuffle" title="New random seed" onClick={() => update({ seed: randomSeed() })}>
                Shuffle
              </button>
            </div>
          </Field>

          <div className="lc-panel__field">
            <span className="lc-panel__label">View</span>
            <div className="lc-panel__segmented" role="group" aria-label="View" data-testid="live-view">
              {LIVE_FRAME_VIEWS.map((v) => (
                <button
                  key={v}
                  type="button"
                  aria-pressed={p.view === v}
                  title={VIEW_LABELS[v].title}
                  onClick={() => {
                    update({ view: v });
                    // the render beside the frame: on screen, clear of the panels
                    if (v === 'side') revealBeside(editor, frame.id);
                  }}
                >
                  {VIEW_LABELS[v].label}
                </button>
              ))}
            </div>
          </div>

          <details
            className="lc-panel__advanced"
            data-testid="live-advanced"
            open={advanced}
            onToggle={(e) => toggleAdvanced((e.currentTarget as HTMLDetailsElement).open)}
          >
            <summary>
              Advanced <span className="lc-panel__summary-hint">steps, model, size, timing</span>
            </summary>
            {advanced && <LiveFrameAdvanced editor={editor} frame={frame} engine={engine} />}
          </details>
        </fieldset>
      </div>
    </EditorPortal>
  );
}

function readAdvancedOpen(): boolean {
  try {
    return localStorage.getItem(ADVANCED_KEY) === '1';
  } catch {
    return false;
  }
}
