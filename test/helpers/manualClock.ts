// A manual clock for code that takes a PacerClock: time only moves when the test says so, timers
// fire in order, and promise continuations run between them.
import type { PacerClock } from '../../app/live/framePacer';

/** Lets the promise chains a timer started settle before the next timer fires. */
export const flushMicrotasks = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

export class ManualClock implements PacerClock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  now() {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number) {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimeout(id: unknown) {
    this.timers = this.timers.filter((x) => x.id !== id);
  }
  get pending() {
    return this.timers.length;
  }
  async advance(ms: number) {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
      await flushMicrotasks();
    }
    this.t = end;
    await flushMicrotasks();
  }
}
