'use client';
// The 'lens' view: the render laid over the whole frame, above the strokes drawn into it. A shape
// cannot paint above its own children, so this lives in tldraw's OnTheCanvas slot (page space,
// same stacking context as the shapes) and lets pointer events through, so people keep drawing
// "under the lens".
import { Mat, useEditor, useValue } from 'tldraw';
import { LIVE_FRAME_TYPE } from '../../lib/canvas/liveFrame';
import type { LiveFrameShape } from '../../lib/canvas/liveFrameSchema';
import { getLiveSession } from './liveSession';

/** Above any shape's z-index in the html layer; canvas overlays (selection) stay on top. */
const LENS_Z_INDEX = 1_000_000;

export function LiveLensLayer() {
  const editor = useEditor();
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
          }}
        />
      ))}
    </>
  );
}
