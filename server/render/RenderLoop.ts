// The live render loop, server side: snapshots in (SnapshotIntake), the render queue in the middle
// (FrameQueue, whose slots hold each frame's state), the engine workers behind it, renders out to
// the whole room (RenderDelivery). This class wires them and follows rooms as they load and
// unload; server/render/attachRender.ts attaches it to the server's sockets and routes.
import type * as Y from 'yjs';
import { EV, type RoomRenderStats } from '../../lib/protocol';
import { getRecordsMap } from '../../lib/canvas/docLayout';
import type { Logger } from '../logger';
import type { EngineRenderOutput } from '../engine/EngineHost';
import type { RenderParams } from '../engine/messages';
import type { RgbImage } from '../../lib/image/rgb';
import type { RenderEngine, SnapshotJob } from './renderState';
import type { PinnedRenders } from './PinnedRenders';
import { CrashQuarantine } from './CrashQuarantine';
import { FrameQueue } from './FrameQueue';
import { HistoryBudget } from './HistoryBudget';
import { RenderDelivery } from './RenderDelivery';
import { newFrameData, publicEngineStatus, type RenderQueue, type Broadcaster } from './renderState';
import { SnapshotIntake } from './SnapshotIntake';
import { Refines } from './Refines';

export interface RenderLoopOptions {
  /** renders in flight at once (RENDER_CONCURRENCY) */
  concurrency: number;
  /** per-socket token bucket over frame:snapshot */
  snapshotRate: { perSecond: number; burst: number };
  /** decoded pixels that may wait in frame slots at once, all rooms together (RENDER_PENDING_MB) */
  pendingBytes: number;
  /** JPEG bytes of kept renders, all frames of all rooms (RENDER_HISTORY_MB) */
  historyBytes: number;
  /** renders of an unloaded room are kept this long, for someone who reloads (RENDER_KEEP_CLOSED_ROOM_S) */
  keepClosedRoomMs: number;
  send: Broadcaster;
  /** cluster mode with render workers: accepted snapshots go there (RemoteRenders.dispatch), and
   * `engine` is the workers' status (WorkerPool) */
  dispatch?: (job: SnapshotJob) => void;
  /** with `dispatch`: a frame was deleted, its waiting snapshot there is not wanted any more */
  forget?: (roomId: string, frameId: string) => void;
}

export class RenderLoop {
  readonly queue: RenderQueue;
  readonly intake: SnapshotIntake;
  readonly delivery: RenderDelivery;
  readonly history: HistoryBudget;
  readonly quarantine = new CrashQuarantine();
  /** larger, finished renders of a frame, behind live frames */
  readonly refines: Refines;
  /** a refine renders: the live queue holds its snapshots meanwhile */
  private refining = false;
  /** the document of every loaded room */
  private readonly openDocs = new Map<string, Y.Doc>();
  /** rooms nobody is in, and when their kept renders go */
  private readonly closedRooms = new Map<string, NodeJS.Timeout>();

  constructor(
    readonly engine: RenderEngine & { render?: (image: RgbImage, params: RenderParams, culprit: string, wanted?: string) => Promise<EngineRenderOutput> },
    pins: PinnedRenders,
    log: Logger,
    private readonly opts: RenderLoopOptions,
  ) {
    this.history = new HistoryBudget(opts.historyBytes);
    this.queue = new FrameQueue({
      concurrency: opts.concurrency,
      frameData: newFrameData,
      onFrameRemoved: (slot) => this.history.forget(slot),
      // the room is the culprit the engine counts a crash against (EngineHost's restart budget)
      runJob: (job) => engine.render!(job.image.rgb, job.settings, job.roomId, this.queue.peek(job.roomId, job.frameId)?.data.wantedModel),
      ...(opts.dispatch && { dispatch: opts.dispatch }),
      onState: (roomId, frameId, state, message) => this.delivery.status(roomId, frameId, state, message),
      onResult: (job, out, timing) => this.delivery.delivered(job, out, timing),
      onError: (job, err) => this.delivery.failed(job, err),
      onListenerError: (err) => log.error({ err }, 'render listener failed'),
    });
    this.delivery = new RenderDelivery(this.queue, engine, pins, opts.send, this.history, this.quarantine, log);
    this.intake = new SnapshotIntake(this.queue, engine, {
      rate: opts.snapshotRate,
      pendingBytes: opts.pendingBytes,
      isOpen: (roomId, doc) => this.openDocs.get(roomId) === doc,
      quarantined: (roomId, slot) => this.quarantine.refusal(roomId, slot),
      noteModel: (roomId, slot, wanted) => {
        slot.data.wantedModel = wanted.trim();
        // with render workers the frame goes to a worker serving its model (or says none does)
        if (!opts.dispatch) this.delivery.noteModel(roomId, slot, wanted);
      },
    });
    const render = engine.render;
    this.refines = new Refines(this.queue, opts.dispatch || !render ? null : (rgb, params, culprit, wanted) => render.call(engine, rgb, params, culprit, wanted), pins, opts.send, (held) => {
      this.refining = held;
      this.updatePaused();
    }, log);
    // while the engine loads (or a refine renders), snapshots wait in the paused queue, latest wins
    this.updatePaused();
    engine.onStatus((s) => {
      log.info({ engine: s }, 'engine status');
      this.updatePaused();
      opts.send.all(EV.engineStatus, publicEngineStatus(s));
    });
  }

  /** The room was loaded: its frames' renders (kept since it was last unloaded) are live again,
   * and a frame deleted from its document from now on is forgotten with all its state. */
  roomOpened(roomId: string, doc: Y.Doc): void {
    clearTimeout(this.closedRooms.get(roomId));
    this.closedRooms.delete(roomId);
    this.openDocs.set(roomId, doc);
    const records = getRecordsMap(doc);
    records.observe((event) => {
      for (const [key, change] of event.changes.keys) {
        if (change.action !== 'delete' || records.has(key) || !this.queue.peek(roomId, key)) continue;
        this.queue.removeFrame(roomId, key);
        this.opts.forget?.(roomId, key);
      }
    });
  }

  /** The room was unloaded (nobody left): its waiting snapshots go at once; its renders stay for
   * `keepClosedRoomMs` so that someone who reloads the page still sees them. */
  roomClosed(roomId: string): void {
    this.openDocs.delete(roomId);
    this.queue.dropPending(roomId);
    this.refines.dropRoom(roomId);
    const t = setTimeout(() => {
      this.closedRooms.delete(roomId);
      if (this.openDocs.has(roomId)) return;
      this.queue.removeRoom(roomId);
      this.quarantine.forgetRoom(roomId);
    }, this.opts.keepClosedRoomMs);
    t.unref();
    this.closedRooms.set(roomId, t);
  }

  private updatePaused(): void {
    this.queue.setPaused(this.engine.status.state !== 'ready' || this.refining);
  }

  /** Whether the room is loaded on this node. */
  isOpen(roomId: string): boolean {
    return this.openDocs.has(roomId);
  }

  /** Whether the room is loaded here and its document has the frame (not deleted). */
  hasFrame(roomId: string, frameId: string): boolean {
    const doc = this.openDocs.get(roomId);
    return doc !== undefined && getRecordsMap(doc).has(frameId);
  }

  /** Per-frame queue counters of a room (GET /api/renders/:roomId). */
  stats(roomId: string): RoomRenderStats {
    const frames: RoomRenderStats['frames'] = {};
    for (const slot of this.queue.frames(roomId)) {
      const last = slot.data.renders.at(-1);
      frames[slot.frameId] = {
        state: slot.state,
        ...slot.counters,
        skipped: slot.data.gate.skipped,
        kept: slot.data.renders.length,
        recentStarts: [...slot.starts],
        ...(last && { lastRender: { seq: last.result.seq, ...last.result.timings, ...last.stages } }),
      };
    }
    return { roomId, engine: publicEngineStatus(this.engine.status), frames };
  }
}
