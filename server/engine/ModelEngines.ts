// Several models on one machine (MODELS=a,b): one EngineHost per model, each with its own engine
// workers, behind the one interface the render loop uses. A frame renders with the model it names;
// '' (the default) takes the first. A frame naming a model that is not loaded gets a clear status
// and no render (RenderLoop's noteModel), never a silent substitute.
//
// The render queue runs up to (models × RENDER_CONCURRENCY) renders at once; a render for a model
// whose workers are all busy waits here, in arrival order, for one of them (the queue's latest-wins
// slot in front of it still holds only the newest snapshot of each frame).
import type { EngineStatus } from '../../lib/protocol';
import type { RgbImage } from '../../lib/image/rgb';
import type { RenderEngine } from '../render/renderState';
import { EngineHost, EngineRenderError, type EngineConfig, type EngineRenderOutput } from './EngineHost';
import type { RenderParams } from './messages';

export class ModelEngines implements RenderEngine {
  readonly hosts: Map<string, EngineHost>;
  private readonly waiting = new Map<string, Array<() => void>>();
  private readonly busy = new Map<string, number>();
  private readonly listeners = new Set<(s: EngineStatus) => void>();

  constructor(
    readonly models: string[],
    base: Omit<EngineConfig, 'model'>,
  ) {
    this.hosts = new Map(models.map((m) => [m, new EngineHost({ ...base, model: m })]));
    for (const host of this.hosts.values()) host.onStatus(() => this.emit());
  }

  get status(): EngineStatus {
    const all = [...this.hosts.values()].map((h) => h.status);
    const ready = all.filter((s) => s.state === 'ready');
    if (ready.length === all.length) {
      return { state: 'ready', model: ready.map((s) => s.model).join(', '), executionProvider: ready[0]!.executionProvider };
    }
    const loading = all.find((s) => s.state === 'loading');
    if (loading) return { state: 'loading', model: this.models.join(', ') };
    const bad = all.find((s) => s.state !== 'ready')!;
    // some models serve: the room is usable, the status says which one failed
    return ready.length
      ? { state: 'ready', model: ready.map((s) => s.model).join(', '), message: bad.message }
      : bad;
  }

  onStatus(fn: (s: EngineStatus) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async start(): Promise<EngineStatus> {
    await Promise.all([...this.hosts.values()].map((h) => h.start()));
    return this.status;
  }

  /** The loaded model a frame naming `wanted` renders with, or null when none is loaded under that name. */
  pick(wanted: string | undefined): string | null {
    const w = (wanted ?? '').trim();
    if (!w) return this.models[0]!;
    for (const [name, host] of this.hosts) if (name === w || host.status.model === w) return name;
    return null;
  }

  /** Why a frame naming `wanted` does not render here, or null. */
  refusal(wanted: string | undefined): string | null {
    if (this.pick(wanted) !== null) return null;
    return `this server does not run model '${(wanted ?? '').trim()}' (it runs ${this.models.join(', ')}); pick one of those, or start it with MODELS=${[...this.models, (wanted ?? '').trim()].join(',')}`;
  }

  async render(image: Uint8Array | RgbImage, params: RenderParams, culprit = '', wanted?: string): Promise<EngineRenderOutput> {
    const model = this.pick(wanted);
    if (model === null) throw new EngineRenderError(this.refusal(wanted)!, 'NO_SUCH_MODEL');
    const host = this.hosts.get(model)!;
    await this.turn(model, host.config.workers);
    try {
      return { ...(await host.render(image, params, culprit)), model: host.status.model ?? model };
    } finally {
      this.release(model);
    }
  }

  async stop(): Promise<void> {
    await Promise.all([...this.hosts.values()].map((h) => h.stop()));
  }

  /** Wait until one of the model's `workers` is free, then hold it. */
  private async turn(model: string, workers: number): Promise<void> {
    if ((this.busy.get(model) ?? 0) < workers) {
      this.busy.set(model, (this.busy.get(model) ?? 0) + 1);
      return;
    }
    await new Promise<void>((resolve) => {
      const list = this.waiting.get(model) ?? [];
      list.push(resolve);
      this.waiting.set(model, list);
    });
  }

  private release(model: string): void {
    const next = this.waiting.get(model)?.shift();
    if (next) next(); // the held worker passes to the next render of this model
    else this.busy.set(model, (this.busy.get(model) ?? 1) - 1);
  }

  private emit(): void {
    const s = this.status;
    for (const fn of this.listeners) fn(s);
  }
}
