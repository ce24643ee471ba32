import { describe, expect, it } from 'vitest';
import { describeState, NO_MODEL_HINT } from '../../app/live/LiveFrameHud';
import type { FrameRenders } from '../../app/live/renderStore';

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
});
