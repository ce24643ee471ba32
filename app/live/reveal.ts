// Keeps what live frames put on the canvas out from under the window's panels: our settings panel
// on the left, tldraw's menus, its style panel (top right) and toolbar. When the side view is
// switched on, a render is pinned or a frame is added, the camera moves (and zooms out if it must)
// so the frame with its render, or the pin, lies in the part of the window no panel covers.
import { Box, type Editor, type TLShapeId } from 'tldraw';
import { BESIDE_GAP, PIN_CAPTION_H } from './pinPlacement';

/** Screen room around what is revealed; room under the frame for its HUD, above for its header. */
const MARGIN = 16;
const HUD_ROOM = 96;
const HEADER_ROOM = 32;
/** tldraw's style panel is as wide as this (plus its margin); it comes and goes with the
 * selection, so its place is kept clear even while it is hidden. */
const STYLE_PANEL_ROOM = 164;

/** The part of the canvas no panel covers, in screen pixels relative to the canvas's top left. */
export function clearScreenArea(editor: Editor): Box {
  const vp = editor.getViewportScreenBounds();
  const container = editor.getContainer();
  const rect = (sel: string) => {
    const el = container.querySelector(sel) ?? document.querySelector(sel);
    const r = el?.getBoundingClientRect();
    return r && r.width > 0 && r.height > 0 ? r : null;
  };
  let left = vp.minX;
  let right = vp.maxX;
  let top = vp.minY;
  let bottom = vp.maxY;
  const ours = rect('.lc-panel');
  if (ours && ours.left < vp.center.x) left = Math.max(left, ours.right);
  const menu = rect('.tlui-menu-zone');
  if (menu) top = Math.max(top, menu.bottom);
  const share = rect('.lc-room-panel');
  if (share) top = Math.max(top, share.bottom);
  const style = rect('.tlui-style-panel__wrapper');
  const styleLeft = Math.min(style?.left ?? Infinity, vp.maxX - STYLE_PANEL_ROOM);
  right = Math.min(right, styleLeft);
  const toolbar = rect('.tlui-main-toolbar');
  if (toolbar) bottom = Math.min(bottom, toolbar.top);
  const box = new Box(left + MARGIN, top + MARGIN, right - left - 2 * MARGIN, bottom - top - 2 * MARGIN);
  // relative to the canvas container, as the camera counts
  return new Box(box.x - vp.minX, box.y - vp.minY, Math.max(box.w, 1), Math.max(box.h, 1));
}

/** Moves the camera so the page box (with room for a frame's header above and HUD below) lies in
 * the clear area; zooms out only when it cannot fit at the current zoom. Nothing happens when it
 * is already there. */
export function revealPageBox(editor: Editor, page: Box, opts: { animate?: boolean } = {}): void {
  if (isInClearArea(editor, page)) return;
  const clear = clearScreenArea(editor);
  const cam = editor.getCamera();
  const fits = (z: number) => page.w * z <= clear.w && page.h * z + HEADER_ROOM + HUD_ROOM <= clear.h;
  let z = cam.z;
  if (!fits(z)) z = Math.max(0.1, Math.min(clear.w / page.w, (clear.h - HEADER_ROOM - HUD_ROOM) / page.h));
  // centre horizontally; vertically, the header above and the HUD below
  const screenX = clear.x + (clear.w - page.w * z) / 2;
  const screenY = clear.y + HEADER_ROOM + (clear.h - HEADER_ROOM - HUD_ROOM - page.h * z) / 2;
  editor.setCamera(
    { x: screenX / z - page.x, y: screenY / z - page.y, z },
    opts.animate === false ? undefined : { animation: { duration: 220 } },
  );
}

/** Whether a page box (with room for a header above and a HUD below) is on screen, clear of the panels. */
export function isInClearArea(editor: Editor, page: Box): boolean {
  const clear = clearScreenArea(editor);
  const cam = editor.getCamera();
  const now = new Box((page.x + cam.x) * cam.z, (page.y + cam.y) * cam.z - HEADER_ROOM, page.w * cam.z, page.h * cam.z + HEADER_ROOM + HUD_ROOM);
  return clear.contains(now);
}

/** The frame and the side-view slot beside it, as a page box. */
export function frameWithSideSlot(editor: Editor, frameId: TLShapeId): Box | null {
  const b = editor.getShapePageBounds(frameId);
  if (!b) return null;
  return new Box(b.x, b.y, b.w * 2 + BESIDE_GAP, b.h);
}

/** The side view was switched on: the frame and its render beside it, clear of the panels. */
export function revealBeside(editor: Editor, frameId: string, opts: { animate?: boolean } = {}): void {
  const box = frameWithSideSlot(editor, frameId as TLShapeId);
  if (box) revealPageBox(editor, box, opts);
}

/** A render was pinned: the frame and the pin with its caption, clear of the panels. */
export function revealPin(editor: Editor, frameId: string, pinId: TLShapeId): void {
  const frame = editor.getShapePageBounds(frameId as TLShapeId);
  const pin = editor.getShapePageBounds(pinId);
  if (!frame || !pin) return;
  const pinned = new Box(pin.x, pin.y, pin.w, pin.h + PIN_CAPTION_H);
  if (!isInClearArea(editor, pinned)) revealPageBox(editor, Box.Common([frame, pinned]));
}

/** The page point a new frame is centred on: the middle of the clear area. */
export function clearAreaCenter(editor: Editor): { x: number; y: number } {
  const c = clearScreenArea(editor).center;
  const vp = editor.getViewportScreenBounds();
  return editor.screenToPage({ x: c.x + vp.minX, y: c.y + vp.minY });
}
