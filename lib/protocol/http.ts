// JSON bodies of the render loop's HTTP routes (served by server/render, read by app/live), in one
// place like the socket events: the client validates what it reads with these schemas.
import { z } from 'zod';
import { EngineStatus } from './events';

/** One kept render of a frame: `GET /api/renders/:roomId/:frameId` lists the last 20. */
export const KeptRender = z.object({
  seq: z.number().int(),
  /** `/api/renders/:roomId/:frameId/:seq.jpg` */
  url: z.string(),
  width: z.number().int(),
  height: z.number().int(),
  seed: z.number().int(),
  model: z.string(),
  renderedAt: z.number(),
});

export const FrameRenderList = z.object({
  roomId: z.string(),
  frameId: z.string(),
  renders: z.array(KeptRender),
});

export type KeptRender = z.infer<typeof KeptRender>;
export type FrameRenderList = z.infer<typeof FrameRenderList>;

/** Per-frame render-queue counters of `GET /api/renders/:roomId` (tests, the bench, debugging). */
export const FrameRenderStats = z.object({
  state: z.enum(['idle', 'queued', 'rendering', 'error']),
  accepted: z.number().int(),
  ignored: z.number().int(),
  dropped: z.number().int(),
  started: z.number().int(),
  rendered: z.number().int(),
  failed: z.number().int(),
  lastAcceptedSeq: z.number().int(),
  lastStartedSeq: z.number().int(),
  lastRenderedSeq: z.number().int(),
  startedSuperseded: z.number().int(),
  /** snapshots never decoded: stale or superseded at the frame's decode gate */
  skipped: z.number().int(),
  /** renders kept in the frame's history */
  kept: z.number().int(),
  /** the last render starts: the seq started and the newest seq accepted at that moment */
  recentStarts: z.array(z.object({ seq: z.number().int(), newestAcceptedSeq: z.number().int() })),
  /** timings of the newest kept render */
  lastRender: z
    .object({ seq: z.number().int(), queueMs: z.number(), inferenceMs: z.number(), totalMs: z.number(), decodeMs: z.number(), encodeMs: z.number() })
    .optional(),
});

export const RoomRenderStats = z.object({
  roomId: z.string(),
  engine: EngineStatus,
  frames: z.record(z.string(), FrameRenderStats),
});

export type FrameRenderStats = z.infer<typeof FrameRenderStats>;
export type RoomRenderStats = z.infer<typeof RoomRenderStats>;
