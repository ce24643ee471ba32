'use client';
// The live frame on the canvas: a frame people draw into (BaseFrameLikeShapeUtil gives it
// tldraw's frame behaviour: accepts new children, reparents on drag in/out, clips), with its
// prompt as the header, the render shown according to the frame's view, and a HUD underneath.
import {
  BaseFrameLikeShapeUtil,
  Group2d,
  HTMLContainer,
  Rectangle2d,
  SVGContainer,
  useValue,
  type Geometry2d,
} from 'tldraw';
import type { CSSProperties } from 'react';
import { defaultLiveFrameProps, LIVE_FRAME_TYPE } from '../../lib/canvas/liveFrame';
import {
  liveFrameShapeMigrations,
  liveFrameShapeProps,
  type LiveFrameShape,
} from '../../lib/canvas/liveFrameSchema';
import { LiveFrameHud } from './LiveFrameHud';
import { getLiveSession } from './liveSession';
import { BESIDE_GAP } from './pinPlacement';

/** Header height in screen pixels; it keeps its size at any zoom like tldraw's frame heading. */
export const HEADER_PX = 26;
/** How much of the render shows through behind the strokes in the 'frame' view. */
export const FRAME_VIEW_RENDER_OPACITY = 0.75;

export class LiveFrameShapeUtil extends BaseFrameLikeShapeUtil<LiveFrameShape> {
  static override type = LIVE_FRAME_TYPE;
  static override props = liveFrameShapeProps;
  static override migrations = liveFrameShapeMigrations;

  override getDefaultProps(): LiveFrameShape['props'] {
    return defaultLiveFrameProps();
  }

  // Settings are edited in the panel, not on the canvas.
  override canEdit(): boolean {
    return false;
  }

  // The side view's render, the header and the HUD lie outside the frame's bounds: culling the
  // frame when only they are on screen would hide them (culled shapes get display: none).
  override canCull(): boolean {
    return false;
  }

  override getText(shape: LiveFrameShape): string {
    return shape.props.prompt;
  }

  override getAriaDescriptor(shape: LiveFrameShape): string {
    return `Live frame${shape.props.prompt ? `: ${shape.props.prompt}` : ''}`;
  }

  override getGeometry(shape: LiveFrameShape): Geometry2d {
    const z = this.editor.getEfficientZoomLevel();
    const headerH = HEADER_PX / z;
    return new Group2d({
      children: [
        new Rectangle2d({ width: shape.props.w, height: shape.props.h, isFilled: false }),
        // the header selects the frame when clicked, like a tldraw frame's heading
        new Rectangle2d({
          x: 0,
          y: -headerH - 2 / z,
          width: shape.props.w,
          height: headerH,
          isFilled: true,
          isLabel: true,
          excludeFromShapeBounds: true,
        }),
      ],
    });
  }

  override getIndicatorPath(shape: LiveFrameShape): Path2D {
    const path = new Path2D();
    path.rect(0, 0, shape.props.w, shape.props.h);
    return path;
  }

  override component(shape: LiveFrameShape) {
    return <LiveFrameBody shape={shape} util={this} />;
  }

  override toSvg(shape: LiveFrameShape) {
    // Exports of the canvas show the frame as a plain outline; the render is a tab-local picture.
    return <rect width={shape.props.w} height={shape.props.h} fill="white" stroke="#888" strokeWidth={1} />;
  }
}

/** The render of a frame, drawn behind its strokes (frame view) or beside it (side view). */
function RenderImage({
  render,
  prompt,
  side = false,
  style,
}: {
  render: { seq: number; url: string };
  prompt: string;
  side?: boolean;
  style: CSSProperties;
}) {
  return (
    <img
      className={side ? 'lc-live-frame__render lc-live-frame__render--side' : 'lc-live-frame__render'}
      data-testid="live-render"
      data-seq={render.seq}
      src={render.url}
      alt={prompt ? `render of “${prompt}”` : 'render of the sketch'}
      draggable={false}
      style={style}
    />
  );
}

function LiveFrameBody({ shape, util }: { shape: LiveFrameShape; util: LiveFrameShapeUtil }) {
  const editor = util.editor;
  const { w, h, view, prompt } = shape.props;
  const shown = useValue('live render', () => getLiveSession(editor)?.renders.shown(shape.id) ?? null, [editor, shape.id]);
  const state = useValue(
    'live frame state',
    () => {
      const s = getLiveSession(editor);
      return s?.renders.get(shape.id).status?.state ?? null;
    },
    [editor, shape.id],
  );
  const zoom = useValue('zoom', () => editor.getEfficientZoomLevel(), [editor]);
  const busy = state === 'rendering' || state === 'queued';

  return (
    <>
      <SVGContainer>
        <rect
          className="lc-live-frame__body"
          width={w}
          height={h}
          fill="#ffffff"
          stroke={busy ? '#7c3aed' : '#6b7280'}
          strokeWidth={1.5 / zoom}
        />
      </SVGContainer>
      <HTMLContainer className="lc-live-frame" data-live-frame-id={shape.id} data-view={view}>
        {shown && view === 'frame' && (
          <RenderImage
            render={shown}
            prompt={prompt}
            style={{ position: 'absolute', inset: 0, width: w, height: h, opacity: FRAME_VIEW_RENDER_OPACITY }}
          />
        )}
        {shown && view === 'side' && (
          <RenderImage
            render={shown}
            prompt={prompt}
            side
            style={{ position: 'absolute', left: w + BESIDE_GAP, top: 0, width: w, height: h }}
          />
        )}
        <div
          className="lc-live-frame__header"
          style={{
            position: 'absolute',
            left: 0,
            top: -(HEADER_PX + 2) / zoom,
            height: HEADER_PX,
            maxWidth: w * zoom,
            transform: `scale(${1 / zoom})`,
            transformOrigin: 'top left',
          }}
        >
          <span className={`lc-live-frame__dot lc-live-frame__dot--${state ?? 'idle'}`} aria-hidden />
          <span className="lc-live-frame__prompt">{prompt || 'Live frame — add a prompt'}</span>
        </div>
        <div
          style={{
            position: 'absolute',
            left: 0,
            top: h + 6 / zoom,
            transform: `scale(${1 / zoom})`,
            transformOrigin: 'top left',
          }}
        >
          <LiveFrameHud frame={shape} />
        </div>
      </HTMLContainer>
    </>
  );
}
