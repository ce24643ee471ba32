// Hardening of the render path (issue "Hardening", findings 5 and 6): what one client can make the
// render loop hold or refuse for everybody. Against the real server with the tiny LCM model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EV, FrameRenderList, MAX_RENDER_FRAMES_PER_ROOM, type RenderResult, type SnapshotAck } from '../../lib/protocol';
import { startServer, type TestServer } from '../helpers/server';
import { roomFetch } from '../helpers/roomHttp';
import { addLiveFrame, connectPeer, createRoom, until, type Peer } from '../helpers/yclient';
import { sketchJpeg } from '../helpers/images';

let frames = 0;
const addFrame = (peer: Peer) => addLiveFrame(peer, {}, `shape:hard${++frames}`);

function snapshot(peer: Peer, frameId: string, seq: number, image: Buffer): Promise<SnapshotAck> {
  return peer.socket
    .timeout(10_000)
    .emitWithAck(EV.snapshot, { roomId: peer.roomId, frameId, seq, hash: `h${seq}`, mime: 'image/jpeg', image, sentAt: Date.now() });
}

function rendersOf(peer: Peer): RenderResult[] {
  const got: RenderResult[] = [];
  peer.socket.on(EV.render, (r: RenderResult) => got.push(r));
  return got;
}

let server: TestServer;
const HISTORY_LIMIT = 40 * 1024;

beforeAll(async () => {
  server = await startServer({
    model: 'tiny-lcm',
    env: {
      LOG_LEVEL: 'warn',
      ENGINE_WARMUP_SIZES: '128',
      SNAPSHOT_RATE_PER_SECOND: '1000',
      SNAPSHOT_RATE_BURST: '1000',
      RENDER_HISTORY_MB: String(HISTORY_LIMIT / 1024 / 1024),
    },
  });
  await until(async () => ((await (await fetch(`${server.url}/healthz`)).json()) as { engine?: { state: string } }).engine?.state === 'ready', 60_000, 'engine ready');
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('render path hardening', () => {
  it('a bogus huge seq does not lock a frame: the honest client continues above it without a violation', async () => {
    const room = await createRoom(server.url);
    const attacker = await connectPeer(server.url, room);
    const honest = await connectPeer(server.url, room);
    const renders = rendersOf(honest);
    const frameId = await addFrame(attacker);
    await until(() => honest.records.has(frameId), 2_000, 'frame synced');
    expect(await snapshot(attacker, frameId, Number.MAX_SAFE_INTEGER, await sketchJpeg(128, 1))).toMatchObject({ ok: true });
    // what the browser's snapshotter does with `stale`: continue above the server's lastSeq
    let seq = Date.now();
    let ack = await snapshot(honest, frameId, seq, await sketchJpeg(128, 2));
    for (let tries = 0; ack.ok && ack.outcome === 'stale' && tries < 3; tries++) {
      seq = ack.lastSeq + 1;
      ack = await snapshot(honest, frameId, seq, await sketchJpeg(128, 2 + tries));
    }
    expect(ack).toMatchObject({ ok: true, outcome: expect.stringMatching(/accepted|replaced/) });
    await until(() => renders.some((r) => r.seq === (ack as { lastSeq: number }).lastSeq), 10_000, 'the honest render');
    expect(honest.errors).toEqual([]);
    expect(honest.socket.connected).toBe(true);
    // and again on the next snapshot: the frame keeps rendering for the honest client
    const next = await snapshot(honest, frameId, Math.max(Date.now(), (ack as { lastSeq: number }).lastSeq + 1), await sketchJpeg(128, 9));
    expect(next).toMatchObject({ ok: true, outcome: expect.stringMatching(/accepted|replaced/) });
    attacker.close();
    honest.close();
  });

  it('keeps the renders of all rooms under RENDER_HISTORY_MB, dropping the least recently used first', async () => {
    const rooms = [await createRoom(server.url), await createRoom(server.url)];
    const peers = await Promise.all(rooms.map((r) => connectPeer(server.url, r)));
    const frameIds: string[][] = [];
    for (const peer of peers) frameIds.push([await addFrame(peer), await addFrame(peer), await addFrame(peer)]);
    const received = peers.map(rendersOf);
    // 6 frames × 8 renders: far more JPEG bytes than the 40 KB budget
    for (let round = 1; round <= 8; round++) {
      for (let p = 0; p < peers.length; p++) {
        for (const frameId of frameIds[p]) {
          const ack = await snapshot(peers[p], frameId, round, await sketchJpeg(128, round * 7 + p));
          expect(ack.ok).toBe(true);
          await until(() => received[p].some((r) => r.frameId === frameId && r.seq === round), 10_000, `render ${round} of ${frameId}`);
        }
      }
    }
    let keptBytes = 0;
    let keptRenders = 0;
    for (let p = 0; p < peers.length; p++) {
      for (const frameId of frameIds[p]) {
        const list = FrameRenderList.parse(await (await roomFetch(`${server.url}/api/renders/${rooms[p]}/${encodeURIComponent(frameId)}`, rooms[p])).json());
        for (const r of list.renders) {
          keptBytes += (await (await roomFetch(`${server.url}${r.url}`, rooms[p])).arrayBuffer()).byteLength;
          keptRenders++;
        }
      }
    }
    const sent = received.flat().reduce((n, r) => n + r.image.byteLength, 0);
    expect(sent).toBeGreaterThan(2 * HISTORY_LIMIT);
    expect(keptBytes).toBeLessThanOrEqual(HISTORY_LIMIT);
    expect(keptRenders).toBeGreaterThan(0);
    // the newest render (the last frame of the last room) is the last one evicted
    const lastFrame = frameIds[1][2];
    const last = FrameRenderList.parse(await (await roomFetch(`${server.url}/api/renders/${rooms[1]}/${encodeURIComponent(lastFrame)}`, rooms[1])).json());
    expect(last.renders.at(-1)?.seq).toBe(8);
    for (const peer of peers) peer.close();
  });

  it(`renders at most ${MAX_RENDER_FRAMES_PER_ROOM} frames per room; the next is refused without a violation`, async () => {
    const room = await createRoom(server.url);
    const peer = await connectPeer(server.url, room);
    const image = await sketchJpeg(128, 3);
    const acks: SnapshotAck[] = [];
    for (let i = 0; i <= MAX_RENDER_FRAMES_PER_ROOM; i++) acks.push(await snapshot(peer, await addFrame(peer), 1, image));
    expect(acks.slice(0, MAX_RENDER_FRAMES_PER_ROOM).every((a) => a.ok)).toBe(true);
    expect(acks.at(-1)).toMatchObject({ ok: false, error: { code: 'too-large' } });
    expect(peer.socket.connected).toBe(true);
    peer.close();
  }, 60_000);
});
