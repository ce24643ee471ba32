// Paces work per frame: at most one run per interval while changes keep coming, never two runs of
// the same frame at once, and always one more run after the last change (the trailing edge), so
// the final state of a stroke is what gets rendered.

export interface PacerClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: PacerClock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

interface Slot {
  dirty: boolean;
  running: boolean;
  lastStart: number;
  timer: unknown | null;
}

export class FramePacer {
  private readonly slots = new Map<string, Slot>();
  private disposed = false;

  constructor(
    private readonly run: (key: string) => Promise<void> | void,
    private readonly minIntervalMs: number,
    private readonly clock: PacerClock = realClock,
  ) {}

  /** Something about `key` changed; it will be run now or as soon as the interval allows. */
  mark(key: string): void {
    if (this.disposed) return;
    let slot = this.slots.get(key);
    if (!slot) {
      slot = { dirty: false, running: false, lastStart: -Infinity, timer: null };
      this.slots.set(key, slot);
    }
    slot.dirty = true;
    this.schedule(key, slot);
  }

  /** Whether `key` has a change waiting or a run in progress. */
  isBusy(key: string): boolean {
    const s = this.slots.get(key);
    return !!s && (s.dirty || s.running);
  }

  forget(key: string): void {
    const s = this.slots.get(key);
    if (s?.timer != null) this.clock.clearTimeout(s.timer);
    this.slots.delete(key);
  }

  dispose(): void {
    this.disposed = true;
    for (const key of [...this.slots.keys()]) this.forget(key);
  }

  private schedule(key: string, slot: Slot): void {
    // A run in progress or a pending timer picks the change up when it finishes.
    if (slot.running || slot.timer != null || !slot.dirty) return;
    const wait = slot.lastStart + this.minIntervalMs - this.clock.now();
    if (wait <= 0) {
      void this.start(key, slot);
      return;
    }
    slot.timer = this.clock.setTimeout(() => {
      slot.timer = null;
      if (this.slots.get(key) === slot) this.schedule(key, slot);
    }, wait);
  }

  private async start(key: string, slot: Slot): Promise<void> {
    slot.dirty = false;
    slot.running = true;
    slot.lastStart = this.clock.now();
    try {
      await this.run(key);
    } catch (e) {
      console.error(`[livecanvas] run for ${key} failed:`, e);
    } finally {
      slot.running = false;
      if (!this.disposed && this.slots.get(key) === slot) this.schedule(key, slot);
    }
  }
}
