// The snapshotter on a real (headless) tldraw editor with the live frame shape: what it sends to
// the server, when, and what it does with the server's answers. Time is a manual clock, the
// server is the `send` function answering like the real one does (see server/render).
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as IoServer } from 'socket.io';
import { io as ioClient, type Socket } from 'socket.io-client';
import { createShapeId, createTLStore, defaultBindingUtils, defaultShapeUtils, Editor, type TLShapeId } from 'tldraw';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LiveFrameShapeUtil } from '../../app/live/LiveFrameShapeUtil';
import { LiveSession, type RoomConnection } from '../../app/live/liveSession';
import { DRAFT_WINDOW_MS, LiveFrameSnapshotter, PROMPT_DEBOUNCE_MS, SNAPSHOT_RETRY_MS, type SnapshotMessage, type SnapshotterOptions } from '../../app/live/snapshotter';
import { collectFrameContent, frameContentHash, isLiveFrame } from '../../lib/canvas/liveFrameContent';
import { LIVE_FRAME_TYPE } from '../../lib/canvas/liveFrame';
import type { ConnectionStatus } from '../../lib/canvas/socketProvider';
import { EV, type EngineStatus, type SnapshotAck } from '../../lib/protocol/events';
import { SNAPSHOT_MIN_INTERVAL_MS } from '../../lib/protocol/limits';
import { flushMicrotasks as flush, ManualClock } from '../helpers/manualClock';
import { stubDom } from '../helpers/headlessDom';


let container: Record<string, unknown>;
beforeAll(() => {
  container = stubDom();
});

const editors: Editor[] = [];
const snapshotters: LiveFrameSnapshotter[] = [];
afterEach(() => {
  snapshotters.splice(0).forEach((s) => s.dispose());
  editors.splice(0).forEach((e) => e.dispose());
});

function newEditor(): Editor {
  const shapeUtils = [...defaultShapeUtils, LiveFrameShapeUtil];
  const editor = new Editor({
    store: createTLStore({ shapeUtils, bindingUtils: defaultBindingUtils }),
    shapeUtils,
    bindingUtils: defaultBindingUtils,
    tools: [],
    getContainer: () => container as unknown as HTMLElement,
  } as unknown as ConstructorParameters<typeof Editor>[0]);
  editors.push(editor);
  return editor;
}

const WALL_EPOCH = 1_800_000_000_000;

interface Sent extends SnapshotMessage {
  /** manual clock time when it reached the server */
  at: number;
}

/** An editor with one live frame holding one rectangle, already sent and accepted, and a
 * snapshotter whose server then answers with `answer` (the n-th snapshot from then on; accepted
 * by default). `sent` holds the snapshots sent after that settled start. */
async function setup(
  opts: { answer?: (s: Sent, n: number) => SnapshotAck | undefined } & Partial<SnapshotterOptions> = {},
) {
  const clock = (opts.clock as ManualClock | undefined) ?? new ManualClock();
  const editor = newEditor();
  const frameId = createShapeId('frame');
  const boxId = createShapeId('box');
  const sent: Sent[] = [];
  const captures: number[] = [];
  let settled = false;
  const accept = (s: Sent): SnapshotAck => ({ ok: true, outcome: 'accepted', lastSeq: s.seq });
  const snapshotter = new LiveFrameSnapshotter(
    editor,
    async (snap) => {
      const s = { ...snap, at: clock.t };
      if (!settled) return accept(s);
      sent.push(s);
      return (opts.answer ?? accept)(s, sent.length);
    },
    {
      wallClock: () => WALL_EPOCH + clock.t,
      capture: async (_ed, frame, ids) => {
        captures.push(clock.t);
        return { bytes: new TextEncoder().encode(JSON.stringify(ids)), mime: 'image/jpeg', width: frame.props.outputSize, height: frame.props.outputSize };
      },
      ...opts,
      clock,
    },
  ).start();
  snapshotters.push(snapshotter);
  /** Store listeners run on the next animation frame; tests deliver them at once. */
  const change = (fn: () => void) => {
    fn();
    editor.store._flushHistory();
  };
  change(() => {
    editor.createShape({ id: frameId, type: LIVE_FRAME_TYPE, x: 0, y: 0 });
    editor.createShape({ id: boxId, type: 'geo', parentId: frameId, x: 20, y: 20, props: { w: 50, h: 50 } });
  });
  await clock.advance(1000);
  settled = true;
  captures.length = 0;
  const hashNow = () => {
    const f = editor.getShape(frameId);
    if (!isLiveFrame(f)) throw new Error('frame gone');
    return frameContentHash(editor, f, collectFrameContent(editor, f));
  };
  const moveBox = (x: number) => change(() => editor.updateShape({ id: boxId, type: 'geo', x }));
  return { clock, editor, frameId, boxId, sent, captures, snapshotter, hashNow, moveBox, change };
}

describe('LiveFrameSnapshotter', () => {
  it('sends a changed frame once, with the hash of what it shows; unchanged content is not sent again', async () => {
    const { clock, editor, frameId, boxId, sent, snapshotter, hashNow, moveBox, change } = await setup();
    const start = hashNow();
    moveBox(40);
    await clock.advance(100);
    expect(sent).toHaveLength(1);
    expect(sent[0].frameId).toBe(frameId);
    expect(sent[0].hash).toBe(hashNow());
    expect(sent[0].hash).not.toBe(start);
    // the capture was handed the box drawn into the frame
    expect(JSON.parse(new TextDecoder().decode(sent[0].image))).toEqual([boxId]);

    // changes that do not change the render: meta, the frame's view, a no-op move
    change(() => editor.updateShape({ id: boxId, type: 'geo', meta: { note: 'x' } }));
    change(() => editor.updateShape({ id: frameId, type: LIVE_FRAME_TYPE, props: { view: 'side' } }));
    moveBox(40);
    await clock.advance(200);
    expect(sent).toHaveLength(1);

    // going back to the first state is a change again; a render setting is a change too
    moveBox(20);
    await clock.advance(100);
    change(() => editor.updateShape({ id: frameId, type: LIVE_FRAME_TYPE, props: { prompt: 'a fox' } }));
    await clock.advance(PROMPT_DEBOUNCE_MS + 100);
    expect(sent.map((s) => s.hash)).toEqual([sent[0].hash, start, hashNow()]);
    expect(sent[1].seq).toBeGreaterThan(sent[0].seq);
    expect(sent[2].seq).toBeGreaterThan(sent[1].seq);

    // "render now" sends the same content on request
    snapshotter.request(frameId);
    await clock.advance(100);
    expect(sent).toHaveLength(4);
    expect(sent[3].hash).toBe(sent[2].hash);
  });

  it('sends at most one snapshot per 50 ms while drawing, and always a trailing one with the final state', async () => {
    const { clock, sent, captures, hashNow, moveBox } = await setup();
    // a stroke-like burst: a change every 8 ms for 400 ms
    for (let i = 1; i <= 50; i++) {
      moveBox(20 + i);
      await clock.advance(8);
    }
    const finalHash = hashNow();
    const lastChange = clock.t - 8;
    await clock.advance(1000);
    expect(sent.length).toBeGreaterThanOrEqual(400 / SNAPSHOT_MIN_INTERVAL_MS - 1);
    expect(sent.length).toBeLessThanOrEqual(400 / SNAPSHOT_MIN_INTERVAL_MS + 1);
    // each snapshot starts with its capture: those are at least 50 ms apart
    expect(captures).toHaveLength(sent.length);
    for (let i = 1; i < captures.length; i++) expect(captures[i] - captures[i - 1]).toBeGreaterThanOrEqual(SNAPSHOT_MIN_INTERVAL_MS);
    const last = sent[sent.length - 1];
    expect(last.hash).toBe(finalHash);
    expect(captures[captures.length - 1]).toBeGreaterThanOrEqual(lastChange);
    // nothing after the trailing one
    const n = sent.length;
    await clock.advance(1000);
    expect(sent).toHaveLength(n);
  });

  it('stamps sentAt when the capture starts, so the latency shown includes the capture', async () => {
    const clock = new ManualClock();
    let captureStartedAt = -1;
    const { sent, moveBox } = await setup({
      clock,
      capture: async (_ed, frame) => {
        captureStartedAt = WALL_EPOCH + clock.t;
        clock.t += 120; // a slow export
        return { bytes: new Uint8Array([1]), mime: 'image/jpeg', width: frame.props.outputSize, height: frame.props.outputSize };
      },
    });
    moveBox(44);
    await clock.advance(100);
    expect(sent).toHaveLength(1);
    expect(sent[0].sentAt).toBe(captureStartedAt);
    expect(WALL_EPOCH + sent[0].at - sent[0].sentAt!).toBeGreaterThanOrEqual(120);
  });

  it("on a stale ack, sends the same content again with a seq above the server's lastSeq", async () => {
    const serverLastSeq = WALL_EPOCH + 3_600_000; // another client's clock is an hour ahead
    const { clock, sent, moveBox } = await setup({
      answer: (s, n) =>
        n === 1 ? { ok: true, outcome: 'stale', lastSeq: serverLastSeq } : { ok: true, outcome: 'accepted', lastSeq: s.seq },
    });
    moveBox(44);
    await clock.advance(200);
    expect(sent).toHaveLength(2);
    expect(sent[1].hash).toBe(sent[0].hash);
    expect(sent[0].seq).toBeLessThan(serverLastSeq);
    expect(sent[1].seq).toBeGreaterThan(serverLastSeq);
    await clock.advance(1000);
    expect(sent).toHaveLength(2);
  });

  it('keeps a frame whose snapshot got no answer and sends its latest state after the reconnect', async () => {
    let online = true;
    const { clock, sent, captures, snapshotter, hashNow, moveBox } = await setup({
      canSend: () => online,
      // the connection drops while the first snapshot is on its way: the session answers
      // undefined when the socket dropped or the ack timed out
      answer: (s, n) => {
        if (n === 1) online = false;
        return online ? { ok: true, outcome: 'accepted', lastSeq: s.seq } : undefined;
      },
    });
    moveBox(60);
    await clock.advance(100);
    expect(sent).toHaveLength(1);
    expect(captures).toHaveLength(1);

    // drawing goes on offline: nothing is captured or sent, however long it takes
    for (let i = 0; i < 10; i++) {
      moveBox(70 + i);
      await clock.advance(20);
    }
    await clock.advance(60_000);
    expect(sent).toHaveLength(1);
    expect(captures).toHaveLength(1);
    expect(snapshotter.waitingFrames()).toHaveLength(1);

    // rejoined: the frame's latest state goes out once
    online = true;
    snapshotter.resume();
    await clock.advance(200);
    expect(sent).toHaveLength(2);
    expect(sent[1].hash).toBe(hashNow());
    expect(snapshotter.waitingFrames()).toHaveLength(0);
    await clock.advance(60_000);
    expect(sent).toHaveLength(2);
  });

  it('a snapshot sent but unanswered is sent again on resume even if nothing changed since', async () => {
    let answered = false;
    const { clock, sent, snapshotter, moveBox } = await setup({
      answer: (s) => (answered ? { ok: true, outcome: 'accepted', lastSeq: s.seq } : undefined),
    });
    moveBox(50);
    await clock.advance(100);
    expect(sent).toHaveLength(1);
    answered = true;
    snapshotter.resume();
    await clock.advance(100);
    expect(sent).toHaveLength(2);
    expect(sent[1].hash).toBe(sent[0].hash);
  });

  it('retries a not-joined refusal (right after a reconnect) and stops once the server takes it', async () => {
    const { clock, sent, snapshotter, moveBox } = await setup({
      answer: (s, n) =>
        n <= 2
          ? { ok: false, error: { code: 'not-joined', message: 'join the room first' } }
          : { ok: true, outcome: 'accepted', lastSeq: s.seq },
    });
    moveBox(50);
    await clock.advance(100);
    expect(sent).toHaveLength(1);
    await clock.advance(SNAPSHOT_RETRY_MS);
    expect(sent).toHaveLength(2);
    await clock.advance(2 * SNAPSHOT_RETRY_MS);
    expect(sent).toHaveLength(3);
    expect(new Set(sent.map((s) => s.hash)).size).toBe(1);
    expect(snapshotter.waitingFrames()).toEqual([]);
    await clock.advance(60_000);
    expect(sent).toHaveLength(3);
  });

  it("keeps frames the engine could not render ('not-rendered') and sends them on resume", async () => {
    let ready = false;
    const { clock, sent, snapshotter, moveBox } = await setup({
      answer: (s) => (ready ? { ok: true, outcome: 'accepted', lastSeq: s.seq } : { ok: true, outcome: 'not-rendered', engine: 'loading', message: 'the engine is loading' }),
    });
    moveBox(50);
    await clock.advance(100);
    expect(sent).toHaveLength(1);
    await clock.advance(60_000);
    expect(sent).toHaveLength(1); // no polling while the engine cannot render
    ready = true;
    snapshotter.resume();
    await clock.advance(100);
    expect(sent).toHaveLength(2);
    expect(sent[1].hash).toBe(sent[0].hash);
  });

  it('does not resend content a refusal said is bad, until it changes', async () => {
    const { clock, sent, moveBox } = await setup({
      answer: (s, n) =>
        n === 1 ? { ok: false, error: { code: 'bad-image', message: 'undecodable' } } : { ok: true, outcome: 'accepted', lastSeq: s.seq },
    });
    moveBox(50);
    await clock.advance(30_000);
    expect(sent).toHaveLength(1);
    moveBox(33);
    await clock.advance(100);
    expect(sent).toHaveLength(2);
  });

  it('renders a typed prompt once typing pauses, not per keystroke, and reports drafts that typing went on from', async () => {
    const superseded: number[] = [];
    const { clock, editor, frameId, sent, hashNow, change } = await setup({ onSuperseded: (_f, seq) => superseded.push(seq) });
    const type = async (text: string, from = '') => {
      for (let i = 1; i <= text.length; i++) {
        change(() => editor.updateShape({ id: frameId, type: LIVE_FRAME_TYPE, props: { prompt: from + text.slice(0, i) } }));
        await clock.advance(120);
      }
    };
    await type('a castle on a hill');
    expect(sent).toHaveLength(0);
    await clock.advance(PROMPT_DEBOUNCE_MS);
    expect(sent).toHaveLength(1);
    expect(sent[0].hash).toBe(hashNow());
    // typing goes on after the pause: the first render was a draft
    await type(', watercolor', 'a castle on a hill');
    await clock.advance(PROMPT_DEBOUNCE_MS);
    expect(sent).toHaveLength(2);
    expect(superseded).toEqual([sent[0].seq]);
    // a later change of something else: the last typing render is a result, not a draft
    change(() => editor.updateShape({ id: frameId, type: LIVE_FRAME_TYPE, props: { strength: 0.7 } }));
    await clock.advance(100);
    expect(sent).toHaveLength(3);
    await type('!', 'a castle on a hill, watercolor');
    await clock.advance(DRAFT_WINDOW_MS);
    expect(sent).toHaveLength(4);
    expect(superseded).toEqual([sent[0].seq]);
  });

  it('never sends a frame with nothing drawn in it, even with a prompt or when asked to', async () => {
    const { clock, editor, frameId, boxId, sent, snapshotter, change } = await setup();
    change(() => editor.deleteShape(boxId));
    await clock.advance(100);
    change(() => editor.updateShape({ id: frameId, type: LIVE_FRAME_TYPE, props: { prompt: 'a fox', strength: 0.3 } }));
    snapshotter.request(frameId);
    const empty = createShapeId('empty');
    change(() => editor.createShape({ id: empty, type: LIVE_FRAME_TYPE, x: 1000, y: 0 }));
    await clock.advance(5000);
    expect(sent).toHaveLength(0);
    expect(snapshotter.waitingFrames()).toEqual([]);
    change(() => editor.createShape({ type: 'geo', parentId: empty, x: 10, y: 10, props: { w: 20, h: 20 } }));
    await clock.advance(100);
    expect(sent.map((s) => s.frameId)).toEqual([empty]);
  });

  it('only changes made in this tab are sent, not those arriving from the room', async () => {
    const { clock, editor, boxId, sent, change } = await setup();
    change(() =>
      editor.store.mergeRemoteChanges(() => {
        const box = editor.getShape(boxId as TLShapeId)!;
        editor.store.put([{ ...box, x: box.x + 30 }]);
      }),
    );
    await clock.advance(200);
    expect(sent).toHaveLength(0);
  });
});

/** A Socket.IO server standing in for Livecanvas's: it announces an engine status, answers a
 * replay with it (no renders yet) and acks every snapshot as accepted, keeping what it received. */
async function snapshotServer(engine: EngineStatus) {
  const http: HttpServer = createServer((_req, res) => {
    res.statusCode = 404;
    res.end('{}');
  });
  const ioServer = new IoServer(http);
  const received: { frameId: string; hash: string; seq: number }[] = [];
  let status = engine;
  ioServer.on('connection', (socket) => {
    socket.emit(EV.engineStatus, status);
    socket.on(EV.replay, (_msg: unknown, ack?: (a: unknown) => void) => ack?.({ ok: true, engine: status, frames: [] }));
    socket.on(EV.snapshot, (msg: { frameId: string; hash: string; seq: number }, ack?: (a: unknown) => void) => {
      received.push({ frameId: msg.frameId, hash: msg.hash, seq: msg.seq });
      ack?.({ ok: true, outcome: 'accepted', lastSeq: msg.seq });
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  return {
    url,
    received,
    setEngine(next: EngineStatus) {
      status = next;
      ioServer.emit(EV.engineStatus, next);
    },
    close: () => new Promise<void>((r) => ioServer.close(() => r())),
  };
}

/** The room provider's status, as the session sees it. */
class FakeConnection implements RoomConnection {
  private listeners = new Set<(s: ConnectionStatus) => void>();
  constructor(public status: ConnectionStatus) {}
  onStatus(l: (s: ConnectionStatus) => void) {
    this.listeners.add(l);
    l(this.status);
    return () => void this.listeners.delete(l);
  }
  set(s: ConnectionStatus) {
    this.status = s;
    for (const l of this.listeners) l(s);
  }
}

const until = async (fn: () => boolean, what: string, ms = 2000) => {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('LiveSession sends snapshots only when they can be rendered', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function sessionSetup(engine: EngineStatus, connection: FakeConnection, canWrite?: () => boolean) {
    const server = await snapshotServer(engine);
    cleanups.push(server.close);
    const socket: Socket = ioClient(server.url, { transports: ['websocket'] });
    cleanups.push(() => socket.close());
    await until(() => socket.connected, 'the socket to connect');
    const clock = new ManualClock();
    const editor = newEditor();
    const captures: number[] = [];
    const session = new LiveSession(editor, socket, 'room-session-test', {
      connection,
      canWrite,
      snapshotter: {
        clock,
        capture: async (_ed, frame) => {
          captures.push(clock.t);
          return { bytes: new Uint8Array([1, 2, 3]), mime: 'image/jpeg', width: frame.props.outputSize, height: frame.props.outputSize };
        },
      },
    });
    cleanups.push(() => session.dispose());
    // (what the server sent on connect came before the session listened, as in the browser)
    server.setEngine(engine);
    await until(() => session.renders.engine.get()?.state === engine.state, 'the engine status');
    const frameId = createShapeId('frame');
    const boxId = createShapeId('box');
    const change = (fn: () => void) => {
      fn();
      editor.store._flushHistory();
    };
    const draw = async (strokes: number) => {
      for (let i = 0; i < strokes; i++) {
        change(() => editor.updateShape({ id: boxId, type: 'geo', x: 20 + Math.random() * 100 }));
        await clock.advance(20);
      }
      await clock.advance(200);
    };
    change(() => {
      editor.createShape({ id: frameId, type: LIVE_FRAME_TYPE, x: 0, y: 0 });
      editor.createShape({ id: boxId, type: 'geo', parentId: frameId, x: 20, y: 20, props: { w: 50, h: 50 } });
    });
    const hashNow = () => {
      const f = editor.getShape(frameId);
      if (!isLiveFrame(f)) throw new Error('frame gone');
      return frameContentHash(editor, f, collectFrameContent(editor, f));
    };
    return { server, session, clock, captures, draw, hashNow, frameId };
  }

  it("captures nothing while the engine has no model, then sends each changed frame's last state once it is ready", async () => {
    const { server, captures, clock, draw, hashNow, frameId } = await sessionSetup(
      { state: 'no-model', message: 'no model installed' },
      new FakeConnection('connected'),
    );
    await draw(20);
    await new Promise((r) => setTimeout(r, 100)); // anything sent would have arrived by now
    expect(captures).toHaveLength(0);
    expect(server.received).toHaveLength(0);

    server.setEngine({ state: 'ready', model: 'tiny-lcm', loadMs: 100 });
    await until(() => server.received.length === 1, 'the snapshot after the engine became ready');
    expect(server.received[0]).toMatchObject({ frameId, hash: hashNow() });
    await clock.advance(1000);
    await new Promise((r) => setTimeout(r, 100));
    expect(server.received).toHaveLength(1);
  });

  it('holds snapshots while the room is not joined and sends the last state when it is', async () => {
    const connection = new FakeConnection('syncing');
    const { server, captures, draw, hashNow, clock } = await sessionSetup({ state: 'ready', model: 'tiny-lcm' }, connection);
    await draw(10);
    await new Promise((r) => setTimeout(r, 100));
    expect(captures).toHaveLength(0);
    expect(server.received).toHaveLength(0);

    await clock.advance(100);
    connection.set('connected');
    await until(() => server.received.length === 1, 'the snapshot after the rejoin');
    expect(server.received[0].hash).toBe(hashNow());

    // offline again: drawing is kept, and sent on the next rejoin
    connection.set('offline');
    await draw(5);
    await new Promise((r) => setTimeout(r, 100));
    expect(server.received).toHaveLength(1);
    connection.set('syncing');
    await clock.advance(100);
    connection.set('connected');
    await until(() => server.received.length === 2, 'the snapshot after the second rejoin');
    expect(server.received[1].hash).toBe(hashNow());
    expect(server.received[1].seq).toBeGreaterThan(server.received[0].seq);
  });

  it('a view-only session captures and sends nothing, even when asked to render now, and does not pin', async () => {
    const connection = new FakeConnection('connected');
    const { server, session, captures, draw, clock, frameId } = await sessionSetup(
      { state: 'ready', model: 'tiny-lcm' },
      connection,
      () => false,
    );
    expect(session.canWrite()).toBe(false);
    await draw(10);
    session.renderNow(frameId);
    await clock.advance(1000);
    connection.set('syncing');
    connection.set('connected'); // a rejoin resumes waiting frames: there are none
    await clock.advance(1000);
    await new Promise((r) => setTimeout(r, 100));
    expect(captures).toHaveLength(0);
    expect(server.received).toHaveLength(0);
    expect(await session.pin(frameId)).toEqual({ ok: false, message: expect.stringMatching(/^view only/) });
  });
});
