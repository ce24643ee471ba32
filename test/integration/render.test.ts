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
  SNAPSHOT_RATE_LIMIT,
  type EngineStatus,
  type ErrorEvent,
  type FrameStatus,
  type RenderResult,
  type SnapshotAck,
  RoomRenderStats,
  RendersReplayAck,
  replayedRenders,
  type FrameRenderStats,
} from '../../lib/protocol';
import { startServer, type TestServer } from '../helpers/server';
import { roomFetch } from '../helpers/roomHttp';
import { connectPeer, createRoom, drawShape, randomRoomId, roomToken, withTimeout, type Peer } from '../helpers/yclient';
import { sketchJpeg } from '../helpers/images';

// ───────────── helpers ─────────────

/** A new shared room on `url` (POST /api/rooms): participants join it with its editor link. */
const roomId = (url = server.url) => createRoom(url);

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string, pollMs = 10): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A 2048² PNG of many circles (about 0.6 MB): its full decode takes tens of milliseconds. */
async function bigSketchPng(): Promise<Buffer> {
  const S = 2048;
  const circles = Array.from(
    { length: 200 },
    (_, i) => `<circle cx="${(i * 97) % S}" cy="${(i * 61) % S}" r="${20 + (i % 50)}" stroke="hsl(${i * 7},80%,40%)" stroke-width="3" fill="none"/>`,
  ).join('');
  return sharp({ create: { width: S, height: S, channels: 3, background: '#fff' } })
    .composite([{ input: Buffer.from(`<svg width="${S}" height="${S}">${circles}</svg>`) }])
    .png()
    .toBuffer();
}

/** Records what the server sends to one socket. */
class Inbox {
  readonly renders: RenderResult[] = [];
  readonly errors: ErrorEvent[] = [];
  readonly engineStatus: EngineStatus[] = [];
  readonly frameStatus: FrameStatus[] = [];

  constructor(socket: Socket) {
    this.listen(socket);
  }

  /** Also record what `socket` receives (events of several sockets land in arrival order). */
  listen(socket: Socket): void {
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

  /** Joins, syncs, then asks for the replay as the browser does: what it answers (engine status,
   * frame states, kept renders) lands in the inbox like pushed events. */
  static async join(url: string, room: string): Promise<Participant> {
    const peer = await connectPeer(url, room, { user: { name: 'tester', color: '#228844' }, waitSync: false });
    const p = new Participant(peer);
    await withTimeout(peer.synced(), 10_000, `sync of room ${room}`);
    const ack = RendersReplayAck.parse(await peer.socket.timeout(10_000).emitWithAck(EV.replay, { roomId: room }));
    if (!ack.ok) throw new Error(`replay refused: ${ack.error.message}`);
    p.engineStatus.push(ack.engine);
    for (const f of ack.frames) {
      p.frameStatus.push({ roomId: room, frameId: f.frameId, state: f.state, message: f.message });
      p.renders.push(...replayedRenders(f, ack.images));
    }
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
    this.socket.emit(EV.snapshot, this.snapshotMessage(frameId, seq, image));
  }

  /** Sends a snapshot and resolves with the server's ack. */
  snapshotAcked(frameId: string, seq: number, image: Buffer, mime = 'image/jpeg'): Promise<SnapshotAck> {
    return this.socket.timeout(10_000).emitWithAck(EV.snapshot, { ...this.snapshotMessage(frameId, seq, image), mime });
  }

  private snapshotMessage(frameId: string, seq: number, image: Buffer) {
    return { roomId: this.roomId, frameId, seq, hash: `h${seq}`, mime: 'image/jpeg', image, sentAt: Date.now() };
  }

  close(): void {
    this.peer.close();
  }
}

/** Bare sockets in several rooms, one per room (a socket's handshake carries one room's link
 * token), recording into one inbox in arrival order: the order of renders across rooms. */
async function observer(url: string, rooms: string[]): Promise<{ inbox: Inbox; close(): void }> {
  const sockets: Socket[] = [];
  let inbox: Inbox | undefined;
  for (const roomId of rooms) {
    const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token: roomToken(roomId) } });
    sockets.push(socket);
    if (inbox) inbox.listen(socket);
    else inbox = new Inbox(socket);
    const ack = await socket.timeout(10_000).emitWithAck(EV.roomJoin, { roomId });
    if (!ack?.ok) throw new Error(`observer join failed: ${JSON.stringify(ack)}`);
  }
  return { inbox: inbox!, close: () => sockets.forEach((s) => s.close()) };
}

// ───────────── tests ─────────────

let server: TestServer;

beforeAll(async () => {
  server = await startServer({
    model: 'tiny-lcm',
    // The scheduler tests below send bursts far beyond what one person draws (100 at once, 200/s
    // from each of two rooms); the per-socket snapshot limit is tested on its own server below.
    env: { ENGINE_WARMUP_SIZES: '128,512', LOG_LEVEL: 'warn', SNAPSHOT_RATE_PER_SECOND: '1000', SNAPSHOT_RATE_BURST: '1000' },
  });
  await waitFor(async () => (await health()).engine?.state === 'ready', 60_000, 'engine ready');
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

async function health(url = server.url): Promise<{ engine?: EngineStatus; cpu?: unknown }> {
  return (await (await fetch(`${url}/healthz`)).json()) as { engine?: EngineStatus };
}

/** A frame's entry in `GET /api/renders/:roomId` (RenderLoop.stats), checked against its schema. */
async function frameStats(room: string, frameId: string, url = server.url): Promise<FrameRenderStats | undefined> {
  const r = RoomRenderStats.parse(await (await roomFetch(`${url}/api/renders/${room}`, room)).json());
  return r.frames[frameId];
}

async function joined(room: string, n: number, url = server.url): Promise<Participant[]> {
  return Promise.all(Array.from({ length: n }, () => Participant.join(url, room)));
}

describe('live render loop (tiny-lcm)', () => {
  it('reports the engine in /healthz and to a joining client', async () => {
    const h = await health();
    expect(h.engine).toMatchObject({ state: 'ready', model: 'tiny-lcm', executionProvider: 'cpu' });
    expect(h.engine!.loadMs).toBeGreaterThan(0);
    const [p] = await joined(await roomId(), 1);
    await waitFor(() => p.engineStatus.length > 0, 2_000, 'engine:status on join');
    expect(p.engineStatus[0]).toMatchObject({ state: 'ready', model: 'tiny-lcm' });
    p.close();
  });

  it('renders a burst of 100 snapshots in increasing seq, always the last, dropping the superseded ones', async () => {
    const room = await roomId();
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
    const s = (await frameStats(room, frameId))!;
    // every snapshot was either skipped before its decode (a newer one had come), ignored (arrived
    // after a newer one was accepted), dropped from the slot unstarted, or rendered
    expect(s.skipped + s.accepted + s.ignored).toBe(100);
    expect(s.accepted).toBe(s.started + s.dropped);
    expect(s.started).toBe(seqs.length);
    expect(s.rendered).toBe(seqs.length);
    // the burst is far faster than decode + render: only a handful of renders start, the rest is
    // never decoded or dropped from the slot
    expect(s.skipped + s.dropped).toBeGreaterThan(80);
    // no render started for a snapshot that was already superseded when the engine became free:
    // each start took the newest snapshot accepted for the frame at that moment
    expect(s.recentStarts.length).toBe(s.started);
    for (const start of s.recentStarts) expect(start.seq).toBe(start.newestAcceptedSeq);
    expect(s.startedSuperseded).toBe(0);
    // the codec time is measured where it is spent: the snapshot decode at validation
    expect(s.lastRender).toMatchObject({ seq: 100 });
    expect(s.lastRender!.decodeMs).toBeGreaterThan(0);
    expect(s.lastRender!.encodeMs).toBeGreaterThan(0);
    const last = viewer.rendersOf(frameId).at(-1)!;
    expect(last).toMatchObject({ width: 256, height: 256, mime: 'image/jpeg', sourceClient: drawer.socket.id });
    const meta = await sharp(Buffer.from(last.image)).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 256, height: 256 });
    for (const p of [drawer, viewer]) p.close();
  });

  it('delivers each render to every participant of the room, and the kept ones to a late joiner', async () => {
    const room = await roomId();
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
    // one exchange after the join: the frame's kept renders, oldest first
    expect(late.rendersOf(frameId).map((r) => r.seq)).toEqual([1, 2]);
    expect(Buffer.from(late.rendersOf(frameId).at(-1)!.image)).toEqual(Buffer.from(people[2].rendersOf(frameId).at(-1)!.image));
    for (const p of [...people, late]) p.close();
  });

  it('replays more kept renders than socket.io allows attachments in one packet (10), in one exchange', async () => {
    const room = await roomId();
    const [drawer] = await joined(room, 1);
    const frameId = await drawer.createLiveFrame({ outputSize: 128 });
    for (let seq = 1; seq <= 14; seq++) {
      drawer.snapshot(frameId, seq, await sketchJpeg(128, seq));
      await waitFor(() => drawer.rendersOf(frameId).at(-1)?.seq === seq, 10_000, `render ${seq}`);
    }
    const late = await Participant.join(server.url, room);
    expect(late.rendersOf(frameId).map((r) => r.seq)).toEqual(Array.from({ length: 14 }, (_, i) => i + 1));
    expect(late.rendersOf(frameId).map((r) => Buffer.from(r.image).toString('base64'))).toEqual(
      drawer.rendersOf(frameId).map((r) => Buffer.from(r.image).toString('base64')),
    );
    await sleep(300);
    expect(late.socket.connected).toBe(true);
    for (const p of [drawer, late]) p.close();
  });

  it('keeps the renders of a room nobody is in, so a reload still shows them', async () => {
    const room = await roomId();
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
    const room = await roomId();
    const [p] = await joined(room, 1);
    const frameId = await p.createLiveFrame({ outputSize: 128 });
    p.snapshot(frameId, 1, await sketchJpeg(128, 1));
    await waitFor(() => p.rendersOf(frameId).length === 1, 10_000, 'render');
    const listed = async () =>
      ((await (await roomFetch(`${server.url}/api/renders/${room}/${encodeURIComponent(frameId)}`, room)).json()) as { renders: unknown[] }).renders
        .length;
    expect(await listed()).toBe(1);
    p.peer.records.delete(frameId);
    await p.peer.acked();
    expect(await listed()).toBe(0);
    expect((await frameStats(room, frameId)) ?? null).toBeNull();
    p.close();
  });

  it('uses the frame seed when locked and a fresh seed per snapshot when unlocked', async () => {
    const room = await roomId();
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
    const room = await roomId();
    const [p] = await joined(room, 1);
    const frameId = await p.createLiveFrame({ outputSize: 128 });
    p.snapshot(frameId, 7, await sketchJpeg(128, 6));
    await waitFor(() => p.rendersOf(frameId).length === 1, 10_000, 'render');
    const ack = await p.socket.emitWithAck(EV.pin, { roomId: room, frameId, seq: 7 });
    expect(ack).toMatchObject({ ok: true, width: 128, height: 128, mime: 'image/jpeg' });
    expect(ack.url).toMatch(new RegExp(`^/api/assets/${room}/[A-Za-z0-9_-]+\\.jpg$`));
    const res = await roomFetch(server.url + ack.url, room);
    expect(res.headers.get('content-type')).toBe('image/jpeg');
    expect(Buffer.from(await res.arrayBuffer())).toEqual(Buffer.from(p.rendersOf(frameId)[0].image));
    const again = await p.socket.emitWithAck(EV.pin, { roomId: room, frameId, seq: 7 });
    expect(again.assetId).toBe(ack.assetId);
    const missing = await p.socket.emitWithAck(EV.pin, { roomId: room, frameId, seq: 8 });
    expect(missing).toMatchObject({ ok: false, error: { code: 'unknown-frame' } });

    const list = (await (await roomFetch(`${server.url}/api/renders/${room}/${encodeURIComponent(frameId)}`, room)).json()) as {
      renders: { seq: number; url: string }[];
    };
    expect(list.renders.map((r) => r.seq)).toEqual([7]);
    const one = await roomFetch(server.url + list.renders[0].url, room);
    expect(Buffer.from(await one.arrayBuffer())).toEqual(Buffer.from(p.rendersOf(frameId)[0].image));
    p.close();
  });

  it('refuses bad snapshots with lc:error and keeps rendering valid ones', async () => {
    const room = await roomId();
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
    // a JPEG whose header is fine but whose data is cut off: refused by the full decode at validation
    const truncated = (await sketchJpeg(128, 9)).subarray(0, 400);
    expect(await codeOf({ seq: 5, image: truncated })).toBe('bad-image');
    expect(await codeOf({ seq: 6, frameId: 'shape:nope', image: await sketchJpeg(128, 1) })).toBe('unknown-frame');
    // a room this socket never joined (whether it exists does not matter)
    const other = randomRoomId();
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

  it('drops a snapshot whose frame is deleted while the snapshot is being validated', async () => {
    const room = await roomId();
    const [p, viewer] = await joined(room, 2);
    const frameId = await p.createLiveFrame({ outputSize: 128 });
    await waitFor(() => viewer.hasRecord(frameId), 2_000, 'frame synced');
    // the deletion travels right behind the snapshot and is applied while the big PNG decodes
    const ack = p.snapshotAcked(frameId, 1, await bigSketchPng(), 'image/png');
    p.peer.records.delete(frameId);
    expect(await ack).toMatchObject({ ok: false, error: { code: 'unknown-frame', message: expect.stringMatching(/deleted while its snapshot was checked/) } });
    await p.peer.acked();
    await sleep(1_000); // a render of this frame would take ~20 ms
    expect(viewer.rendersOf(frameId)).toEqual([]);
    expect((await frameStats(room, frameId)) ?? null).toBeNull();
    const listed = (await (await roomFetch(`${server.url}/api/renders/${room}/${encodeURIComponent(frameId)}`, room)).json()) as { renders: unknown[] };
    expect(listed.renders).toEqual([]);
    p.close();
    viewer.close();
  });

  it('renders a frame that names another model with the loaded one, and says so in frame:status', async () => {
    const room = await roomId();
    const [p, viewer] = await joined(room, 2);
    const other = await p.createLiveFrame({ outputSize: 128, model: 'sdxs-512' });
    const same = await p.createLiveFrame({ outputSize: 128, model: 'tiny-lcm' });
    await waitFor(() => viewer.hasRecord(other) && viewer.hasRecord(same), 2_000, 'frames synced');
    const img = await sketchJpeg(128, 4);
    p.snapshot(other, 1, img);
    p.snapshot(same, 1, img);
    const statusOf = (frameId: string, from = 0) => viewer.frameStatus.slice(from).filter((st) => st.frameId === frameId);
    // the render event comes before the frame's 'idle' status
    await waitFor(
      () => [other, same].every((f) => viewer.rendersOf(f).length === 1 && statusOf(f).at(-1)?.state === 'idle'),
      10_000,
      'both rendered',
    );
    expect(viewer.rendersOf(other).map((r) => [r.seq, r.model])).toEqual([[1, 'tiny-lcm']]);
    const note =
      "this frame asks for model 'sdxs-512' but this server runs 'tiny-lcm', so it renders with 'tiny-lcm'; start the server with MODEL=sdxs-512 to use 'sdxs-512'";
    expect(statusOf(other).map((st) => st.state)).toEqual(expect.arrayContaining(['rendering', 'idle']));
    for (const st of statusOf(other)) expect(st.message).toBe(note);
    for (const st of statusOf(same)) expect(st.message).toBeUndefined();
    // back to the server's default model: the note goes away at the next snapshot
    const record = p.peer.records.get(other) as { props: LiveFrameProps };
    p.peer.records.set(other, { ...record, props: { ...record.props, model: '' } });
    await p.peer.acked();
    const from = viewer.frameStatus.length;
    p.snapshot(other, 2, img);
    await waitFor(() => viewer.rendersOf(other).length === 2 && statusOf(other, from).at(-1)?.state === 'idle', 10_000, 'second render');
    expect(viewer.rendersOf(other).at(-1)!.seq).toBe(2);
    expect(statusOf(other, from).map((st) => st.message)).toEqual(statusOf(other, from).map(() => undefined));
    p.close();
    viewer.close();
  });

  it('survives a snapshot flood: the flooder is rate-limited, the room keeps rendering', async () => {
    const room = await roomId();
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

// Scheduling order needs an engine that is the bottleneck. The tiny model renders a 256² frame in
// ~10 ms, about as long as decoding a snapshot at validation, so here every render also blocks its
// worker for PACED_MS (ENGINE_TEST_DELAY_MS): snapshots sent every 30 ms are always decoded and
// waiting when the engine becomes free.
const PACED_MS = 50;

describe('render scheduling with an engine slower than the snapshots (ENGINE_TEST_DELAY_MS=50)', () => {
  let paced: TestServer;

  beforeAll(async () => {
    paced = await startServer({ model: 'tiny-lcm', env: { ENGINE_TEST_DELAY_MS: String(PACED_MS), ENGINE_WARMUP_SIZES: '256', LOG_LEVEL: 'error' } });
    await waitFor(async () => (await health(paced.url)).engine?.state === 'ready', 60_000, 'engine ready');
  }, 120_000);

  afterAll(async () => {
    await paced?.stop();
  });

  it('alternates between two rooms that render at the same time', async () => {
    const roomA = await roomId(paced.url);
    const roomB = await roomId(paced.url);
    const [a] = await joined(roomA, 1, paced.url);
    const [b] = await joined(roomB, 1, paced.url);
    const obs = await observer(paced.url, [roomA, roomB]);
    const fa = await a.createLiveFrame({ outputSize: 256 });
    const fb = await b.createLiveFrame({ outputSize: 256 });
    const img = await sketchJpeg(256, 1);
    // both rooms send (within the snapshot rate limit) faster than the engine renders, so both
    // always have a decoded snapshot waiting when the engine becomes free
    let seq = 0;
    const t0 = Date.now();
    while (obs.inbox.renders.length < 24 && Date.now() - t0 < 20_000) {
      seq++;
      a.snapshot(fa, seq, img);
      b.snapshot(fb, seq, img);
      await sleep(30);
    }
    const order = obs.inbox.renders.map((r) => (r.roomId === roomA ? 'A' : 'B'));
    expect(order.length).toBeGreaterThanOrEqual(24);
    // ignore the first render (whoever came first while the engine was idle) and the tail
    const middle = order.slice(1, 22).join('');
    expect(middle).toMatch(/^(AB)+A?$|^(BA)+B?$/);
    for (const r of obs.inbox.renders) expect(r.timings.inferenceMs).toBeGreaterThan(PACED_MS);
    for (const p of [a, b]) p.close();
    obs.close();
  });
});

// Every render blocks its engine worker's thread for SLOW_MS (ENGINE_TEST_DELAY_MS: Atomics.wait, a
// real block like onnxruntime's session.run), so "the engine is busy" is long and certain here.
const SLOW_MS = 1_200;

describe('live render loop with a slow engine (ENGINE_TEST_DELAY_MS) and default snapshot limits', () => {
  let slow: TestServer;

  beforeAll(async () => {
    slow = await startServer({ model: 'tiny-lcm', env: { ENGINE_TEST_DELAY_MS: String(SLOW_MS), ENGINE_WARMUP_SIZES: '128', LOG_LEVEL: 'error' } });
    await waitFor(async () => (await health(slow.url)).engine?.state === 'ready', 60_000, 'engine ready');
  }, 120_000);

  afterAll(async () => {
    await slow?.stop();
  });

  it('keeps canvas sync and presence responsive while every render blocks the engine for over a second', async () => {
    const room = await roomId(slow.url);
    const [drawer, viewer] = await joined(room, 2, slow.url);
    const frameId = await drawer.createLiveFrame({ outputSize: 128 });
    await waitFor(() => viewer.hasRecord(frameId), 2_000, 'frame synced');
    const img = await sketchJpeg(128, 2);
    let seq = 0;
    // 10 snapshots/s: the frame's slot always holds a newer one, so the engine never rests
    const sender = setInterval(() => drawer.snapshot(frameId, ++seq, img), 100);
    await waitFor(() => viewer.frameStatus.some((st) => st.frameId === frameId && st.state === 'rendering'), 5_000, 'a render under way');
    const rendersBefore = viewer.rendersOf(frameId).length;
    const acks: number[] = [];
    const trips: number[] = [];
    const cursorTrips: number[] = [];
    const cursorOf = () =>
      (viewer.peer.awareness.getStates().get(drawer.doc.clientID) as { cursor?: { x: number } } | undefined)?.cursor?.x;
    const t0 = performance.now();
    for (let i = 1; performance.now() - t0 < 3 * SLOW_MS; i++) {
      let t = performance.now();
      drawer.doc.getMap('probe').set('i', i);
      const acked = drawer.peer.acked().then(() => acks.push(performance.now() - t));
      await waitFor(() => viewer.doc.getMap('probe').get('i') === i, 2_000, 'y:sync to the viewer', 1);
      trips.push(performance.now() - t);
      await acked;
      t = performance.now();
      drawer.peer.awareness.setLocalStateField('cursor', { x: i, y: 0 });
      await waitFor(() => cursorOf() === i, 2_000, 'presence update', 1);
      cursorTrips.push(performance.now() - t);
      await sleep(20);
    }
    clearInterval(sender);
    // the probes ran across whole renders, and every render blocked its worker for over a second
    const during = viewer.rendersOf(frameId).slice(rendersBefore);
    expect(during.length).toBeGreaterThanOrEqual(2);
    for (const r of viewer.rendersOf(frameId)) expect(r.timings.inferenceMs).toBeGreaterThan(1_000);
    // Were a render on the event loop, nearly every probe would wait for most of a render (> 1 s).
    // p95 rather than max under 150 ms: on this shared 2-core machine one probe in a hundred can
    // meet an unrelated stall (other test suites, a slow fsync of the sync commit); none may come
    // near a render's length.
    const p95 = (xs: number[]) => Math.round([...xs].sort((x, y) => x - y)[Math.floor(xs.length * 0.95)]);
    const worst = (xs: number[]) => Math.round(Math.max(...xs));
    const summary =
      `p95 / worst ms: sync ack ${p95(acks)} / ${worst(acks)}, sync to viewer ${p95(trips)} / ${worst(trips)}, ` +
      `presence ${p95(cursorTrips)} / ${worst(cursorTrips)} over ${trips.length} probes`;
    expect(trips.length, summary).toBeGreaterThan(40);
    for (const xs of [acks, trips, cursorTrips]) {
      expect(p95(xs), summary).toBeLessThan(150);
      expect(worst(xs), summary).toBeLessThan(SLOW_MS / 2);
    }
    for (const p of [drawer, viewer]) p.close();
  });

  it('refuses a snapshot that fails to decode, and the valid one waiting in the slot still renders', async () => {
    const room = await roomId(slow.url);
    const [p, viewer] = await joined(room, 2, slow.url);
    const frameId = await p.createLiveFrame({ outputSize: 128 });
    await waitFor(() => viewer.hasRecord(frameId), 2_000, 'frame synced');
    expect(await p.snapshotAcked(frameId, 1, await sketchJpeg(128, 1))).toMatchObject({ ok: true, outcome: 'accepted' });
    await waitFor(() => viewer.frameStatus.some((st) => st.frameId === frameId && st.state === 'rendering'), 5_000, 'render 1 under way');
    // seq 2 waits in the slot while seq 1 renders; seq 3 has a valid header but is cut off
    expect(await p.snapshotAcked(frameId, 2, await sketchJpeg(128, 2))).toMatchObject({ ok: true, outcome: 'accepted' });
    const truncated = (await sketchJpeg(128, 3)).subarray(0, 400);
    expect((await sharp(truncated).metadata()).format).toBe('jpeg');
    expect(await p.snapshotAcked(frameId, 3, truncated)).toMatchObject({ ok: false, error: { code: 'bad-image' } });
    expect(p.errors).toEqual([expect.objectContaining({ code: 'bad-image', event: EV.snapshot })]);
    await waitFor(() => viewer.rendersOf(frameId).length === 2, 3 * SLOW_MS + 5_000, 'renders 1 and 2');
    await sleep(300);
    expect(viewer.rendersOf(frameId).map((r) => r.seq)).toEqual([1, 2]);
    expect(await frameStats(room, frameId, slow.url)).toMatchObject({ started: 2, rendered: 2, failed: 0, lastAcceptedSeq: 2 });
    p.close();
    viewer.close();
  });

  it(`refuses more than ${SNAPSHOT_RATE_LIMIT.perSecond} snapshots/s (burst ${SNAPSHOT_RATE_LIMIT.burst}) from one socket with rate-limited`, async () => {
    const room = await roomId(slow.url);
    const [p, viewer] = await joined(room, 2, slow.url);
    const frameId = await p.createLiveFrame({ outputSize: 128 });
    await waitFor(() => viewer.hasRecord(frameId), 2_000, 'frame synced');
    const img = await sketchJpeg(128, 5);
    const n = SNAPSHOT_RATE_LIMIT.burst + 10;
    const acks = await Promise.all(Array.from({ length: n }, (_, i) => p.snapshotAcked(frameId, i + 1, img)));
    const ok = acks.filter((a) => a.ok).length;
    const limited = acks.filter((a) => !a.ok && a.error.code === 'rate-limited').length;
    expect(ok + limited).toBe(n);
    // the bucket refills at perSecond while the burst is read: a couple more may pass
    expect(ok).toBeGreaterThanOrEqual(SNAPSHOT_RATE_LIMIT.burst);
    expect(ok).toBeLessThanOrEqual(SNAPSHOT_RATE_LIMIT.burst + 3);
    expect(p.errors.filter((e) => e.code === 'rate-limited' && e.event === EV.snapshot)).toHaveLength(limited);
    expect(p.errors[0].message).toMatch(new RegExp(`more than ${SNAPSHOT_RATE_LIMIT.perSecond} snapshots/s`));
    // a second later the same socket is heard again, and the room renders its latest snapshot
    await sleep(1_000);
    expect(await p.snapshotAcked(frameId, 1_000, img)).toMatchObject({ ok: true });
    await waitFor(() => viewer.rendersOf(frameId).some((r) => r.seq === 1_000), 4 * SLOW_MS + 5_000, 'render after the limit');
    expect(p.socket.connected).toBe(true);
    p.close();
    viewer.close();
  });
});

// Waiting snapshots hold decoded pixels: a memory budget (RENDER_PENDING_MB) over all frames keeps
// many frames × large output sizes from filling the server while the engine is busy.
describe('memory budget of waiting snapshots (RENDER_PENDING_MB)', () => {
  it('refuses a snapshot that would take the waiting pixels over the budget, without a violation', async () => {
    const busy = await startServer({
      model: 'tiny-lcm',
      env: { ENGINE_TEST_DELAY_MS: '8000', ENGINE_WARMUP_SIZES: '128', RENDER_PENDING_MB: '2', LOG_LEVEL: 'error' },
    });
    try {
      await waitFor(async () => (await health(busy.url)).engine?.state === 'ready', 60_000, 'engine ready');
      const room = await roomId(busy.url);
      const p = await Participant.join(busy.url, room);
      const frames: string[] = [];
      for (let i = 0; i < 4; i++) frames.push(await p.createLiveFrame({ outputSize: 512 }));
      const img = await sketchJpeg(512, 3);
      // the first renders (engine busy for 8 s); each 512² snapshot then waits with 0.75 MB of pixels
      expect(await p.snapshotAcked(frames[0], 1, img)).toMatchObject({ ok: true, outcome: 'accepted' });
      await waitFor(async () => (await frameStats(room, frames[0], busy.url))?.started === 1, 5_000, 'first render started');
      expect(await p.snapshotAcked(frames[1], 1, img)).toMatchObject({ ok: true });
      expect(await p.snapshotAcked(frames[2], 1, img)).toMatchObject({ ok: true });
      // 3 × 0.75 MB > 2 MB
      const refused = await p.snapshotAcked(frames[3], 1, img);
      expect(refused).toMatchObject({ ok: false, error: { code: 'rate-limited' } });
      expect((refused as unknown as { error: { message: string } }).error.message).toMatch(/waiting for the engine/);
      // a newer snapshot of a frame that already waits replaces its pixels: still within budget
      expect(await p.snapshotAcked(frames[2], 2, await sketchJpeg(512, 4))).toMatchObject({ ok: true });
      // refusals of this kind never count towards a disconnect
      for (let seq = 2; seq < 30; seq++) await p.snapshotAcked(frames[3], seq, img);
      expect(p.socket.connected).toBe(true);
      p.close();
    } finally {
      await busy.stop();
    }
  }, 120_000);
});

describe('live render loop without a model', () => {
  it('reports no-model with the command that fixes it, and answers snapshots with frame:status', async () => {
    const bare = await startServer({ model: '', env: { LOG_LEVEL: 'warn' } });
    try {
      const h = (await (await fetch(`${bare.url}/healthz`)).json()) as { engine: EngineStatus };
      expect(h.engine.state).toBe('no-model');
      expect(h.engine.message).toMatch(/npm run models:download -- /);
      const room = await roomId(bare.url);
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


// Issue 9, finding 6: pins are stored in the database, so they count against STORE_MAX_MB like
// document updates and uploads (before, a pin was written past the quota).
describe('pins and the store quota (STORE_MAX_MB)', () => {
  let small: TestServer;

  beforeAll(async () => {
    small = await startServer({ model: 'tiny-lcm', env: { STORE_MAX_MB: '1', ENGINE_WARMUP_SIZES: '128', LOG_LEVEL: 'error' } });
    await waitFor(async () => (await health(small.url)).engine?.state === 'ready', 60_000, 'engine ready');
  }, 120_000);

  afterAll(async () => {
    await small?.stop();
  });

  it('a new pin is refused with too-large past the quota (no violation); a render pinned before still answers with its asset', async () => {
    const room = await roomId(small.url);
    const [p] = await joined(room, 1, small.url);
    const frameId = await p.createLiveFrame({ outputSize: 128 });
    for (const seq of [1, 2]) {
      p.snapshot(frameId, seq, await sketchJpeg(128, seq));
      await waitFor(() => p.rendersOf(frameId).some((r) => r.seq === seq), 10_000, `render ${seq}`);
    }
    const first = await p.socket.emitWithAck(EV.pin, { roomId: room, frameId, seq: 1 });
    expect(first).toMatchObject({ ok: true });
    // fill the store: long strokes until the server refuses an update
    for (let i = 0; p.peer.nacks.length === 0 && i < 2000; ) {
      p.peer.doc.transact(() => {
        for (let k = 0; k < 20; k++, i++) {
          const shape = drawShape(i, 1500);
          p.peer.records.set(shape.id as string, shape);
        }
      });
      await p.peer.acked();
    }
    expect(p.peer.nacks[0]?.error?.code).toBe('too-large');
    const refused = await p.socket.emitWithAck(EV.pin, { roomId: room, frameId, seq: 2 });
    expect(refused).toMatchObject({ ok: false, error: { code: 'too-large' } });
    expect(refused.error.message).toMatch(/STORE_MAX_MB.*the render was not pinned/);
    const again = await p.socket.emitWithAck(EV.pin, { roomId: room, frameId, seq: 1 });
    expect(again).toMatchObject({ ok: true, assetId: first.assetId });
    expect(p.socket.connected).toBe(true);
    p.close();
  });
});
