import { describe, expect, it } from 'vitest';
import { describeEngineLoad, describeState, NO_MODEL_HINT } from '../../app/live/LiveFrameHud';
import type { FrameRenders } from '../../app/live/liveRenders';

const frame = (over: Partial<FrameRenders> = {}): FrameRenders => ({
  history: [],
  viewIndex: null,
  status: null,
  arrivals: [],
  ...over,
});

describe('HUD state line', () => {
  it("shows the server's no-model message, or the download hint when it sent none", () => {
    const msg = 'no model installed — run `npm run models:download -- lcm-dreamshaper-v7`';
    expect(describeState({ state: 'no-model', message: msg }, frame(), true)).toEqual({ text: msg, tone: 'error' });
    expect(describeState({ state: 'no-model' }, frame(), true).text).toBe(NO_MODEL_HINT);
    expect(describeState({ state: 'ready' }, frame({ status: { state: 'no-model' } }), true).text).toBe(NO_MODEL_HINT);
  });

  it('reports offline before anything the engine says', () => {
    expect(describeState({ state: 'ready' }, frame(), false).tone).toBe('warn');
  });

  it('follows the frame: rendering, queued, error with its message, idle', () => {
    const ready = { state: 'ready' as const, model: 'tiny-lcm' };
    expect(describeState(ready, frame({ status: { state: 'rendering' } }), true)).toEqual({ text: 'rendering', tone: 'busy' });
    expect(describeState(ready, frame({ status: { state: 'queued' } }), true).text).toBe('queued');
    expect(describeState(ready, frame({ status: { state: 'error', message: 'bad image' } }), true)).toEqual({
      text: 'bad image',
      tone: 'error',
    });
    expect(describeState(ready, frame(), true).text).toBe('draw to render');
    expect(describeState({ state: 'loading', model: 'sd-turbo' }, frame(), true).text).toBe('loading sd-turbo…');
  });

  it('after a crash shows why the engine is loading again, not just "loading"', () => {
    const crashed = { state: 'loading' as const, model: 'tiny-lcm', message: 'engine crashed (out of memory); reloading the model' };
    expect(describeState(crashed, frame(), true)).toEqual({ text: crashed.message, tone: 'busy' });
    const gaveUp = { state: 'error' as const, message: 'engine crashed repeatedly (x) — check the server log and restart it' };
    expect(describeState(gaveUp, frame(), true)).toEqual({ text: gaveUp.message, tone: 'error' });
  });
});

describe('HUD engine load line', () => {
  it('shows load time and, when the server reports it, warm-up time', () => {
    expect(describeEngineLoad({ state: 'ready', model: 'tiny-lcm', loadMs: 1234 })).toBe('tiny-lcm loaded in 1.2 s');
    expect(describeEngineLoad({ state: 'ready', model: 'sd-turbo', loadMs: 42_000, warmupMs: 3500 })).toBe(
      'sd-turbo loaded in 42 s (3.5 s of it warm-up)',
    );
    // a warm-up that rounds to 0.0 s is not worth a word
    expect(describeEngineLoad({ state: 'ready', model: 'tiny-lcm', loadMs: 1000, warmupMs: 20 })).toBe('tiny-lcm loaded in 1.0 s');
    expect(describeEngineLoad({ state: 'loading', model: 'sd-turbo' })).toBeNull();
    expect(describeEngineLoad(null)).toBeNull();
  });
});
