// Captures what is drawn inside a live frame as a JPEG at the frame's render size (or a refine's
// larger size), on white, the way the engine expects a sketch. The frame itself (border, header)
// is never part of the image.
import { Box, type Editor, type TLShapeId } from 'tldraw';
import { renderSizeForFrame } from '../../lib/canvas/liveFrame';
import type { LiveFrameShape } from '../../lib/canvas/liveFrameSchema';
import { framePageBox } from '../../lib/canvas/liveFrameContent';

export const SNAPSHOT_JPEG_QUALITY = 0.9;

export interface CapturedFrame {
  bytes: Uint8Array;
  mime: 'image/jpeg';
  width: number;
  height: number;
}

export async function captureFrameJpeg(
  editor: Editor,
  frame: LiveFrameShape,
  shapeIds: readonly TLShapeId[],
  /** another size than the frame's live render size (a refine captures at the refine size) */
  size: { width: number; height: number } = renderSizeForFrame(frame.props),
): Promise<CapturedFrame> {
  const { width, height } = size;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('this browser cannot create a 2D canvas for snapshots');
  ctx.fillStyle = '#ffffff';
  ctx.fillRect(0, 0, width, height);

  if (shapeIds.length > 0) {
    // Light mode and no background: strokes come out in their light colours on our white fill,
    // whatever theme the person drawing uses.
    const svg = await editor.getSvgString([...shapeIds], {
      bounds: framePageBox(editor, frame),
      padding: 0,
      background: false,
      darkMode: false,
      scale: 1,
    });
    if (svg) {
      const img = new Image();
      // data: rather than blob: — Chrome taints canvases drawn from blob: SVGs with foreignObject.
      img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg.svg)}`;
      await img.decode();
      ctx.imageSmoothingQuality = 'high';
      ctx.drawImage(img, 0, 0, width, height);
    }
  }

  const blob = await new Promise<Blob | null>((resolve) =>
    canvas.toBlob(resolve, 'image/jpeg', SNAPSHOT_JPEG_QUALITY),
  );
  if (!blob) throw new Error('the browser could not encode the snapshot as JPEG');
  return { bytes: new Uint8Array(await blob.arrayBuffer()), mime: 'image/jpeg', width, height };
}
