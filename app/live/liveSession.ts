// The live side of one room in one browser tab: listens for renders and statuses, runs the
// snapshotter, and offers the actions the UI needs (pin, render now, history, lens peek).
// Shape components reach it through `getLiveSession(editor)`, which is reactive.
import {
  AssetRecordType,
  atom,
  Box,
  createShapeId,
  type Atom,
  type Editor,
  type TLAssetId,
  type TLShapeId,
} from 'tldraw';
import type { Socket } from 'socket.io-client';
import { randomSeed } from '../../lib/canvas/liveFrame';
import {
  EV,
  ErrorEvent,
  FrameStatus,
  RenderResult,
  type FramePin,
} from '../../lib/protocol/events';
import type { ConnectionStatus } from '../../lib/canvas/socketProvider';
import { FrameRenderList } from '../../lib/protocol/http';
import { captureFrameJpeg } from './captureFrame';
import { LiveRenderStore, readEngineStatus, type LiveEngineStatus } from './renderStore';
import {
  isLiveFrame,
  LiveFrameSnapshotter,
  type SnapshotAckLike,
  type SnapshotMessage,
  type SnapshotterOptions,
} from './snapshotter';

const SNAPSHOT_ACK_TIMEOUT_MS = 5_000;
const PIN_ACK_TIMEOUT_MS = 10_000;
/** gap between a frame and what is placed beside it (side view, pinned renders), page units */
export const BESIDE_GAP = 24;

export interface PinAckLike {
  ok: boolean;
  url?: string;
  width?: number;
  height?: number;
  error?: { code?: string; message?: string };
}

export type PinResult = { ok: true; shapeId: TLShapeId } | { ok: false; message: string };

/** The room's Yjs provider as far as renders care: snapshots only make sense while joined. */
export interface RoomConnection {
  readonly status: ConnectionStatus;
  onStatus(listener: (status: ConnectionStatus) => void): () => void;
}

export interface LiveSessionOptions {
  /** without it, a connected socket counts as joined */
  connection?: RoomConnection;
  /** where /api/renders lives; the page's own origin by default */
  httpBase?: string;
  snapshotter?: Pick<SnapshotterOptions, 'capture' | 'clock' | 'wallClock' | 'minIntervalMs'>;
}

/** Engine states in which the server turns every snapshot away. */
const engineCannotRender = (e: LiveEngineStatus | null) => e?.state === 'no-model' || e?.state === 'error';

export class LiveSession {
  readonly renders = new LiveRenderStore();
  readonly snapshotter: LiveFrameSnapshotter;
  /** lens frames whose sketch is peeked at (local, per tab) */
  private readonly peeking = atom<ReadonlySet<string>>('live lens peek', new Set());
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
    });
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
            if (isLiveFrame(rec)) this.renders.deleteFrame(rec.id);
          }
        },
        { scope: 'document', source: 'all' },
      ),
    );
    // Frames changed while offline (or refused right after a reconnect, before the rejoin) are
    // sent once the room is joined again, so the last state of the drawing is always rendered.
    const conn = opts.connection;
    if (conn) this.unbind.push(conn.onStatus((status) => status === 'connected' && this.snapshotter.resume()));
    else this.on('connect', () => this.snapshotter.resume());
    this.snapshotter.start();
    sessionAtom(editor).set(this);
    void this.backfill();
  }

  /** Whether a snapshot sent now could be rendered: joined to the room and an engine that can. */
  canSend(): boolean {
    if (!this.socket.connected) return false;
    if (this.opts.connection && this.opts.connection.status !== 'connected') return false;
    return !engineCannotRender(this.renders.engine.get());
  }

  private setEngine(next: LiveEngineStatus): void {
    const prev = this.renders.engine.get();
    this.renders.engine.set(next);
    // Frames that waited (or were turned away) while the engine could not render go now.
    if (!engineCannotRender(next) && (engineCannotRender(prev) || next.state === 'ready')) this.snapshotter.resume();
  }

  /**
   * The room page joins (and the server sends the engine status and the latest renders) before
   * the editor exists, so those first messages are gone by now: fetch the same facts over HTTP,
   * with every render the server keeps per frame so a newcomer can step back through them.
   */
  private async backfill(): Promise<void> {
    const base = `${this.opts.httpBase ?? ''}/api/renders/${encodeURIComponent(this.roomId)}`;
    try {
      const res = await fetch(base);
      if (!res.ok) return;
      const stats = (await res.json()) as { engine?: unknown; frames?: Record<string, { kept?: number }> };
      const engine = readEngineStatus(stats.engine);
      if (engine && !this.renders.engine.get()) this.setEngine(engine);
      await Promise.all(
        Object.entries(stats.frames ?? {})
          .filter(([, f]) => !!f.kept)
          .map(([frameId]) => this.backfillFrame(base, frameId)),
      );
    } catch (e) {
      console.warn('[livecanvas] could not load the renders of the room:', (e as Error).message);
    }
  }

  private async backfillFrame(base: string, frameId: string): Promise<void> {
    const res = await fetch(`${base}/${encodeURIComponent(frameId)}`);
    if (!res.ok || this.disposed) return;
    const list = FrameRenderList.safeParse(await res.json());
    if (!list.success) return;
    const held = new Set(this.renders.get(frameId).history.map((e) => e.seq));
    const missing = list.data.renders.filter((r) => !held.has(r.seq));
    const fetched = await Promise.all(
      missing.map(async (r): Promise<RenderResult | null> => {
        const jpeg = await fetch(`${this.opts.httpBase ?? ''}${r.url}`);
        // dropped from the server's history meanwhile: the newer ones still come
        if (!jpeg.ok) return null;
        return {
          roomId: this.roomId,
          frameId,
          seq: r.seq,
          mime: 'image/jpeg',
          image: new Uint8Array(await jpeg.arrayBuffer()),
          width: r.width,
          height: r.height,
          seed: r.seed,
          model: r.model,
          // not measured for renders made before this tab was here
          timings: { queueMs: 0, inferenceMs: 0, totalMs: 0 },
          renderedAt: r.renderedAt,
        };
      }),
    );
    // deleted while we fetched: its renders would hold object URLs for a frame nobody sees
    if (this.disposed || !isLiveFrame(this.editor.getShape(frameId as TLShapeId))) return;
    this.renders.addPast(frameId, fetched.filter((r): r is RenderResult => r !== null));
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

  renderNow(frameId: string): void {
    this.snapshotter.request(frameId);
  }

  /** Puts the render on screen onto the canvas for everyone as an image, right of the frame, and
   * gives the frame a new seed: re-rendering a baked result with the same noise over-sharpens. */
  async pin(frameId: string): Promise<PinResult> {
    const shown = this.renders.shown(frameId);
    if (!shown) return { ok: false, message: 'nothing rendered yet: draw in the frame first' };
    let ack: PinAckLike | undefined;
    try {
      ack = await this.socket
        .timeout(PIN_ACK_TIMEOUT_MS)
        .emitWithAck(EV.pin, { roomId: this.roomId, frameId, seq: shown.seq } satisfies FramePin);
    } catch {
      return { ok: false, message: 'the server did not answer the pin request; check the connection' };
    }
    if (!ack?.ok || !ack.url) {
      return { ok: false, message: ack?.error?.message ?? 'the server could not store the render' };
    }
    const frame = this.editor.getShape(frameId as TLShapeId);
    if (!isLiveFrame(frame)) return { ok: false, message: 'the frame was deleted meanwhile' };

    const width = ack.width ?? shown.width;
    const height = ack.height ?? shown.height;
    const assetId: TLAssetId = AssetRecordType.createId();
    const shapeId = createShapeId();
    const w = frame.props.w;
    const h = (frame.props.w * height) / width;
    const spot = this.freeSpotBeside(frame.id, w, h);
    this.editor.markHistoryStoppingPoint('pin live render');
    this.editor.run(() => {
      this.editor.createAssets([
        AssetRecordType.create({
          id: assetId,
          type: 'image',
          props: {
            src: ack.url!,
            w: width,
            h: height,
            mimeType: 'image/jpeg',
            name: `render-${shown.seq}.jpg`,
            isAnimated: false,
          },
        }),
      ]);
      this.editor.createShape({
        id: shapeId,
        type: 'image',
        parentId: this.editor.getAncestorPageId(frame),
        x: spot.x,
        y: spot.y,
        props: { assetId, w, h },
      });
      this.editor.updateShape({ id: frame.id, type: frame.type, props: { seed: randomSeed() } });
    });
    return { ok: true, shapeId };
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

  private async sendSnapshot(snap: SnapshotMessage): Promise<SnapshotAckLike | undefined> {
    // socket.io would buffer it and deliver it before the next room:join, where it is refused
    if (!this.canSend()) return undefined;
    try {
      return await this.socket
        .timeout(SNAPSHOT_ACK_TIMEOUT_MS)
        .emitWithAck(EV.snapshot, { roomId: this.roomId, ...snap });
    } catch {
      return undefined;
    }
  }

  /** Right of the frame (past its side view), moving further right past earlier pins. */
  private freeSpotBeside(frameId: TLShapeId, w: number, h: number): { x: number; y: number } {
    const frame = this.editor.getShape(frameId);
    const bounds = this.editor.getShapePageBounds(frameId);
    if (!isLiveFrame(frame) || !bounds) return { x: 0, y: 0 };
    let x = bounds.maxX + BESIDE_GAP + (frame.props.view === 'side' ? frame.props.w + BESIDE_GAP : 0);
    const y = bounds.minY;
    const others = this.editor
      .getCurrentPageShapes()
      .filter((s) => s.id !== frameId)
      .map((s) => this.editor.getShapePageBounds(s))
      .filter((b): b is Box => !!b);
    for (let i = 0; i < 50; i++) {
      const candidate = new Box(x, y, w, h);
      const hit = others.find((b) => b.collides(candidate));
      if (!hit) break;
      x = hit.maxX + BESIDE_GAP;
    }
    return { x, y };
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
