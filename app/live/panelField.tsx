'use client';
// Pieces shared by the live frame's settings panel and its Advanced section: a labelled field
// whose label and hint keep to one line (long ones end in "…" and say the rest in a tooltip), so
// nothing under them moves when a value changes, and the frame's props update.
import type { InputHTMLAttributes, ReactNode } from 'react';
import type { Editor } from 'tldraw';
import { LIVE_FRAME_TYPE, type LiveFrameProps } from '../../lib/canvas/liveFrame';
import type { LiveFrameShape } from '../../lib/canvas/liveFrameSchema';

export function Field({
  label,
  value,
  hint,
  details,
  children,
  htmlFor,
  testId,
}: {
  label: ReactNode;
  /** shown at the label's right (numbers: tabular figures, fixed place) */
  value?: ReactNode;
  hint?: ReactNode;
  /** the tooltip of the label and hint: the numbers behind the words */
  details?: string;
  children: ReactNode;
  htmlFor?: string;
  testId?: string;
}) {
  return (
    <div className="lc-panel__field" data-testid={testId}>
      <label className="lc-panel__label" htmlFor={htmlFor} title={details}>
        <span className="lc-panel__label-text">{label}</span>
        {value !== undefined && <span className="lc-panel__value">{value}</span>}
      </label>
      {children}
      {hint && (
        <div className="lc-panel__hint" title={details}>
          {hint}
        </div>
      )}
    </div>
  );
}

/** A frame setting's slider. Grabbing it (pointer or key) calls `onGrab`, which starts the undo
 * step the whole drag then shares (frameUpdater's beginEdit); every move reports the number. */
export function SettingSlider({
  value,
  onValue,
  onGrab,
  ...input
}: { value: number; onValue: (v: number) => void; onGrab: () => void } & Omit<
  InputHTMLAttributes<HTMLInputElement>,
  'type' | 'value' | 'onChange' | 'onPointerDown' | 'onKeyDown'
>) {
  return <input {...input} type="range" value={value} onPointerDown={onGrab} onKeyDown={onGrab} onChange={(e) => onValue(Number(e.target.value))} />;
}

/** Updates of one frame's settings. `mark` starts a new undo step; continuous edits (slider
 * drags, typing) share the one made when the control was grabbed or focused. */
export function frameUpdater(editor: Editor, frame: LiveFrameShape) {
  return {
    update(props: Partial<LiveFrameProps>, mark = true) {
      if (mark) editor.markHistoryStoppingPoint('live frame settings');
      editor.updateShape({ id: frame.id, type: LIVE_FRAME_TYPE, props });
    },
    beginEdit() {
      editor.markHistoryStoppingPoint('live frame settings');
    },
  };
}
