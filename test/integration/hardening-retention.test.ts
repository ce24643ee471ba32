// Issue 9, finding 6 (retention for abandoned rooms), against the real server process. Before,
// rooms were kept for ever. Now ROOM_TTL_DAYS (off by default) deletes, at start and then daily,
// every room that is not loaded and whose last activity — the time its document was last stored
// whole (snapshots.updated_at, written when a room unloads), or its creation for a room never
// used — is older than the TTL; a room with stored updates not yet folded into its snapshot counts
// as active. Every row of a deleted room goes (RoomStore.deleteRoom), logged with its id.
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, drawShape, until, type Peer } from '../helpers/yclient';

const DB_FILE = 'livecanvas.sqlite';
const DAY_MS = 86_400_000;

const servers: TestServer[] = [];
const peers: Peer[] = [];
afterEach(async () => {
  for (const p of peers.splice(0)) p.close();
  for (const s of servers.splice(0)) await s.stop('SIGKILL');
});

async function start(dataDir: string, env: Record<string, string> = {}) {
  const server = await startServer({ dataDir, env: { LOG_LEVEL: 'info', ...env } });
  servers.push(server);
  return server;
}
const loadedRooms = async (server: TestServer) => ((await (await fetch(`${server.url}/healthz`)).json()) as { rooms: number }).rooms;

/** Join, draw one shape, wait for the server to store it. */
async function write(server: TestServer, roomId: string, i: number): Promise<Peer> {
  const p = await connectPeer(server.url, roomId);
  peers.push(p);
  p.records.set(`shape:draw${i}`, drawShape(i));
  await p.acked();
  return p;
}

/** What joining answers: 'synced', or the refusal's code. */
async function tryJoin(server: TestServer, roomId: string): Promise<{ outcome: string; peer: Peer }> {
  const p = await connectPeer(server.url, roomId, { waitSync: false });
  peers.push(p);
  const outcome = await Promise.race([
    p.synced().then(() => 'synced'),
    until(() => p.nacks.length > 0, 10_000, `an answer to joining ${roomId}`).then(() => p.nacks[0]!.error!.code),
  ]);
  return { outcome, peer: p };
}

describe('retention (ROOM_TTL_DAYS)', () => {
  it('deletes rooms unused for longer than the TTL at start; keeps recent ones and ones with uncompacted updates', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lc-retention-'));
    let server = await start(dataDir);
    const abandoned = await createRoom(server.url);
    const recent = await createRoom(server.url);
    const neverUsed = await createRoom(server.url);
    const pending = await createRoom(server.url);
    // written, then unloaded (the last peer leaves: compacted, snapshots.updated_at = now)
    for (const [k, roomId] of [abandoned, recent, pending].entries()) (await write(server, roomId, k)).close();
    await until(async () => (await loadedRooms(server)) === 0, 5000, 'the rooms unloaded');
    // one more change of `pending` that stays in the update log: the server is killed before it
    // compacts the room again
    await write(server, pending, 10);
    await server.stop('SIGKILL');
    servers.splice(0);

    // 3 days pass for all but `recent`, last used half a day ago (its creation is old too: activity
    // is what counts)
    const db = new Database(join(dataDir, DB_FILE));
    const old = Date.now() - 3 * DAY_MS;
    for (const roomId of [abandoned, pending]) db.prepare('UPDATE snapshots SET updated_at = ? WHERE room_id = ?').run(old, roomId);
    db.prepare('UPDATE snapshots SET updated_at = ? WHERE room_id = ?').run(Date.now() - DAY_MS / 2, recent);
    for (const roomId of [abandoned, recent, neverUsed, pending]) db.prepare('UPDATE room_access SET created_at = ? WHERE room_id = ?').run(old, roomId);
    expect(db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM updates WHERE room_id = ?').get(pending)!.n).toBeGreaterThan(0);
    db.close();

    server = await start(dataDir, { ROOM_TTL_DAYS: '1' });
    expect((await tryJoin(server, abandoned)).outcome).toBe('no-such-room');
    expect((await tryJoin(server, neverUsed)).outcome).toBe('no-such-room');
    const kept = await tryJoin(server, recent);
    expect(kept.outcome).toBe('synced');
    expect(kept.peer.records.has('shape:draw1')).toBe(true);
    const active = await tryJoin(server, pending);
    expect(active.outcome).toBe('synced');
    expect(active.peer.records.has('shape:draw2') && active.peer.records.has('shape:draw10')).toBe(true);
    await until(() => server.output().includes(abandoned) && server.output().includes(neverUsed), 2000, 'the deletions logged with the room ids');
    expect(server.output()).not.toMatch(new RegExp(`${recent}[^\\n]*deleted`));
    // a visit that changes nothing counts as activity: when the room unloads, its clock is renewed
    const visitedAt = Date.now();
    for (const p of peers.splice(0)) p.close();
    await until(async () => (await loadedRooms(server)) === 0, 5000, 'the rooms unloaded');
    const live = new Database(join(dataDir, DB_FILE), { readonly: true });
    expect(live.prepare<[string], { t: number }>('SELECT updated_at AS t FROM snapshots WHERE room_id = ?').get(recent)!.t).toBeGreaterThanOrEqual(visitedAt);
    live.close();
    await server.stop();
    servers.splice(0);

    // every row of the deleted rooms is gone
    const after = new Database(join(dataDir, DB_FILE), { readonly: true });
    const tables = after.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'").all().map((t) => t.name);
    for (const t of tables) {
      const cols = after.prepare<[], { name: string }>(`SELECT name FROM pragma_table_info('${t}')`).all().map((c) => c.name);
      if (!cols.includes('room_id')) continue;
      for (const roomId of [abandoned, neverUsed]) expect(after.prepare(`SELECT COUNT(*) AS n FROM "${t}" WHERE room_id = ?`).get(roomId), `${t} ${roomId}`).toEqual({ n: 0 });
    }
    after.close();
  });

  it('is off by default: old rooms are kept', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lc-retention-'));
    let server = await start(dataDir);
    const roomId = await createRoom(server.url);
    (await write(server, roomId, 0)).close();
    await until(async () => (await loadedRooms(server)) === 0, 5000, 'the room unloaded');
    await server.stop();
    servers.splice(0);
    const db = new Database(join(dataDir, DB_FILE));
    db.prepare('UPDATE snapshots SET updated_at = ?').run(Date.now() - 3650 * DAY_MS);
    db.prepare('UPDATE room_access SET created_at = ?').run(Date.now() - 3650 * DAY_MS);
    db.close();
    server = await start(dataDir);
    expect((await tryJoin(server, roomId)).outcome).toBe('synced');
  });
});
