// The live render loop, server side: snapshots in (validated, settings read from the room's doc),
// RenderScheduler in the middle, the engine worker(s) behind it, renders out to the whole room.
// It owns the engine status broadcast, the per-frame render history, pinning, and the HTTP routes
// for history, pinned assets and render stats. It knows nothing about how rooms are stored or
// synced: the server hands it a `RenderHost` (docs/architecture.md "Server extension points").
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as IOServer, Socket } from 'socket.io';
import type * as Y from 'yjs';
import { sendJson } from '../http/sendJson';
import type { FrameRenderList, KeptRender } from '../../lib/protocol/http';
import {
  EV,
  SNAPSHOT_MIN_INTERVAL_MS,
  SNAPSHOT_RATE_LIMIT,
  type ErrorEvent,
  type FramePin,
  type FrameSnapshot,
  type FrameStatus,
  type PinAck as PinAckMessage,
  type RenderResult,
  type SnapshotAck as SnapshotAckMessage,
} from '../../lib/protocol';
import type { RgbImage } from '../../lib/image/rgb';
import type { Logger } from '../logger';
import { ClientError } from '../socket/ClientError';
import { TokenBucket } from '../socket/SocketGuard';
import { EngineRenderError, type EngineHost, type EngineRenderOutput } from '../engine/EngineHost';
import type { RenderParams } from '../engine/messages';
import type { AssetStore } from './AssetStore';
import { getRecordsMap } from '../../lib/canvas/docLayout';
import { readFrame, renderParamsFor } from './frameSettings';
import { RenderHistory, type StoredRender } from './RenderHistory';
import { errorMessage, RenderScheduler, type RenderJob } from './RenderScheduler';
import { SnapshotIntake } from './SnapshotIntake';
import { validateSnapshot } from './validateSnapshot';

/** What the render loop needs to reach people. */
export interface RenderHost {
  io: IOServer;
  /** the Socket.IO room that holds the participants of a room */
  channel(roomId: string): string;
}

/** A snapshot as the validation left it: decoded and resized to the render size. */
export interface SnapshotPixels {
  rgb: RgbImage;
  /** header read + decode + resize, on libuv's pool */
  decodeMs: number;
}

export type RenderJobData = RenderJob<SnapshotPixels, RenderParams>;

/** Fields of a successful ack (lib/protocol SnapshotAck / PinAck); the gateway adds `ok: true`. */
type OkFields<T> = T extends { ok: true } ? Omit<T, 'ok'> : never;
export type SnapshotAck = OkFields<SnapshotAckMessage>;
export type PinAck = OkFields<PinAckMessage>;

export interface RenderServiceOptions {
  /** renders in flight at once (RENDER_CONCURRENCY) */
  concurrency: number;
  /** per-socket token bucket over frame:snapshot; default SNAPSHOT_RATE_LIMIT */
  snapshotRate?: { perSecond: number; burst: number };
  /** decoded pixels that may wait in frame slots at once, all rooms together (RENDER_PENDING_MB) */
  pendingBytesBudget?: number;
}

/** Default RENDER_PENDING_MB: ~85 waiting 1024² frames or ~1,300 at 256². */
export const DEFAULT_PENDING_BYTES = 256 * 1024 * 1024;

export class RenderService {
  readonly scheduler: RenderScheduler<RenderJobData, EngineRenderOutput>;
  readonly history = new RenderHistory();
  private readonly intake = new SnapshotIntake();
  /** renders of unloaded rooms are kept this long (RENDER_KEEP_CLOSED_ROOM_S) */
  keepClosedRoomMs = 10 * 60_000;
  private readonly closedRooms = new Map<string, NodeJS.Timeout>();
  /** the document of every loaded room: a snapshot whose room was unloaded (or reloaded) while it
   * was being validated is dropped */
  private readonly openDocs = new Map<string, Y.Doc>();
  /** roomId → frameId → why the frame does not render with the model it names */
  private readonly modelNotes = new Map<string, Map<string, string>>();
  private readonly snapshotBuckets = new WeakMap<Socket, TokenBucket>();
  private readonly snapshotRate: { perSecond: number; burst: number };
  private readonly pendingBytesBudget: number;

  constructor(
    private readonly host: RenderHost,
    readonly engine: EngineHost,
    private readonly assets: AssetStore,
    private readonly log: Logger,
    opts: RenderServiceOptions,
  ) {
    this.snapshotRate = opts.snapshotRate ?? SNAPSHOT_RATE_LIMIT;
    this.pendingBytesBudget = opts.pendingBytesBudget ?? DEFAULT_PENDING_BYTES;
    this.scheduler = new RenderScheduler<RenderJobData, EngineRenderOutput>({
      concurrency: opts.concurrency,
      runJob: (job) => engine.render(job.image.rgb, job.settings),
      onState: (roomId, frameId, state, message) => this.emitStatus(roomId, frameId, state, message),
      onResult: (job, out, timing) => this.delivered(job, out, timing.queueMs),
      onError: (job, err) => this.failed(job, err),
      onListenerError: (err) => log.error({ err }, 'render listener failed'),
    });
    this.scheduler.setPaused(engine.status.state !== 'ready');
    engine.onStatus((s) => {
      log.info({ engine: s }, 'engine status');
      this.scheduler.setPaused(s.state !== 'ready');
      host.io.emit(EV.engineStatus, s);
    });
  }

  // ───────────── socket events ─────────────

  /** Sends what a newcomer to a room needs: the engine status and the latest render of every frame. */
  joined(socket: Socket, roomId: string): void {
    socket.emit(EV.engineStatus, this.engine.status);
    for (const r of this.history.latest(roomId)) socket.emit(EV.render, this.payload(r));
  }

  /** A validated `frame:snapshot` from a socket that joined the room whose document is `doc`.
   * Throws ClientError for refused snapshots (the gateway turns it into `lc:error` and a failed ack). */
  async snapshot(socket: Socket, doc: Y.Doc, msg: FrameSnapshot): Promise<SnapshotAck> {
    const { roomId, frameId, seq } = msg;
    this.takeSnapshotToken(socket);
    const frame = readFrame(doc, frameId);
    if (!frame.ok) throw new ClientError('unknown-frame', `${EV.snapshot}: ${frame.message}; snapshot ignored`);
    const engine = this.engine.status;
    if (engine.state === 'no-model' || engine.state === 'error') {
      // Not the client's fault and not worth an error per snapshot: the frame shows why.
      const state = engine.state === 'no-model' ? 'no-model' : 'error';
      const message = engine.message ?? `the engine is in state ${engine.state}`;
      socket.emit(EV.frameStatus, { roomId, frameId, state, message } satisfies FrameStatus);
      return { outcome: 'not-rendered', engine: engine.state, message };
    }
    this.noteModel(roomId, frameId, frame.props.model, engine.model);
    // settings as they are at arrival; the pixels are decoded once, to the size the engine renders
    const settings = renderParamsFor(frame.props, seq);
    const size = this.engine.fixedSize ?? { width: settings.width, height: settings.height };
    const receivedAt = Date.now();
    // A waiting snapshot holds its decoded pixels until its render starts, and a tiny JPEG can
    // decode to megabytes: without a budget, many frames × large output sizes fill the memory
    // while the engine is slow or loading. Refused like a rate limit (the client retries).
    this.checkPendingBudget(roomId, frameId, size.width * size.height * 3);
    // one decode per frame at a time, latest wins among the waiting (SnapshotIntake)
    const acceptedSeq = () => this.scheduler.counters(roomId, frameId)?.lastAcceptedSeq ?? -1;
    const turn = await this.intake.turn(roomId, frameId, seq, acceptedSeq());
    if (turn !== 'go') return { outcome: turn, lastSeq: Math.max(acceptedSeq(), this.intake.newestSeq(roomId, frameId)) };
    let check: Awaited<ReturnType<typeof validateSnapshot>>;
    try {
      check = await validateSnapshot(msg.image, msg.mime, size);
    } finally {
      this.intake.done(roomId, frameId);
    }
    if (!check.ok) throw new ClientError(check.code, `${EV.snapshot}: ${check.message}`);
    // The document may have changed during the decode: a frame deleted (or a room unloaded)
    // meanwhile has no one left to render for, and submitting would bring its slot back.
    if (this.openDocs.get(roomId) !== doc || !readFrame(doc, frameId).ok) {
      // someone else's deletion, not this client's fault: no violation
      throw new ClientError('unknown-frame', `${EV.snapshot}: frame ${frameId} was deleted while its snapshot was checked; snapshot ignored`, {
        violation: false,
      });
    }
    this.checkPendingBudget(roomId, frameId, check.rgb.data.byteLength);
    // while the engine loads, snapshots wait in the (paused) scheduler, latest wins
    const outcome = this.scheduler.submit({
      roomId,
      frameId,
      seq,
      image: { rgb: check.rgb, decodeMs: check.decodeMs },
      settings,
      receivedAt,
      sourceClient: socket.id,
      sentAt: msg.sentAt,
    });
    return { outcome, lastSeq: this.scheduler.counters(roomId, frameId)?.lastAcceptedSeq ?? seq };
  }

  /** Refuses a snapshot whose pixels would take the waiting snapshots over the budget; the one it
   * would replace in its own frame's slot does not count. */
  private checkPendingBudget(roomId: string, frameId: string, bytes: number): void {
    let waiting = 0;
    for (const job of this.scheduler.pendingJobs()) waiting += job.image.rgb.data.byteLength;
    const replaced = this.scheduler.pendingJob(roomId, frameId)?.image.rgb.data.byteLength ?? 0;
    if (waiting - replaced + bytes > this.pendingBytesBudget) {
      const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
      throw new ClientError(
        'rate-limited',
        `${EV.snapshot}: the server has ${mb(waiting)} of snapshots waiting for the engine (limit ${mb(this.pendingBytesBudget)}); try again when renders catch up`,
        { violation: false },
      );
    }
  }

  /** Stores a render as an asset. The client then places an image shape with the returned URL and,
   * in the same document change, gives the frame a new seed (see docs/protocol.md "Pinning"). */
  pin(msg: FramePin): PinAck {
    const r = this.history.get(msg.roomId, msg.frameId, msg.seq);
    if (!r) {
      const have = this.history.list(msg.roomId, msg.frameId).map((x) => x.seq);
      throw new ClientError(
        'unknown-frame',
        have.length
          ? `${EV.pin}: render ${msg.seq} of frame ${msg.frameId} is no longer kept (kept: ${have[0]}…${have[have.length - 1]})`
          : `${EV.pin}: frame ${msg.frameId} has no renders yet`,
      );
    }
    const assetId = this.assets.put({
      roomId: r.roomId,
      frameId: r.frameId,
      seq: r.seq,
      width: r.width,
      height: r.height,
      seed: r.seed,
      model: r.model,
      jpeg: r.jpeg,
    });
    return {
      assetId,
      url: `/api/assets/${r.roomId}/${assetId}.jpg`,
      width: r.width,
      height: r.height,
      mime: 'image/jpeg',
      seed: r.seed,
    };
  }

  /** The room was loaded: forget renders of frames deleted from its document from now on, and
   * keep the renders it had before it was last unloaded. */
  roomOpened(roomId: string, doc: Y.Doc): void {
    const expiry = this.closedRooms.get(roomId);
    if (expiry) clearTimeout(expiry);
    this.closedRooms.delete(roomId);
    this.openDocs.set(roomId, doc);
    const records = getRecordsMap(doc);
    records.observe((event) => {
      for (const [key, change] of event.changes.keys) {
        if (change.action === 'delete' && !records.has(key)) {
          this.scheduler.removeFrame(roomId, key);
          this.history.dropFrame(roomId, key);
          this.modelNotes.get(roomId)?.delete(key);
          this.intake.forgetFrame(roomId, key);
        }
      }
    });
  }

  /** The room was unloaded (nobody left): pending snapshots go at once; its renders stay for
   * `keepClosedRoomMs` so that someone who reloads the page still sees them. */
  roomClosed(roomId: string): void {
    this.openDocs.delete(roomId);
    this.modelNotes.delete(roomId);
    this.intake.forgetRoom(roomId);
    this.scheduler.removeRoom(roomId);
    const t = setTimeout(() => {
      this.closedRooms.delete(roomId);
      this.history.dropRoom(roomId);
    }, this.keepClosedRoomMs);
    t.unref();
    this.closedRooms.set(roomId, t);
  }

  // ───────────── HTTP ─────────────

  /** Handles /api/assets/… and /api/renders/…; returns false for any other path. */
  handleHttp(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://x');
    let parts: string[];
    try {
      parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      sendJson(res, 400, { error: 'malformed path' });
      return true;
    }
    if (parts[0] !== 'api' || (parts[1] !== 'assets' && parts[1] !== 'renders')) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: 'only GET' }, { allow: 'GET, HEAD' });
      return true;
    }
    if (parts[1] === 'assets' && parts.length === 4 && parts[3].endsWith('.jpg')) {
      const jpeg = this.assets.jpeg(parts[2], parts[3].slice(0, -4));
      if (!jpeg) sendJson(res, 404, { error: 'no such asset' });
      else sendJpeg(res, jpeg, 'public, max-age=31536000, immutable');
      return true;
    }
    if (parts[1] === 'renders' && parts.length === 3) {
      sendJson(res, 200, this.roomStats(parts[2]));
      return true;
    }
    if (parts[1] === 'renders' && parts.length === 4) {
      const [, , roomId, frameId] = parts;
      const renders = this.history.list(roomId, frameId).map((r): KeptRender => ({
        seq: r.seq,
        url: `/api/renders/${encodeURIComponent(roomId)}/${encodeURIComponent(frameId)}/${r.seq}.jpg`,
        width: r.width,
        height: r.height,
        seed: r.seed,
        model: r.model,
        renderedAt: r.renderedAt,
      }));
      sendJson(res, 200, { roomId, frameId, renders } satisfies FrameRenderList);
      return true;
    }
    if (parts[1] === 'renders' && parts.length === 5 && /^\d+\.jpg$/.test(parts[4])) {
      const r = this.history.get(parts[2], parts[3], Number(parts[4].slice(0, -4)));
      if (!r) sendJson(res, 404, { error: 'render not kept (only the last 20 of a frame are)' });
      else sendJpeg(res, r.jpeg, 'private, max-age=3600');
      return true;
    }
    sendJson(res, 404, { error: 'unknown render route' });
    return true;
  }

  /** Per-frame scheduler counters of a room, for tests, the bench and debugging. */
  roomStats(roomId: string) {
    const frames: Record<string, unknown> = {};
    const ids = new Set([...this.history.frameIds(roomId), ...this.scheduler.frameIds(roomId)]);
    for (const frameId of ids) {
      const last = this.history.list(roomId, frameId).at(-1);
      frames[frameId] = {
        state: this.scheduler.frameState(roomId, frameId),
        ...this.scheduler.counters(roomId, frameId),
        skipped: this.intake.skipped(roomId, frameId),
        kept: this.history.list(roomId, frameId).length,
        recentStarts: this.scheduler.recentStarts(roomId, frameId),
        ...(last && { lastRender: { seq: last.seq, ...last.timings, ...last.stages } }),
      };
    }
    return { roomId, engine: this.engine.status, frames };
  }

  // ───────────── internals ─────────────

  private delivered(job: RenderJobData, out: EngineRenderOutput, queueMs: number) {
    // the frame was deleted (or its room closed) while this render ran: nobody wants it
    if (!this.scheduler.counters(job.roomId, job.frameId)) return;
    const renderedAt = Date.now();
    const stored: StoredRender = {
      roomId: job.roomId,
      frameId: job.frameId,
      seq: job.seq,
      jpeg: out.jpeg,
      width: out.width,
      height: out.height,
      seed: out.params.seed,
      model: this.engine.status.model ?? '',
      timings: {
        queueMs: Math.round(queueMs),
        inferenceMs: Math.round(out.timings.inferenceMs),
        totalMs: renderedAt - job.receivedAt,
      },
      stages: {
        // the codec: snapshot decode at validation (plus any left to the worker) and JPEG encode
        decodeMs: round1(job.image.decodeMs + out.timings.decodeMs),
        encodeMs: round1(out.timings.encodeMs),
      },
      renderedAt,
      sourceClient: job.sourceClient,
      sentAt: job.sentAt,
    };
    this.history.add(stored);
    this.emitRoom(job.roomId, EV.render, this.payload(stored));
  }

  private failed(job: RenderJobData, err: unknown) {
    const code = err instanceof EngineRenderError ? err.code : undefined;
    const message = errorMessage(err);
    if (code === 'INVALID_IMAGE') {
      // the sender's image, not the engine, is at fault: tell the sender
      this.host.io.to(job.sourceClient ?? '').emit(EV.error, {
        code: 'bad-image',
        message,
        event: EV.snapshot,
        roomId: job.roomId,
        frameId: job.frameId,
      } satisfies ErrorEvent);
    } else {
      this.log.warn({ roomId: job.roomId, frameId: job.frameId, seq: job.seq, code, err: message }, 'render failed');
    }
  }

  private payload(r: StoredRender): RenderResult {
    return {
      roomId: r.roomId,
      frameId: r.frameId,
      seq: r.seq,
      ...(r.sourceClient !== undefined && { sourceClient: r.sourceClient }),
      ...(r.sentAt !== undefined && { sentAt: r.sentAt }),
      mime: 'image/jpeg',
      image: r.jpeg,
      width: r.width,
      height: r.height,
      seed: r.seed,
      model: r.model,
      timings: r.timings,
      renderedAt: r.renderedAt,
    };
  }

  /** A frame's state for the whole room; while the frame names a model other than the loaded one,
   * every status says so (unless it carries a message of its own, e.g. a render error). */
  private emitStatus(roomId: string, frameId: string, state: FrameStatus['state'], message?: string) {
    const text = message ?? this.modelNotes.get(roomId)?.get(frameId);
    this.emitRoom(roomId, EV.frameStatus, { roomId, frameId, state, ...(text && { message: text }) } satisfies FrameStatus);
  }

  /** A frame that names another model than the loaded one still renders, with the loaded model —
   * a room must never be stuck on a setting — and its status says which model and how to get the
   * one it asked for. Sent at once when that note appears, changes or goes away. */
  private noteModel(roomId: string, frameId: string, wanted: string, loaded: string | undefined) {
    const w = wanted.trim();
    const note =
      w && loaded && w !== loaded
        ? `this frame asks for model '${w}' but this server runs '${loaded}', so it renders with '${loaded}'; start the server with MODEL=${w} to use '${w}'`
        : undefined;
    let notes = this.modelNotes.get(roomId);
    if (notes?.get(frameId) === note) return;
    if (note) {
      if (!notes) this.modelNotes.set(roomId, (notes = new Map()));
      notes.set(frameId, note);
    } else {
      notes?.delete(frameId);
    }
    this.emitStatus(roomId, frameId, this.scheduler.frameState(roomId, frameId));
  }

  /** Every snapshot is decoded in full before it is accepted, so a socket may send only so many. */
  private takeSnapshotToken(socket: Socket) {
    let bucket = this.snapshotBuckets.get(socket);
    if (!bucket) this.snapshotBuckets.set(socket, (bucket = new TokenBucket(this.snapshotRate.perSecond, this.snapshotRate.burst)));
    if (!bucket.take()) {
      const { perSecond, burst } = this.snapshotRate;
      throw new ClientError(
        'rate-limited',
        `${EV.snapshot}: more than ${perSecond} snapshots/s (burst ${burst}) from this connection; send at most one per frame every ${SNAPSHOT_MIN_INTERVAL_MS} ms`,
      );
    }
  }

  private emitRoom(roomId: string, event: string, payload: unknown) {
    this.host.io.to(this.host.channel(roomId)).emit(event, payload);
  }
}

const round1 = (ms: number) => Math.round(ms * 10) / 10;

function sendJpeg(res: ServerResponse, jpeg: Uint8Array, cacheControl: string) {
  res.writeHead(200, { 'content-type': 'image/jpeg', 'content-length': jpeg.byteLength, 'cache-control': cacheControl });
  res.end(jpeg);
}

