// The render loop's per-frame state and job types, in one place. Each frame's state lives in its
// FrameQueue slot (`slot.data`), so deleting a frame or closing a room drops all of it at once.
import type { RgbImage } from '../../lib/image/rgb';
import type { EngineStatus } from '../../lib/protocol';
import { clientSafeMessage } from '../http/clientSafeMessage';
import type { RenderResult } from '../../lib/protocol';
import type { EngineRenderOutput } from '../engine/EngineHost';
import type { RenderParams } from '../engine/messages';
import { DecodeGate } from './DecodeGate';
import type { FrameQueue, FrameSlot, RenderJob } from './FrameQueue';

/** A render as it was broadcast, kept for pins, replays and the history routes. */
export interface KeptRender {
  result: RenderResult;
  /** codec time: snapshot decode at intake and JPEG encode in the engine (GET /api/renders/:roomId) */
  stages: { decodeMs: number; encodeMs: number };
}

export interface FrameData {
  /** the last RENDER_HISTORY_LENGTH renders, oldest first */
  renders: KeptRender[];
  /** one snapshot decodes at a time, latest wins among the waiting */
  gate: DecodeGate;
  /** why the frame does not render with the model it names, while that holds */
  modelNote?: string;
  /** the model the frame names (its `model` prop, '' = the default) as of its last snapshot */
  wantedModel?: string;
  /** when its renders crashed the engine (CrashQuarantine) */
  crashes?: number[];
}

export const newFrameData = (): FrameData => ({ renders: [], gate: new DecodeGate() });

/** A snapshot as the intake left it: decoded and resized to the render size. */
export interface SnapshotPixels {
  rgb: RgbImage;
  /** header read + decode + resize, on libuv's pool */
  decodeMs: number;
}

export type SnapshotJob = RenderJob<SnapshotPixels, RenderParams>;
export type RenderQueue = FrameQueue<SnapshotJob, EngineRenderOutput, FrameData>;
export type RenderSlot = FrameSlot<SnapshotJob, FrameData>;

/** What the render loop needs of an engine: its status. The in-process EngineHost renders too;
 * in cluster mode with render workers the status is the workers' (server/workers/WorkerPool.ts). */
export interface RenderEngine {
  readonly status: EngineStatus;
  onStatus(fn: (s: EngineStatus) => void): () => void;
  /** several models here (ModelEngines): why a frame naming `wanted` does not render, or null */
  refusal?(wanted: string): string | null;
}

/** The engine status as clients (and /healthz) see it: its message without server paths, which
 * stay in the log. */
export function publicEngineStatus(s: EngineStatus): EngineStatus {
  return s.message === undefined ? s : { ...s, message: clientSafeMessage(s.message) };
}

/** Where the render loop's events go: everyone in a room (every node's sockets, through the
 * Socket.IO adapter), one socket, or every connected socket. */
export interface Broadcaster {
  room(roomId: string, event: string, payload: unknown): void;
  /** this node's sockets in the room only (what every node hears from the render workers) */
  localRoom(roomId: string, event: string, payload: unknown): void;
  socket(socketId: string, event: string, payload: unknown): void;
  all(event: string, payload: unknown): void;
}
