// The live frame as a room feature: shape, tool, toolbar button, lens layer, settings panel, and
// the live session (renders in, snapshots out) started once the editor is bound to the room.
import { canWrite } from '../../lib/canvas/roomAccess';
import type { RoomExtension } from '../room/extension';
import { LiveFramePanel } from './LiveFramePanel';
import { LiveFrameShapeUtil } from './LiveFrameShapeUtil';
import { LiveFrameTool } from './LiveFrameTool';
import { LiveLensLayer } from './LiveLensLayer';
import { LiveSession } from './liveSession';
import { LiveStylePanel, LiveToolbar, liveUiOverrides } from './liveUi';
import './live.css';

export const liveFrameExtension: RoomExtension = {
  name: 'live frames',
  shapeUtils: [LiveFrameShapeUtil],
  tools: [LiveFrameTool],
  overrides: liveUiOverrides,
  // OnTheCanvas draws lens renders above the strokes; the toolbar gets the live frame button; the
  // style panel stays away while only live frames are selected (they have their own panel).
  components: { OnTheCanvas: LiveLensLayer, Toolbar: LiveToolbar, StylePanel: LiveStylePanel },
  InFrontOfTheCanvas: LiveFramePanel,
  onMount(editor, room) {
    const session = new LiveSession(editor, room.socket, room.roomId, {
      connection: room.provider,
      // read at each use: the role the server granted on the latest join
      canWrite: () => canWrite(room.provider.access.role ?? room.access.role),
    });
    return () => session.dispose();
  },
};
