// The SqlDatabase interface and the feature tables written against it, run alike on SQLite (a temp
// file through better-sqlite3) and on a real PostgreSQL (test/helpers/services.ts): one SQL text
// must behave the same in both dialects. Then PostgreSQL going away: a clear error within seconds,
// not a hang, and service again once it is back.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RoomAccess } from '../../server/auth/RoomAccess';
import { PinnedRenders } from '../../server/render/PinnedRenders';
import { toPositional } from '../../server/store/sql/positionalParams';
import { PostgresDatabase, PostgresError } from '../../server/store/sql/postgresDatabase';
import type { SqlDatabase } from '../../server/store/sql/SqlDatabase';
import { SqliteDatabase } from '../../server/store/sql/sqliteDatabase';
import { UploadStore, uploadIdOf } from '../../server/uploads/UploadStore';
import { freePort, startPostgres, type LocalPostgres } from '../helpers/services';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Opened {
  db: SqlDatabase;
  close(): Promise<void>;
}

const dialects: Array<{ name: string; open(): Promise<Opened> }> = [
  {
    name: 'sqlite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'lc-sql-'));
      const path = join(dir, 'tables.sqlite');
      const handle = new Database(path);
      return {
        db: new SqliteDatabase(handle, path),
        close: async () => {
          handle.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    async open() {
      const server = await startPostgres();
      const db = PostgresDatabase.fromUrl(server.url);
      return {
        db,
        close: async () => {
          await db.close();
          await server.stop();
        },
      };
    },
  },
];

describe('toPositional', () => {
  it('turns $n into ? in order of occurrence, repeated and out of order, leaving quotes and comments alone', () => {
    expect(toPositional("SELECT $2, $1, '$1 it''s', \"$3\" -- $4\n FROM t /* $5 */ WHERE a = $2")).toEqual({
      sql: "SELECT ?, ?, '$1 it''s', \"$3\" -- $4\n FROM t /* $5 */ WHERE a = ?",
      order: [1, 0, 1],
    });
  });
});

describe.each(dialects)('SqlDatabase and feature tables on $name', ({ name, open }) => {
  let opened: Opened;
  let db: SqlDatabase;
  beforeAll(async () => {
    opened = await open();
    db = opened.db;
  }, 120_000);
  afterAll(async () => {
    await opened?.close();
  });

  it('names its dialect and types', () => {
    expect(db.dialect).toBe(name);
    expect(db.types).toEqual(name === 'sqlite' ? { blob: 'BLOB', bigint: 'INTEGER' } : { blob: 'BYTEA', bigint: 'BIGINT' });
  });

  it('$n parameters: repeated, out of order, not inside string literals; a wrong count is refused', async () => {
    await db.exec(`CREATE TABLE IF NOT EXISTS t_params (a TEXT NOT NULL, b ${db.types.bigint} NOT NULL)`);
    expect(await db.run('INSERT INTO t_params (b, a) VALUES ($2, $1)', ['x', 5])).toBe(1);
    expect(await db.run('INSERT INTO t_params (a, b) VALUES ($1, $2), ($1, $3)', ['y', 6, 7])).toBe(2);
    const rows = await db.query<{ a: string; b: number; lit: string }>(
      "SELECT a, b, '$1 and $2' AS lit FROM t_params WHERE (a = $2 AND b > $1) OR (b = $1 AND a <> $2) ORDER BY b",
      [5, 'y'],
    );
    expect(rows).toEqual([
      { a: 'x', b: 5, lit: '$1 and $2' },
      { a: 'y', b: 6, lit: '$1 and $2' },
      { a: 'y', b: 7, lit: '$1 and $2' },
    ]);
    expect(await db.run('UPDATE t_params SET b = b + 1 WHERE a = $1', ['nobody'])).toBe(0);
    await expect(db.query('SELECT a FROM t_params WHERE a = $1', ['x', 'extra'])).rejects.toThrow();
  });

  it('binary columns: a Uint8Array or Buffer goes in, the same bytes come back as a Buffer', async () => {
    await db.exec(`CREATE TABLE IF NOT EXISTS t_blobs (k TEXT PRIMARY KEY, data ${db.types.blob} NOT NULL)`);
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    const view = new Uint8Array(bytes.buffer, 10, 100); // an offset view: only its own bytes
    await db.run('INSERT INTO t_blobs (k, data) VALUES ($1, $2), ($3, $4)', ['array', view, 'buffer', Buffer.from('\x00\xffhello')]);
    const rows = await db.query<{ k: string; data: Buffer }>('SELECT k, data FROM t_blobs ORDER BY k');
    expect(rows.map((r) => Buffer.isBuffer(r.data))).toEqual([true, true]);
    expect(rows[0]!.data.equals(Buffer.from(view))).toBe(true);
    expect(rows[1]!.data.equals(Buffer.from('\x00\xffhello'))).toBe(true);
  });

  it('64-bit columns: millisecond timestamps, COUNT and SUM come back as numbers', async () => {
    await db.exec(`CREATE TABLE IF NOT EXISTS t_times (k TEXT PRIMARY KEY, at ${db.types.bigint} NOT NULL)`);
    const now = Date.now();
    const far = 2 ** 52 + 1;
    await db.run('INSERT INTO t_times (k, at) VALUES ($1, $2), ($3, $4)', ['now', now, 'far', far]);
    const rows = await db.query<{ k: string; at: number }>('SELECT k, at FROM t_times ORDER BY k');
    expect(rows).toEqual([
      { k: 'far', at: far },
      { k: 'now', at: now },
    ]);
    const [agg] = await db.query<{ n: number; total: number }>('SELECT COUNT(*) AS n, SUM(at) AS total FROM t_times WHERE k = $1', ['now']);
    expect(agg).toEqual({ n: 1, total: now });
  });

  it('transactions: committed when fn resolves, rolled back when it throws (the error is passed on)', async () => {
    await db.exec('CREATE TABLE IF NOT EXISTS t_tx (k TEXT PRIMARY KEY)');
    expect(await db.transaction(async (tx) => tx.run('INSERT INTO t_tx (k) VALUES ($1)', ['kept']))).toBe(1);
    const boom = new Error('boom');
    await expect(
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO t_tx (k) VALUES ($1)', ['dropped']);
        expect(await tx.query('SELECT k FROM t_tx WHERE k = $1', ['dropped'])).toHaveLength(1);
        throw boom;
      }),
    ).rejects.toBe(boom);
    // a statement error inside rolls back too
    await expect(
      db.transaction(async (tx) => {
        await tx.run('INSERT INTO t_tx (k) VALUES ($1)', ['also dropped']);
        await tx.run('INSERT INTO t_tx (k) VALUES ($1)', ['kept']); // duplicate key
      }),
    ).rejects.toThrow();
    expect(await db.query('SELECT k FROM t_tx ORDER BY k')).toEqual([{ k: 'kept' }]);
  });

  it('transactions with the same lockKey run one after the other, never interleaved', async () => {
    await db.exec('CREATE TABLE IF NOT EXISTS t_locked (k TEXT PRIMARY KEY, n INTEGER NOT NULL)');
    await db.run("INSERT INTO t_locked (k, n) VALUES ('counter', 0)");
    const events: string[] = [];
    // read, wait, write back: interleaved, both would read 0 and the counter would end at 1
    const increment = (who: string) =>
      db.transaction(
        async (tx) => {
          events.push(`${who} start`);
          const [row] = await tx.query<{ n: number }>('SELECT n FROM t_locked WHERE k = $1', ['counter']);
          await sleep(150);
          await tx.run('UPDATE t_locked SET n = $1 WHERE k = $2', [row!.n + 1, 'counter']);
          events.push(`${who} end`);
        },
        { lockKey: 'room-a' },
      );
    await Promise.all([increment('first'), increment('second')]);
    expect(events).toEqual(['first start', 'first end', 'second start', 'second end']);
    expect(await db.query('SELECT n FROM t_locked')).toEqual([{ n: 2 }]);
  });

  it(name === 'sqlite' ? 'a statement made while a transaction is open waits for its end' : 'different lockKeys do not wait for each other', async () => {
    await db.exec('CREATE TABLE IF NOT EXISTS t_wait (k TEXT PRIMARY KEY)');
    const events: string[] = [];
    const slow = (key: string) =>
      db.transaction(
        async (tx) => {
          events.push(`${key} start`);
          await tx.run('INSERT INTO t_wait (k) VALUES ($1)', [key]);
          await sleep(150);
          events.push(`${key} end`);
        },
        { lockKey: key },
      );
    if (name === 'sqlite') {
      const tx = slow('inside');
      await sleep(20);
      const seen = await db.query<{ k: string }>('SELECT k FROM t_wait');
      events.push('outside read');
      await tx;
      expect(seen).toEqual([{ k: 'inside' }]);
      expect(events).toEqual(['inside start', 'inside end', 'outside read']);
    } else {
      await Promise.all([slow('room-b'), slow('room-c')]);
      expect(events.slice(0, 2).sort()).toEqual(['room-b start', 'room-c start']);
    }
  });

  it('tablesWithRoomId lists the tables with a room_id column', async () => {
    await db.exec('CREATE TABLE IF NOT EXISTS t_room_one (room_id TEXT NOT NULL, v TEXT); CREATE TABLE IF NOT EXISTS t_no_room (id TEXT)');
    const tables = await db.tablesWithRoomId();
    expect(tables).toContain('t_room_one');
    expect(tables).not.toContain('t_no_room');
  });

  it('RoomAccess: create, get, rotate, remove', async () => {
    const access = await RoomAccess.open(db);
    await RoomAccess.open(db); // the table exists: opening again changes nothing
    const before = Date.now();
    expect(await access.create('room-1')).toBe(true);
    expect(await access.create('room-1')).toBe(false);
    const row = await access.get('room-1');
    expect(row).toEqual({ roomId: 'room-1', versions: { owner: 1, editor: 1, viewer: 1 }, createdAt: expect.any(Number) });
    expect(row!.createdAt).toBeGreaterThanOrEqual(before);
    expect(row!.createdAt).toBeLessThanOrEqual(Date.now());
    expect(await access.rotate('room-1', 'editor')).toBe(2);
    expect(await access.rotate('room-1', 'editor')).toBe(3);
    expect(await access.rotate('room-1', 'viewer')).toBe(2);
    expect((await access.get('room-1'))!.versions).toEqual({ owner: 1, editor: 3, viewer: 2 });
    await expect(access.rotate('no-such-room', 'editor')).rejects.toThrow(/not a shared room/);
    await access.remove('room-1');
    expect(await access.get('room-1')).toBeUndefined();
    expect(await db.tablesWithRoomId()).toContain('room_access');
  });

  it('UploadStore: put (once per content), meta, data, roomBytes', async () => {
    const uploads = await UploadStore.open(db);
    const a = new Uint8Array([1, 2, 3, 4, 5]);
    const b = Buffer.from('another file');
    expect(await uploads.roomBytes('room-u')).toBe(0);
    const stored = await uploads.put('room-u', 'image/png', a, { width: 3, height: 2 });
    expect(stored).toEqual({ roomId: 'room-u', id: uploadIdOf(a), mime: 'image/png', bytes: 5, width: 3, height: 2, createdAt: expect.any(Number) });
    expect(await uploads.put('room-u', 'image/png', a, { width: 3, height: 2 })).toEqual(stored); // the same file again: stored once
    await uploads.put('room-u', 'image/webp', b, { width: 1, height: 1 });
    expect(await uploads.meta('room-u', stored.id)).toEqual(stored);
    expect(await uploads.meta('other-room', stored.id)).toBeUndefined();
    expect((await uploads.data('room-u', stored.id))!.equals(Buffer.from(a))).toBe(true);
    expect(await uploads.data('room-u', 'nope')).toBeUndefined();
    expect(await uploads.roomBytes('room-u')).toBe(5 + b.byteLength);
  });

  it('PinnedRenders: pinning the same render twice stores it once, under one asset id', async () => {
    const pins = await PinnedRenders.open(db);
    const jpeg = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
    const render = { roomId: 'room-p', frameId: 'shape:frame1', seq: 7, width: 512, height: 384, seed: 2 ** 32 - 1, model: 'tiny' };
    const assetId = await pins.put({ ...render, jpeg });
    expect(await pins.put({ ...render, jpeg })).toBe(assetId);
    expect(await pins.put({ ...render, seq: 8, jpeg })).not.toBe(assetId);
    expect(await pins.meta('room-p', assetId)).toEqual({ ...render, assetId, createdAt: expect.any(Number) });
    expect((await pins.jpeg('room-p', assetId))!.equals(Buffer.from(jpeg))).toBe(true);
    expect(await pins.jpeg('other-room', assetId)).toBeUndefined();
  });
});

describe('PostgreSQL going away', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lc-pg-down-'));
  let port: number;
  let server: LocalPostgres | undefined;
  let db: PostgresDatabase;
  beforeAll(async () => {
    port = await freePort();
    server = await startPostgres({ dir, port });
    db = PostgresDatabase.fromUrl(server.url, { connectionTimeoutMs: 2_000 });
  }, 120_000);
  afterAll(async () => {
    await db?.close();
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a statement error keeps its SQLSTATE and says what failed', async () => {
    await db.exec('CREATE TABLE IF NOT EXISTS t_unique (k TEXT PRIMARY KEY)');
    await db.run('INSERT INTO t_unique (k) VALUES ($1)', ['a']);
    const err = await db.run('INSERT INTO t_unique (k) VALUES ($1)', ['a']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PostgresError);
    expect(err).toMatchObject({ code: '23505', unreachable: false, message: expect.stringMatching(/^PostgreSQL at postgres:\/\/.*: INSERT INTO t_unique .* failed: duplicate key/) });
  });

  it('stopped: queries and transactions reject within seconds saying it is unreachable; started again: they work', async () => {
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await server!.stop(); // its data dir is ours: kept for the start below
    server = undefined;
    for (const attempt of [() => db.query('SELECT 1 AS one'), () => db.transaction(async (tx) => tx.query('SELECT 1 AS one'))]) {
      const started = Date.now();
      const err = await attempt().catch((e: unknown) => e);
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(err).toBeInstanceOf(PostgresError);
      expect((err as PostgresError).message).toMatch(/^PostgreSQL at postgres:\/\/livecanvas@127\.0\.0\.1:\d+\/livecanvas is unreachable/);
      expect((err as PostgresError).unreachable).toBe(true);
      expect((err as Error).cause).toBeInstanceOf(Error);
    }
    server = await startPostgres({ dir, port });
    expect(await db.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
    expect(await db.query('SELECT k FROM t_unique')).toEqual([{ k: 'a' }]);
    expect(await db.transaction(async (tx) => tx.query('SELECT 2 AS two'))).toEqual([{ two: 2 }]);
  }, 120_000);
});
