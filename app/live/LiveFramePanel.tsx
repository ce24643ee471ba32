'use client';
// Settings of the selected live frame. Every edit is an `editor.updateShape`, so it is undoable
// and reaches everyone through the shared document; the server reads the same props to render.
// A view-only page (tldraw's read-only mode) shows the settings disabled and cannot add a frame.
import { useId, type ReactNode } from 'react';
import { createShapeId, EditorPortal, useEditor, useValue, type Editor } from 'tldraw';
import {
  LIVE_FRAME_LIMITS,
  LIVE_FRAME_TYPE,
  LIVE_FRAME_VIEWS,
  modelUsesGuidance,
  outputSizeChoices,
  randomSeed,
  strengthZone,
  suggestedStepsForModel,
  type LiveFrameProps,
  type LiveFrameView,
} from '../../lib/canvas/liveFrame';
import type { LiveFrameShape } from '../../lib/canvas/liveFrameSchema';
import { getLiveSession } from './liveSession';
import { isLiveFrame } from '../../lib/canvas/liveFrameContent';

const VIEW_LABELS: Record<LiveFrameView, { label: string; title: string }> = {
  frame: { label: 'Frame', title: 'render behind your strokes' },
  lens: { label: 'Lens', title: 'render covers the frame; peek at the sketch from the HUD' },
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

export function addLiveFrameAtViewportCenter(editor: Editor): void {
  const c = editor.getViewportPageBounds().center;
  const id = createShapeId();
  editor.markHistoryStoppingPoint('add live frame');
  editor.createShape({ id, type: LIVE_FRAME_TYPE, x: c.x, y: c.y });
  const frame = editor.getShape(id);
  if (isLiveFrame(frame)) {
    editor.updateShape({ id, type: LIVE_FRAME_TYPE, x: c.x - frame.props.w / 2, y: c.y - frame.props.h / 2 });
  }
  editor.select(id);
}

function Field({ label, hint, children, htmlFor }: { label: ReactNode; hint?: ReactNode; children: ReactNode; htmlFor?: string }) {
  return (
    <div className="lc-panel__field">
      <label className="lc-panel__label" htmlFor={htmlFor}>
        {label}
      </label>
      {children}
      {hint && <div className="lc-panel__hint">{hint}</div>}
    </div>
  );
}

export function LiveFramePanel() {
  const editor = useEditor();
  const frame = useValue('selected live frame', () => selectedLiveFrame(editor), [editor]);
  const engine = useValue('live engine', () => getLiveSession(editor)?.renders.engine.get() ?? null, [editor]);
  const readonly = useValue('read-only', () => editor.getIsReadonly(), [editor]);
  const ids = { prompt: useId(), strength: useId(), steps: useId(), seed: useId(), guidance: useId(), model: useId(), size: useId() };

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
  /** `mark` starts a new undo step; continuous edits (slider drags, typing) share the one made
   * when the control was grabbed or focused. */
  const update = (props: Partial<LiveFrameProps>, mark = true) => {
    if (mark) editor.markHistoryStoppingPoint('live frame settings');
    editor.updateShape({ id: frame.id, type: LIVE_FRAME_TYPE, props });
  };
  const beginEdit = () => editor.markHistoryStoppingPoint('live frame settings');
  const zone = strengthZone(p.strength);
  const onGpu = !!engine?.executionProvider && !/cpu/i.test(engine.executionProvider);
  const suggested = suggestedStepsForModel(p.model || engine?.model || '', onGpu);
  const models = [...new Set([engine?.model, p.model].filter((m): m is string => !!m))];
  const sizes = outputSizeChoices(p, engine?.sizes, !onGpu);
  const L = LIVE_FRAME_LIMITS;

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
            label={
              <>
                Strength {p.strength.toFixed(2)} — <span data-testid="live-strength-zone">{zone.label}</span>
              </>
            }
            htmlFor={ids.strength}
            hint="≈0.3 stays close to the sketch · 0.5–0.7 balanced · 0.8+ reinvents"
          >
            <input
              id={ids.strength}
              type="range"
              min={0.05}
              max={1}
              step={0.05}
              value={p.strength}
              onPointerDown={beginEdit}
              onKeyDown={beginEdit}
              onChange={(e) => update({ strength: Number(e.target.value) }, false)}
            />
          </Field>

          <Field
            label={`Steps ${p.steps}`}
            htmlFor={ids.steps}
            hint={
              suggested !== p.steps
                ? `this model suggests ${suggested} on ${onGpu ? 'GPU' : 'CPU'}`
                : 'more steps: cleaner but slower'
            }
          >
            <input
              id={ids.steps}
              type="range"
              min={L.steps.min}
              max={L.steps.max}
              step={1}
              value={p.steps}
              onPointerDown={beginEdit}
              onKeyDown={beginEdit}
              onChange={(e) => update({ steps: Number(e.target.value) }, false)}
            />
          </Field>

          <Field label="Seed" htmlFor={ids.seed} hint={p.seedLocked ? 'locked: the noise stays put while you draw' : 'unlocked: new noise for every render'}>
            <div className="lc-panel__row">
              <input
                id={ids.seed}
                type="number"
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
                aria-pressed={p.seedLocked}
                title={p.seedLocked ? 'Unlock the seed' : 'Lock the seed'}
                onClick={() => update({ seedLocked: !p.seedLocked })}
              >
                {p.seedLocked ? 'Locked' : 'Unlocked'}
              </button>
              <button type="button" title="New random seed" onClick={() => update({ seed: randomSeed() })}>
                Shuffle
              </button>
            </div>
          </Field>

          <Field
            label={`Guidance ${p.guidance.toFixed(1)}`}
            htmlFor={ids.guidance}
            hint={modelUsesGuidance(p.model || engine?.model || '') ? 'LCM: how strongly the prompt steers' : 'not used by this model'}
          >
            <input
              id={ids.guidance}
              type="range"
              min={L.guidance.min}
              max={L.guidance.max}
              step={0.5}
              value={p.guidance}
              disabled={!modelUsesGuidance(p.model || engine?.model || '')}
              onPointerDown={beginEdit}
              onKeyDown={beginEdit}
              onChange={(e) => update({ guidance: Number(e.target.value) }, false)}
            />
          </Field>

          <Field label="Model" htmlFor={ids.model}>
            <select id={ids.model} value={p.model} onChange={(e) => update({ model: e.target.value })}>
              <option value="">Server default{engine?.model ? ` (${engine.model})` : ''}</option>
              {models.map((m) => (
                <option key={m} value={m}>
                  {m}
                </option>
              ))}
            </select>
          </Field>

          <Field
            label={`Output ${p.outputSize}²`}
            htmlFor={ids.size}
            hint={
              engine?.sizes?.length
                ? 'bigger is sharper; “warm” sizes were warmed up at start, others are slow the first time'
                : 'bigger is sharper; on CPU each doubling costs ≈4×'
            }
          >
            <select
              id={ids.size}
              data-testid="live-size"
              value={p.outputSize}
              onChange={(e) => update({ outputSize: Number(e.target.value) })}
            >
              {sizes.map((s) => (
                <option key={s.size} value={s.size} data-warm={s.warm || undefined}>
                  {s.label}
                </option>
              ))}
            </select>
          </Field>

          <div className="lc-panel__field">
            <span className="lc-panel__label">View</span>
            <div className="lc-panel__segmented" role="group" aria-label="View">
              {LIVE_FRAME_VIEWS.map((v) => (
                <button
                  key={v}
                  type="button"
                  aria-pressed={p.view === v}
                  title={VIEW_LABELS[v].title}
                  onClick={() => update({ view: v })}
                >
                  {VIEW_LABELS[v].label}
                </button>
              ))}
            </div>
          </div>
        </fieldset>
      </div>
    </EditorPortal>
  );
}
