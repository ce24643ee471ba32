// What a live frame shows, read from a tldraw editor: the type guard, the frame's rectangle on
// the page, the shapes that count as its content, and the hash that says whether a render's input
// changed. The settings themselves live in liveFrame.ts (no tldraw runtime), the record type and
// its validators in liveFrameSchema.ts.
import { Box, type Editor, type TLRecord, type TLShape, type TLShapeId } from 'tldraw';
import { LIVE_FRAME_TYPE, liveFrameContentHash } from './liveFrame';
import type { LiveFrameShape } from './liveFrameSchema';

/** The frame's rectangle on the page (frames are not rotated in practice; rotation is ignored). */
export function framePageBox(editor: Editor, frame: LiveFrameShape): Box {
  const p = editor.getShapePageTransform(frame.id).point();
  return new Box(p.x, p.y, frame.props.w, frame.props.h);
}

export interface FrameContent {
  /** the shapes handed to the exporter (their descendants come along) */
  exportIds: TLShapeId[];
  /** every shape that shows in the frame, descendants included: what the hash covers */
  memberIds: Set<TLShapeId>;
  records: TLShape[];
}

export const isLiveFrame = (s: TLShape | TLRecord | undefined | null): s is LiveFrameShape =>
  !!s && (s as TLShape).typeName === 'shape' && (s as TLShape).type === LIVE_FRAME_TYPE;

/**
 * What a live frame shows: everything drawn into it (its descendants) plus the shapes lying over
 * it on the same level (siblings whose bounds touch the frame), e.g. a sticker dragged onto it
 * without being reparented. Other live frames never count.
 */
export function collectFrameContent(editor: Editor, frame: LiveFrameShape): FrameContent {
  const box = framePageBox(editor, frame);
  const exportIds = [...editor.getSortedChildIdsForParent(frame.id)];
  const memberIds = new Set(editor.getShapeAndDescendantIds(exportIds));
  for (const id of editor.getSortedChildIdsForParent(frame.parentId)) {
    if (id === frame.id) continue;
    const s = editor.getShape(id);
    if (!s || isLiveFrame(s)) continue;
    const b = editor.getShapePageBounds(s);
    if (!b || !b.collides(box)) continue;
    exportIds.push(id);
    for (const d of editor.getShapeAndDescendantIds([id])) memberIds.add(d);
  }
  const records: TLShape[] = [];
  for (const id of memberIds) {
    const s = editor.getShape(id);
    if (s && !isLiveFrame(s)) records.push(s);
  }
  return { exportIds, memberIds, records };
}

export function frameContentHash(editor: Editor, frame: LiveFrameShape, content: FrameContent): string {
  const p = editor.getShapePageTransform(frame.id).point();
  return liveFrameContentHash(
    { x: p.x, y: p.y, props: frame.props },
    content.records as unknown as Record<string, unknown>[],
  );
}
