// Bad input never hurts a room: every kind of bad message gets an `lc:error` with the right code
// (and a failed ack), repeated offences disconnect the sender, and the room's document stays
// exactly what the honest clients wrote while they keep syncing.
import * as encoding from 'lib0/encoding';
import { io, type Socket } from 'socket.io-client';
import { Awareness, encodeAwarenessUpdate } from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_VIOLATIONS, MAX_YJS_MESSAGE_BYTES } from '../../lib/protocol/limits';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, drawShape, randomRoomId, recordsOf, until, type AckResult, type Peer } from '../helpers/yclient';

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
  const roomId = randomRoomId();
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
  it('invalid payload shapes → invalid-message; bad room ids → invalid-room; unknown events → invalid-message', async () => {
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

  it('a flood → rate-limited, then disconnect; honest clients keep syncing', async () => {
    const room = await honestRoom();
    const attacker = await peer(room.roomId);
    const fake = new Awareness(new Y.Doc());
    const aw = encodeAwarenessUpdate(fake, [fake.clientID]);
    fake.destroy();
    for (let i = 0; i < 2000; i++) attacker.socket.emit('y:awareness', { roomId: room.roomId, data: aw });
    await until(() => !attacker.socket.connected, 10_000, 'flooder disconnected');
    expect(attacker.errors.some((e) => e.code === 'rate-limited')).toBe(true);
    await expectIntact(room);
    const health = (await (await fetch(`${server.url}/healthz`)).json()) as { ok: boolean };
    expect(health.ok).toBe(true);
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
