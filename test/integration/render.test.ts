// The live render loop end to end: the real server process with the tiny random-weight LCM model,
// socket.io clients that join rooms, sync the Yjs document (to create live frames) and send
// snapshots; assertions on the renders other clients receive and on the server's counters.
import { randomBytes } from 'node:crypto';
import sharp from 'sharp';
import { io, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveFrameRecord, type LiveFrameProps } from '../../lib/canvas/liveFrame';
import {
  EV,
  MAX_SNAPSHOT_BYTES,
  type EngineStatus,
  type ErrorEvent,
  type FrameStatus,
  type RenderResult,
} from '../../lib/protocol';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, randomRoomId, withTimeout, type Peer } from '../helpers/yclient';

// ───────────── helpers ─────────────

const roomId = randomRoomId;

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A different little sketch for each `variant`, as JPEG. */
async function sketchJpeg(size: number, variant: number): Promise<Buffer> {
  const x = 10 + ((variant * 37) % (size - 20));
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">
    <rect width="100%" height="100%" fill="white"/>
    <circle cx="${x}" cy="${size / 2}" r="${size / 4}" fill="none" stroke="black" stroke-width="4"/></svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 80 }).toBuffer();
}

/** Records what the server sends to one socket. */
class Inbox {
  readonly renders: RenderResult[] = [];
  readonly errors: ErrorEvent[] = [];
  readonly engineStatus: EngineStatus[] = [];
  readonly frameStatus: FrameStatus[] = [];

  constructor(socket: Socket) {
    socket.on(EV.render, (r: RenderResult) => this.renders.push(r));
    socket.on(EV.error, (e: ErrorEvent) => this.errors.push(e));
    socket.on(EV.engineStatus, (st: EngineStatus) => this.engineStatus.push(st));
    socket.on(EV.frameStatus, (st: FrameStatus) => this.frameStatus.push(st));
  }

  rendersOf(frameId: string): RenderResult[] {
    return this.renders.filter((r) => r.frameId === frameId);
  }
}

/** A room participant: a synced Yjs peer (test/helpers/yclient) that also draws live frames,
 * sends snapshots and records what the render loop sends it. */
class Participant extends Inbox {
  private frames = 0;

  private constructor(readonly peer: Peer) {
    super(peer.socket);
  }

  static async join(url: string, room: string): Promise<Participant> {
    // listen before the join completes: engine status and the latest renders follow it at once
    const peer = await connectPeer(url, room, { user: { name: 'tester', color: '#228844' }, waitSync: false });
    const p = new Participant(peer);
    await withTimeout(peer.synced(), 10_000, `sync of room ${room}`);
    return p;
  }

  get socket(): Socket {
    return this.peer.socket;
  }

  get doc() {
    return this.peer.doc;
  }

  get roomId(): string {
    return this.peer.roomId;
  }

  /** Adds a live-frame shape record to the room document and waits until the server has it. */
  async createLiveFrame(props: Partial<LiveFrameProps> = {}): Promise<string> {
    const id = `shape:live${++this.frames}-${randomBytes(3).toString('hex')}`;
    const size = props.outputSize ?? 256;
    this.peer.records.set(id, liveFrameRecord(id, { w: size, h: size, prompt: 'a cat', ...props }));
    await this.peer.acked();
    return id;
  }

  hasRecord(id: string): boolean {
    return this.peer.records.has(id);
  }

  snapshot(frameId: string, seq: number, image: Buffer): void {
    this.socket.emit(EV.snapshot, { roomId: this.roomId, frameId, seq, hash: `h${seq}`, mime: 'image/jpeg', image, sentAt: Date.now() });
  }

  close(): void {
    this.peer.close();
  }
}

/** A bare socket in several rooms at once, to see the order of renders across rooms. */
async function observer(url: string, rooms: string[]): Promise<{ socket: Socket; inbox: Inbox }> {
  const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
  const inbox = new Inbox(socket);
  for (const roomId of rooms) {
    const ack = await socket.timeout(10_000).emitWithAck(EV.roomJoin, { roomId });
    if (!ack?.ok) throw new Error(`observer join failed: ${JSON.stringify(ack)}`);
  }
  return { socket, inbox };
}

// ───────────── tests ─────────────

let server: TestServer;

beforeAll(async () => {
  server = await startServer({
    model: 'tiny-lcm',
    env: { ENGINE_WARMUP_SIZES: '128,512', LOG_LEVEL: 'warn' },
  });
  await waitFor(async () => (await health()).engine?.state === 'ready', 60_000, 'engine ready');
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

async function health(): Promise<{ engine?: EngineStatus; cpu?: unknown }> {
  return (await (await fetch(`${server.url}/healthz`)).json()) as { engine?: EngineStatus };
}

async function frameStats(room: string, frameId: string) {
  const r = (await (await fetch(`${server.url}/api/renders/${room}`)).json()) as {
    frames: Record<string, { accepted: number; ignored: number; dropped: number; started: number; rendered: number; failed: number }>;
  };
  return r.frames[frameId];
}

async function joined(room: string, n: number): Promise<Participant[]> {
  return Promise.all(Array.from({ length: n }, () => Participant.join(server.url, room)));
}

describe('live render loop (tiny-lcm)', () => {
  it('reports the engine in /healthz and to a joining client', async () => {
    const h = await health();
    expect(h.engine).toMatchObject({ state: 'ready', model: 'tiny-lcm', executionProvider: 'cpu' });
    expect(h.engine!.loadMs).toBeGreaterThan(0);
    const [p] = await joined(roomId(), 1);
    await waitFor(() => p.engineStatus.length > 0, 2_000, 'engine:status on join');
    expect(p.engineStatus[0]).toMatchObject({ state: 'ready', model: 'tiny-lcm' });
    p.close();
  });

  it('renders a burst of 100 snapshots in increasing seq, always the last, dropping the superseded ones', async () => {
    const room = roomId();
    const [drawer, viewer] = await joined(room, 2);
    const frameId = await drawer.createLiveFrame({ outputSize: 256 });
    await waitFor(() => viewer.hasRecord(frameId), 2_000, 'frame synced');
    const images = await Promise.all(Array.from({ length: 8 }, (_, i) => sketchJpeg(256, i)));
    for (let seq = 1; seq <= 100; seq++) drawer.snapshot(frameId, seq, images[seq % 8]);
    await waitFor(() => viewer.rendersOf(frameId).at(-1)?.seq === 100, 30_000, 'render of seq 100');
    await new Promise((r) => setTimeout(r, 200)); // nothing may follow the last one
    const seqs = viewer.rendersOf(frameId).map((r) => r.seq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBeGreaterThan(seqs[i - 1]);
    expect(seqs.at(-1)).toBe(100);
    expect(drawer.rendersOf(frameId).map((r) => r.seq)).toEqual(seqs);
    const s = await frameStats(room, frameId);
    // every snapshot was either ignored (arrived after a newer one), dropped unstarted, or rendered
    expect(s.accepted + s.ignored).toBe(100);
    expect(s.accepted).toBe(s.started + s.dropped);
    expect(s.started).toBe(seqs.length);
    expect(s.rendered).toBe(seqs.length);
    // the engine is far slower than the burst: only a handful of renders start, the rest is dropped
    expect(s.dropped).toBeGreaterThan(80);
    const last = viewer.rendersOf(frameId).at(-1)!;
    expect(last).toMatchObject({ width: 256, height: 256, mime: 'image/jpeg', sourceClient: drawer.socket.id });
    const meta = await sharp(Buffer.from(last.image)).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 256, height: 256 });
    for (const p of [drawer, viewer]) p.close();
  });

  it('alternates between two rooms that render at the same time', async () => {
    const roomA = roomId();
    const roomB = roomId();
    const [a] = await joined(roomA, 1);
    const [b] = await joined(roomB, 1);
    const obs = await observer(server.url, [roomA, roomB]);
    const fa = await a.createLiveFrame({ outputSize: 256 });
    const fb = await b.createLiveFrame({ outputSize: 256 });
    const img = await sketchJpeg(256, 1);
    // both rooms send faster than the engine renders, so both always have a snapshot waiting
    let seq = 0;
    const t0 = Date.now();
    while (obs.inbox.renders.length < 24 && Date.now() - t0 < 20_000) {
      seq++;
      a.snapshot(fa, seq, img);
      b.snapshot(fb, seq, img);
      await new Promise((r) => setTimeout(r, 5));
    }
    const order = obs.inbox.renders.map((r) => (r.roomId === roomA ? 'A' : 'B'));
    expect(order.length).toBeGreaterThanOrEqual(24);
    // ignore the first render (whoever came first while the engine was idle) and the tail
    const middle = order.slice(1, 22).join('');
    expect(middle).toMatch(/^(AB)+A?$|^(BA)+B?$/);
    for (const p of [a, b]) p.close();
    obs.socket.close();
  });

  it('delivers each render to every participant of the room, and the latest one to a late joiner', async () => {
    const room = roomId();
    const people = await joined(room, 3);
    const frameId = await people[0].createLiveFrame({ outputSize: 128, prompt: 'a red house' });
    await waitFor(() => people.every((p) => p.hasRecord(frameId)), 2_000, 'frame synced');
    people[1].snapshot(frameId, 1, await sketchJpeg(128, 3));
    await waitFor(() => people.every((p) => p.rendersOf(frameId).length === 1), 10_000, 'render everywhere');
    const bytes = people.map((p) => Buffer.from(p.rendersOf(frameId)[0].image).toString('base64'));
    expect(new Set(bytes).size).toBe(1);
    expect(people[2].rendersOf(frameId)[0]).toMatchObject({ seq: 1, sourceClient: people[1].socket.id });

    people[0].snapshot(frameId, 2, await sketchJpeg(128, 4));
    await waitFor(() => people[2].rendersOf(frameId).at(-1)?.seq === 2, 10_000, 'second render');
    const late = await Participant.join(server.url, room);
    await waitFor(() => late.rendersOf(frameId).length > 0, 2_000, 'latest render on join');
    expect(late.rendersOf(frameId).map((r) => r.seq)).toEqual([2]);
    expect(Buffer.from(late.rendersOf(frameId)[0].image)).toEqual(Buffer.from(people[2].rendersOf(frameId).at(-1)!.image));
    for (const p of [...people, late]) p.close();
  });

  it('keeps the renders of a room nobody is in, so a reload still shows them', async () => {
    const room = roomId();
    const [p] = await joined(room, 1);
    const frameId = await p.createLiveFrame({ outputSize: 128 });
    p.snapshot(frameId, 5, await sketchJpeg(128, 5));
    await waitFor(() => p.rendersOf(frameId).length === 1, 10_000, 'render');
    p.close();
    // every earlier test closed its clients: once no room is loaded, this one was unloaded too
    await waitFor(async () => ((await health()) as { rooms?: number }).rooms === 0, 5_000, 'room unloaded');
    const back = await Participant.join(server.url, room);
    await waitFor(() => back.rendersOf(frameId).length === 1, 2_000, 'latest render after rejoin');
    expect(back.rendersOf(frameId)[0].seq).toBe(5);
    back.close();
  });

  it('forgets the renders of a frame deleted from the document', async () => {
    const room = roomId();
    const [p] = await joined(room, 1);
    const frameId = await p.createLiveFrame({ outputSize: 128 });
    p.snapshot(frameId, 1, await sketchJpeg(128, 1));
    await waitFor(() => p.rendersOf(frameId).length === 1, 10_000, 'render');
    const listed = async () =>
      ((await (await fetch(`${server.url}/api/renders/${room}/${encodeURIComponent(frameId)}`)).json()) as { renders: unknown[] }).renders
        .length;
    expect(await listed()).toBe(1);
    p.peer.records.delete(frameId);
    await p.peer.acked();
    expect(await listed()).toBe(0);
    expect((await frameStats(room, frameId)) ?? null).toBeNull();
    p.close();
  });

  it('uses the frame seed when locked and a fresh seed per snapshot when unlocked', async () => {
    const room = roomId();
    const [p] = await joined(room, 1);
    const locked = await p.createLiveFrame({ outputSize: 128, seed: 1234, seedLocked: true });
    const unlocked = await p.createLiveFrame({ outputSize: 128, seed: 1234, seedLocked: false });
    const img = await sketchJpeg(128, 5);
    for (const seq of [1, 2]) {
      p.snapshot(locked, seq, img);
      p.snapshot(unlocked, seq, img);
      await waitFor(() => p.rendersOf(locked).length === seq && p.rendersOf(unlocked).length === seq, 10_000, 'renders');
    }
    expect(p.rendersOf(locked).map((r) => r.seed)).toEqual([1234, 1234]);
    const seeds = p.rendersOf(unlocked).map((r) => r.seed);
    expect(seeds[0]).not.toBe(seeds[1]);
    // same seed, same sketch, same settings: the same picture
    const [l1, l2] = p.rendersOf(locked);
    expect(Buffer.from(l1.image)).toEqual(Buffer.from(l2.image));
    p.close();
  });

  it('pins a render as an asset served over HTTP and lists the history', async () => {
    const room = roomId();
    const [p] = await joined(room, 1);
    const frameId = await p.createLiveFrame({ outputSize: 128 });
    p.snapshot(frameId, 7, await sketchJpeg(128, 6));
    await waitFor(() => p.rendersOf(frameId).length === 1, 10_000, 'render');
    const ack = await p.socket.emitWithAck(EV.pin, { roomId: room, frameId, seq: 7 });
    expect(ack).toMatchObject({ ok: true, width: 128, height: 128, mime: 'image/jpeg' });
    expect(ack.url).toMatch(new RegExp(`^/api/assets/${room}/[A-Za-z0-9_-]+\\.jpg$`));
    const res = await fetch(server.url + ack.url);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.from(p.rendersOf(frameId)[0].image));
    const again = await p.socket.emitWithAck(EV.pin, { roomId: room, frameId, seq: 7 });
    expect(again.assetId).toBe(ack.assetId);
    const missing = await p.socket.emitWithAck(EV.pin, { roomId: room, frameId, seq: 8 });
    expect(missing).toMatchObject({ ok: false, error: { code: 'unknown-frame' } });

    const list = (await (await fetch(`${server.url}/api/renders/${room}/${encodeURIComponent(frameId)}`)).json()) as {
      renders: { seq: number; url: string }[];
    };
    expect(list.renders.map((r) => r.seq)).toEqual([7]);
    const one = await fetch(server.url + list.renders[0].url);
    expect(Buffer.from(await one.arrayBuffer())).toEqual(Buffer.from(p.rendersOf(frameId)[0].image));
    p.close();
  });

  it('keeps canvas sync and presence responsive while the engine is busy', async () => {
    const room = roomId();
    const [drawer, viewer] = await joined(room, 2);
    // the largest output size, 4 steps, never warmed up: the slowest work this engine can be given
    const frameId = await drawer.createLiveFrame({ outputSize: 1024, steps: 4 });
    await waitFor(() => viewer.hasRecord(frameId), 2_000, 'frame synced');
    const img = await sketchJpeg(1024, 2);
    let seq = 0;
    const sender = setInterval(() => drawer.snapshot(frameId, ++seq, img), 20);
    await waitFor(() => viewer.rendersOf(frameId).length >= 2, 20_000, 'rendering under way');
    const trips: number[] = [];
    const cursorTrips: number[] = [];
    const cursorOf = () =>
      (viewer.peer.awareness.getStates().get(drawer.doc.clientID) as { cursor?: { x: number } } | undefined)?.cursor?.x;
    for (let i = 0; i < 20; i++) {
      let t = performance.now();
      drawer.doc.getMap('probe').set('i', i);
      await waitFor(() => viewer.doc.getMap('probe').get('i') === i, 2_000, 'y:sync round trip');
      trips.push(performance.now() - t);
      t = performance.now();
      drawer.peer.awareness.setLocalStateField('cursor', { x: i, y: 0 });
      await waitFor(() => cursorOf() === i, 2_000, 'presence update');
      cursorTrips.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 25));
    }
    clearInterval(sender);
    const rendersDuring = viewer.rendersOf(frameId).length;
    expect(rendersDuring).toBeGreaterThanOrEqual(2);
    expect(Math.max(...trips)).toBeLessThan(500);
    expect(Math.max(...cursorTrips)).toBeLessThan(500);
    for (const p of [drawer, viewer]) p.close();
  });

  it('refuses bad snapshots with lc:error and keeps rendering valid ones', async () => {
    const room = roomId();
    const [p, viewer] = await joined(room, 2);
    const frameId = await p.createLiveFrame({ outputSize: 128 });
    await waitFor(() => viewer.hasRecord(frameId), 2_000, 'frame synced');
    const codeOf = async (payload: Record<string, unknown>) => {
      const ack = await p.socket.emitWithAck(EV.snapshot, {
        roomId: room,
        frameId,
        hash: 'h',
        mime: 'image/jpeg',
        sentAt: Date.now(),
        ...payload,
      });
      return ack.ok ? 'ok' : ack.error.code;
    };
    expect(await codeOf({ seq: 1, image: Buffer.alloc(MAX_SNAPSHOT_BYTES + 1, 7) })).toBe('too-large');
    const wide = await sharp({ create: { width: 3000, height: 64, channels: 3, background: '#fff' } }).jpeg().toBuffer();
    expect(await codeOf({ seq: 2, image: wide })).toBe('too-large');
    expect(await codeOf({ seq: 3, image: Buffer.from('not an image at all, just text') })).toBe('bad-image');
    const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#fff' } }).png().toBuffer();
    expect(await codeOf({ seq: 4, image: png })).toBe('bad-image'); // says jpeg, is png
    // a JPEG whose header is fine but whose data is cut off: refused by the engine's decoder
    const truncated = (await sketchJpeg(128, 9)).subarray(0, 400);
    expect(['bad-image', 'ok']).toContain(await codeOf({ seq: 5, image: truncated }));
    expect(await codeOf({ seq: 6, frameId: 'shape:nope', image: await sketchJpeg(128, 1) })).toBe('unknown-frame');
    const other = roomId();
    expect(await codeOf({ seq: 7, roomId: other, image: await sketchJpeg(128, 1) })).toBe('not-joined');
    const errors = p.errors.map((e) => e.code);
    expect(errors).toEqual(expect.arrayContaining(['too-large', 'bad-image', 'unknown-frame', 'not-joined']));

    // the room still works: a valid snapshot renders for everybody
    p.snapshot(frameId, 10, await sketchJpeg(128, 2));
    await waitFor(() => viewer.rendersOf(frameId).some((r) => r.seq === 10), 10_000, 'valid render after errors');
    expect(viewer.errors).toEqual([]);
    p.close();
    viewer.close();
  });

  it('survives a snapshot flood: the flooder is rate-limited, the room keeps rendering', async () => {
    const room = roomId();
    const [flooder, drawer, viewer] = await joined(room, 3);
    const frameId = await drawer.createLiveFrame({ outputSize: 128 });
    await waitFor(() => viewer.hasRecord(frameId) && flooder.hasRecord(frameId), 2_000, 'frame synced');
    const img = await sketchJpeg(128, 8);
    // far beyond the token bucket (burst 600, 300/s) even if the server reads the flood slowly
    for (let seq = 1; seq <= 4000; seq++) flooder.snapshot(frameId, seq, img);
    await waitFor(() => flooder.errors.some((e) => e.code === 'rate-limited') || !flooder.socket.connected, 20_000, 'flood refused');
    drawer.snapshot(frameId, 100_000, await sketchJpeg(128, 3));
    await waitFor(() => viewer.rendersOf(frameId).some((r) => r.seq === 100_000), 15_000, 'render after the flood');
    for (const p of [flooder, drawer, viewer]) p.close();
  });
});

describe('live render loop without a model', () => {
  it('reports no-model with the command that fixes it, and answers snapshots with frame:status', async () => {
    const bare = await startServer({ model: '', env: { LOG_LEVEL: 'warn' } });
    try {
      const h = (await (await fetch(`${bare.url}/healthz`)).json()) as { engine: EngineStatus };
      expect(h.engine.state).toBe('no-model');
      expect(h.engine.message).toMatch(/npm run models:download -- /);
      const room = roomId();
      const p = await Participant.join(bare.url, room);
      const frameId = await p.createLiveFrame({ outputSize: 128 });
      const ack = await p.socket.emitWithAck(EV.snapshot, {
        roomId: room,
        frameId,
        seq: 1,
        hash: 'h',
        mime: 'image/jpeg',
        image: await sketchJpeg(128, 1),
      });
      expect(ack).toMatchObject({ ok: true, outcome: 'not-rendered', engine: 'no-model' });
      await waitFor(() => p.frameStatus.some((s) => s.state === 'no-model'), 2_000, 'frame:status no-model');
      expect(p.engineStatus[0]).toMatchObject({ state: 'no-model' });
      p.close();
    } finally {
      await bare.stop();
    }
  });
});

