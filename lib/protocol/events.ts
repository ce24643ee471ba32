// The Socket.IO protocol: every event, both directions, as zod schemas.
// This file is the single source of truth; docs/protocol.md is written from it.
import { z } from 'zod';
import {
  MAX_RENDER_SIDE,
  MAX_SNAPSHOT_BYTES,
  MAX_YJS_MESSAGE_BYTES,
  MIN_RENDER_SIDE,
  REPLAY_MAX_BYTES,
  ROOM_ID_PATTERN,
} from './limits';

/** Binary payloads arrive as Buffer in Node and as ArrayBuffer in the browser. */
const bytes = (maxBytes: number) =>
  z
    .custom<Uint8Array | ArrayBuffer>(
      (v) => v instanceof Uint8Array || v instanceof ArrayBuffer,
      { message: 'expected binary data' },
    )
    .transform((v) => (v instanceof Uint8Array ? v : new Uint8Array(v)))
    .refine((v) => v.byteLength > 0, { message: 'empty binary payload' })
    .refine((v) => v.byteLength <= maxBytes, {
      message: `binary payload larger than ${maxBytes} bytes`,
    });

export const RoomId = z.string().regex(ROOM_ID_PATTERN, 'room id must be 10-64 url-safe characters');

export const UserInfo = z.object({
  name: z.string().trim().min(1).max(40),
  color: z.string().regex(/^#[0-9a-fA-F]{6}$/),
});
export type UserInfo = z.infer<typeof UserInfo>;

// ───────────── client → server ─────────────

/** Join a room. The ack answers `{ok:true}` or `{ok:false, error}`; the server then starts the
 * Yjs sync (sync step 1 from the server). Renders come with `renders:replay`. */
export const RoomJoin = z.object({ roomId: RoomId, user: UserInfo.optional() });
export const RoomLeave = z.object({ roomId: RoomId });

/** A y-protocols sync message (step 1, step 2 or update), unchanged bytes. Both directions. */
export const YSync = z.object({ roomId: RoomId, data: bytes(MAX_YJS_MESSAGE_BYTES) });
/** A y-protocols awareness update. Both directions. */
export const YAwareness = z.object({ roomId: RoomId, data: bytes(MAX_YJS_MESSAGE_BYTES) });

export const SnapshotMime = z.enum(['image/jpeg', 'image/webp', 'image/png']);

/** The content of a live frame, captured by the client that changed it. */
export const FrameSnapshot = z.object({
  roomId: RoomId,
  frameId: z.string().min(1).max(200),
  /** per-frame, strictly increasing for one client */
  seq: z.number().int().nonnegative(),
  /** hash of the frame's shapes and settings; equal hash = same render input */
  hash: z.string().min(1).max(128),
  mime: SnapshotMime,
  image: bytes(MAX_SNAPSHOT_BYTES),
  /** client clock when captured (ms since epoch), echoed back for latency measurement */
  sentAt: z.number().nonnegative().optional(),
});

/** Put a render of a frame into the room's asset store so it can be pinned onto the canvas. */
export const FramePin = z.object({
  roomId: RoomId,
  frameId: z.string().min(1).max(200),
  seq: z.number().int().nonnegative(),
});

/** Refine: one render of a frame at a larger size and more steps, from a snapshot the client
 * captured at that size, with the seed of the render it refines (`seq`, if still kept). Answered
 * (like a pin) once the refined image is stored, which may take seconds: queued behind live frames. */
export const FrameRefine = z.object({
  roomId: RoomId,
  frameId: z.string().min(1).max(200),
  seq: z.number().int().nonnegative(),
  mime: SnapshotMime,
  image: bytes(MAX_SNAPSHOT_BYTES),
});

/** What a newcomer needs of the render loop, asked once per join when the client listens:
 * answered in the ack (RendersReplayAck). */
export const RendersReplay = z.object({ roomId: RoomId });

// ───────────── server → client ─────────────

export const RenderTimings = z.object({
  queueMs: z.number(),
  inferenceMs: z.number(),
  totalMs: z.number(),
});

/** A finished render, encoded once and sent to every participant of the room. */
export const RenderResult = z.object({
  roomId: RoomId,
  frameId: z.string(),
  seq: z.number().int(),
  /** the client that sent the snapshot and its sentAt, for latency measurement */
  sourceClient: z.string().optional(),
  sentAt: z.number().optional(),
  mime: z.literal('image/jpeg'),
  image: bytes(16 * 1024 * 1024),
  width: z.number().int(),
  height: z.number().int(),
  seed: z.number().int(),
  model: z.string(),
  /** cluster mode: the render worker that made it */
  worker: z.string().max(64).optional(),
  timings: RenderTimings,
  renderedAt: z.number(),
});

export const FrameState = z.enum(['idle', 'queued', 'rendering', 'error', 'no-model']);
export const FrameStatus = z.object({
  roomId: RoomId,
  frameId: z.string(),
  state: FrameState,
  message: z.string().optional(),
});

export const EngineState = z.enum(['loading', 'ready', 'no-model', 'error']);
export const EngineStatus = z.object({
  state: EngineState,
  model: z.string().optional(),
  executionProvider: z.string().optional(),
  loadMs: z.number().optional(),
  /** part of loadMs spent warming up `sizes` */
  warmupMs: z.number().optional(),
  /** optimised graphs from the cache next to the model ('hit'), written to it ('miss'), or no
   * cache (ENGINE_GRAPH_CACHE=0 or a provider it does not apply to) */
  graphCache: z.enum(['hit', 'miss', 'off']).optional(),
  message: z.string().optional(),
  sizes: z.array(z.number().int().min(MIN_RENDER_SIDE).max(MAX_RENDER_SIDE)).optional(),
});

export const ErrorCode = z.enum([
  'invalid-message',
  'invalid-room',
  'not-joined',
  'too-large',
  'rate-limited',
  'malformed-update',
  'unknown-frame',
  'bad-image',
  /** a frame whose renders kept crashing the engine: its snapshots are refused for a while */
  'quarantined',
  /** the link's role may not do this (a viewer writing), or the link is not valid for the room */
  'forbidden',
  /** the room was never created (or was deleted) */
  'no-such-room',
  'server-error',
]);
export const ErrorEvent = z.object({
  code: ErrorCode,
  message: z.string(),
  /** the event that caused it */
  event: z.string().optional(),
  roomId: z.string().optional(),
  frameId: z.string().optional(),
});

// ───────────── acknowledgements (server → client, answers to an event's ack callback) ─────────────

export const AckFailure = z.object({ ok: z.literal(false), error: z.object({ code: ErrorCode, message: z.string() }) });

/** Ack of `frame:snapshot`: what the render scheduler did with it (docs/protocol.md "Rendering"). */
export const SnapshotAck = z.union([
  z.object({ ok: z.literal(true), outcome: z.enum(['accepted', 'replaced', 'stale', 'superseded']), lastSeq: z.number().int() }),
  z.object({ ok: z.literal(true), outcome: z.literal('not-rendered'), engine: EngineState, message: z.string() }),
  AckFailure,
]);

/** Ack of `frame:pin`: the pinned render as an asset of the room. */
export const PinAck = z.union([
  z.object({
    ok: z.literal(true),
    assetId: z.string(),
    url: z.string(),
    width: z.number().int(),
    height: z.number().int(),
    mime: z.literal('image/jpeg'),
    seed: z.number().int(),
  }),
  AckFailure,
]);

/** A kept render in a replay: a RenderResult whose JPEG is the bytes `image[0]..image[1]` of the
 * replay's one `images` buffer. (socket.io-parser refuses a packet with more than 10 binary
 * attachments, so the images travel as one.) */
export const ReplayedRender = RenderResult.omit({ image: true }).extend({
  image: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

/** One frame in a replay: its state and its kept renders, oldest first. */
export const FrameReplay = z.object({
  frameId: z.string(),
  state: FrameState,
  message: z.string().optional(),
  renders: z.array(ReplayedRender),
});

/** Ack of `renders:replay`: the engine status, every frame's state and its kept renders — the
 * newest render of each frame first, then older ones, while the images stay under
 * REPLAY_MAX_BYTES — with all their JPEGs in one buffer. */
export const RendersReplayAck = z.union([
  z.object({ ok: z.literal(true), engine: EngineStatus, frames: z.array(FrameReplay), images: bytes(REPLAY_MAX_BYTES).optional() }),
  AckFailure,
]);

/** The renders of a replay as RenderResults (their JPEGs cut out of `images`). */
export function replayedRenders(frame: FrameReplay, images: Uint8Array | undefined): RenderResult[] {
  if (!images) return [];
  return frame.renders
    .filter((r) => r.image[0] < r.image[1] && r.image[1] <= images.byteLength)
    .map((r) => ({ ...r, image: images.subarray(r.image[0], r.image[1]) }));
}

/** Event names, in one place. */
export const EV = {
  roomJoin: 'room:join',
  roomLeave: 'room:leave',
  ySync: 'y:sync',
  yAwareness: 'y:awareness',
  snapshot: 'frame:snapshot',
  pin: 'frame:pin',
  replay: 'renders:replay',
  render: 'render',
  frameStatus: 'frame:status',
  engineStatus: 'engine:status',
  error: 'lc:error',
  serverStatus: 'server:status',
  refine: 'frame:refine',
  refineStatus: 'frame:refine-status',
} as const;

/** `frame:refine-status` (to the room): a refine waits, renders, is done or failed. */
export const RefineStatus = z.object({
  roomId: RoomId,
  frameId: z.string(),
  state: z.enum(['queued', 'rendering', 'done', 'error']),
  /** the refined size, e.g. 768 × 768, and who asked */
  width: z.number().int().optional(),
  height: z.number().int().optional(),
  by: z.string().max(100).optional(),
  message: z.string().optional(),
});
export type RefineStatus = z.infer<typeof RefineStatus>;
export type FrameRefine = z.infer<typeof FrameRefine>;

/** `server:status` (server → client): whether changes made here reach people connected through
 * the cluster's other nodes right now. Sent to every client of a node when its link to the others
 * (Redis) fails and again when it is back; edits are saved either way. */
export const ServerStatus = z.object({
  sync: z.enum(['ok', 'degraded']),
  message: z.string().max(500),
});
export type ServerStatus = z.infer<typeof ServerStatus>;

export type RoomJoin = z.infer<typeof RoomJoin>;
export type YSync = z.infer<typeof YSync>;
export type YAwareness = z.infer<typeof YAwareness>;
export type SnapshotMime = z.infer<typeof SnapshotMime>;
export type FrameSnapshot = z.infer<typeof FrameSnapshot>;
export type FramePin = z.infer<typeof FramePin>;
export type RenderResult = z.infer<typeof RenderResult>;
export type FrameStatus = z.infer<typeof FrameStatus>;
export type EngineStatus = z.infer<typeof EngineStatus>;
export type ErrorEvent = z.infer<typeof ErrorEvent>;
export type ErrorCode = z.infer<typeof ErrorCode>;
export type SnapshotAck = z.infer<typeof SnapshotAck>;
export type PinAck = z.infer<typeof PinAck>;
export type RendersReplay = z.infer<typeof RendersReplay>;
export type FrameReplay = z.infer<typeof FrameReplay>;
export type ReplayedRender = z.infer<typeof ReplayedRender>;
export type RendersReplayAck = z.infer<typeof RendersReplayAck>;
/** The fields of a successful ack, without `ok` (the gateway adds `ok: true`). */
export type AckFields<T> = T extends { ok: true } ? Omit<T, 'ok'> : never;
