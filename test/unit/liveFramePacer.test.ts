import { describe, expect, it } from 'vitest';
import { FramePacer } from '../../app/live/framePacer';
import { flushMicrotasks as flush, ManualClock } from '../helpers/manualClock';


describe('FramePacer', () => {
  it('runs at once, then at most once per interval while marks keep coming, then a trailing run', async () => {
    const clock = new ManualClock();
    const runs: number[] = [];
    const pacer = new FramePacer(() => void runs.push(clock.t), 50, clock);
    // a stroke: a change every 10 ms for 200 ms
    for (let t = 0; t <= 200; t += 10) {
      pacer.mark('f');
      await clock.advance(10);
    }
    await clock.advance(500);
    expect(runs[0]).toBe(0);
    for (let i = 1; i < runs.length; i++) expect(runs[i] - runs[i - 1]).toBeGreaterThanOrEqual(50);
    // the last mark was at t=200, so there must be a run at or after it
    expect(runs[runs.length - 1]).toBeGreaterThanOrEqual(200);
    expect(runs.length).toBeLessThanOrEqual(6);
    expect(clock.pending).toBe(0);
  });

  it('a single change runs exactly once', async () => {
    const clock = new ManualClock();
    let n = 0;
    const pacer = new FramePacer(() => void n++, 50, clock);
    pacer.mark('f');
    await clock.advance(1000);
    expect(n).toBe(1);
  });

  it('never overlaps runs of one key and picks up changes made during a slow run', async () => {
    const clock = new ManualClock();
    let active = 0;
    let maxActive = 0;
    let n = 0;
    let release: (() => void) | null = null;
    const pacer = new FramePacer(
      () =>
        new Promise<void>((resolve) => {
          active++;
          maxActive = Math.max(maxActive, active);
          n++;
          release = () => {
            active--;
            resolve();
          };
        }),
      50,
      clock,
    );
    pacer.mark('f');
    await flush();
    expect(n).toBe(1);
    pacer.mark('f');
    pacer.mark('f');
    await clock.advance(200); // the first run is still busy: no second run yet
    expect(n).toBe(1);
    expect(pacer.isBusy('f')).toBe(true);
    release!();
    await flush();
    expect(n).toBe(2); // the interval has passed, so the trailing run starts right away
    release!();
    await clock.advance(200);
    expect(n).toBe(2);
    expect(maxActive).toBe(1);
    expect(pacer.isBusy('f')).toBe(false);
  });

  it('paces keys independently and stops after dispose', async () => {
    const clock = new ManualClock();
    const runs: string[] = [];
    const pacer = new FramePacer((k) => void runs.push(k), 50, clock);
    pacer.mark('a');
    pacer.mark('b');
    await flush();
    expect(runs).toEqual(['a', 'b']);
    pacer.mark('a');
    pacer.dispose();
    await clock.advance(500);
    expect(runs).toEqual(['a', 'b']);
    expect(clock.pending).toBe(0);
  });

  it('keeps going when a run throws', async () => {
    const clock = new ManualClock();
    let n = 0;
    const orig = console.error;
    console.error = () => {};
    try {
      const pacer = new FramePacer(() => {
        n++;
        throw new Error('capture failed');
      }, 50, clock);
      pacer.mark('f');
      await clock.advance(60);
      pacer.mark('f');
      await clock.advance(60);
      expect(n).toBe(2);
    } finally {
      console.error = orig;
    }
  });
});
