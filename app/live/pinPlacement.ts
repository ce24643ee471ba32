// Puts a stored render (a pin, or a refined render) onto the canvas for everyone: an image right of
// its live frame, clear of the side-view slots and of every shape, with a caption underneath
// (prompt, who pinned or refined it, when). One undo step; it syncs like any other edit.
import {
  AssetRecordType,
  Box,
  createShapeId,
  type Editor,
  type TLAssetId,
  type TLShapeId,
  toRichText,
} from 'tldraw';
import { isLiveFrame } from '../../lib/canvas/liveFrameContent';

/** gap between a frame and what is placed beside it (side view, pinned renders), page units */
export const BESIDE_GAP = 24;
/** room kept under a pinned render for its caption (prompt, who pinned, when), page units */
export const PIN_CAPTION_H = 64;
const PIN_CAPTION_GAP = 8;

/** What a pinned image's `meta.livePin` holds, and its caption underneath. A refined render has
 * `refined: true` and its caption says "refined by". */
export interface PinCaption {
  frameId: string;
  seq: number;
  prompt: string;
  pinnedBy: string;
  pinnedAt: number;
  refined?: boolean;
}

export function pinCaptionText(c: Pick<PinCaption, 'prompt' | 'pinnedBy' | 'pinnedAt' | 'refined'>): string {
  const when = new Date(c.pinnedAt).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
  return `${c.prompt ? `“${c.prompt}”` : 'untitled'}\n${c.refined ? 'refined' : 'pinned'} by ${c.pinnedBy || 'someone'} · ${when}`;
}

/** A stored image of the room, as the server's pin and refine answers give it. */
export interface StoredRender {
  url: string;
  width: number;
  height: number;
}

/** Creates the image (as wide as the frame) and its caption beside the frame; returns the image's
 * id, or null when the frame is gone. `also` runs in the same undo step (e.g. a new seed). */
export function placePinned(
  editor: Editor,
  frameId: TLShapeId,
  stored: StoredRender,
  caption: PinCaption,
  also?: () => void,
): TLShapeId | null {
  const frame = editor.getShape(frameId);
  if (!isLiveFrame(frame)) return null;
  const { width, height } = stored;
  const assetId: TLAssetId = AssetRecordType.createId();
  const shapeId = createShapeId();
  const w = frame.props.w;
  const h = (frame.props.w * height) / width;
  const spot = freeSpotBeside(editor, frame.id, w, h + PIN_CAPTION_GAP + PIN_CAPTION_H);
  const text = pinCaptionText(caption);
  const pageId = editor.getAncestorPageId(frame);
  editor.markHistoryStoppingPoint(caption.refined ? 'place refined render' : 'pin live render');
  editor.run(() => {
    editor.createAssets([
      AssetRecordType.create({
        id: assetId,
        type: 'image',
        props: {
          src: stored.url,
          w: width,
          h: height,
          mimeType: 'image/jpeg',
          name: `${caption.refined ? 'refined' : 'render'}-${caption.seq}.jpg`,
          isAnimated: false,
        },
      }),
    ]);
    editor.createShape({
      id: shapeId,
      type: 'image',
      parentId: pageId,
      x: spot.x,
      y: spot.y,
      props: { assetId, w, h, altText: text.replace('\n', ' — ') },
      meta: { livePin: { ...caption } },
    });
    editor.createShape({
      id: createShapeId(),
      type: 'text',
      parentId: pageId,
      x: spot.x,
      y: spot.y + h + PIN_CAPTION_GAP,
      props: { richText: toRichText(text), size: 's', autoSize: false, w, textAlign: 'start', color: 'grey' },
      meta: { livePinCaption: shapeId },
    });
    also?.();
  });
  return shapeId;
}

/** Right of the frame, clear of its side-view slot (kept free whatever the view, as it may be
 * switched to 'side' later), of every other frame's side-view slot and of every shape (earlier
 * pins and their captions): moving further right past whatever is in the way. */
export function freeSpotBeside(editor: Editor, frameId: TLShapeId, w: number, h: number): { x: number; y: number } {
  const frame = editor.getShape(frameId);
  const bounds = editor.getShapePageBounds(frameId);
  if (!isLiveFrame(frame) || !bounds) return { x: 0, y: 0 };
  const y = bounds.minY;
  const others: Box[] = [];
  for (const s of editor.getCurrentPageShapes()) {
    const b = editor.getShapePageBounds(s);
    if (!b) continue;
    if (s.id !== frameId) others.push(b);
    // where the side view draws this frame's render: as wide and tall as the frame, right of it
    if (isLiveFrame(s)) others.push(new Box(b.maxX + BESIDE_GAP, b.minY, s.props.w, s.props.h));
  }
  let x = bounds.maxX + BESIDE_GAP;
  for (let i = 0; i < 200; i++) {
    const candidate = new Box(x, y, w, h);
    const hits = others.filter((b) => b.collides(candidate) || candidate.contains(b) || b.contains(candidate));
    if (hits.length === 0) break;
    x = Math.max(...hits.map((b) => b.maxX)) + BESIDE_GAP;
  }
  return { x, y };
}
