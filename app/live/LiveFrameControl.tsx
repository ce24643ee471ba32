'use client';
// The live frame's shape guide (ControlNet) in the settings panel: the kind (None / Scribble /
// Edges) and how firmly the shape holds in the main panel, when in the render it is enforced in
// the Advanced section. A frame whose model has no ControlNet for the kind says why and how to get
// one right under the choice. The fields keep fixed sizes: nothing moves when a value changes.
import { Fragment, useId, type ReactNode } from 'react';
import type { Editor } from 'tldraw';
import { LIVE_FRAME_CONTROLS, LIVE_FRAME_LIMITS } from '../../lib/canvas/liveFrame';
import type { LiveFrameShape } from '../../lib/canvas/liveFrameSchema';
import {
  CONTROL_CHOICES,
  CONTROL_DETAILS,
  HOLD_DETAILS,
  TIMING_DETAILS,
  holdText,
  missingControlNet,
  timingText,
  timingValue,
} from './controlText';
import type { FrameRenders } from './liveRenders';
import { Field, SettingSlider, frameUpdater } from './panelField';

/** The smallest part of the render the guide can be limited to. */
const MIN_WINDOW = 0.05;

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** `code` spans of a server hint ("run `npm run models:download -- x`") as <code>. */
function withCode(text: string): ReactNode {
  return text.split('`').map((part, i) => (i % 2 ? <code key={i}>{part}</code> : <Fragment key={i}>{part}</Fragment>));
}

export function ShapeGuideFields({ editor, frame, status }: { editor: Editor; frame: LiveFrameShape; status: FrameRenders['status'] }) {
  const ids = { scale: useId() };
  const { update, beginEdit } = frameUpdater(editor, frame);
  const p = frame.props;
  const S = LIVE_FRAME_LIMITS.controlScale;
  const missing = p.control === 'none' ? null : missingControlNet(status);
  return (
    <>
      <div className="lc-panel__field" data-testid="live-control">
        <span className="lc-panel__label" title={CONTROL_DETAILS}>
          <span className="lc-panel__label-text">Shape guide</span>
        </span>
        <div className="lc-panel__segmented" role="group" aria-label="Shape guide">
          {LIVE_FRAME_CONTROLS.map((c) => (
            <button
              key={c}
              type="button"
              data-control={c}
              aria-pressed={p.control === c}
              title={CONTROL_CHOICES[c].title}
              onClick={() => p.control !== c && update({ control: c })}
            >
              {CONTROL_CHOICES[c].label}
            </button>
          ))}
        </div>
        <div className="lc-panel__hint" data-testid="live-control-hint" title={CONTROL_CHOICES[p.control].title}>
          {CONTROL_CHOICES[p.control].hint}
        </div>
      </div>
      {missing && (
        <div className="lc-panel__notice" data-testid="live-control-missing" role="alert">
          <strong>{CONTROL_CHOICES[p.control].label} needs a ControlNet this model lacks:</strong> {missing.why}.{' '}
          {missing.how ? <>{withCode(capitalize(missing.how))} (on the server), then pick it under Advanced › Model; or choose None.</> : 'Choose None, or another model under Advanced › Model.'}
        </div>
      )}
      <Field
        label="Shape hold"
        value={p.controlScale.toFixed(2)}
        htmlFor={ids.scale}
        hint={<span data-testid="live-control-scale-zone">{holdText(p.control, p.controlScale)}</span>}
        details={HOLD_DETAILS}
        testId="live-control-scale"
      >
        <SettingSlider
          id={ids.scale}
          min={S.min}
          max={S.max}
          step={0.05}
          value={p.controlScale}
          disabled={p.control === 'none'}
          title={HOLD_DETAILS}
          onGrab={beginEdit}
          onValue={(v) => update({ controlScale: v }, false)}
        />
      </Field>
    </>
  );
}

/** Start and end of the guide as one range with two handles (two overlaid range inputs). */
export function ShapeTimingField({ editor, frame }: { editor: Editor; frame: LiveFrameShape }) {
  const ids = { start: useId() };
  const { update, beginEdit } = frameUpdater(editor, frame);
  const p = frame.props;
  const off = p.control === 'none';
  const round = (v: number) => Math.round(v * 100) / 100;
  const setStart = (v: number) => update({ controlStart: round(Math.min(v, p.controlEnd - MIN_WINDOW)) }, false);
  const setEnd = (v: number) => update({ controlEnd: round(Math.max(v, p.controlStart + MIN_WINDOW)) }, false);
  const lo = p.controlStart * 100;
  const hi = p.controlEnd * 100;
  return (
    <Field
      label="Guide timing"
      value={timingValue(p.controlStart, p.controlEnd)}
      htmlFor={ids.start}
      hint={<span data-testid="live-control-timing-zone">{off ? 'choose Scribble or Edges to use it' : timingText(p.controlStart, p.controlEnd)}</span>}
      details={TIMING_DETAILS}
      testId="live-control-timing"
    >
      <div className="lc-panel__dual" style={{ ['--lo' as string]: `${lo}%`, ['--hi' as string]: `${hi}%` }}>
        <SettingSlider
          id={ids.start}
          aria-label="Guide starts at"
          data-handle="start"
          min={0}
          max={1}
          step={0.05}
          value={p.controlStart}
          disabled={off}
          title={`starts at ${Math.round(lo)}% of the render (early = composition)`}
          onGrab={beginEdit}
          onValue={setStart}
        />
        <SettingSlider
          aria-label="Guide ends at"
          data-handle="end"
          min={0}
          max={1}
          step={0.05}
          value={p.controlEnd}
          disabled={off}
          title={`ends at ${Math.round(hi)}% of the render (late = details)`}
          onGrab={beginEdit}
          onValue={setEnd}
        />
      </div>
    </Field>
  );
}
