// The render queue: decides which snapshot the engine renders next, and is the one registry of
// per-frame state of the render loop (each frame's slot carries the loop's own `data`: its kept
// renders, decode gate, model note), so deleting a frame or a room cleans one place. It knows
// nothing of images or tensors: a job is opaque, and `runJob` is whatever turns it into a result.
//
// Rules (docs/protocol.md "Rendering"):
// - Latest wins: each frame has one pending slot. A newer snapshot replaces the pending one (the
//   replaced one is dropped and counted, never queued); a snapshot whose seq is not above the last
//   accepted seq of its frame is ignored.
// - At most one render in flight per frame, and at most `concurrency` in flight overall.
// - Fair: ready rooms take turns (round-robin) and so do ready frames within a room, so one busy
//   room cannot starve another and one frame cannot starve its neighbours.
// - The pending slot is only read when the engine becomes free, so a render never starts for a
//   snapshot that was already superseded at that moment. Every start records the seq it started
//   and the newest seq accepted for the frame at that moment (`recentStarts`), so this can be
//   checked from outside.

export interface RenderJob<TImage = Uint8Array, TSettings = unknown> {
  roomId: string;
  frameId: string;
  seq: number;
  image: TImage;
  settings: TSettings;
  /** server clock (ms) when the snapshot arrived */
  receivedAt: number;
  /** socket id of the client that sent the snapshot */
  sourceClient?: string;
  /** client clock when the snapshot was captured, echoed back for latency measurement */
  sentAt?: number;
}

export type QueueFrameState = 'idle' | 'queued' | 'rendering' | 'error';

/** What happened to a submitted snapshot. */
export type SubmitOutcome =
  /** it waits in the frame's slot (or starts at once) */
  | 'accepted'
  /** it waits in the frame's slot and the older snapshot that waited there was dropped */
  | 'replaced'
  /** its seq is not above the frame's last accepted seq: ignored */
  | 'stale';

export interface FrameCounters {
  /** snapshots taken into the slot */
  accepted: number;
  /** snapshots ignored because their seq was not newer */
  ignored: number;
  /** accepted snapshots replaced by a newer one before a render started for them */
  dropped: number;
  /** renders started */
  started: number;
  /** renders finished successfully */
  rendered: number;
  /** renders that failed */
  failed: number;
  lastAcceptedSeq: number;
  lastStartedSeq: number;
  lastRenderedSeq: number;
  /** renders started for a seq below the newest accepted one (the latest-wins rule says: never) */
  startedSuperseded: number;
}

/** One render start: the seq it rendered and the newest seq accepted for its frame at that moment. */
export interface StartRecord {
  seq: number;
  newestAcceptedSeq: number;
}

/** Start records kept per frame (the most recent ones). */
export const START_LOG_LENGTH = 100;

export interface JobTiming {
  /** time from arrival to start of the render */
  queueMs: number;
  /** duration of `runJob` */
  runMs: number;
  startedAt: number;
  finishedAt: number;
}

export interface FrameQueueOptions<TJob extends RenderJob<unknown, unknown>, TResult, TData> {
  runJob: (job: TJob) => Promise<TResult>;
  /** render workers: accepted snapshots go to the cluster queue at once (server/workers/WorkQueue.ts) */
  dispatch?: (job: TJob) => void;
  /** renders in flight at once over all rooms (RENDER_CONCURRENCY); default 1 */
  concurrency?: number;
  /** the caller's own state of a new frame (kept renders, notes…), dropped with the frame */
  frameData?: () => TData;
  /** a frame's slot was dropped (removeFrame, removeRoom): release what its data holds */
  onFrameRemoved?: (slot: FrameSlot<TJob, TData>) => void;
  onState?: (roomId: string, frameId: string, state: QueueFrameState, message?: string) => void;
  onResult?: (job: TJob, result: TResult, timing: JobTiming) => void;
  onError?: (job: TJob, error: unknown, timing: JobTiming) => void;
  /** clock, replaceable for tests that want exact queue times */
  now?: () => number;
  /** a throwing listener must not wedge the queue; its error goes here (default console.error) */
  onListenerError?: (err: unknown) => void;
}

export interface FrameSlot<TJob, TData> {
  readonly frameId: string;
  pending: TJob | null;
  inFlight: boolean;
  /** true while the frame sits in its room's ready list */
  ready: boolean;
  state: QueueFrameState;
  counters: FrameCounters;
  starts: StartRecord[];
  readonly data: TData;
}

interface RoomSlots<TJob, TData> {
  roomId: string;
  frames: Map<string, FrameSlot<TJob, TData>>;
  /** frames with a pending snapshot and nothing in flight, in turn order */
  readyFrames: FrameSlot<TJob, TData>[];
  /** true while the room sits in the queue's ready list */
  ready: boolean;
}

const newCounters = (): FrameCounters => ({
  ...{ accepted: 0, ignored: 0, dropped: 0, started: 0, rendered: 0, failed: 0, startedSuperseded: 0 },
  ...{ lastAcceptedSeq: -1, lastStartedSeq: -1, lastRenderedSeq: -1 },
});

export class FrameQueue<TJob extends RenderJob<unknown, unknown>, TResult = unknown, TData = undefined> {
  readonly concurrency: number;
  private readonly rooms = new Map<string, RoomSlots<TJob, TData>>();
  /** rooms with at least one ready frame, in turn order */
  private readonly readyRooms: RoomSlots<TJob, TData>[] = [];
  private running = 0;
  private paused = false;
  private idleWaiters: (() => void)[] = [];
  private readonly opts: FrameQueueOptions<TJob, TResult, TData>;
  private readonly now: () => number;

  constructor(opts: FrameQueueOptions<TJob, TResult, TData>) {
    const c = opts.concurrency ?? 1;
    if (!Number.isInteger(c) || c < 1) throw new Error(`render concurrency must be an integer ≥ 1, got ${c}`);
    this.concurrency = c;
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  /** Offer a snapshot. Starts a render at once when the engine has room for it. */
  submit(job: TJob): SubmitOutcome {
    const room = this.room(job.roomId);
    const frame = this.slot(room, job.frameId);
    if (job.seq <= frame.counters.lastAcceptedSeq) {
      frame.counters.ignored++;
      return 'stale';
    }
    frame.counters.accepted++;
    frame.counters.lastAcceptedSeq = job.seq;
    if (this.opts.dispatch) {
      this.opts.dispatch(job);
      return 'accepted';
    }
    let outcome: SubmitOutcome = 'accepted';
    if (frame.pending) {
      frame.counters.dropped++;
      outcome = 'replaced';
    }
    frame.pending = job;
    if (!frame.inFlight) {
      this.markReady(room, frame);
      this.setState(job.roomId, frame, 'queued');
    }
    this.pump();
    return outcome;
  }

  /** While paused (e.g. the engine is still loading) snapshots wait in their slots, latest wins,
   * and nothing starts; on resume the waiting frames start in their fair order. */
  setPaused(paused: boolean): void {
    this.paused = paused;
    if (!paused) this.pump();
  }

  /** The frame's slot, created (with fresh `data`) when it has none yet. */
  frame(roomId: string, frameId: string): FrameSlot<TJob, TData> {
    return this.slot(this.room(roomId), frameId);
  }

  /** The frame's slot if it has one. */
  peek(roomId: string, frameId: string): FrameSlot<TJob, TData> | undefined {
    return this.rooms.get(roomId)?.frames.get(frameId);
  }

  /** Drop the snapshots waiting in a room's slots (nobody is left to see them); its frames and
   * their data stay until `removeRoom`. A render in flight finishes and is reported. */
  dropPending(roomId: string): void {
    const room = this.rooms.get(roomId);
    if (!room) return;
    for (const f of room.frames.values()) {
      if (f.pending) f.counters.dropped++;
      f.pending = null;
      f.ready = false;
    }
    room.readyFrames.length = 0;
    this.removeReadyRoom(room);
  }

  /** Forget a room and every frame in it. */
  removeRoom(roomId: string): void {
    const room = this.rooms.get(roomId);
    if (!room) return;
    this.dropPending(roomId);
    this.rooms.delete(roomId);
    for (const frame of room.frames.values()) this.safely(() => this.opts.onFrameRemoved?.(frame));
  }

  /** Forget one frame (e.g. the shape was deleted). */
  removeFrame(roomId: string, frameId: string): void {
    const room = this.rooms.get(roomId);
    const frame = room?.frames.get(frameId);
    if (!room || !frame) return;
    frame.pending = null;
    if (frame.ready) {
      frame.ready = false;
      room.readyFrames.splice(room.readyFrames.indexOf(frame), 1);
      if (room.readyFrames.length === 0) this.removeReadyRoom(room);
    }
    room.frames.delete(frameId);
    this.safely(() => this.opts.onFrameRemoved?.(frame));
  }

  /** How many frames of a room have a slot. */
  frameCount(roomId: string): number {
    return this.rooms.get(roomId)?.frames.size ?? 0;
  }

  counters(roomId: string, frameId: string): FrameCounters | undefined {
    const c = this.peek(roomId, frameId)?.counters;
    return c ? { ...c } : undefined;
  }

  /** The last START_LOG_LENGTH render starts of a frame, oldest first. */
  recentStarts(roomId: string, frameId: string): StartRecord[] {
    return [...(this.peek(roomId, frameId)?.starts ?? [])];
  }

  /** Every frame slot of a room. */
  frames(roomId: string): FrameSlot<TJob, TData>[] {
    return [...(this.rooms.get(roomId)?.frames.values() ?? [])];
  }

  frameState(roomId: string, frameId: string): QueueFrameState {
    return this.peek(roomId, frameId)?.state ?? 'idle';
  }

  /** Every snapshot waiting in a slot (not yet started), across rooms and frames. */
  *pendingJobs(): Generator<TJob> {
    for (const room of this.rooms.values()) for (const frame of room.frames.values()) if (frame.pending) yield frame.pending;
  }

  /** Resolves once nothing is pending or in flight. */
  idle(): Promise<void> {
    if (this.running === 0 && this.readyRooms.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  // ───────────── internals ─────────────

  private room(roomId: string): RoomSlots<TJob, TData> {
    let room = this.rooms.get(roomId);
    if (!room) {
      room = { roomId, frames: new Map(), readyFrames: [], ready: false };
      this.rooms.set(roomId, room);
    }
    return room;
  }

  private slot(room: RoomSlots<TJob, TData>, frameId: string): FrameSlot<TJob, TData> {
    let frame = room.frames.get(frameId);
    if (!frame) {
      frame = {
        frameId,
        pending: null,
        inFlight: false,
        ready: false,
        state: 'idle',
        counters: newCounters(),
        starts: [],
        data: this.opts.frameData?.() as TData,
      };
      room.frames.set(frameId, frame);
    }
    return frame;
  }

  private markReady(room: RoomSlots<TJob, TData>, frame: FrameSlot<TJob, TData>): void {
    if (!frame.ready) {
      frame.ready = true;
      room.readyFrames.push(frame);
    }
    if (!room.ready) {
      room.ready = true;
      this.readyRooms.push(room);
    }
  }

  private removeReadyRoom(room: RoomSlots<TJob, TData>): void {
    if (!room.ready) return;
    room.ready = false;
    const i = this.readyRooms.indexOf(room);
    if (i >= 0) this.readyRooms.splice(i, 1);
  }

  private setState(roomId: string, frame: FrameSlot<TJob, TData>, state: QueueFrameState, message?: string) {
    if (frame.state === state && state !== 'error') return;
    frame.state = state;
    this.safely(() => this.opts.onState?.(roomId, frame.frameId, state, message));
  }

  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      (this.opts.onListenerError ?? console.error)(err);
    }
  }

  private pump(): void {
    while (!this.paused && this.running < this.concurrency && this.readyRooms.length > 0) {
      const room = this.readyRooms.shift()!;
      const frame = room.readyFrames.shift()!;
      frame.ready = false;
      // The room goes to the back of the line; it keeps its turn order for its other frames.
      if (room.readyFrames.length > 0) this.readyRooms.push(room);
      else room.ready = false;
      const job = frame.pending!;
      frame.pending = null;
      this.start(room, frame, job);
    }
    if (this.running === 0 && this.readyRooms.length === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private start(room: RoomSlots<TJob, TData>, frame: FrameSlot<TJob, TData>, job: TJob): void {
    this.running++;
    frame.inFlight = true;
    frame.counters.started++;
    frame.counters.lastStartedSeq = job.seq;
    if (job.seq < frame.counters.lastAcceptedSeq) frame.counters.startedSuperseded++;
    frame.starts.push({ seq: job.seq, newestAcceptedSeq: frame.counters.lastAcceptedSeq });
    if (frame.starts.length > START_LOG_LENGTH) frame.starts.shift();
    const startedAt = this.now();
    this.setState(room.roomId, frame, 'rendering');
    let run: Promise<TResult>;
    try {
      run = this.opts.runJob(job);
    } catch (err) {
      run = Promise.reject(err);
    }
    run.then(
      (result) => this.finish(room, frame, job, startedAt, { result }),
      (error: unknown) => this.finish(room, frame, job, startedAt, { error }),
    );
  }

  private finish(
    room: RoomSlots<TJob, TData>,
    frame: FrameSlot<TJob, TData>,
    job: TJob,
    startedAt: number,
    outcome: { result: TResult } | { error: unknown },
  ): void {
    this.running--;
    frame.inFlight = false;
    const finishedAt = this.now();
    const timing: JobTiming = { queueMs: Math.max(0, startedAt - job.receivedAt), runMs: finishedAt - startedAt, startedAt, finishedAt };
    if ('result' in outcome) {
      frame.counters.rendered++;
      frame.counters.lastRenderedSeq = job.seq;
      this.safely(() => this.opts.onResult?.(job, outcome.result, timing));
    } else {
      frame.counters.failed++;
      this.safely(() => this.opts.onError?.(job, outcome.error, timing));
    }
    if (this.rooms.get(room.roomId) === room && room.frames.get(frame.frameId) === frame) {
      if (frame.pending) {
        this.markReady(room, frame);
        this.setState(room.roomId, frame, 'queued');
      } else if ('error' in outcome) {
        this.setState(room.roomId, frame, 'error', errorMessage(outcome.error));
      } else {
        this.setState(room.roomId, frame, 'idle');
      }
    }
    this.pump();
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
