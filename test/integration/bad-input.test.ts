// Bad input never hurts a room: every kind of bad message gets an `lc:error` with the right code
// (and a failed ack), repeated offences disconnect the sender, and the room's document stays
// exactly what the honest clients wrote while they keep syncing.
import * as encoding from 'lib0/encoding';
import { io, type Socket } from 'socket.io-client';
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BYTE_RATE_LIMIT, MAX_VIOLATIONS, MAX_YJS_MESSAGE_BYTES, RATE_LIMIT } from '../../lib/protocol/limits';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, drawShape, randomRoomId, recordsOf, until, type AckResult, type Peer } from '../helpers/yclient';

let server: TestServer;
const peers: Peer[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  server = await startServer();
});
afterEach(() => {
  for (const p of peers.splice(0)) p.close();
  for (const s of sockets.splice(0)) s.disconnect();
});
afterAll(async () => {
  await server?.stop();
});

const peer = async (roomId: string, url = server.url) => {
  const p = await connectPeer(url, roomId);
  peers.push(p);
  return p;
};
const rawSocket = async (url = server.url) => {
  const s = io(url, { transports: ['websocket'], forceNew: true, reconnection: false });
  sockets.push(s);
  await new Promise<void>((resolve, reject) => {
    s.once('connect', () => resolve());
    s.once('connect_error', reject);
  });
  return s;
};
const send = (s: Socket, event: string, payload: unknown) =>
  s.timeout(5000).emitWithAck(event, payload) as Promise<AckResult>;
const updateMessage = (update: Uint8Array) => {
  const enc = encoding.createEncoder();
  syncProtocol.writeUpdate(enc, update);
  return encoding.toUint8Array(enc);
};
/** A room with honest content: returns the writer, a watcher and the expected records. */
async function honestRoom(url = server.url) {
  const roomId = await createRoom(url);
  const writer = await peer(roomId, url);
  for (let i = 0; i < 10; i++) writer.records.set(`shape:${i}`, drawShape(i));
  await writer.acked();
  const watcher = await peer(roomId, url);
  await until(() => watcher.records.size === 10, 2000, 'watcher synced');
  return { roomId, writer, watcher, expected: recordsOf(writer.records) };
}
/** The document is exactly what honest clients wrote, for them and for a newcomer, and they
 * still sync. */
async function expectIntact(room: Awaited<ReturnType<typeof honestRoom>>, url = server.url) {
  const { roomId, writer, watcher, expected } = room;
  expect(recordsOf(writer.records)).toEqual(expected);
  expect(recordsOf(watcher.records)).toEqual(expected);
  const newcomer = await peer(roomId, url);
  expect(recordsOf(newcomer.records)).toEqual(expected);
  expect(newcomer.doc.store.pendingStructs).toBeNull();
  expect(newcomer.doc.share.size).toBe(1); // nothing but tl_records
  writer.records.set('shape:after', drawShape(1000));
  await until(() => watcher.records.has('shape:after') && newcomer.records.has('shape:after'), 2000, 'still syncing');
  room.expected = recordsOf(writer.records);
}

describe('bad input', () => {
  it('invalid payload shapes → invalid-message; bad room ids → invalid-room; unknown rooms → no-such-room; unknown events → invalid-message', async () => {
    const s = await rawSocket();
    const roomId = randomRoomId();
    for (const payload of ['hello', 42, null, [], { roomId }, { roomId, data: 'not bytes' }, { roomId, data: new Uint8Array(0) }]) {
      const res = await send(s, 'y:sync', payload);
      expect(res.ok).toBe(false);
      expect(res.error?.code).toBe('invalid-message');
    }
    for (const bad of ['short', 'has spaces in it', '../../etc/passwd', 'x'.repeat(65), 12345678901]) {
      const res = await send(s, 'room:join', { roomId: bad });
      expect(res).toMatchObject({ ok: false, error: { code: 'invalid-room' } });
    }
    expect(await send(s, 'room:join', { roomId, user: { name: '', color: 'red' } })).toMatchObject({
      ok: false,
      error: { code: 'invalid-message' },
    });
    // A well-formed id of a room nobody created is refused, not created.
    expect(await send(s, 'room:join', { roomId })).toMatchObject({ ok: false, error: { code: 'no-such-room' } });
    expect(await send(s, 'no-such-event', { roomId })).toMatchObject({ ok: false, error: { code: 'invalid-message' } });
    // Errors also arrive as lc:error events naming the event.
    const evt = new Promise((r) => s.once('lc:error', r));
    s.emit('y:awareness', { roomId: 'bad room' });
    expect(await evt).toMatchObject({ code: 'invalid-room', event: 'y:awareness' });
  });

  it('messages for a room the socket has not joined → not-joined, and nothing is applied', async () => {
    const room = await honestRoom();
    const s = await rawSocket();
    const other = new Y.Doc();
    other.getMap('tl_records').set('shape:intruder', drawShape(1));
    const res = await send(s, 'y:sync', { roomId: room.roomId, data: updateMessage(Y.encodeStateAsUpdate(other)) });
    expect(res).toMatchObject({ ok: false, error: { code: 'not-joined' } });
    expect(await send(s, 'y:awareness', { roomId: room.roomId, data: new Uint8Array([0]) })).toMatchObject({
      error: { code: 'not-joined' },
    });
    await expectIntact(room);
  });

  it('an oversized message → too-large without applying it; beyond the transport limit → disconnect only that socket', async () => {
    const room = await honestRoom();
    const attacker = await peer(room.roomId);
    const big = new Y.Doc();
    big.getMap('tl_records').set('shape:big', { blob: 'x'.repeat(MAX_YJS_MESSAGE_BYTES + 1000) });
    const data = updateMessage(Y.encodeStateAsUpdate(big));
    expect(data.byteLength).toBeGreaterThan(MAX_YJS_MESSAGE_BYTES);
    const res = await send(attacker.socket, 'y:sync', { roomId: room.roomId, data });
    expect(res).toMatchObject({ ok: false, error: { code: 'too-large' } });
    // The refusal says what happened and what a client with that much to upload should do.
    expect(res.error!.message).toMatch(/message is 2\.\d\d MB, over the 2 MB limit; nothing was applied/);
    expect(res.error!.message).toMatch(/several update messages/);
    expect(attacker.errors.map((e) => e.code)).toContain('too-large');
    expect(attacker.socket.connected).toBe(true);

    attacker.socket.emit('y:sync', { roomId: room.roomId, data: new Uint8Array(5 * 1024 * 1024) });
    await until(() => !attacker.socket.connected, 5000, 'the 5 MB sender is disconnected');
    await expectIntact(room);
  });

  it('malformed sync and awareness messages → malformed-update, the document untouched', async () => {
    const room = await honestRoom();
    const attacker = await peer(room.roomId);
    // A real update of the room, to damage in various ways.
    const src = new Y.Doc();
    Y.applyUpdate(src, Y.encodeStateAsUpdate(attacker.doc));
    const before = Y.encodeStateVector(src);
    src.getMap('tl_records').set('shape:evil', drawShape(666));
    const realUpdate = Y.encodeStateAsUpdate(src, before);
    // An update that depends on content the room has never seen (it would be parked forever).
    const orphanSrc = new Y.Doc();
    orphanSrc.getMap('tl_records').set('shape:base', drawShape(1));
    const orphanBase = Y.encodeStateVector(orphanSrc);
    orphanSrc.getMap('tl_records').set('shape:base', drawShape(2));
    const orphan = Y.encodeStateAsUpdate(orphanSrc, orphanBase);

    const bad: Array<[string, Uint8Array]> = [
      ['truncated update', updateMessage(realUpdate.slice(0, realUpdate.length - 7))],
      ['random bytes as update', updateMessage(Uint8Array.from({ length: 64 }, (_, i) => (i * 97 + 13) & 0xff))],
      ['unknown sync type', new Uint8Array([7, 1, 0])],
      ['trailing bytes', new Uint8Array([...updateMessage(realUpdate), 1, 2, 3])],
      ['bad state vector', new Uint8Array([0, 3, 0xff, 0xff, 0xff])],
      ['not a sync message at all', new Uint8Array([0xff, 0xff, 0xff, 0xff])],
      ['update with missing dependencies', updateMessage(orphan)],
    ];
    for (const [what, data] of bad) {
      const res = await send(attacker.socket, 'y:sync', { roomId: room.roomId, data });
      expect(res, what).toMatchObject({ ok: false, error: { code: 'malformed-update' } });
    }
    for (const data of [new Uint8Array([1, 5, 1, 4]), new Uint8Array([1, 5, 1, 3, 65, 66, 67]), new Uint8Array([1])]) {
      const res = await send(attacker.socket, 'y:awareness', { roomId: room.roomId, data });
      expect(res).toMatchObject({ ok: false, error: { code: 'malformed-update' } });
    }
    expect(attacker.socket.connected).toBe(true); // 10 violations < MAX_VIOLATIONS
    await expectIntact(room);
    // The undamaged update is still accepted: the checks refuse only what is broken.
    expect(await send(attacker.socket, 'y:sync', { roomId: room.roomId, data: updateMessage(realUpdate) })).toEqual({ ok: true });
    await until(() => room.watcher.records.has('shape:evil'), 2000, 'valid update applied');
  });

  it(`repeated bad messages → disconnect after ${MAX_VIOLATIONS}`, async () => {
    const room = await honestRoom();
    const attacker = await peer(room.roomId);
    for (let i = 0; i < MAX_VIOLATIONS + 5 && attacker.socket.connected; i++) {
      attacker.socket.emit('y:sync', { roomId: room.roomId, data: new Uint8Array([2, 3, 1, 2, 3]) });
    }
    await until(() => !attacker.socket.connected, 5000, 'attacker disconnected');
    const codes = attacker.errors.map((e) => e.code);
    expect(codes.filter((c) => c === 'malformed-update').length).toBeGreaterThanOrEqual(MAX_VIOLATIONS);
    expect(attacker.errors.at(-1)!.message).toMatch(/disconnecting/);
    await expectIntact(room);
  });

  it('a flood of updates → rate-limited, then disconnect; honest clients keep syncing', async () => {
    const room = await honestRoom();
    const attacker = await peer(room.roomId);
    const emptyUpdate = updateMessage(new Uint8Array([0, 0])); // valid, changes nothing
    for (let i = 0; i < 2000 && attacker.socket.connected; i++) attacker.socket.emit('y:sync', { roomId: room.roomId, data: emptyUpdate });
    await until(() => !attacker.socket.connected, 10_000, 'flooder disconnected');
    expect(attacker.errors.some((e) => e.code === 'rate-limited')).toBe(true);
    await expectIntact(room);
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as { ok: boolean };
    expect(health.ok).toBe(true);
  });

  it('an awareness burst over the message budget is thinned out silently: no error, no violation, no disconnect', async () => {
    const room = await honestRoom();
    const sender = await peer(room.roomId);
    const fake = new Awareness(new Y.Doc());
    fake.setLocalStateField('user', { name: 'Fast', color: '#123456' });
    const burst = 3 * RATE_LIMIT.burst;
    for (let i = 0; i < burst; i++) {
      fake.setLocalStateField('cursor', { x: i, y: 0 });
      sender.socket.emit('y:awareness', { roomId: room.roomId, data: encodeAwarenessUpdate(fake, [fake.clientID]) });
    }
    fake.destroy();
    // Wait for the bucket to refill, then prove the burst cost no violations: MAX_VIOLATIONS - 1
    // bad messages keep the socket connected, one more disconnects it.
    await until(() => (room.watcher.awareness.getStates().get(fake.clientID) as { cursor?: { x: number } })?.cursor !== undefined, 2000, 'burst reached the watcher');
    await new Promise((r) => setTimeout(r, Math.ceil((RATE_LIMIT.burst / RATE_LIMIT.perSecond) * 1000) + 200));
    expect(sender.socket.connected).toBe(true);
    expect(sender.errors).toEqual([]);
    const bad = { roomId: room.roomId, data: new Uint8Array([2, 3, 1, 2, 3]) };
    for (let i = 0; i < MAX_VIOLATIONS - 1; i++) expect((await send(sender.socket, 'y:sync', bad)).error?.code).toBe('malformed-update');
    await new Promise((r) => setTimeout(r, 200));
    expect(sender.socket.connected).toBe(true);
    sender.socket.emit('y:sync', bad);
    await until(() => !sender.socket.connected, 5000, 'the 20th violation disconnects');
    await expectIntact(room);
  });

  it('a byte flood (few messages, many MB) → rate-limited by the byte budget', async () => {
    const room = await honestRoom();
    const attacker = await peer(room.roomId);
    // 1.5 MB messages: 16 of them are far under the message budget but 24 MB of data.
    const chunk = 1.5 * 1024 * 1024;
    const junk = updateMessage(new Uint8Array(chunk).fill(7));
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: 16 }, () => send(attacker.socket, 'y:sync', { roomId: room.roomId, data: junk })));
    const seconds = (performance.now() - t0) / 1000;
    const limited = results.filter((r) => r.error?.code === 'rate-limited');
    const judged = results.filter((r) => r.error?.code === 'malformed-update');
    expect(limited.length + judged.length).toBe(16);
    // Only what fits in the burst plus the refill got as far as the update decoder.
    expect(judged.length * chunk).toBeLessThanOrEqual(BYTE_RATE_LIMIT.burst + BYTE_RATE_LIMIT.perSecond * seconds + chunk);
    expect(limited.length).toBeGreaterThan(0);
    expect(limited[0]!.error!.message).toMatch(/too much data .*retry in \d+ ms/);
    await expectIntact(room);
  });
});

describe('a room at its size limit', () => {
  let smallServer: TestServer;
  const MAX_ROOM_BYTES = 60_000;
  beforeAll(async () => {
    smallServer = await startServer({ env: { MAX_ROOM_BYTES: String(MAX_ROOM_BYTES) } });
  });
  afterAll(async () => {
    for (const p of peers.splice(0)) p.close();
    await smallServer?.stop();
  });

  it('refuses additions with too-large (never a disconnect), keeps the document intact, still accepts deletions', async () => {
    const roomId = await createRoom(smallServer.url);
    const writer = await peer(roomId, smallServer.url);
    const watcher = await peer(roomId, smallServer.url);
    let n = 0;
    while (writer.nacks.length === 0 && n < 1000) {
      writer.records.set(`shape:${n}`, drawShape(n));
      n++;
      await writer.acked();
    }
    expect(writer.nacks.length).toBe(1);
    const accepted = n - 1;
    expect(accepted).toBeGreaterThan(10);
    expect(writer.nacks[0]!.error).toMatchObject({ code: 'too-large' });
    expect(writer.nacks[0]!.error!.message).toMatch(/is full: its document is .* over the 58\.6 KB limit \(MAX_ROOM_BYTES\); the update was not applied/);
    // An honest client keeps drawing: every later addition builds on the refused one and is
    // refused the same way, more often than MAX_VIOLATIONS, without a disconnect.
    for (let i = 0; i < MAX_VIOLATIONS + 5; i++) writer.records.set(`shape:late${i}`, drawShape(5000 + i));
    await writer.acked();
    expect(writer.nacks.length).toBe(MAX_VIOLATIONS + 6);
    expect(writer.nacks.every((r) => r.error?.code === 'too-large')).toBe(true);
    expect(writer.socket.connected).toBe(true);
    // Everyone else sees exactly the accepted shapes; a newcomer too.
    await until(() => watcher.records.size === accepted, 2000, 'watcher has the accepted shapes');
    const newcomer = await peer(roomId, smallServer.url);
    expect(recordsOf(newcomer.records)).toEqual(recordsOf(watcher.records));
    expect(newcomer.records.has(`shape:${accepted}`)).toBe(false);
    // Deletions are accepted even from the refused writer, and make room for others.
    for (let i = 0; i < 20; i++) writer.records.delete(`shape:${i}`);
    await writer.acked();
    await until(() => watcher.records.size === accepted - 20, 2000, 'deletions arrive');
    watcher.records.set('shape:fits-again', drawShape(9999));
    await watcher.acked();
    expect(watcher.nacks).toEqual([]);
    await until(() => newcomer.records.has('shape:fits-again'), 2000, 'new shape arrives');
  });
});

describe('fuzzing the update decoder', () => {
  let fuzzServer: TestServer;
  beforeAll(async () => {
    // No disconnects: every fuzz message must be judged on its own.
    fuzzServer = await startServer({ env: { MAX_VIOLATIONS: '100000', RATE_BURST: '100000', RATE_PER_SECOND: '100000' } });
  });
  afterAll(async () => {
    for (const p of peers.splice(0)) p.close();
    await fuzzServer?.stop();
  });

  it('truncated and random updates are all refused and leave the document intact', async () => {
    const room = await honestRoom(fuzzServer.url);
    const attacker = await peer(room.roomId, fuzzServer.url);
    const src = new Y.Doc();
    Y.applyUpdate(src, Y.encodeStateAsUpdate(attacker.doc));
    const sv = Y.encodeStateVector(src);
    const map = src.getMap('tl_records');
    src.transact(() => {
      map.set('shape:new', drawShape(77));
      map.delete('shape:3');
      map.set('shape:5', { ...drawShape(5), x: -1 });
    });
    const update = Y.encodeStateAsUpdate(src, sv);
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const cases: Uint8Array[] = [];
    for (let len = 1; len < update.length; len += Math.max(1, Math.floor(update.length / 150))) cases.push(update.slice(0, len));
    for (let i = 0; i < 150; i++) cases.push(Uint8Array.from({ length: 1 + Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
    const results = await Promise.all(cases.map((u) => send(attacker.socket, 'y:sync', { roomId: room.roomId, data: updateMessage(u) })));
    const accepted = results.filter((r) => r.ok).length;
    // Random bytes can spell an empty update ([0, 0]); anything else must be refused.
    expect(accepted).toBeLessThanOrEqual(2);
    expect(results.filter((r) => !r.ok).every((r) => r.error?.code === 'malformed-update')).toBe(true);
    await expectIntact(room, fuzzServer.url);
  });
});
