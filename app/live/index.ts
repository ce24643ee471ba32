// Everything the room page needs to add live frames to its <Tldraw>:
//   <Tldraw shapeUtils={liveShapeUtils} tools={liveTools} overrides={liveUiOverrides}
//           components={liveComponents}>
//     <LiveFrames socket={socket} roomId={roomId} />
//   </Tldraw>
import type { TLComponents } from 'tldraw';
import { LiveFrameShapeUtil } from './LiveFrameShapeUtil';
import { LiveFrameTool } from './LiveFrameTool';
import { LiveLensLayer } from './LiveLensLayer';
import { LiveToolbar } from './liveUi';

export const liveShapeUtils = [LiveFrameShapeUtil];
export const liveTools = [LiveFrameTool];
/** OnTheCanvas draws lens renders above the strokes; Toolbar adds the live frame button. */
export const liveComponents: TLComponents = { OnTheCanvas: LiveLensLayer, Toolbar: LiveToolbar };

export { LiveFrames } from './LiveFrames';
export { liveUiOverrides, LiveToolbar } from './liveUi';
export { LiveFrameShapeUtil } from './LiveFrameShapeUtil';
export { LiveFrameTool } from './LiveFrameTool';
export { LiveLensLayer } from './LiveLensLayer';
export { getLiveSession, LiveSession } from './liveSession';
