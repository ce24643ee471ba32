// Kept renders cost memory for as long as they are kept, so every frame's history counts against
// one server-wide byte budget (RENDER_HISTORY_MB): a frame keeps at most its last
// RENDER_HISTORY_LENGTH renders, and past the budget the least recently used renders go first,
// whatever room they are in (a closed room's are the first to go: nobody touches them).
import { RENDER_HISTORY_LENGTH } from '../../lib/protocol';
import type { KeptRender, RenderSlot } from './renderState';

export class HistoryBudget {
  /** every kept render and its frame, least recently used first (Map keeps insertion order) */
  private readonly lru = new Map<KeptRender, RenderSlot>();
  private bytes = 0;

  constructor(readonly limitBytes: number) {}

  /** JPEG bytes kept now, over all frames. */
  get usedBytes(): number {
    return this.bytes;
  }

  /** Keeps a new render in its frame's history. */
  keep(slot: RenderSlot, kept: KeptRender): void {
    const renders = slot.data.renders;
    renders.push(kept);
    this.lru.set(kept, slot);
    this.bytes += kept.result.image.byteLength;
    while (renders.length > RENDER_HISTORY_LENGTH) this.drop(renders[0]!);
    for (const oldest of this.lru.keys()) {
      if (this.bytes <= this.limitBytes) break;
      this.drop(oldest);
    }
  }

  /** A render was used (pinned, replayed, fetched): it goes to the back of the eviction line. */
  touch(kept: KeptRender): void {
    const slot = this.lru.get(kept);
    if (!slot) return;
    this.lru.delete(kept);
    this.lru.set(kept, slot);
  }

  /** The frame is gone (deleted, or its room forgotten): its renders no longer count. */
  forget(slot: RenderSlot): void {
    for (const kept of slot.data.renders) {
      if (this.lru.delete(kept)) this.bytes -= kept.result.image.byteLength;
    }
    slot.data.renders.length = 0;
  }

  private drop(kept: KeptRender): void {
    const slot = this.lru.get(kept);
    if (!slot) return;
    this.lru.delete(kept);
    this.bytes -= kept.result.image.byteLength;
    const renders = slot.data.renders;
    const i = renders.indexOf(kept);
    if (i >= 0) renders.splice(i, 1);
  }
}
