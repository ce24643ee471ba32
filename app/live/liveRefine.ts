// Refine: one render of a live frame's current picture at a larger size and more steps (the
// server reuses the seed of the render on screen), placed on the canvas for everyone like a pin,
// captioned "refined by …". Everyone in the room sees its progress (`frame:refine-status`); only
// the person who asked places the image, once the server has stored it.
import { atom, type Atom, type Editor, type TLShapeId } from 'tldraw';
import type { Socket } from 'socket.io-client';
import { refineSettingsFor } from '../../lib/canvas/liveFrame';
import { collectFrameContent, isLiveFrame } from '../../lib/canvas/liveFrameContent';
import { EV, PinAck, RefineStatus, type FrameRefine } from '../../lib/protocol/events';
import { captureFrameJpeg } from './captureFrame';
import type { LiveRenders } from './liveRenders';
import { placePinned } from './pinPlacement';

/** A refine waits behind live frames and renders a larger image: it may take a while. */
export const REFINE_ACK_TIMEOUT_MS = 180_000;

/** What a frame's refine is doing, as this tab knows it. `capturing` is local (the person who
 * asked, before the server has it); the others come from `frame:refine-status`. */
export interface RefineState {
  state: 'capturing' | RefineStatus['state'];
  width?: number;
  height?: number;
  /** who asked (the server's name for them) */
  by?: string;
  message?: string;
  /** when this state began (this tab's clock) */
  at: number;
  /** asked for from this tab */
  mine: boolean;
}

export type RefineResult = { ok: true; shapeId: TLShapeId } | { ok: false; message: string };

export const refineInProgress = (s: RefineState | null): boolean =>
  !!s && (s.state === 'capturing' || s.state === 'queued' || s.state === 'rendering');

/** The reason of a refused refine without the event name the server puts in front of it. */
const reason = (message: string) => message.replace(/^frame:refine:\s*/, '');

export interface RefineContext {
  editor: Editor;
  socket: Socket;
  roomId: string;
  renders: LiveRenders;
  canWrite: () => boolean;
  now?: () => number;
}

export class LiveRefines {
  private readonly frames = new Map<string, Atom<RefineState | null>>();
  private readonly now: () => number;

  constructor(private readonly ctx: RefineContext) {
    this.now = ctx.now ?? Date.now;
  }

  /** The frame's refine state (reactive inside a tldraw component or `useValue`). */
  get(frameId: string): RefineState | null {
    return this.atomFor(frameId).get();
  }

  /** A `frame:refine-status` from the server (for any refine in the room). */
  onStatus(raw: unknown): void {
    const s = RefineStatus.safeParse(raw);
    if (!s.success || s.data.roomId !== this.ctx.roomId) return;
    const a = this.atomFor(s.data.frameId);
    const prev = a.get();
    const mine = !!prev?.mine && refineInProgress(prev);
    a.set({
      state: s.data.state,
      width: s.data.width ?? prev?.width,
      height: s.data.height ?? prev?.height,
      by: s.data.by ?? prev?.by,
      message: s.data.message,
      at: this.now(),
      mine,
    });
  }

  /** Asks the server to refine the render on screen, and places the result for everyone. */
  async refine(frameId: string): Promise<RefineResult> {
    const { editor, socket, renders } = this.ctx;
    if (!this.ctx.canWrite()) return { ok: false, message: 'view only: refining is for the owner and editors' };
    if (!socket.connected) return { ok: false, message: 'offline: refining needs the connection to the server' };
    const frame = editor.getShape(frameId as TLShapeId);
    if (!isLiveFrame(frame)) return { ok: false, message: 'the frame was deleted' };
    const shown = renders.shown(frameId);
    if (!shown) return { ok: false, message: 'nothing rendered yet: draw in the frame first' };
    if (refineInProgress(this.get(frameId))) return { ok: false, message: 'this frame is already being refined' };
    const content = collectFrameContent(editor, frame);
    if (content.records.length === 0) return { ok: false, message: 'the frame is empty: draw in it first' };

    const size = refineSettingsFor(frame.props);
    const a = this.atomFor(frameId);
    a.set({ state: 'capturing', width: size.width, height: size.height, at: this.now(), mine: true });
    const fail = (message: string): RefineResult => {
      a.set({ state: 'error', width: size.width, height: size.height, message, at: this.now(), mine: true });
      return { ok: false, message };
    };
    let image: Uint8Array;
    try {
      image = (await captureFrameJpeg(editor, frame, content.exportIds, size)).bytes;
    } catch (e) {
      return fail(`could not capture the frame: ${(e as Error).message}`);
    }
    let raw: unknown;
    try {
      raw = await socket
        .timeout(REFINE_ACK_TIMEOUT_MS)
        .emitWithAck(EV.refine, { roomId: this.ctx.roomId, frameId, seq: shown.seq, mime: 'image/jpeg', image } satisfies FrameRefine);
    } catch {
      return fail('the server did not answer the refine request; check the connection');
    }
    const parsed = PinAck.safeParse(raw);
    if (!parsed.success) return fail('the server could not store the refined render');
    const ack = parsed.data;
    if (!ack.ok) return fail(reason(ack.error.message));
    const shapeId = placePinned(editor, frame.id, ack, {
      frameId,
      seq: shown.seq,
      prompt: frame.props.prompt, // the prompt of the picture that was refined
      pinnedBy: editor.user.getName(),
      pinnedAt: Date.now(),
      refined: true,
    });
    if (!shapeId) return fail('the frame was deleted meanwhile');
    const cur = a.get();
    if (cur?.mine && cur.state !== 'done') a.set({ ...cur, state: 'done', width: ack.width, height: ack.height, at: this.now() });
    return { ok: true, shapeId };
  }

  /** Forgets a finished or failed refine (e.g. an error from before a reconnect). */
  clear(frameId: string): void {
    const a = this.frames.get(frameId);
    if (a && !refineInProgress(a.get())) a.set(null);
  }

  deleteFrame(frameId: string): void {
    this.frames.get(frameId)?.set(null);
    this.frames.delete(frameId);
  }

  private atomFor(frameId: string): Atom<RefineState | null> {
    let a = this.frames.get(frameId);
    if (!a) {
      a = atom<RefineState | null>(`live refine ${frameId}`, null);
      this.frames.set(frameId, a);
    }
    return a;
  }
}
