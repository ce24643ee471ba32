// The live side of one room in one browser tab: listens for renders and statuses, runs the
// snapshotter, and offers the actions the UI needs (pin, refine, render now, history, lens peek).
// Shape components reach it through `getLiveSession(editor)`, which is reactive.
import { atom, type Atom, type Editor, type TLShapeId } from 'tldraw';
import type { Socket } from 'socket.io-client';
import { randomSeed } from '../../lib/canvas/liveFrame';
import { isLiveFrame } from '../../lib/canvas/liveFrameContent';
import {
  EV,
  ErrorEvent,
  FrameStatus,
  PinAck,
  RenderResult,
  RendersReplayAck,
  replayedRenders,
  SnapshotAck,
  type FramePin,
  type RendersReplay,
} from '../../lib/protocol/events';
import type { ConnectionStatus } from '../../lib/canvas/socketProvider';
import { captureFrameJpeg } from './captureFrame';
import { LiveRefines, type RefineResult } from './liveRefine';
import { LiveRenders, readEngineStatus, type LiveEngineStatus } from './liveRenders';
import { placePinned } from './pinPlacement';
import { LiveFrameSnapshotter, type SnapshotMessage, type SnapshotterOptions } from './snapshotter';

const SNAPSHOT_ACK_TIMEOUT_MS = 5_000;
const PIN_ACK_TIMEOUT_MS = 10_000;
const REPLAY_ACK_TIMEOUT_MS = 15_000;
// Pin placement (beside the frame, with a caption) lives in pinPlacement.ts; refine in liveRefine.ts.
export { BESIDE_GAP, PIN_CAPTION_H, pinCaptionText, type PinCaption } from './pinPlacement';

export type PinResult = { ok: true; shapeId: TLShapeId } | { ok: false; message: string };

/** The room's Yjs provider as far as renders care: snapshots only make sense while joined. */
export interface RoomConnection {
  readonly status: ConnectionStatus;
  onStatus(listener: (status: ConnectionStatus) => void): () => void;
}

export interface LiveSessionOptions {
  /** without it, a connected socket counts as joined */
  connection?: RoomConnection;
  /** whether this page may change the room (owner, editor); a viewer's session never captures
   * nor sends a snapshot, and cannot render now or pin. Without it: yes. */
  canWrite?: () => boolean;
  snapshotter?: Pick<SnapshotterOptions, 'capture' | 'clock' | 'wallClock' | 'minIntervalMs'>;
}

/** Engine states in which the server turns every snapshot away. */
const engineCannotRender = (e: LiveEngineStatus | null) => e?.state === 'no-model' || e?.state === 'error';

export class LiveSession {
  /** a frame paused on an older render keeps new ones aside, so its history holds still */
  readonly renders = new LiveRenders({ holdWhilePaused: true });
  readonly snapshotter: LiveFrameSnapshotter;
  /** every frame's refine in progress (anyone's), from `frame:refine-status` */
  readonly refines: LiveRefines;
  /** lens frames whose sketch is peeked at (local, per tab) */
  private readonly peeking = atom<ReadonlySet<string>>('live lens peek', new Set());
  /** the first `renders:replay` answer came (or failed): before it, "nothing rendered yet" is not known */
  private readonly caughtUp = atom('live renders caught up', false);
  private readonly unbind: (() => void)[] = [];
  private disposed = false;

  constructor(
    readonly editor: Editor,
    readonly socket: Socket,
    readonly roomId: string,
    private readonly opts: LiveSessionOptions = {},
  ) {
    this.snapshotter = new LiveFrameSnapshotter(editor, (snap) => this.sendSnapshot(snap), {
      capture: captureFrameJpeg,
      ...opts.snapshotter,
      canSend: () => this.canSend(),
      onError: (frameId, message) => this.renders.setStatus({ frameId, state: 'error', message }),
      onSuperseded: (frameId, seq) => this.renders.drop(frameId, seq),
    });
    this.refines = new LiveRefines({ editor, socket, roomId, renders: this.renders, canWrite: () => this.canWrite() });
    this.on(EV.refineStatus, (raw) => this.refines.onStatus(raw));
    this.on(EV.render, (raw) => {
      const r = RenderResult.safeParse(raw);
      if (!r.success || r.data.roomId !== roomId) return;
      this.renders.addRender(r.data, socket.id);
    });
    this.on(EV.frameStatus, (raw) => {
      const s = FrameStatus.safeParse(raw);
      if (s.success && s.data.roomId === roomId) this.renders.setStatus(s.data);
    });
    this.on(EV.engineStatus, (raw) => {
      const s = readEngineStatus(raw);
      if (s) this.setEngine(s);
    });
    this.on(EV.error, (raw) => {
      const e = ErrorEvent.safeParse(raw);
      if (!e.success || !e.data.frameId || (e.data.roomId && e.data.roomId !== roomId)) return;
      this.renders.setStatus({ frameId: e.data.frameId, state: 'error', message: e.data.message });
    });
    // A deleted frame's renders are of no use to anyone in this tab.
    this.unbind.push(
      editor.store.listen(
        ({ changes }) => {
          for (const rec of Object.values(changes.removed)) {
            if (!isLiveFrame(rec)) continue;
            this.renders.deleteFrame(rec.id);
            this.refines.deleteFrame(rec.id);
          }
        },
        { scope: 'document', source: 'all' },
      ),
    );
    // Frames changed while offline (or refused right after a reconnect, before the rejoin) are
    // sent once the room is joined again, so the last state of the drawing is always rendered.
    // Each join (the first, and every rejoin after a reconnect) asks for what was rendered
    // meanwhile, once this session listens: no render can slip between a push and a listener.
    const joinedRoom = () => {
      this.snapshotter.resume();
      void this.replay();
    };
    const conn = opts.connection;
    if (conn) this.unbind.push(conn.onStatus((status) => status === 'connected' && joinedRoom()));
    else this.on('connect', joinedRoom);
    this.snapshotter.start();
    sessionAtom(editor).set(this);
  }

  /** Whether this page may trigger renders and pins (not a viewer). */
  canWrite(): boolean {
    return this.opts.canWrite?.() ?? true;
  }

  /** Whether a snapshot sent now could be rendered: joined to the room and an engine that can,
   * by a page that may change the room. */
  canSend(): boolean {
    if (!this.canWrite() || !this.socket.connected) return false;
    if (this.opts.connection && this.opts.connection.status !== 'connected') return false;
    return !engineCannotRender(this.renders.engine.get());
  }

  private setEngine(next: LiveEngineStatus): void {
    const prev = this.renders.engine.get();
    this.renders.engine.set(next);
    // Frames that waited (or were turned away) while the engine could not render go now.
    if (!engineCannotRender(next) && (engineCannotRender(prev) || next.state === 'ready')) this.snapshotter.resume();
  }

  /** Asks the server for the engine status, every frame's state and its kept renders, in one
   * exchange (`renders:replay`), and merges them with what this tab holds. */
  private async replay(): Promise<void> {
    let raw: unknown;
    try {
      raw = await this.socket
        .timeout(REPLAY_ACK_TIMEOUT_MS)
        .emitWithAck(EV.replay, { roomId: this.roomId } satisfies RendersReplay);
    } catch {
      this.caughtUp.set(true);
      return; // no answer: the next rejoin asks again
    }
    const ack = RendersReplayAck.safeParse(raw);
    if (!ack.success) console.warn('[livecanvas] unreadable renders:replay answer:', ack.error.issues[0]?.message);
    if (this.disposed) return;
    if (!ack.success || !ack.data.ok) {
      this.caughtUp.set(true);
      return;
    }
    this.setEngine(ack.data.engine);
    // The server forgets a frame's renders when the frame is deleted, so these are all frames of
    // the document — even one this tab's store has not received yet.
    for (const f of ack.data.frames) {
      this.renders.addPast(f.frameId, replayedRenders(f, ack.data.images));
      // a status got meanwhile is newer than the replay's; an error from before the reconnect is not
      const held = this.renders.get(f.frameId).status;
      if (!held || held.state === 'error') this.renders.setStatus({ frameId: f.frameId, state: f.state, message: f.message });
    }
    this.caughtUp.set(true);
  }

  /** Whether this tab has heard what was rendered before it joined (reactive). */
  hasCaughtUp(): boolean {
    return this.caughtUp.get();
  }

  isPeeking(frameId: string): boolean {
    return this.peeking.get().has(frameId);
  }

  setPeeking(frameId: string, on: boolean): void {
    const next = new Set(this.peeking.get());
    if (on) next.add(frameId);
    else next.delete(frameId);
    this.peeking.set(next);
  }

  /** Renders the frame again now, back to live so the new render is the one shown. */
  renderNow(frameId: string): void {
    if (!this.canWrite()) return;
    this.renders.live(frameId);
    this.snapshotter.request(frameId);
  }

  /** Puts the render on screen onto the canvas for everyone as an image, right of the frame, and
   * gives the frame a new seed: re-rendering a baked result with the same noise over-sharpens. */
  async pin(frameId: string): Promise<PinResult> {
    if (!this.canWrite()) return { ok: false, message: 'view only: pinning is for the owner and editors' };
    const shown = this.renders.shown(frameId);
    if (!shown) return { ok: false, message: 'nothing rendered yet: draw in the frame first' };
    let raw: unknown;
    try {
      raw = await this.socket
        .timeout(PIN_ACK_TIMEOUT_MS)
        .emitWithAck(EV.pin, { roomId: this.roomId, frameId, seq: shown.seq } satisfies FramePin);
    } catch {
      return { ok: false, message: 'the server did not answer the pin request; check the connection' };
    }
    const parsed = PinAck.safeParse(raw);
    if (!parsed.success) return { ok: false, message: 'the server could not store the render' };
    const ack = parsed.data;
    if (!ack.ok) {
      // the server keeps a frame's last renders only: an older one looked at here may be gone
      if (ack.error.code === 'unknown-frame' && /no longer kept/.test(ack.error.message)) {
        return { ok: false, message: 'This render is too old to pin (the server keeps the latest ones): pin a newer one.' };
      }
      return { ok: false, message: ack.error.message };
    }
    const frame = this.editor.getShape(frameId as TLShapeId);
    if (!isLiveFrame(frame)) return { ok: false, message: 'the frame was deleted meanwhile' };

    const shapeId = placePinned(
      this.editor,
      frame.id,
      ack,
      { frameId, seq: shown.seq, prompt: frame.props.prompt, pinnedBy: this.editor.user.getName(), pinnedAt: Date.now() },
      () => this.editor.updateShape({ id: frame.id, type: frame.type, props: { seed: randomSeed() } }),
    );
    if (!shapeId) return { ok: false, message: 'the frame was deleted meanwhile' };
    return { ok: true, shapeId };
  }

  /** Renders the picture on screen again, larger and with more steps, and puts it on the canvas
   * for everyone beside the frame (captioned "refined by …"); progress in `refines`. */
  refine(frameId: string): Promise<RefineResult> {
    return this.refines.refine(frameId);
  }

  dispose(): void {
    this.disposed = true;
    for (const off of this.unbind.splice(0)) off();
    this.snapshotter.dispose();
    this.renders.dispose();
    if (sessionAtom(this.editor).get() === this) sessionAtom(this.editor).set(null);
  }

  private on(event: string, fn: (payload: unknown) => void) {
    this.socket.on(event, fn);
    this.unbind.push(() => this.socket.off(event, fn));
  }

  private async sendSnapshot(snap: SnapshotMessage): Promise<SnapshotAck | undefined> {
    // socket.io would buffer it and deliver it before the next room:join, where it is refused
    if (!this.canSend()) return undefined;
    // drawing (or any change) in a frame paused on an older render: show what comes of it
    this.renders.live(snap.frameId);
    try {
      const raw: unknown = await this.socket
        .timeout(SNAPSHOT_ACK_TIMEOUT_MS)
        .emitWithAck(EV.snapshot, { roomId: this.roomId, ...snap });
      const ack = SnapshotAck.safeParse(raw);
      return ack.success ? ack.data : undefined;
    } catch {
      return undefined;
    }
  }
}

const sessions = new WeakMap<Editor, Atom<LiveSession | null>>();

function sessionAtom(editor: Editor): Atom<LiveSession | null> {
  let a = sessions.get(editor);
  if (!a) {
    a = atom<LiveSession | null>('live session', null);
    sessions.set(editor, a);
  }
  return a;
}

/** The live session of an editor, or null before the room is connected. Reactive. */
export function getLiveSession(editor: Editor): LiveSession | null {
  return sessionAtom(editor).get();
}
