// Delivery: what happens to a finished render — kept in its frame's history, broadcast once to the
// whole room — and to a failed one; frame statuses; pins; and the replay a newcomer asks for.
import { EV, RENDER_HISTORY_LENGTH, REPLAY_MAX_BYTES, type AckFields, type ErrorEvent, type FramePin, type FrameReplay, type FrameStatus, type PinAck, type ReplayedRender, type RenderResult, type RendersReplayAck } from '../../lib/protocol';
import type { Logger } from '../logger';
import { ClientError } from '../socket/ClientError';
import { EngineRenderError, inferenceMs, type EngineRenderOutput } from '../engine/EngineHost';
import type { CrashQuarantine } from './CrashQuarantine';
import type { HistoryBudget } from './HistoryBudget';
import type { PinnedRenders } from './PinnedRenders';
import { errorMessage, type JobTiming } from './FrameQueue';
import { clientSafeMessage } from '../http/clientSafeMessage';
import { publicEngineStatus, type Broadcaster, type KeptRender, type RenderEngine, type RenderQueue, type RenderSlot, type SnapshotJob } from './renderState';

/** A render made by a render worker (cluster mode): every node delivers it to its own sockets. */
export interface WorkerRender {
  worker: string;
  model: string;
}

const round1 = (ms: number) => Math.round(ms * 10) / 10;

export class RenderDelivery {
  constructor(
    private readonly queue: RenderQueue,
    private readonly engine: RenderEngine,
    private readonly pins: PinnedRenders,
    private readonly send: Broadcaster,
    private readonly history: HistoryBudget,
    private readonly quarantine: CrashQuarantine,
    private readonly log: Logger,
  ) {}

  /** A render finished: keep it and send it to everyone in the room, encoded once. */
  delivered(job: SnapshotJob, out: EngineRenderOutput, timing: JobTiming, by?: WorkerRender): void {
    // the frame was deleted (or its room forgotten) while this render ran: nobody wants it
    const slot = this.queue.peek(job.roomId, job.frameId);
    if (!slot) return;
    const renderedAt = Date.now();
    const result: RenderResult = {
      roomId: job.roomId,
      frameId: job.frameId,
      seq: job.seq,
      ...(job.sourceClient !== undefined && { sourceClient: job.sourceClient }),
      ...(job.sentAt !== undefined && { sentAt: job.sentAt }),
      mime: 'image/jpeg',
      image: out.jpeg,
      width: out.width,
      height: out.height,
      seed: out.params.seed,
      // several models here (ModelEngines): the output names the one that rendered
      model: by?.model ?? out.model ?? this.engine.status.model ?? '',
      ...(by && { worker: by.worker }),
      timings: { queueMs: Math.round(timing.queueMs), inferenceMs: Math.round(inferenceMs(out.timings)), totalMs: renderedAt - job.receivedAt },
      renderedAt,
    };
    this.history.keep(slot, { result, stages: { decodeMs: round1(job.image.decodeMs + out.timings.decodeMs), encodeMs: round1(out.timings.encodeMs) } });
    if (by) this.send.localRoom(job.roomId, EV.render, result);
    else this.send.room(job.roomId, EV.render, result);
  }

  failed(job: SnapshotJob, err: unknown): void {
    const code = err instanceof EngineRenderError ? err.code : undefined;
    const message = clientSafeMessage(err);
    const slot = this.queue.peek(job.roomId, job.frameId);
    if (code === 'ENGINE_CRASHED' && slot) {
      this.quarantine.crashed(job.roomId, slot);
      const paused = this.quarantine.refusal(job.roomId, slot);
      if (paused) this.log.warn({ roomId: job.roomId, frameId: job.frameId, seq: job.seq }, `render quarantined: ${paused}`);
    }
    if (code === 'INVALID_IMAGE' && job.sourceClient) {
      // the sender's image, not the engine, is at fault: tell the sender
      this.send.socket(job.sourceClient, EV.error, {
        code: 'bad-image',
        message,
        event: EV.snapshot,
        roomId: job.roomId,
        frameId: job.frameId,
      } satisfies ErrorEvent);
    } else {
      this.log.warn({ roomId: job.roomId, frameId: job.frameId, seq: job.seq, code, err: errorMessage(err) }, 'render failed');
    }
  }

  /** A frame's state for the whole room; while the frame names a model other than the loaded one,
   * every status says so (unless it carries a message of its own, e.g. a render error). */
  status(roomId: string, frameId: string, state: FrameStatus['state'], message?: string, local = false): void {
    const text = (message && clientSafeMessage(message)) ?? this.queue.peek(roomId, frameId)?.data.modelNote;
    const status = { roomId, frameId, state, ...(text && { message: text }) } satisfies FrameStatus;
    if (local) this.send.localRoom(roomId, EV.frameStatus, status);
    else this.send.room(roomId, EV.frameStatus, status);
  }

  /** A frame that names another model than the loaded one still renders, with the loaded model —
   * a room must never be stuck on a setting — and its status says which model and how to get the
   * one it asked for. Sent at once when that note appears, changes or goes away. */
  noteModel(roomId: string, slot: RenderSlot, wanted: string): void {
    const w = wanted.trim();
    const loaded = this.engine.status.model;
    const note = this.engine.refusal
      ? (this.engine.refusal(w) ?? undefined)
      : w && loaded && w !== loaded
        ? `this frame asks for model '${w}' but this server runs '${loaded}', so it renders with '${loaded}'; start the server with MODEL=${w} to use '${w}'`
        : undefined;
    if (slot.data.modelNote === note) return;
    slot.data.modelNote = note;
    this.status(roomId, slot.frameId, slot.state);
  }

  /** Stores a render as an asset. The client then places an image shape with the returned URL and,
   * in the same document change, gives the frame a new seed (see docs/protocol.md "Pinning"). */
  async pin(msg: FramePin): Promise<AckFields<PinAck>> {
    const renders = this.queue.peek(msg.roomId, msg.frameId)?.data.renders ?? [];
    const kept = renders.find((k) => k.result.seq === msg.seq);
    const r = kept?.result;
    if (!kept || !r) {
      throw new ClientError(
        'unknown-frame',
        renders.length
          ? `${EV.pin}: render ${msg.seq} of frame ${msg.frameId} is no longer kept (kept: ${renders[0].result.seq}…${renders.at(-1)!.result.seq})`
          : `${EV.pin}: frame ${msg.frameId} has no renders yet`,
      );
    }
    this.history.touch(kept);
    const { roomId, frameId, seq, width, height, seed, model } = r;
    const assetId = await this.pins.put({ roomId, frameId, seq, width, height, seed, model, jpeg: r.image });
    return { assetId, url: `/api/assets/${roomId}/${assetId}.jpg`, width, height, mime: 'image/jpeg', seed };
  }

  /** What a newcomer needs: the engine status, every frame's state and its kept renders — the
   * newest of each frame first, then older ones, newest first, while the JPEGs stay under
   * REPLAY_MAX_BYTES — with the JPEGs in one buffer. */
  replay(roomId: string, maxBytes = REPLAY_MAX_BYTES): AckFields<RendersReplayAck> {
    const slots = this.queue.frames(roomId);
    const chosen = new Map<RenderSlot, KeptRender[]>(slots.map((s) => [s, []]));
    let bytes = 0;
    for (let back = 1; back <= RENDER_HISTORY_LENGTH; back++) {
      for (const s of slots) {
        const k = s.data.renders.at(-back);
        if (!k || bytes + k.result.image.byteLength > Math.min(maxBytes, REPLAY_MAX_BYTES)) continue;
        bytes += k.result.image.byteLength;
        chosen.get(s)!.unshift(k);
      }
    }
    const images = new Uint8Array(bytes);
    let at = 0;
    const frames: FrameReplay[] = slots.map((s) => {
      const renders = chosen.get(s)!.map((k): ReplayedRender => {
        this.history.touch(k);
        const { image, ...rest } = k.result;
        images.set(image, at);
        at += image.byteLength;
        return { ...rest, image: [at - image.byteLength, at] };
      });
      const message = s.data.modelNote;
      return { frameId: s.frameId, state: s.state, ...(message && { message }), renders };
    });
    return { engine: publicEngineStatus(this.engine.status), frames, ...(bytes > 0 && { images }) };
  }
}
