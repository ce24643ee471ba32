// Renders that crash the engine (a native fault in onnxruntime ends the worker thread; the engine
// reloads the model, which costs seconds to minutes) are counted per frame and per room. A frame
// whose renders crashed the engine FRAME_CRASHES times within the window, or a room whose frames
// did ROOM_CRASHES times, is quarantined: its snapshots are refused (`quarantined`, no violation)
// until the window has passed. With the engine counting crash *sources* (EngineHost), one room's
// bad input cannot use the restart budget up for every room.
import type { RenderSlot } from './renderState';

export const FRAME_CRASHES = 2;
export const ROOM_CRASHES = 4;
export const CRASH_WINDOW_MS = 10 * 60_000;

export class CrashQuarantine {
  /** crash times per room (frames may be deleted and re-created; the room remembers) */
  private readonly rooms = new Map<string, number[]>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A render of this frame crashed the engine. */
  crashed(roomId: string, slot: RenderSlot): void {
    const t = this.now();
    slot.data.crashes = [...recent(slot.data.crashes ?? [], t), t];
    this.rooms.set(roomId, [...recent(this.rooms.get(roomId) ?? [], t), t]);
  }

  /** Why the frame's snapshots are refused now, if they are. */
  refusal(roomId: string, slot: RenderSlot | undefined): string | undefined {
    const t = this.now();
    const room = recent(this.rooms.get(roomId) ?? [], t);
    const frame = recent(slot?.data.crashes ?? [], t);
    const until = (times: number[]) => Math.ceil((times[0]! + CRASH_WINDOW_MS - t) / 60_000);
    if (frame.length >= FRAME_CRASHES) {
      return `this frame's renders crashed the engine ${frame.length} times; it is paused for ${until(frame)} min — change its prompt or content, or delete it`;
    }
    if (room.length >= ROOM_CRASHES) {
      return `renders of this room crashed the engine ${room.length} times; its frames are paused for ${until(room)} min`;
    }
    return undefined;
  }

  forgetRoom(roomId: string): void {
    this.rooms.delete(roomId);
  }
}

const recent = (times: readonly number[], now: number) => times.filter((t) => now - t < CRASH_WINDOW_MS);
