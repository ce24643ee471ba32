// Compaction folds a room's update log into one snapshot: every COMPACT_EVERY updates, when
// updates are older than COMPACT_INTERVAL_S, when the room empties, and on load after a crash —
// but never when that would drop stored data the server could not read. Asserted on the tables
// of DATA_DIR/livecanvas.sqlite, read from the test.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, drawShape, until, type Peer } from '../helpers/yclient';

const servers: TestServer[] = [];
const peers: Peer[] = [];
const NEVER = { COMPACT_EVERY: '100000', COMPACT_INTERVAL_S: '3600' };
const start = async (env: Record<string, string>, dataDir?: string) => {
  const s = await startServer({ dataDir, env });
  servers.push(s);
  return s;
};
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
  updates: Array<{ seq: number; data: Buffer }>;
  /** record ids in the snapshot, or null without one */
  snapshot: string[] | null;
}
/** What the database holds for a room right now (read-only, next to the running server). */
function stored(dataDir: string, roomId: string): Stored {
  const db = new Database(join(dataDir, 'livecanvas.sqlite'), { readonly: true });
  try {
    const updates = db.prepare('SELECT seq, data FROM updates WHERE room_id = ? ORDER BY seq').all(roomId) as Stored['updates'];
    const snap = db.prepare('SELECT data FROM snapshots WHERE room_id = ?').get(roomId) as { data: Buffer } | undefined;
    let snapshot: string[] | null = null;
    if (snap) {
      const doc = new Y.Doc();
      Y.applyUpdate(doc, new Uint8Array(snap.data));
      snapshot = [...doc.getMap('tl_records').keys()].sort();
    }
    return { updates, snapshot };
  } finally {
    db.close();
  }
}
const ids = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => `shape:${from + k}`).sort();

afterEach(async () => {
  for (const p of peers.splice(0)) p.close();
  for (const s of servers.splice(0)) await s.stop();
});

describe('compaction', () => {
  it('when the last client leaves, the room is compacted into one snapshot', async () => {
    const s = await start(NEVER);
    const roomId = await createRoom(s.url);
    const a = await peer(s.url, roomId);
    await write(a, 0, 30);
    expect(stored(s.dataDir, roomId)).toMatchObject({ snapshot: null });
    expect(stored(s.dataDir, roomId).updates).toHaveLength(30);
    a.close();
    await until(() => stored(s.dataDir, roomId).snapshot !== null, 5000, 'snapshot written on unload');
    expect(stored(s.dataDir, roomId)).toEqual({ updates: [], snapshot: ids(0, 30) });
  });

  it('every COMPACT_EVERY updates while people keep editing', async () => {
    const s = await start({ COMPACT_EVERY: '10', COMPACT_INTERVAL_S: '3600' });
    const roomId = await createRoom(s.url);
    const a = await peer(s.url, roomId);
    await write(a, 0, 25);
    const now = stored(s.dataDir, roomId);
    expect(now.snapshot).toEqual(ids(0, 20)); // compacted at the 10th and the 20th update
    expect(now.updates).toHaveLength(5);
  });

  it('when the oldest update is older than COMPACT_INTERVAL_S, with the room still open', async () => {
    const s = await start({ COMPACT_EVERY: '100000', COMPACT_INTERVAL_S: '1' });
    const roomId = await createRoom(s.url);
    const a = await peer(s.url, roomId);
    await write(a, 0, 5);
    expect(stored(s.dataDir, roomId).updates).toHaveLength(5);
    await until(() => stored(s.dataDir, roomId).updates.length === 0, 5000, 'periodic compaction');
    expect(stored(s.dataDir, roomId).snapshot).toEqual(ids(0, 5));
    expect(a.socket.connected).toBe(true);
    const health = (await (await fetch(`${s.url}/healthz`)).json()) as { rooms: number };
    expect(health.rooms).toBe(1);
  });

  it('on load after a crash, the update log left behind is folded into the snapshot', async () => {
    const first = await start(NEVER);
    const roomId = await createRoom(first.url);
    await write(await peer(first.url, roomId), 0, 20);
    await first.stop('SIGKILL'); // kill -9: no flush, no compaction
    expect(stored(first.dataDir, roomId)).toMatchObject({ snapshot: null });
    expect(stored(first.dataDir, roomId).updates).toHaveLength(20);

    const second = await start(NEVER, first.dataDir);
    const b = await peer(second.url, roomId);
    expect(b.records.size).toBe(20);
    expect(stored(second.dataDir, roomId)).toEqual({ updates: [], snapshot: ids(0, 20) });
  });

  it('a stored update that cannot be applied is never deleted: no compaction for that room, logged loudly', async () => {
    const first = await start(NEVER);
    const roomId = await createRoom(first.url);
    await write(await peer(first.url, roomId), 0, 20);
    await first.stop('SIGKILL'); // kill -9: no flush, no compaction
    const garbage = Buffer.from('this is not a yjs update');
    const db = new Database(join(first.dataDir, 'livecanvas.sqlite'));
    db.prepare('INSERT INTO updates (room_id, seq, data) VALUES (?, (SELECT MAX(seq) + 1 FROM updates WHERE room_id = ?), ?)').run(roomId, roomId, garbage);
    db.close();
    const badSeq = stored(first.dataDir, roomId).updates.at(-1)!.seq;

    const second = await start(NEVER, first.dataDir);
    const b = await peer(second.url, roomId);
    expect(b.records.size).toBe(20); // everything readable is served
    const loud = `ROOM DATA DAMAGED: update ${badSeq} of room ${roomId} could not be applied`;
    await until(() => second.output().includes(loud), 2000, 'the damage is logged');
    const afterLoad = stored(second.dataDir, roomId);
    expect(afterLoad.snapshot).toBeNull();
    expect(afterLoad.updates).toHaveLength(21);
    expect(afterLoad.updates.at(-1)).toEqual({ seq: badSeq, data: garbage });

    // New edits are still stored; emptying the room and stopping the server compact nothing.
    await write(b, 20, 22);
    b.close();
    await until(async () => ((await (await fetch(`${second.url}/healthz`)).json()) as { rooms: number }).rooms === 0, 5000, 'room unloaded');
    await second.stop('SIGTERM');
    expect(second.proc.exitCode).toBe(0);
    const afterStop = stored(second.dataDir, roomId);
    expect(afterStop.snapshot).toBeNull();
    expect(afterStop.updates).toHaveLength(23);
    expect(afterStop.updates.find((u) => u.seq === badSeq)?.data).toEqual(garbage);
  });
});
