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
  EngineStatus,
  ErrorEvent,
  FrameStatus,
  RenderResult,
  type FramePin,
} from '../../lib/protocol/events';
import { captureFrameJpeg } from './captureFrame';
import { isNewerRender, LiveRenderStore } from './renderStore';
import { isLiveFrame, LiveFrameSnapshotter, type SnapshotAckLike, type SnapshotMessage } from './snapshotter';

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
  ) {
    this.snapshotter = new LiveFrameSnapshotter(editor, (snap) => this.sendSnapshot(snap), {
      capture: captureFrameJpeg,
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
      const s = EngineStatus.safeParse(raw);
      if (!s.success) return;
      const wasReady = this.renders.engine.get()?.state === 'ready';
      this.renders.engine.set(s.data);
      if (s.data.state === 'ready' && !wasReady) this.snapshotter.retryRefused();
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
    this.snapshotter.start();
    sessionAtom(editor).set(this);
    void this.backfill();
  }

  /**
   * The room page joins (and the server sends the engine status and the latest renders) before
   * the editor exists, so those first messages are gone by now: fetch the same facts over HTTP.
   */
  private async backfill(): Promise<void> {
    const base = `/api/renders/${encodeURIComponent(this.roomId)}`;
    try {
      const res = await fetch(base);
      if (!res.ok) return;
      const stats = (await res.json()) as { engine?: unknown; frames?: Record<string, { kept?: number }> };
      const engine = EngineStatus.safeParse(stats.engine);
      if (engine.success && !this.renders.engine.get()) this.renders.engine.set(engine.data);
      for (const [frameId, f] of Object.entries(stats.frames ?? {})) {
        if (!f.kept || this.disposed) continue;
        const list = (await (await fetch(`${base}/${encodeURIComponent(frameId)}`)).json()) as {
          renders?: { seq: number; url: string; width: number; height: number; seed: number; model: string; renderedAt: number }[];
        };
        const last = list.renders?.[list.renders.length - 1];
        if (!last || !isNewerRender(last, this.renders.get(frameId).history.at(-1))) continue;
        const jpeg = await fetch(last.url);
        if (!jpeg.ok || this.disposed) continue;
        this.renders.addRender({
          roomId: this.roomId,
          frameId,
          seq: last.seq,
          mime: 'image/jpeg',
          image: new Uint8Array(await jpeg.arrayBuffer()),
          width: last.width,
          height: last.height,
          seed: last.seed,
          model: last.model,
          // not measured for renders made before this tab was here
          timings: { queueMs: 0, inferenceMs: 0, totalMs: 0 },
          renderedAt: last.renderedAt,
        });
      }
    } catch (e) {
      console.warn('[livecanvas] could not load the latest renders of the room:', (e as Error).message);
    }
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
    if (!this.socket.connected) return undefined;
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
