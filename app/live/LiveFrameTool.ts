// Creates a live frame by click (default size) or drag, and like tldraw's frame tool pulls in the
// shapes it is drawn around, so sketching first and framing afterwards works too.
import { BaseBoxShapeTool, type Editor, type TLShape, type TLShapeId } from 'tldraw';
import { LIVE_FRAME_TYPE } from '../../lib/canvas/liveFrame';

export const LIVE_FRAME_TOOL_ID = LIVE_FRAME_TYPE;
/** 'l' (tldraw's line tool) and 'f' (frame) are taken; 'i' as in "imagine" is free. */
export const LIVE_FRAME_KBD = 'i';

export class LiveFrameTool extends BaseBoxShapeTool {
  static override id = LIVE_FRAME_TOOL_ID;
  static override initial = 'idle';
  override shapeType = LIVE_FRAME_TYPE as typeof LIVE_FRAME_TYPE;

  override onCreate(shape: TLShape | null): void {
    if (!shape) return;
    const enclosed = enclosedSiblingIds(this.editor, shape);
    if (enclosed.length) this.editor.reparentShapes(enclosed, shape.id);
    if (this.editor.getInstanceState().isToolLocked) this.editor.setCurrentTool(LIVE_FRAME_TOOL_ID);
    else this.editor.setCurrentTool('select.idle');
  }
}

/** Unlocked siblings lying entirely inside the new frame (never its own ancestors). */
export function enclosedSiblingIds(editor: Editor, frame: TLShape): TLShapeId[] {
  const bounds = editor.getShapePageBounds(frame);
  if (!bounds) return [];
  const ancestors = new Set(editor.getShapeAncestors(frame).map((s) => s.id));
  return editor.getSortedChildIdsForParent(frame.parentId).filter((id) => {
    if (id === frame.id || ancestors.has(id)) return false;
    const s = editor.getShape(id);
    if (!s || s.isLocked || s.type === LIVE_FRAME_TYPE) return false;
    const b = editor.getShapePageBounds(s);
    return !!b && bounds.contains(b);
  });
}
