// Features plugged into every room canvas. Add one import and one entry per feature.
import { liveFrameExtension } from '../live/extension';
import type { RoomExtension } from './extension';

export const roomExtensions: readonly RoomExtension[] = [liveFrameExtension];
