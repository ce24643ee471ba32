// Yjs sync through the real server: convergence of concurrent edits, late joiners, offline edits
// that reach the others after a reconnect.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as encoding from 'lib0/encoding';
import { io } from 'socket.io-client';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SqliteRoomStore } from '../../server/store/SqliteRoomStore';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, drawShape, randomRoomId, recordsOf, roomToken, until, type AckResult, type Peer } from '../helpers/yclient';

let server: TestServer;
const peers: Peer[] = [];
const peer = async (roomId: string, name = 'tester') => {
  const p = await connectPeer(server.url, roomId, { user: { name, color: '#336699' } });
  peers.push(p);
  return p;
};

beforeAll(async () => {
  server = await startServer();
});
afterEach(() => {
  for (const p of peers.splice(0)) p.close();
});
afterAll(async () => {
  await server?.stop();
});

const health = async () => (await (await fetch(`${server.url}/healthz`)).json()) as { rooms: number; clients: number };
async function untilAsync(pred: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('room sync', () => {
  it('two peers converge after concurrent edits; a late joiner gets the whole document', async () => {
    const roomId = await createRoom(server.url);
    const a = await peer(roomId, 'a');
    const b = await peer(roomId, 'b');
    // Concurrent: both write before either has seen the other's change, including the same key.
    a.doc.transact(() => {
      for (let i = 0; i < 20; i++) a.records.set(`shape:a${i}`, { ...drawShape(i), id: `shape:a${i}` });
      a.records.set('shape:both', { ...drawShape(999), x: 1 });
    });
    b.doc.transact(() => {
      for (let i = 0; i < 20; i++) b.records.set(`shape:b${i}`, { ...drawShape(i), id: `shape:b${i}` });
      b.records.set('shape:both', { ...drawShape(999), x: 2 });
    });
    await until(() => a.records.size === 41 && b.records.size === 41, 2000, 'both peers have 41 records');
    expect(recordsOf(a.records)).toEqual(recordsOf(b.records));
    // One of the two concurrent writes of the same key wins, the same one on both sides.
    expect([1, 2]).toContain((a.records.get('shape:both') as { x: number }).x);

    a.records.delete('shape:a0');
    await until(() => !b.records.has('shape:a0'), 2000, 'b sees the delete');

    const c = await peer(roomId, 'c');
    expect(c.records.size).toBe(40);
    expect(recordsOf(c.records)).toEqual(recordsOf(a.records));
  });

  it('a peer that edits offline converges on reconnect, nothing lost on either side', async () => {
    const roomId = await createRoom(server.url);
    const a = await peer(roomId, 'a');
    const b = await peer(roomId, 'b');
    a.records.set('shape:before', drawShape(1));
    await until(() => b.records.has('shape:before'), 2000, 'b sees shape:before');

    b.disconnect();
    await until(() => !b.socket.connected, 2000, 'b offline');
    // Both sides edit while b is offline, including a conflicting edit of the same record.
    b.records.set('shape:offline-b', drawShape(2));
    b.records.delete('shape:before');
    a.records.set('shape:online-a', drawShape(3));
    await a.acked();
    expect(b.records.has('shape:online-a')).toBe(false);

    await b.reconnect();
    await until(
      () => a.records.has('shape:offline-b') && b.records.has('shape:online-a') && !a.records.has('shape:before'),
      2000,
      'offline and online edits meet',
    );
    expect(recordsOf(a.records)).toEqual(recordsOf(b.records));
    expect(Object.keys(recordsOf(a.records))).toEqual(['shape:offline-b', 'shape:online-a']);
  });

  it('the room outlives its last client: rejoining after everyone left restores it from the store', async () => {
    const roomId = await createRoom(server.url);
    const a = await peer(roomId, 'a');
    for (let i = 0; i < 30; i++) a.records.set(`shape:${i}`, drawShape(i));
    await a.acked();
    expect((await health()).rooms).toBe(1);
    peers.splice(0).forEach((p) => p.close());
    // The room unloads (after compaction) when its last client leaves.
    await untilAsync(async () => (await health()).rooms === 0, 2000, 'the room unloads');
    const b = await peer(roomId, 'b');
    expect(b.records.size).toBe(30);
    expect(b.records.get('shape:7')).toEqual(drawShape(7));
  });

  it('works over HTTP long-polling too (the transport browsers start with)', async () => {
    const roomId = await createRoom(server.url);
    const a = await connectPeer(server.url, roomId, { transports: ['polling'] });
    const b = await connectPeer(server.url, roomId, { transports: ['polling', 'websocket'] });
    peers.push(a, b);
    a.records.set('shape:polled', drawShape(5));
    await until(() => b.records.has('shape:polled'), 3000, 'b sees the polled edit');
    expect(a.errors).toEqual([]);
  });

  it('one socket can be in several rooms, and their documents stay apart', async () => {
    // A socket's handshake carries one room's link: besides that shared room it can join open
    // rooms (stored before access control, joinable by id). r2 is one, in a data dir of its own.
    const dataDir = mkdtempSync(join(tmpdir(), 'lc-sync-'));
    const r2 = randomRoomId();
    const seed = new Y.Doc();
    seed.getMap('tl_records').set('shape:r2-seed', drawShape(3));
    const store = new SqliteRoomStore(dataDir);
    store.appendUpdate(r2, Y.encodeStateAsUpdate(seed));
    store.close();
    const s = await startServer({ dataDir });
    try {
      const r1 = await createRoom(s.url);
      const a1 = await connectPeer(s.url, r1);
      const b2 = await connectPeer(s.url, r2);
      peers.push(a1, b2);
      a1.records.set('shape:r1', drawShape(1));
      b2.records.set('shape:r2', drawShape(2));
      await Promise.all([a1.acked(), b2.acked()]);
      // A third client joins both rooms over one connection (the same socket), with r1's link.
      const both = await connectPeer(s.url, r1);
      peers.push(both);
      const ack = await both.socket.emitWithAck('room:join', { roomId: r2 });
      expect(ack).toMatchObject({ ok: true, role: 'editor', open: true });
      expect(both.records.has('shape:r1')).toBe(true);
      expect(both.records.has('shape:r2')).toBe(false);
    } finally {
      peers.splice(0).forEach((p) => p.close());
      await s.stop();
    }
  });

  it('after a refused update (and the gap it leaves), joining again on the same socket resyncs what the server lacks', async () => {
    const roomId = await createRoom(server.url);
    const a = await peer(roomId, 'a');
    const b = await peer(roomId, 'b');
    // Over MAX_YJS_MESSAGE_BYTES: refused, and a's next update builds on it, so it is refused too.
    a.records.set('shape:big', { blob: 'x'.repeat(2.2 * 1024 * 1024) });
    a.records.set('shape:small', drawShape(1));
    await a.acked();
    expect(a.nacks.map((n) => n.error?.code)).toEqual(['too-large', 'malformed-update']);
    expect(a.nacks[0]!.error!.message).toMatch(/over the 2 MB limit; nothing was applied.*several update messages/);
    // a drops the oversized record and joins again: the state-vector exchange carries the rest.
    a.records.delete('shape:big');
    await a.acked();
    expect(await a.socket.emitWithAck('room:join', { roomId })).toMatchObject({ ok: true });
    await until(() => b.records.has('shape:small'), 2000, 'b gets the small shape after the rejoin');
    expect(b.records.has('shape:big')).toBe(false);
    expect(recordsOf(b.records)).toEqual(recordsOf(a.records));
  });

  it('offline changes over 2 MB: one sync step 2 is refused with a message that says what to do; the same changes as several update messages go through', async () => {
    const roomId = await createRoom(server.url);
    const a = await peer(roomId, 'a');
    a.records.set('shape:base', drawShape(1));
    await a.acked();
    // An offline client that had synced, then made three ~0.9 MB changes.
    const offline = new Y.Doc();
    Y.applyUpdate(offline, Y.encodeStateAsUpdate(a.doc));
    const serverState = Y.encodeStateVector(offline);
    const chunks: Uint8Array[] = [];
    offline.on('update', (u: Uint8Array) => chunks.push(u));
    // valid records (the server validates them), each made ~0.9 MB by its meta
    for (let i = 0; i < 3; i++) {
      offline.getMap('tl_records').set(`shape:offline${i}`, { ...drawShape(10 + i), id: `shape:offline${i}`, meta: { pad: String(i).repeat(900 * 1024) } });
    }
    const socket = io(server.url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { token: roomToken(roomId) } });
    try {
      expect(await socket.timeout(5000).emitWithAck('room:join', { roomId })).toMatchObject({ ok: true });
      const message = (type: number, update: Uint8Array) => {
        const enc = encoding.createEncoder();
        encoding.writeVarUint(enc, type);
        encoding.writeVarUint8Array(enc, update);
        return encoding.toUint8Array(enc);
      };
      const send = (data: Uint8Array) => socket.timeout(10_000).emitWithAck('y:sync', { roomId, data }) as Promise<AckResult>;
      const step2 = await send(message(syncProtocol.messageYjsSyncStep2, Y.encodeStateAsUpdate(offline, serverState)));
      expect(step2).toMatchObject({ ok: false, error: { code: 'too-large' } });
      expect(step2.error!.message).toMatch(/message is 2\.\d\d MB, over the 2 MB limit; nothing was applied\. Send changes this large .* as several update messages/);
      expect(chunks).toHaveLength(3);
      for (const chunk of chunks) expect(await send(message(syncProtocol.messageYjsUpdate, chunk))).toEqual({ ok: true });
      await until(() => a.records.has('shape:offline2'), 5000, 'a gets the offline changes');
      expect(recordsOf(a.records)).toEqual(recordsOf(offline.getMap('tl_records')));
    } finally {
      socket.disconnect();
    }
  });
});
