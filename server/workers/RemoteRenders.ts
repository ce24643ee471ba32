// A web node's side of the render workers (cluster mode): snapshots its clients send go to the
// cluster-wide queue (WorkQueue.submit, latest wins there), and what the workers publish — frame
// states, renders, failures — is delivered by every node to its own sockets in the room and kept
// in the frame's history, so each client gets each render exactly once, whichever node it is on.
import type Redis from 'ioredis';
import { EngineRenderError } from '../engine/EngineHost';
import type { Logger } from '../logger';
import type { RenderLoop } from '../render/RenderLoop';
import type { SnapshotJob } from '../render/renderState';
import { decodeFrame, frameKey, splitFrameKey, type JobHeader, type QueueMessage } from './jobCodec';
import type { WorkerPool } from './WorkerPool';
import { RESULTS_CHANNEL, type WorkQueue } from './WorkQueue';

export class RemoteRenders {
  private loop: RenderLoop | null = null;

  constructor(
    private readonly queue: WorkQueue,
    readonly pool: WorkerPool,
    private readonly sub: Redis,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {}

  /** Listen to the workers; `loop` is the node's render loop (its slots, history and delivery). */
  async start(loop: RenderLoop): Promise<void> {
    this.loop = loop;
    this.sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
      if (channel.toString() === RESULTS_CHANNEL) this.onMessage(message);
    });
    await this.sub.subscribe(RESULTS_CHANNEL);
  }

  /** FrameQueue's `dispatch`: an accepted snapshot goes to the cluster-wide queue. */
  dispatch(job: SnapshotJob): void {
    const model = this.loop?.queue.peek(job.roomId, job.frameId)?.data.wantedModel ?? '';
    const refusal = this.pool.refusal(model);
    if (refusal) {
      this.loop?.delivery.status(job.roomId, job.frameId, 'no-model', refusal);
      return;
    }
    const header: JobHeader = {
      roomId: job.roomId,
      frameId: job.frameId,
      seq: job.seq,
      settings: job.settings,
      width: job.image.rgb.width,
      height: job.image.rgb.height,
      receivedAt: job.receivedAt,
      decodeMs: job.image.decodeMs,
      ...(job.sourceClient !== undefined && { sourceClient: job.sourceClient }),
      ...(job.sentAt !== undefined && { sentAt: job.sentAt }),
      node: this.nodeId,
    };
    this.queue.submit(header, job.image.rgb.data, model).then(
      (outcome) => {
        if (outcome === 'busy') {
          this.loop?.delivery.status(job.roomId, job.frameId, 'queued', 'the render workers have a full queue of snapshots (RENDER_PENDING_MB, cluster-wide); the next one you draw is taken once renders catch up');
        }
      },
      (err: Error) => {
        this.log.warn({ err: err.message, room: job.roomId, frame: job.frameId }, 'could not queue the snapshot');
        this.loop?.delivery.status(job.roomId, job.frameId, 'error', 'the render queue is unreachable right now; keep drawing, the next snapshot is tried again');
      },
    );
  }

  /** A deleted frame: its waiting snapshot is not rendered for nobody. */
  forget(roomId: string, frameId: string): void {
    void this.queue.drop([frameKey(roomId, frameId)]).catch(() => {});
  }

  private onMessage(raw: Buffer): void {
    const loop = this.loop;
    if (!loop) return;
    let msg: QueueMessage, bytes: Uint8Array;
    try {
      ({ header: msg, bytes } = raw[0] === 0x7b ? { header: JSON.parse(raw.toString()) as QueueMessage, bytes: new Uint8Array(0) } : decodeFrame<QueueMessage>(raw));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'unreadable message from the render workers');
      return;
    }
    const { roomId, frameId } = splitFrameKey(msg.fk);
    // nobody here is in that room, or the frame was deleted meanwhile
    if (!loop.hasFrame(roomId, frameId)) return;
    loop.queue.frame(roomId, frameId);
    if (msg.t === 'state') {
      loop.delivery.status(roomId, frameId, msg.state, msg.message ?? (msg.worker ? `rendering on ${msg.worker}` : undefined), true);
      return;
    }
    const job: SnapshotJob = {
      ...msg.job,
      image: { rgb: { data: new Uint8Array(0), width: 0, height: 0 }, decodeMs: msg.job.decodeMs },
    };
    if (msg.t === 'failed') {
      loop.delivery.status(roomId, frameId, 'error', msg.message, true);
      if (msg.job.node === this.nodeId) loop.delivery.failed(job, new EngineRenderError(msg.message, msg.code));
      return;
    }
    const timing = { queueMs: Math.max(0, msg.startedAt - msg.job.receivedAt), runMs: msg.finishedAt - msg.startedAt, startedAt: msg.startedAt, finishedAt: msg.finishedAt };
    loop.delivery.delivered(job, { jpeg: bytes, width: msg.width, height: msg.height, params: msg.params, timings: msg.timings }, timing, { worker: msg.worker, model: msg.model });
    loop.delivery.status(roomId, frameId, 'idle', undefined, true);
  }
}
