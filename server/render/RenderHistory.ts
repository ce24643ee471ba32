// The last RENDER_HISTORY_LENGTH renders of every frame, in memory, each JPEG encoded once and
// shared by the broadcast, the late-joiner replay, the history routes and pinning.
import { RENDER_HISTORY_LENGTH } from '../../lib/protocol';

export interface StoredRender {
  roomId: string;
  frameId: string;
  seq: number;
  jpeg: Uint8Array;
  width: number;
  height: number;
  seed: number;
  model: string;
  timings: { queueMs: number; inferenceMs: number; totalMs: number };
  /** codec time (not in the render payload; in GET /api/renders/:roomId) */
  stages?: { decodeMs: number; encodeMs: number };
  renderedAt: number;
  sourceClient?: string;
  sentAt?: number;
}

export class RenderHistory {
  /** roomId → frameId → renders, oldest first */
  private rooms = new Map<string, Map<string, StoredRender[]>>();

  constructor(readonly length = RENDER_HISTORY_LENGTH) {}

  add(r: StoredRender): void {
    let frames = this.rooms.get(r.roomId);
    if (!frames) this.rooms.set(r.roomId, (frames = new Map()));
    let list = frames.get(r.frameId);
    if (!list) frames.set(r.frameId, (list = []));
    list.push(r);
    if (list.length > this.length) list.splice(0, list.length - this.length);
  }

  /** Renders of a frame, oldest first. */
  list(roomId: string, frameId: string): readonly StoredRender[] {
    return this.rooms.get(roomId)?.get(frameId) ?? [];
  }

  get(roomId: string, frameId: string, seq: number): StoredRender | undefined {
    return this.list(roomId, frameId).find((r) => r.seq === seq);
  }

  /** The newest render of every frame of a room (what a late joiner is sent). */
  latest(roomId: string): StoredRender[] {
    const frames = this.rooms.get(roomId);
    return frames ? [...frames.values()].map((l) => l[l.length - 1]).filter(Boolean) : [];
  }

  frameIds(roomId: string): string[] {
    return [...(this.rooms.get(roomId)?.keys() ?? [])];
  }

  dropFrame(roomId: string, frameId: string): void {
    this.rooms.get(roomId)?.delete(frameId);
  }

  dropRoom(roomId: string): void {
    this.rooms.delete(roomId);
  }
}
