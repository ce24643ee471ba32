// Issue 9, finding 1: amplification. A sync step 1 with an empty state vector is 3 bytes and asks
// for the whole document. Before, 100 of them against a multi-MB room made the server encode and
// queue 100 copies (hundreds of MB, event loop stalled for every room; with a paused reader all of
// it stayed in memory). Now what the server sends in reply is charged to the socket's outgoing
// byte budget, one step 1 per socket and room is outstanding at a time (later ones are coalesced),
// one encoded state is reused per document version, and a socket whose unsent data grows past a
// limit is disconnected.
import { io, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, drawShape, roomToken, until, type Peer } from '../helpers/yclient';

let server: TestServer;
const peers: Peer[] = [];
const sockets: Socket[] = [];

// Long heartbeats, so that what disconnects a paused reader here is the outgoing-buffer limit and
// not engine.io's ping timeout. The buffer limit is low so the test needs a few MB, not the default.
const BUFFER_LIMIT = 2 * 1024 * 1024;

beforeAll(async () => {
  server = await startServer({
    env: {
      LOG_LEVEL: 'info',
      PING_INTERVAL_MS: '20000',
      PING_TIMEOUT_MS: '20000',
      MAX_SOCKET_BUFFER_BYTES: String(BUFFER_LIMIT),
      // the writer of the busy-room test sends ~20 MB quickly (incoming budget only; the outgoing
      // budget keeps its defaults)
      RATE_BYTES_PER_SECOND: String(32 * 1024 * 1024),
      RATE_BYTES_BURST: String(64 * 1024 * 1024),
    },
  });
});
afterEach(() => {
  for (const p of peers.splice(0)) p.close();
  for (const s of sockets.splice(0)) s.disconnect();
});
afterAll(async () => {
  await server?.stop();
});

const peer = async (roomId: string) => {
  const p = await connectPeer(server.url, roomId);
  peers.push(p);
  return p;
};
const health = async () => (await (await fetch(`${server.url}/healthz`)).json()) as { rssMB: number; clients: number };

/** A room of about `mb` MB of valid draw shapes (long strokes); its encoded size. */
async function bigRoom(mb: number) {
  const roomId = await createRoom(server.url);
  const writer = await peer(roomId);
  let i = 0;
  while (Y.encodeStateAsUpdate(writer.doc).byteLength < mb * 1024 * 1024) {
    writer.doc.transact(() => {
      for (let k = 0; k < 40; k++, i++) writer.records.set(`shape:draw${i}`, drawShape(i, 1500));
    });
    await writer.acked();
  }
  expect(writer.nacks).toEqual([]);
  return { roomId, writer, bytes: Y.encodeStateAsUpdate(writer.doc).byteLength };
}

/** A raw socket that joined `roomId` and counts the y:sync bytes it receives. */
async function attackerIn(roomId: string, roomBytes: number) {
  const s = io(server.url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token: roomToken(roomId) } });
  sockets.push(s);
  const got = { bytes: 0, copies: 0 };
  s.on('y:sync', (m: { data: ArrayBuffer }) => {
    got.bytes += m.data.byteLength;
    if (m.data.byteLength > roomBytes / 2) got.copies++;
  });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  expect(await s.timeout(5000).emitWithAck('room:join', { roomId })).toMatchObject({ ok: true });
  return { s, got };
}

/** Sync step 1 with an empty state vector: "send me everything" in 3 bytes. */
const EMPTY_STEP1 = new Uint8Array([0, 1, 0]);

/** Round trips of an honest edit (a writes, b sees it) in another room, for `ms`. */
async function honestRoundTrips(ms: number): Promise<number[]> {
  const roomId = await createRoom(server.url);
  const a = await peer(roomId);
  const b = await peer(roomId);
  const times: number[] = [];
  const end = Date.now() + ms;
  for (let n = 0; Date.now() < end; n++) {
    const t = performance.now();
    a.records.set(`shape:draw${n}`, drawShape(n));
    await until(() => b.records.has(`shape:draw${n}`), 10_000, 'the honest edit arrives');
    times.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 20));
  }
  return times;
}

describe('step 1 amplification (finding 1)', () => {
  it('a paused reader flooding step 1s gets at most a copy or two queued in the server, not one per message', async () => {
    const room = await bigRoom(4);
    const a = await attackerIn(room.roomId, room.bytes);
    const rssBefore = (await health()).rssMB;
    // stop reading: what the server sends piles up in its buffers
    const tcp = (a.s.io.engine.transport as unknown as { ws: { _socket: { pause(): void; resume(): void } } }).ws._socket;
    tcp.pause();
    for (let i = 0; i < 100; i++) a.s.emit('y:sync', { roomId: room.roomId, data: EMPTY_STEP1 });
    await new Promise((r) => setTimeout(r, 1500));
    const rssPaused = (await health()).rssMB;
    // read again: whatever the server queued arrives now
    tcp.resume();
    await new Promise((r) => setTimeout(r, 1500));
    console.log(`paused reader: ${a.got.copies} copies queued; rss ${rssBefore} → ${rssPaused} MB`);
    expect(a.got.copies).toBeLessThanOrEqual(3);
    expect(rssPaused - rssBefore).toBeLessThan(100);
  });

  it('100 empty step 1s against a multi-MB room: at most ~2 copies sent, memory flat, an honest room keeps syncing', async () => {
    const room = await bigRoom(4);
    const a = await attackerIn(room.roomId, room.bytes);
    // the honest pair first, so their connection and room load are not part of the measurement
    const honest = honestRoundTrips(2000);
    await new Promise((r) => setTimeout(r, 200));
    const rssBefore = (await health()).rssMB;
    for (let i = 0; i < 100; i++) a.s.emit('y:sync', { roomId: room.roomId, data: EMPTY_STEP1 });
    const times = await honest;
    const rssAfter = (await health()).rssMB;
    const sorted = [...times].sort((x, y) => x - y);
    const p95 = sorted[Math.floor(sorted.length * 0.95)]!;
    console.log(`room ${(room.bytes / 1048576).toFixed(1)} MB: attacker got ${a.got.copies} copies (${(a.got.bytes / 1048576).toFixed(1)} MB); honest p95 ${p95.toFixed(0)} ms over ${times.length}; rss ${rssBefore} → ${rssAfter} MB`);
    // 8 MB of outgoing burst + 2 MB/s: one copy at once, a second one 0.2 s later, the third not before 2 s
    expect(a.got.copies).toBeGreaterThanOrEqual(1);
    expect(a.got.copies).toBeLessThanOrEqual(2);
    expect(a.got.bytes).toBeLessThan(2.5 * room.bytes);
    expect(rssAfter - rssBefore).toBeLessThan(100);
    expect(p95).toBeLessThan(500);
    // the 100 requests were coalesced: nothing more comes by itself…
    await new Promise((r) => setTimeout(r, 1000));
    expect(a.got.copies).toBe(2);
    // …but the attacker is still connected and its budget refills: a new step 1 is answered
    expect(a.s.connected).toBe(true);
    a.s.emit('y:sync', { roomId: room.roomId, data: EMPTY_STEP1 });
    await until(() => a.got.copies === 3, 10_000, 'a later step 1 is answered once the budget allows');
  });

  it('a socket that does not read while its room is busy is disconnected once its unsent data passes the limit, with the reason logged', async () => {
    const roomId = await createRoom(server.url);
    const writer = await peer(roomId);
    const a = await attackerIn(roomId, Number.MAX_SAFE_INTEGER);
    const before = (await health()).clients;
    (a.s.io.engine.transport as unknown as { ws: { _socket: { pause(): void } } }).ws._socket.pause();
    // 24 MB of edits in the room, paced under the writer's byte budget; the paused socket gets all of it
    let i = 0;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !/outgoing buffer/.test(server.output())) {
      writer.doc.transact(() => {
        for (let k = 0; k < 40; k++, i++) writer.records.set(`shape:draw${i % 2000}`, drawShape(i % 2000, 1500));
      });
      await writer.acked();
      if (i > 2000) break;
    }
    await until(async () => (await health()).clients === before - 1, 5000, 'the paused socket is disconnected');
    expect(server.output()).toMatch(/outgoing buffer/);
    expect(server.output()).toContain(roomId);
    // the writer was not affected
    expect(writer.socket.connected).toBe(true);
    expect(writer.nacks).toEqual([]);
  });
});
