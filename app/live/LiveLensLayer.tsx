'use client';
// The 'lens' view: the render laid over the whole frame, above the strokes drawn into it. A shape
// cannot paint above its own children, so this lives in tldraw's OnTheCanvas slot (page space,
// same stacking context as the shapes) and lets pointer events through, so people keep drawing
// "under the lens". While this person draws in a lens frame, its render fades so the strokes
// show through (drawing blind is no fun); peeking (held in the HUD) hides it.
import { Mat, useEditor, useValue, type Editor } from 'tldraw';
import { LIVE_FRAME_TYPE } from '../../lib/canvas/liveFrame';
import type { LiveFrameShape } from '../../lib/canvas/liveFrameSchema';
import { getLiveSession } from './liveSession';

/** Above any shape's z-index in the html layer; canvas overlays (selection) stay on top. */
const LENS_Z_INDEX = 1_000_000;
/** The lens's opacity while its frame is drawn in. */
export const LENS_DRAWING_OPACITY = 0.3;
/** Tools that only look or select: pressing with them is not drawing. */
const NOT_DRAWING = new Set(['select', 'hand', 'zoom', 'laser']);

/** The frame the pointer is drawing in: pressed with a drawing tool (draw, shapes, eraser…) that
 * started inside the frame. Reactive. */
function frameDrawnIn(editor: Editor): string | null {
  if (!editor.inputs.getIsPointing() || NOT_DRAWING.has(editor.getCurrentToolId())) return null;
  const origin = editor.inputs.getOriginPagePoint();
  for (const shape of editor.getCurrentPageShapes()) {
    if (shape.type !== LIVE_FRAME_TYPE) continue;
    if (editor.getShapePageBounds(shape)?.containsPoint(origin)) return shape.id;
  }
  return null;
}

export function LiveLensLayer() {
  const editor = useEditor();
  const drawnIn = useValue('live frame drawn in', () => frameDrawnIn(editor), [editor]);
  const lenses = useValue(
    'live lenses',
    () => {
      const session = getLiveSession(editor);
      if (!session) return [];
      const out: { id: string; url: string; seq: number; transform: string; w: number; h: number }[] = [];
      for (const shape of editor.getCurrentPageShapes()) {
        if (shape.type !== LIVE_FRAME_TYPE) continue;
        const frame = shape as LiveFrameShape;
        if (frame.props.view !== 'lens' || session.isPeeking(frame.id)) continue;
        const shown = session.renders.shown(frame.id);
        if (!shown) continue;
        out.push({
          id: frame.id,
          url: shown.url,
          seq: shown.seq,
          transform: Mat.toCssString(editor.getShapePageTransform(frame.id)),
          w: frame.props.w,
          h: frame.props.h,
        });
      }
      return out;
    },
    [editor],
  );

  return (
    <>
      {lenses.map((l) => (
        <img
          key={l.id}
          className="lc-live-lens"
          data-testid="live-lens"
          data-live-frame-id={l.id}
          data-seq={l.seq}
          data-faded={l.id === drawnIn || undefined}
          src={l.url}
          alt="live render (lens)"
          draggable={false}
          style={{
            position: 'absolute',
            left: 0,
            top: 0,
            width: l.w,
            height: l.h,
            transform: l.transform,
            transformOrigin: 'top left',
            zIndex: LENS_Z_INDEX,
            pointerEvents: 'none',
            opacity: l.id === drawnIn ? LENS_DRAWING_OPACITY : 1,
            transition: 'opacity 120ms ease-out',
          }}
        />
      ))}
    </>
  );
}
