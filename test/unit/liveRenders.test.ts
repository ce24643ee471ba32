import { describe, expect, it } from 'vitest';
import { react } from 'tldraw';
import { frameNotice, LiveRenders, isNewerRender, readEngineStatus } from '../../app/live/liveRenders';
import type { RenderResult } from '../../lib/protocol/events';

const JPEG = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);

function render(seq: number, renderedAt: number, extra: Partial<RenderResult> = {}): RenderResult {
  return {
    roomId: 'room-abcdefghij',
    frameId: 'shape:f1',
    seq,
    mime: 'image/jpeg',
    image: JPEG,
    width: 256,
    height: 256,
    seed: 7,
    model: 'tiny-lcm',
    timings: { queueMs: 5, inferenceMs: 100, totalMs: 120 },
    renderedAt,
    ...extra,
  };
}

function makeStore(historyLength = 20) {
  let t = 10_000;
  const revoked: string[] = [];
  let n = 0;
  const store = new LiveRenders({
    historyLength,
    now: () => t,
    createUrl: () => `blob:test/${++n}`,
    revokeUrl: (u) => revoked.push(u),
  });
  return { store, revoked, setNow: (v: number) => (t = v) };
}

describe('LiveRenders', () => {
  it('shows the newest render and drops renders older than the one on screen', () => {
    const { store } = makeStore();
    expect(store.shown('shape:f1')).toBeNull();
    expect(store.addRender(render(5, 1000))).toBe(true);
    expect(store.addRender(render(9, 1100))).toBe(true);
    // finished earlier on the server (e.g. another client's older snapshot): dropped
    expect(store.addRender(render(12, 1050))).toBe(false);
    // same server time, lower seq: dropped
    expect(store.addRender(render(8, 1100))).toBe(false);
    expect(store.shown('shape:f1')?.seq).toBe(9);
    expect(store.get('shape:f1').history.map((e) => e.seq)).toEqual([5, 9]);
  });

  it('keeps a real blob: URL of the JPEG by default', async () => {
    const store = new LiveRenders();
    store.addRender(render(1, 1));
    const url = store.shown('shape:f1')!.url;
    expect(url.startsWith('blob:')).toBe(true);
    store.dispose();
  });

  it('measures latency from our own sentAt, and uses the server total for others', () => {
    const { store, setNow } = makeStore();
    setNow(5000);
    store.addRender(render(1, 1, { sourceClient: 'me', sentAt: 4700 }), 'me');
    expect(store.shown('shape:f1')).toMatchObject({ latencyMs: 300, latencySource: 'own' });
    store.addRender(render(2, 2, { sourceClient: 'other', sentAt: 1 }), 'me');
    expect(store.shown('shape:f1')).toMatchObject({ latencyMs: 120, latencySource: 'server' });
  });

  it('keeps the last N renders, revoking the URLs it drops', () => {
    const { store, revoked } = makeStore(3);
    for (let i = 1; i <= 5; i++) store.addRender(render(i, i));
    expect(store.get('shape:f1').history.map((e) => e.seq)).toEqual([3, 4, 5]);
    expect(revoked).toEqual(['blob:test/1', 'blob:test/2']);
  });

  it('steps back and forth through history and follows new renders again at the end', () => {
    const { store } = makeStore(3);
    for (let i = 1; i <= 3; i++) store.addRender(render(i, i));
    store.step('shape:f1', -1);
    expect(store.shown('shape:f1')?.seq).toBe(2);
    store.step('shape:f1', -5);
    expect(store.shown('shape:f1')?.seq).toBe(1);
    // a new render while looking back: the view stays on the same picture as history shifts
    store.addRender(render(4, 4));
    expect(store.shown('shape:f1')?.seq).toBe(2);
    store.step('shape:f1', 1);
    expect(store.shown('shape:f1')?.seq).toBe(3);
    store.step('shape:f1', 1);
    expect(store.get('shape:f1').viewIndex).toBeNull();
    store.addRender(render(5, 5));
    expect(store.shown('shape:f1')?.seq).toBe(5);
  });

  it('keeps drafts out of the history: removed when held, skipped when they come later or in a replay', () => {
    const { store, revoked } = makeStore();
    store.addRender(render(1, 1));
    store.addRender(render(2, 2));
    store.drop('shape:f1', 2);
    expect(store.get('shape:f1').history.map((e) => e.seq)).toEqual([1]);
    expect(revoked).toEqual(['blob:test/2']);
    store.drop('shape:f1', 3); // superseded before its render arrived
    expect(store.addRender(render(3, 3))).toBe(false);
    expect(store.addRender(render(4, 4))).toBe(true);
    expect(store.addPast('shape:f1', [render(2, 2), render(3, 3)])).toBe(0);
    expect(store.get('shape:f1').history.map((e) => e.seq)).toEqual([1, 4]);
  });

  it('counts renders per second over the last 3 s', () => {
    const { store, setNow } = makeStore();
    for (let i = 0; i < 6; i++) {
      setNow(10_000 + i * 500);
      store.addRender(render(i + 1, i + 1));
    }
    expect(store.fps('shape:f1', 12_600)).toBeCloseTo(2, 5); // arrivals at 10.0–12.5 s
    expect(store.fps('shape:f1', 20_000)).toBe(0);
  });

  it('is reactive: a tldraw reactor sees new renders and status changes', () => {
    const { store } = makeStore();
    const seen: (number | undefined)[] = [];
    const states: (string | undefined)[] = [];
    const stop = react('watch', () => {
      seen.push(store.shown('shape:f1')?.seq);
      states.push(store.get('shape:f1').status?.state);
    });
    store.addRender(render(3, 3));
    store.setStatus({ frameId: 'shape:f1', state: 'rendering' });
    stop();
    expect(seen).toEqual([undefined, 3, 3]);
    expect(states).toEqual([undefined, undefined, 'rendering']);
  });

  it('isNewerRender orders by server time first', () => {
    expect(isNewerRender({ renderedAt: 2, seq: 1 }, { renderedAt: 1, seq: 100 })).toBe(true);
    expect(isNewerRender({ renderedAt: 1, seq: 100 }, { renderedAt: 2, seq: 1 })).toBe(false);
    expect(isNewerRender({ renderedAt: 1, seq: 1 }, undefined)).toBe(true);
  });

  it("merges a late joiner's fetched history with renders already received, oldest first", () => {
    const { store, revoked } = makeStore(5);
    // the newest render arrived over the socket before the history came back over HTTP
    store.addRender(render(9, 900));
    const added = store.addPast('shape:f1', [render(3, 300), render(9, 900), render(5, 500), render(7, 700)]);
    expect(added).toBe(3);
    expect(store.get('shape:f1').history.map((e) => e.seq)).toEqual([3, 5, 7, 9]);
    expect(store.shown('shape:f1')?.seq).toBe(9);
    store.step('shape:f1', -3);
    expect(store.shown('shape:f1')?.seq).toBe(3);
    // past renders do not count as arrivals (renders/s)
    expect(store.get('shape:f1').arrivals).toHaveLength(1);

    // more than the history holds: the oldest go, the picture being looked at stays
    store.step('shape:f1', 1); // on seq 5
    store.addPast('shape:f1', [render(1, 100), render(2, 200), render(8, 800)]);
    expect(store.get('shape:f1').history.map((e) => e.seq)).toEqual([3, 5, 7, 8, 9]);
    expect(store.shown('shape:f1')?.seq).toBe(5);
    expect(revoked).toHaveLength(2);
    expect(store.addPast('shape:f1', [])).toBe(0);
  });

  it('a frame:status message that is not a failure is a notice; a failure is not', () => {
    const { store } = makeStore();
    const note = "this frame asks for model 'sd-turbo' but this server runs 'tiny-lcm', so it renders with 'tiny-lcm'";
    store.setStatus({ frameId: 'shape:f1', state: 'rendering', message: note });
    expect(frameNotice(store.get('shape:f1'))).toBe(note);
    store.setStatus({ frameId: 'shape:f1', state: 'idle', message: note });
    expect(frameNotice(store.get('shape:f1'))).toBe(note);
    // the note went away (the frame's model was changed back)
    store.setStatus({ frameId: 'shape:f1', state: 'idle' });
    expect(frameNotice(store.get('shape:f1'))).toBeNull();
    // an error is the state line, not a notice
    store.setStatus({ frameId: 'shape:f1', state: 'error', message: 'bad image' });
    expect(frameNotice(store.get('shape:f1'))).toBeNull();
  });

  it('reads engine:status with the optional warmupMs, and rejects malformed ones', () => {
    expect(readEngineStatus({ state: 'ready', model: 'tiny-lcm', loadMs: 1200, warmupMs: 400 })).toEqual({
      state: 'ready',
      model: 'tiny-lcm',
      loadMs: 1200,
      warmupMs: 400,
    });
    expect(readEngineStatus({ state: 'ready', loadMs: 5 })).toEqual({ state: 'ready', loadMs: 5 });
    expect(readEngineStatus({ state: 'bogus' })).toBeNull();
    expect(readEngineStatus(null)).toBeNull();
  });
});
