// Snapshot intake: every `frame:snapshot` passes these checks once, in this order — the socket's
// snapshot rate, the frame in the room's document, the engine's state, the pending-memory budget,
// the frame's decode gate, the decode — and is then submitted to the render queue.
import type { Socket } from 'socket.io';
import type * as Y from 'yjs';
import { EV, MAX_RENDER_FRAMES_PER_ROOM, SEQ_CLOCK_ALLOWANCE_MS, SNAPSHOT_MIN_INTERVAL_MS, type AckFields, type FrameSnapshot, type FrameStatus, type SnapshotAck } from '../../lib/protocol';
import { ClientError } from '../socket/ClientError';
import { TokenBucket } from '../socket/SocketGuard';
import { decodeSnapshot } from './decodeSnapshot';
import { readFrame, renderParamsFor } from './frameSettings';
import { publicEngineStatus, type RenderQueue, type RenderSlot, type RenderEngine } from './renderState';

export interface SnapshotIntakeOptions {
  /** per-socket token bucket over frame:snapshot */
  rate: { perSecond: number; burst: number };
  /** decoded pixels that may wait for the engine at once, all rooms together (RENDER_PENDING_MB) */
  pendingBytes: number;
  /** is this the document of a loaded room? (a room unloaded during a decode has nobody left) */
  isOpen: (roomId: string, doc: Y.Doc) => boolean;
  /** why a frame's renders are refused for now (CrashQuarantine), if they are */
  quarantined: (roomId: string, slot: RenderSlot | undefined) => string | undefined;
  /** the frame names a model: note whether the engine runs it (RenderDelivery.noteModel) */
  noteModel: (roomId: string, slot: RenderSlot, wanted: string) => void;
  /** server clock, replaceable in tests */
  now?: () => number;
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;

export class SnapshotIntake {
  private readonly buckets = new WeakMap<Socket, TokenBucket>();
  /** pixels of snapshots between the budget check and the queue (decoding or waiting to) */
  private decodingBytes = 0;
  private readonly now: () => number;

  constructor(
    private readonly queue: RenderQueue,
    private readonly engine: RenderEngine,
    private readonly opts: SnapshotIntakeOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** Throws ClientError for refused snapshots (the gateway turns it into `lc:error` and a failed ack). */
  async take(socket: Socket, doc: Y.Doc, msg: FrameSnapshot): Promise<AckFields<SnapshotAck>> {
    const { roomId, frameId } = msg;
    this.takeToken(socket);
    const frame = readFrame(doc, frameId);
    if (!frame.ok) throw new ClientError('unknown-frame', `${EV.snapshot}: ${frame.message}; snapshot ignored`);
    const engine = publicEngineStatus(this.engine.status);
    if (engine.state === 'no-model' || engine.state === 'error') {
      // Not the client's fault and not worth an error per snapshot: the frame shows why.
      const message = engine.message ?? `the engine is in state ${engine.state}`;
      socket.emit(EV.frameStatus, { roomId, frameId, state: engine.state, message } satisfies FrameStatus);
      return { outcome: 'not-rendered', engine: engine.state, message };
    }
    const paused = this.opts.quarantined(roomId, this.queue.peek(roomId, frameId));
    if (paused) throw new ClientError('quarantined', `${EV.snapshot}: ${paused}`, { violation: false });
    // seq is the sender's wall clock: one far ahead would lock the frame for every honest client
    const seq = Math.min(msg.seq, this.now() + SEQ_CLOCK_ALLOWANCE_MS);
    if (!this.queue.peek(roomId, frameId) && this.queue.frameCount(roomId) >= MAX_RENDER_FRAMES_PER_ROOM) {
      throw new ClientError(
        'too-large',
        `${EV.snapshot}: this room already renders ${MAX_RENDER_FRAMES_PER_ROOM} live frames (MAX_RENDER_FRAMES_PER_ROOM); delete one to render another`,
        { violation: false },
      );
    }
    const slot = this.queue.frame(roomId, frameId);
    this.opts.noteModel(roomId, slot, frame.props.model);
    // settings as they are at arrival; the pixels are decoded once, to the size the engine renders
    const params = renderParamsFor(frame.props, seq);
    const bytes = params.width * params.height * 3;
    this.reserve(slot, bytes);
    try {
      const turn = await slot.data.gate.turn(seq, slot.counters.lastAcceptedSeq);
      if (turn !== 'go') return { outcome: turn, lastSeq: Math.max(slot.counters.lastAcceptedSeq, slot.data.gate.newestSeq) };
      let decoded: Awaited<ReturnType<typeof decodeSnapshot>>;
      try {
        decoded = await decodeSnapshot(msg.image, msg.mime, params);
      } finally {
        slot.data.gate.done();
      }
      if (!decoded.ok) throw new ClientError(decoded.code, `${EV.snapshot}: ${decoded.message}`);
      // A frame deleted (its slot dropped) or a room unloaded during the decode has no one left
      // to render for; someone else's deletion is not this client's fault: no violation.
      if (this.queue.peek(roomId, frameId) !== slot || !this.opts.isOpen(roomId, doc)) {
        throw new ClientError('unknown-frame', `${EV.snapshot}: frame ${frameId} was deleted while its snapshot was checked; snapshot ignored`, {
          violation: false,
        });
      }
      const outcome = this.queue.submit({
        roomId,
        frameId,
        seq,
        image: { rgb: decoded.rgb, decodeMs: decoded.decodeMs },
        settings: params,
        receivedAt: this.now(),
        sourceClient: socket.id,
        sentAt: msg.sentAt,
      });
      return { outcome, lastSeq: slot.counters.lastAcceptedSeq };
    } finally {
      this.decodingBytes -= bytes;
    }
  }

  /** A waiting snapshot holds its decoded pixels until its render starts, and a tiny JPEG can
   * decode to megabytes: without a budget, many frames × large output sizes fill the memory while
   * the engine is slow or loading. Refused like a rate limit (the client retries); the snapshot
   * it would replace in its own frame's slot does not count. */
  private reserve(slot: RenderSlot, bytes: number): void {
    let waiting = this.decodingBytes;
    for (const job of this.queue.pendingJobs()) waiting += job.image.rgb.data.byteLength;
    const replaced = slot.pending?.image.rgb.data.byteLength ?? 0;
    if (waiting - replaced + bytes > this.opts.pendingBytes) {
      throw new ClientError(
        'rate-limited',
        `${EV.snapshot}: the server has ${mb(waiting)} of snapshots waiting for the engine (limit ${mb(this.opts.pendingBytes)}); try again when renders catch up`,
        { violation: false },
      );
    }
    this.decodingBytes += bytes;
  }

  /** Every snapshot is decoded in full before it is accepted, so a socket may send only so many. */
  private takeToken(socket: Socket): void {
    let bucket = this.buckets.get(socket);
    if (!bucket) this.buckets.set(socket, (bucket = new TokenBucket(this.opts.rate.perSecond, this.opts.rate.burst)));
    if (!bucket.take()) {
      const { perSecond, burst } = this.opts.rate;
      throw new ClientError(
        'rate-limited',
        `${EV.snapshot}: more than ${perSecond} snapshots/s (burst ${burst}) from this connection; send at most one per frame every ${SNAPSHOT_MIN_INTERVAL_MS} ms`,
      );
    }
  }
}
