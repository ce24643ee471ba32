// Refine (issue 13): one render of a live frame at a larger size and more steps — a finished image
// of the composition being drawn — stored as a pinned asset for the requester to place on the
// canvas for everyone (like a pin). A refine is queued behind live frames: it starts only when the
// render queue is idle, and while it renders the queue holds its snapshots (latest wins), so drawing
// and sync never wait and live renders wait at most one refine. One refine waits per frame (a newer
// request replaces it) and at most MAX_WAITING per server, so the decoded pixels they hold stay small.
import type { Socket } from 'socket.io';
import type * as Y from 'yjs';
import { refineSettingsFor } from '../../lib/canvas/liveFrame';
import { EV, type AckFields, type FrameRefine, type PinAck, type RefineStatus } from '../../lib/protocol';
import type { EngineRenderOutput } from '../engine/EngineHost';
import type { RenderParams } from '../engine/messages';
import type { RgbImage } from '../../lib/image/rgb';
import { clientSafeMessage } from '../http/clientSafeMessage';
import type { Logger } from '../logger';
import { ClientError } from '../socket/ClientError';
import { decodeSnapshot } from './decodeSnapshot';
import { readFrame, renderParamsFor } from './frameSettings';
import type { PinnedRenders } from './PinnedRenders';
import type { Broadcaster, RenderQueue } from './renderState';

const MAX_WAITING = 8;

type Render = (rgb: RgbImage, params: RenderParams, culprit: string, wanted?: string) => Promise<EngineRenderOutput>;

interface Waiting {
  roomId: string;
  frameId: string;
  rgb: RgbImage;
  params: RenderParams;
  wanted: string;
  by: string;
  resolve: (r: AckFields<PinAck>) => void;
  reject: (e: Error) => void;
}

export class Refines {
  private readonly waiting = new Map<string, Waiting>();
  private running = false;

  constructor(
    private readonly queue: RenderQueue,
    private readonly render: Render | null,
    private readonly pins: PinnedRenders,
    private readonly send: Broadcaster,
    /** hold (true) or release (false) the live queue while a refine renders */
    private readonly hold: (held: boolean) => void,
    private readonly log: Logger,
  ) {}

  async request(socket: Socket, doc: Y.Doc, msg: FrameRefine): Promise<AckFields<PinAck>> {
    if (!this.render) {
      throw new ClientError('invalid-message', `${EV.refine}: Refine is not available with render workers yet (cluster mode); pin the live render instead`, { violation: false });
    }
    const frame = readFrame(doc, msg.frameId);
    if (!frame.ok) throw new ClientError('unknown-frame', `${EV.refine}: ${frame.message}`);
    const key = `${msg.roomId}/${msg.frameId}`;
    if (!this.waiting.has(key) && this.waiting.size >= MAX_WAITING) {
      throw new ClientError('rate-limited', `${EV.refine}: ${MAX_WAITING} refines are waiting on this server; try again when they are done`, { violation: false });
    }
    // the seed of the render being refined, so the finished image keeps its composition
    const kept = this.queue.peek(msg.roomId, msg.frameId)?.data.renders.find((k) => k.result.seq === msg.seq);
    const size = refineSettingsFor(frame.props);
    const params: RenderParams = { ...renderParamsFor(frame.props, msg.seq), ...size, ...(kept && { seed: kept.result.seed }) };
    const decoded = await decodeSnapshot(msg.image, msg.mime, params);
    if (!decoded.ok) throw new ClientError(decoded.code, `${EV.refine}: ${decoded.message}`);
    const by = String((socket.data as { user?: { name?: string } }).user?.name ?? '').slice(0, 100);
    return new Promise((resolve, reject) => {
      this.waiting.get(key)?.reject(new ClientError('invalid-message', `${EV.refine}: replaced by a newer refine of this frame`, { violation: false }));
      this.waiting.set(key, { roomId: msg.roomId, frameId: msg.frameId, rgb: decoded.rgb, params, wanted: frame.props.model, by, resolve, reject });
      this.status({ roomId: msg.roomId, frameId: msg.frameId, state: 'queued', width: params.width, height: params.height, by });
      void this.pump();
    });
  }

  /** The room unloaded: its waiting refines are dropped. */
  dropRoom(roomId: string): void {
    for (const [key, w] of this.waiting) {
      if (w.roomId !== roomId) continue;
      this.waiting.delete(key);
      w.reject(new ClientError('invalid-message', `${EV.refine}: the room closed`, { violation: false }));
    }
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.waiting.size > 0) {
        await this.queue.idle(); // behind live frames
        const [key, next] = this.waiting.entries().next().value as [string, Waiting];
        this.waiting.delete(key);
        await this.run(next);
      }
    } finally {
      this.running = false;
    }
  }

  private async run(w: Waiting): Promise<void> {
    const { roomId, frameId, params } = w;
    this.hold(true);
    this.status({ roomId, frameId, state: 'rendering', width: params.width, height: params.height, by: w.by });
    try {
      const out = await this.render!(w.rgb, params, roomId, w.wanted);
      const seq = Date.now();
      const model = out.model ?? '';
      const assetId = await this.pins.put({ roomId, frameId, seq, width: out.width, height: out.height, seed: out.params.seed, model, jpeg: out.jpeg });
      this.status({ roomId, frameId, state: 'done', width: out.width, height: out.height, by: w.by });
      w.resolve({ assetId, url: `/api/assets/${roomId}/${assetId}.jpg`, width: out.width, height: out.height, mime: 'image/jpeg', seed: out.params.seed });
    } catch (err) {
      const message = clientSafeMessage(err);
      this.log.warn({ room: roomId, frame: frameId, err: (err as Error).message }, 'refine failed');
      this.status({ roomId, frameId, state: 'error', message });
      w.reject(new ClientError('server-error', `${EV.refine}: ${message}`, { violation: false }));
    } finally {
      this.hold(false);
    }
  }

  private status(s: RefineStatus): void {
    this.send.room(s.roomId, EV.refineStatus, s);
  }
}
