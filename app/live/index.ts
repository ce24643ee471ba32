// The live frame feature for the room page (see app/room/extensions.ts).
export { liveFrameExtension } from './extension';
export { LiveFrameShapeUtil } from './LiveFrameShapeUtil';
export { LiveFrameTool } from './LiveFrameTool';
export { getLiveSession, LiveSession } from './liveSession';
