// Storage integrity (issue 9, finding 7), against the real server process:
//  - a data directory that held rooms and lost its database refuses to start (ALLOW_EMPTY_DATA=1
//    overrides), instead of starting silently empty;
//  - a database with a damaged page is found by PRAGMA quick_check at start and reported in
//    /healthz; a room whose rows sit behind the damage refuses to join with a clear error, and
//    nothing more is written into the damaged file;
//  - a stored update that cannot be read does not hide the acknowledged updates after it: they are
//    applied, the room's clients are told, and the log names the room and the database file.
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as Y from 'yjs';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteRoomStore } from '../../server/store/SqliteRoomStore';
import { ROOT, TINY_MODELS_DIR, freePort, startServer, type TestServer } from '../helpers/server';
import { connectPeer, createRoom, drawShape, randomRoomId, until, type Peer } from '../helpers/yclient';

const DB = 'livecanvas.sqlite';
const servers: TestServer[] = [];
const peers: Peer[] = [];
const NEVER_COMPACT = { COMPACT_EVERY: '100000', COMPACT_INTERVAL_S: '3600' };

afterEach(async () => {
  for (const p of peers.splice(0)) p.close();
  for (const s of servers.splice(0)) await s.stop('SIGKILL');
});

const start = async (dataDir?: string, env: Record<string, string> = {}) => {
  const s = await startServer({ dataDir, env: { LOG_LEVEL: 'info', ...env } });
  servers.push(s);
  return s;
};
const peer = async (url: string, roomId: string, waitSync = true) => {
  const p = await connectPeer(url, roomId, { waitSync });
  peers.push(p);
  return p;
};

/** Start the server and wait until it either serves /healthz or exits; the exit code (null =
 * it is serving) and its output. */
async function tryStart(dataDir: string, env: Record<string, string> = {}) {
  const port = await freePort();
  const proc = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      MODELS_DIR: TINY_MODELS_DIR,
      MODEL: '',
      LC_WEB: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  let serving = false;
  await until(
    async () => {
      if (proc.exitCode !== null) return true;
      serving = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      return serving;
    },
    60_000,
    'the server serves or exits',
  );
  if (serving) {
    proc.kill('SIGKILL');
    await exited;
    return { code: null, output: out };
  }
  return { code: await exited, output: out };
}

/** What the database file holds for a room, read with a connection of our own. */
function storedRows(dataDir: string, roomId: string) {
  const db = new Database(join(dataDir, DB), { readonly: true });
  try {
    const updates = db.prepare('SELECT seq, data FROM updates WHERE room_id = ? ORDER BY seq').all(roomId) as { seq: number; data: Buffer }[];
    const snap = db.prepare('SELECT data FROM snapshots WHERE room_id = ?').get(roomId) as { data: Buffer } | undefined;
    return { updates, snapshot: snap?.data ?? null };
  } finally {
    db.close();
  }
}

/** A room written straight into a store: `n` draw shapes, one stored update each. */
function writeRoom(store: SqliteRoomStore, roomId: string, n: number, points = 40) {
  const doc = new Y.Doc();
  doc.on('update', (u: Uint8Array) => store.appendUpdate(roomId, u));
  for (let i = 0; i < n; i++) doc.getMap('tl_records').set(`shape:draw${i}`, drawShape(i, points));
  doc.destroy();
}

describe('storage integrity', () => {
  it('refuses to start on a missing database in a data directory that held rooms (ALLOW_EMPTY_DATA=1 overrides)', async () => {
    const first = await start();
    const roomId = await createRoom(first.url);
    const a = await peer(first.url, roomId);
    a.records.set('shape:draw1', drawShape(1));
    await a.acked();
    a.close();
    await first.stop('SIGTERM');
    servers.splice(servers.indexOf(first), 1);

    // The database is gone (deleted by mistake, a volume mounted elsewhere): no silent empty start.
    for (const f of readdirSync(first.dataDir)) if (f.startsWith(DB)) rmSync(join(first.dataDir, f));
    const refused = await tryStart(first.dataDir);
    expect(refused.code, refused.output).not.toBe(null);
    expect(refused.code).not.toBe(0);
    expect(refused.output).toContain(join(first.dataDir, DB));
    expect(refused.output).toMatch(/ALLOW_EMPTY_DATA=1/);
    expect(existsSync(join(first.dataDir, DB)), 'no empty database was created').toBe(false);

    // An empty file in its place (a truncated copy) is no database either.
    writeFileSync(join(first.dataDir, DB), '');
    const emptyFile = await tryStart(first.dataDir);
    expect(emptyFile.code, emptyFile.output).not.toBe(null);
    expect(emptyFile.output).toMatch(/ALLOW_EMPTY_DATA=1/);

    // On purpose: the override starts empty (the lost room went with the database: joining it is
    // refused, never recreated), and the next start needs no override.
    const allowed = await start(first.dataDir, { ALLOW_EMPTY_DATA: '1' });
    const lost = await peer(allowed.url, roomId, false);
    await until(() => lost.nacks.length > 0, 5_000, 'the join of the lost room is answered');
    expect(lost.nacks[0]!.error).toMatchObject({ code: 'no-such-room' });
    const fresh = await createRoom(allowed.url);
    const b = await peer(allowed.url, fresh);
    expect(b.records.size).toBe(0);
    b.records.set('shape:draw2', drawShape(2));
    await b.acked();
    await allowed.stop('SIGTERM');
    const again = await start(first.dataDir);
    const c = await peer(again.url, fresh);
    expect(c.records.has('shape:draw2')).toBe(true);
  });

  it('a damaged page: quick_check reports it in /healthz, the damaged room refuses to join clearly, nothing more is written', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lc-damaged-'));
    const damaged = 'roomAAAAAAAAAAAAAAAA';
    const intact = 'roomZZZZZZZZZZZZZZZZ';
    const store = new SqliteRoomStore(dataDir);
    writeRoom(store, damaged, 400);
    const c = new Y.Doc();
    c.getMap('tl_records').set('shape:draw1', drawShape(1));
    store.compact(intact, Y.encodeStateAsUpdate(c));
    // Interior pages of the update log whose cells hold only the damaged room's keys (interior
    // cells of a WITHOUT ROWID table carry whole rows), deepest first.
    const pageSize = store.db.pragma('page_size', { simple: true }) as number;
    const candidates = store.db
      .prepare("SELECT pageno, path FROM dbstat WHERE name = 'updates' AND pagetype = 'internal' ORDER BY length(path) DESC, pageno")
      .all() as { pageno: number; path: string }[];
    store.close();
    expect(candidates.length).toBeGreaterThan(2);
    const file = join(dataDir, DB);
    const pristine = join(dataDir, 'pristine.sqlite');
    copyFileSync(file, pristine);

    // Break one interior page (its cell pointers point past the page) such that the damaged
    // room cannot be read while the intact room can.
    let broken = 0;
    for (const { pageno } of candidates.slice(Math.floor(candidates.length / 4))) {
      copyFileSync(pristine, file);
      const fd = openSync(file, 'r+');
      writeSync(fd, Buffer.alloc(16, 0xff), 0, 16, (pageno - 1) * pageSize + 12);
      closeSync(fd);
      const db = new Database(file, { readonly: true });
      const readable = (room: string) => {
        try {
          db.prepare('SELECT seq, data FROM updates WHERE room_id = ? ORDER BY seq').all(room);
          db.prepare('SELECT data FROM snapshots WHERE room_id = ?').get(room);
          return true;
        } catch {
          return false;
        }
      };
      const ok = !readable(damaged) && readable(intact);
      db.close();
      if (ok) {
        broken = pageno;
        break;
      }
    }
    rmSync(pristine);
    expect(broken, 'an interior page that breaks only the damaged room').toBeGreaterThan(0);

    const s = await start(dataDir, NEVER_COMPACT);
    const health = (await (await fetch(`${s.url}/healthz`)).json()) as Record<string, any>;
    expect(health.ok).toBe(false);
    expect(health.storage).toMatchObject({ quickCheck: 'failed', writable: false, path: file });
    expect(health.storage.problems.length).toBeGreaterThan(0);
    await until(() => /quick_check/.test(s.output()) && s.output().includes(file), 5_000, 'the damage is logged with the path');

    // The damaged room: a clear refusal, not "the server failed to handle this message".
    const a = await peer(s.url, damaged, false);
    await until(() => a.nacks.length > 0, 10_000, 'the join of the damaged room is answered');
    const refusal = a.nacks[0]!.error!;
    expect(refusal.code).toBe('server-error');
    expect(refusal.message).toMatch(/damaged/);
    expect(refusal.message).not.toMatch(/failed to handle this message/);

    // The intact room opens and shows its content, but a change is refused (not written into the
    // damaged file): the writer is told why, and the store holds exactly what it held before.
    const before = storedRows(dataDir, intact);
    const b = await peer(s.url, intact);
    expect(b.records.has('shape:draw1')).toBe(true);
    await until(() => b.errors.some((e) => /read-only|damaged/.test(e.message)), 5_000, 'the intact room is told the database is damaged');
    const upload = await fetch(`${s.url}/api/uploads/${intact}`, {
      method: 'POST',
      body: new Uint8Array(100),
      headers: { 'content-type': 'image/png', 'x-livecanvas-socket': b.socket.id ?? '' },
    });
    expect(upload.status).toBe(503);
    b.records.set('shape:draw2', drawShape(2));
    await b.acked().catch(() => undefined);
    await until(() => b.errors.some((e) => e.code === 'server-error' && /not saved|could not save/.test(e.message)), 5_000, 'the write is refused');
    expect(storedRows(dataDir, intact)).toEqual(before);
  }, 120_000);

  it('a corrupted update row: the acknowledged updates after it are applied, clients are told, the log names room and file', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'lc-badrow-'));
    // a room stored before access control: it exists, so it joins as an open room
    const roomId = randomRoomId();
    const store = new SqliteRoomStore(dataDir);
    writeRoom(store, roomId, 60);
    store.close();
    // Row 8 (the 8th shape, draw7) loses its second half.
    const db = new Database(join(dataDir, DB));
    db.prepare('UPDATE updates SET data = substr(data, 1, length(data) / 2) WHERE room_id = ? AND seq = 8').run(roomId);
    db.close();

    const s = await start(dataDir, NEVER_COMPACT);
    const a = await peer(s.url, roomId);
    const missing = Array.from({ length: 60 }, (_, i) => i).filter((i) => !a.records.has(`shape:draw${i}`));
    expect(missing).toEqual([7]);
    for (const i of [8, 30, 59]) expect(a.records.get(`shape:draw${i}`)).toEqual(drawShape(i));
    await until(() => a.errors.some((e) => e.roomId === roomId && /update 8/.test(e.message)), 5_000, 'the room is told');
    // (the log reaches us through a pipe, the notice through the socket: either may come first)
    await until(() => s.output().includes(roomId) && s.output().includes(join(dataDir, DB)), 5_000, 'the log names the room and the database');

    // The room keeps working, and what was stored (the damaged row included, for inspection)
    // stays: after a restart everything readable is there again.
    a.records.set('shape:draw60', drawShape(60));
    await a.acked();
    expect(a.nacks).toEqual([]);
    a.close();
    await s.stop('SIGTERM');
    expect(storedRows(dataDir, roomId).updates.find((u) => u.seq === 8)).toBeDefined();
    const again = await start(dataDir, NEVER_COMPACT);
    const b = await peer(again.url, roomId);
    expect(b.records.size).toBe(60);
    expect(b.records.has('shape:draw60')).toBe(true);
  });
});
