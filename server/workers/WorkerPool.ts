// A web node's view of the render workers (cluster mode): who is alive and which models they
// serve, read from their advertisements in Redis every second. It stands in for the engine in the
// render loop: 'ready' while at least one worker is alive, 'no-model' with what to do otherwise.
import type { EngineStatus } from '../../lib/protocol';
import type { RenderEngine } from '../render/renderState';
import type { WorkQueue, WorkerAdvert } from './WorkQueue';

const POLL_MS = 1_000;

export class WorkerPool implements RenderEngine {
  private live: WorkerAdvert[] = [];
  private statusNow: EngineStatus = { state: 'loading', message: 'looking for render workers' };
  private readonly listeners = new Set<(s: EngineStatus) => void>();
  private readonly timer: NodeJS.Timeout;
  private depthNow: Record<string, number> = {};

  constructor(private readonly queue: WorkQueue) {
    this.timer = setInterval(() => void this.poll(), POLL_MS);
    this.timer.unref();
    void this.poll();
  }

  get status(): EngineStatus {
    return this.statusNow;
  }

  onStatus(fn: (s: EngineStatus) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** The live workers, for /healthz. */
  workers(): WorkerAdvert[] {
    return this.live;
  }

  /** Waiting jobs per model, for /healthz. */
  depth(): Record<string, number> {
    return this.depthNow;
  }

  /** The models some live worker serves. */
  models(): string[] {
    return [...new Set(this.live.flatMap((w) => w.models))].sort();
  }

  /** Why a frame naming `model` cannot render now, or null. An empty name means any model. */
  refusal(model: string): string | null {
    const wanted = model.trim();
    if (this.live.length === 0) return 'no render worker is running; start one with `npm run worker` (docs/deploy.md "Render workers")';
    if (!wanted || this.live.some((w) => w.models.includes(wanted))) return null;
    return `no render worker serves model '${wanted}' (running: ${this.models().join(', ')}); start one with MODEL=${wanted} npm run worker, or pick one of those`;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async poll(): Promise<void> {
    try {
      [this.live, this.depthNow] = await Promise.all([this.queue.workers(), this.queue.depth()]);
      await this.queue.reap();
    } catch {
      return; // Redis away: keep the last view; ClusterLink reports the outage
    }
    const models = this.models();
    const next: EngineStatus = this.live.length
      ? { state: 'ready', model: models.join(', '), executionProvider: [...new Set(this.live.map((w) => w.executionProvider))].join(', ') }
      : { state: 'no-model', message: this.refusal('')! };
    if (next.state === this.statusNow.state && next.model === this.statusNow.model && next.message === this.statusNow.message) return;
    this.statusNow = next;
    for (const fn of this.listeners) fn(next);
  }
}
