'use client';
// The live frame tool in tldraw's UI: a toolbar button and the keyboard shortcut; tldraw's style
// panel without the clutter of a frame's lone opacity slider.
import {
  DefaultStylePanel,
  DefaultToolbar,
  DefaultToolbarContent,
  TldrawUiMenuItem,
  useEditor,
  useIsToolSelected,
  useReadonly,
  useTools,
  useValue,
  type TLUiOverrides,
  type TLUiStylePanelProps,
} from 'tldraw';
import { LIVE_FRAME_TYPE } from '../../lib/canvas/liveFrame';
import { LIVE_FRAME_KBD, LIVE_FRAME_TOOL_ID } from './LiveFrameTool';

/** A frame with a spark: the toolbar icon of the live frame tool. */
export const LiveFrameIcon = (
  <svg width="18" height="18" viewBox="0 0 18 18" fill="none" stroke="currentColor" strokeWidth="1.5" aria-hidden>
    <rect x="2" y="4" width="14" height="11" rx="1" />
    <path d="M9 6.5l1 2.5 2.5 1-2.5 1-1 2.5-1-2.5-2.5-1 2.5-1z" fill="currentColor" stroke="none" />
  </svg>
);

export const liveUiOverrides: TLUiOverrides = {
  tools(editor, tools) {
    tools[LIVE_FRAME_TOOL_ID] = {
      id: LIVE_FRAME_TOOL_ID,
      label: 'Live frame',
      icon: LiveFrameIcon,
      kbd: LIVE_FRAME_KBD,
      onSelect: () => editor.setCurrentTool(LIVE_FRAME_TOOL_ID),
    };
    return tools;
  },
};

/** tldraw's toolbar with the live frame tool first (not in read-only mode: it creates shapes). */
export function LiveToolbar() {
  const tools = useTools();
  const selected = useIsToolSelected(tools[LIVE_FRAME_TOOL_ID]);
  const readonly = useReadonly();
  return (
    <DefaultToolbar>
      {tools[LIVE_FRAME_TOOL_ID] && !readonly && <TldrawUiMenuItem {...tools[LIVE_FRAME_TOOL_ID]} isSelected={selected} />}
      <DefaultToolbarContent />
    </DefaultToolbar>
  );
}

/** tldraw's style panel, except while only live frames are selected with the select tool: all it
 * offers them is opacity, next to the frame's own settings panel. Drawing tools keep it. */
export function LiveStylePanel(props: TLUiStylePanelProps) {
  const editor = useEditor();
  const onlyFrames = useValue(
    'only live frames selected',
    () => {
      const selected = editor.getSelectedShapes();
      return editor.isIn('select') && selected.length > 0 && selected.every((s) => s.type === LIVE_FRAME_TYPE);
    },
    [editor],
  );
  return onlyFrames ? null : <DefaultStylePanel {...props} />;
}
