// Compaction folds a room's update log into one snapshot: every COMPACT_EVERY updates, when
// updates are older than COMPACT_INTERVAL_S, when the room empties, and on load after a crash —
// but never when that would drop stored data the server could not read. Asserted on the tables
// (snapshots, updates) of both stores, read from the test (test/helpers/storeUnderTest.ts).
//
// With one server, PostgresRoomStore.compact gives the same rows as SQLite: it merges the stored
// snapshot and log into the node's state, and every stored update came from that node. With several
// nodes on one PostgreSQL (the last case, PostgreSQL only: SQLite is one process's file) a snapshot
// holds more than the compacting node's doc — the merge is what keeps the other nodes' updates
// (PostgresRoomStore's header comment), and that case asserts exactly that.
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server';
import { loadedRecordIds, recordIdsOf, STORE_KINDS, useStoreUnderTest, type StoredRows, type StoreUnderTest } from '../helpers/storeUnderTest';
import { connectPeer, createRoom, drawShape, until, type Peer } from '../helpers/yclient';

const servers: TestServer[] = [];
const peers: Peer[] = [];
const NEVER = { COMPACT_EVERY: '100000', COMPACT_INTERVAL_S: '3600' };
const peer = async (url: string, roomId: string) => {
  const p = await connectPeer(url, roomId);
  peers.push(p);
  return p;
};
const write = async (p: Peer, from: number, to: number) => {
  for (let i = from; i < to; i++) p.records.set(`shape:${i}`, drawShape(i)); // one update each
  await p.acked();
  expect(p.nacks).toEqual([]);
};

interface Stored {
  updates: StoredRows['updates'];
  /** record ids in the snapshot, or null without one */
  snapshot: string[] | null;
}
/** What the store holds for a room right now (read next to the running server). */
async function stored(store: StoreUnderTest, dataDir: string, roomId: string): Promise<Stored> {
  const rows = await store.rows(dataDir, roomId);
  return { updates: rows.updates, snapshot: rows.snapshot ? recordIdsOf(rows.snapshot) : null };
}
const ids = (from: number, to: number, prefix = 'shape:') => Array.from({ length: to - from }, (_, k) => `${prefix}${from + k}`).sort();
const openRooms = async (s: TestServer) => ((await (await fetch(`${s.url}/healthz`)).json()) as { rooms: number }).rooms;

afterEach(async () => {
  for (const p of peers.splice(0)) p.close();
  for (const s of servers.splice(0)) await s.stop();
});

describe.each(STORE_KINDS)('compaction (%s)', (kind) => {
  const store = useStoreUnderTest(kind);
  const start = async (env: Record<string, string>, dataDir?: string) => {
    const s = await startServer({ dataDir, env: { ...store.env, ...env } });
    servers.push(s);
    return s;
  };
  const now = (s: TestServer, roomId: string) => stored(store, s.dataDir, roomId);

  it('when the last client leaves, the room is compacted into one snapshot', async () => {
    const s = await start(NEVER);
    const roomId = await createRoom(s.url);
    const a = await peer(s.url, roomId);
    await write(a, 0, 30);
    expect(await now(s, roomId)).toMatchObject({ snapshot: null });
    expect((await now(s, roomId)).updates).toHaveLength(30);
    a.close();
    await until(async () => (await now(s, roomId)).snapshot !== null, 5000, 'snapshot written on unload');
    expect(await now(s, roomId)).toEqual({ updates: [], snapshot: ids(0, 30) });
  });

  it('every COMPACT_EVERY updates while people keep editing', async () => {
    const s = await start({ COMPACT_EVERY: '10', COMPACT_INTERVAL_S: '3600' });
    const roomId = await createRoom(s.url);
    const a = await peer(s.url, roomId);
    await write(a, 0, 25);
    const rows = await now(s, roomId);
    expect(rows.snapshot).toEqual(ids(0, 20)); // compacted at the 10th and the 20th update
    expect(rows.updates).toHaveLength(5);
  });

  it('when the oldest update is older than COMPACT_INTERVAL_S, with the room still open', async () => {
    const s = await start({ COMPACT_EVERY: '100000', COMPACT_INTERVAL_S: '1' });
    const roomId = await createRoom(s.url);
    const a = await peer(s.url, roomId);
    await write(a, 0, 5);
    expect((await now(s, roomId)).updates).toHaveLength(5);
    await until(async () => (await now(s, roomId)).updates.length === 0, 5000, 'periodic compaction');
    expect((await now(s, roomId)).snapshot).toEqual(ids(0, 5));
    expect(a.socket.connected).toBe(true);
    expect(await openRooms(s)).toBe(1);
  });

  it('on load after a crash, the update log left behind is folded into the snapshot', async () => {
    const first = await start(NEVER);
    const roomId = await createRoom(first.url);
    await write(await peer(first.url, roomId), 0, 20);
    await first.stop('SIGKILL'); // kill -9: no flush, no compaction
    expect(await now(first, roomId)).toMatchObject({ snapshot: null });
    expect((await now(first, roomId)).updates).toHaveLength(20);

    const second = await start(NEVER, first.dataDir);
    const b = await peer(second.url, roomId);
    expect(b.records.size).toBe(20);
    expect(await now(second, roomId)).toEqual({ updates: [], snapshot: ids(0, 20) });
  });

  it('a stored update that cannot be applied is never deleted: no compaction for that room, logged loudly', async () => {
    const first = await start(NEVER);
    const roomId = await createRoom(first.url);
    await write(await peer(first.url, roomId), 0, 20);
    await first.stop('SIGKILL'); // kill -9: no flush, no compaction
    const garbage = Buffer.from('this is not a yjs update');
    const badSeq = await store.appendRaw(first.dataDir, roomId, garbage);
    expect((await now(first, roomId)).updates.at(-1)?.seq).toBe(badSeq);

    const second = await start(NEVER, first.dataDir);
    const b = await peer(second.url, roomId);
    expect(b.records.size).toBe(20); // everything readable is served
    const loud = `ROOM DATA DAMAGED: update ${badSeq} of room ${roomId} could not be applied`;
    await until(() => second.output().includes(loud), 2000, 'the damage is logged');
    const afterLoad = await now(second, roomId);
    expect(afterLoad.snapshot).toBeNull();
    expect(afterLoad.updates).toHaveLength(21);
    expect(afterLoad.updates.at(-1)).toEqual({ seq: badSeq, data: garbage });

    // New edits are still stored; emptying the room and stopping the server compact nothing.
    await write(b, 20, 22);
    b.close();
    await until(async () => (await openRooms(second)) === 0, 5000, 'room unloaded');
    await second.stop('SIGTERM');
    expect(second.proc.exitCode).toBe(0);
    const afterStop = await now(second, roomId);
    expect(afterStop.snapshot).toBeNull();
    expect(afterStop.updates).toHaveLength(23);
    expect(afterStop.updates.find((u) => u.seq === badSeq)?.data).toEqual(garbage);
  });

  it.runIf(kind === 'postgres')('nodes compacting one room concurrently never delete an update another node appended meanwhile', async () => {
    // Three server processes on the same DATABASE_URL and no Redis: none sees the others' edits in
    // memory, so each node's snapshot lacks the others' updates. A and B compact every 5 updates
    // (concurrently: the room's advisory lock orders them); C only appends, so an update of C that
    // a compaction deleted without merging it would never come back through C's own snapshot. A
    // compaction may delete only the log rows it read and merged in its transaction: every
    // acknowledged update of the three must be in a fresh load — after kill -9 of all of them, so
    // no unload compaction tidies anything up.
    const secret = { AUTH_SECRET: randomBytes(32).toString('base64url'), COMPACT_INTERVAL_S: '3600' };
    const [A, B, C] = await Promise.all([
      start({ ...secret, NODE_ID: 'web-a', COMPACT_EVERY: '5' }),
      start({ ...secret, NODE_ID: 'web-b', COMPACT_EVERY: '5' }),
      start({ ...secret, NODE_ID: 'web-c', COMPACT_EVERY: '100000' }),
    ]);
    const roomId = await createRoom(A.url);
    const [a, b, c] = await Promise.all([peer(A.url, roomId), peer(B.url, roomId), peer(C.url, roomId)]);
    const N = 60;
    for (let i = 0; i < N; i++) {
      // one update each, interleaved between the nodes; C's spread out over A's and B's compactions
      a.records.set(`shape:a${i}`, drawShape(i));
      b.records.set(`shape:b${i}`, drawShape(N + i));
      c.records.set(`shape:c${i}`, drawShape(2 * N + i));
      if (i % 3 === 2) await new Promise((r) => setTimeout(r, 2));
    }
    await Promise.all([a.acked(), b.acked(), c.acked()]);
    for (const p of [a, b, c]) expect(p.nacks).toEqual([]);
    const every = ['a', 'b', 'c'].flatMap((node) => ids(0, N, `shape:${node}`)).sort();
    await Promise.all([A, B, C].map((s) => s.stop('SIGKILL'))); // no unload compaction

    // A and B compacted, each merging the others' stored updates into the snapshot, and deleted
    // C's updates from the log that they had merged
    const rows = await store.rows(A.dataDir, roomId);
    const inSnapshot = recordIdsOf(rows.snapshot!);
    for (const node of ['a', 'b', 'c']) expect(inSnapshot.some((id) => id.startsWith(`shape:${node}`)), node).toBe(true);
    expect(rows.updates.length).toBeLessThan(N);
    expect(loadedRecordIds(rows)).toEqual(every);
    const fresh = await start({ ...secret, NODE_ID: 'web-d' }, A.dataDir);
    const reader = await peer(fresh.url, roomId);
    expect([...reader.records.keys()].sort()).toEqual(every);
  });
});
