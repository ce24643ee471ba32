// The room store a test file runs against, so that one file asserts the same contract on both
// implementations of RoomStore (server/store/RoomStore.ts):
//   - 'sqlite'   (the default): the server gets no extra env and keeps DATA_DIR/livecanvas.sqlite;
//                the test reads its rows with better-sqlite3 (read-only, next to the server).
//   - 'postgres' (cluster mode): one local PostgreSQL per describe block (beforeAll/afterAll), the
//                server gets DATABASE_URL, the test reads the rows with `pg`.
// Usage, inside `describe.each(STORE_KINDS)('… (%s)', (kind) => { const store = useStoreUnderTest(kind); … })`.
import Database from 'better-sqlite3';
import { join } from 'node:path';
import pg from 'pg';
import * as Y from 'yjs';
import { afterAll, beforeAll } from 'vitest';
import { startPostgres, type LocalPostgres, type PostgresOptions } from './services';

export type StoreKind = 'sqlite' | 'postgres';
export const STORE_KINDS: StoreKind[] = ['sqlite', 'postgres'];

export interface StoredUpdate {
  seq: number;
  data: Buffer;
}

/** The rows a store holds for one room. */
export interface StoredRows {
  snapshot: Buffer | null;
  updates: StoredUpdate[];
}

export interface StoreUnderTest {
  readonly kind: StoreKind;
  /** What a server needs (besides its own DATA_DIR) to use this store: {} or {DATABASE_URL}. */
  readonly env: Record<string, string>;
  /** The local PostgreSQL ('postgres' only; throws for 'sqlite'). */
  readonly postgres: LocalPostgres;
  /** The room's rows right now (`dataDir`: the server's DATA_DIR, where SQLite keeps its file). */
  rows(dataDir: string, roomId: string): Promise<StoredRows>;
  /** Append a raw row to the room's update log, as a damaged or foreign write would; returns its seq. */
  appendRaw(dataDir: string, roomId: string, data: Buffer): Promise<number>;
  /** One SQL statement on the room database ('postgres' only), outside the server. */
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>;
  /**
   * After `kill -9` of the server: crash the database engine too, and bring it back. SQLite runs
   * inside the server process, so the kill already was its crash (nothing to do). PostgreSQL is a
   * process of its own: an immediate shutdown (SIGQUIT: no checkpoint, nothing flushed, WAL replay
   * on the next start) loses every commit that was not yet on disk — with `fast: true`
   * (synchronous_commit off) recent commits would be lost, so durability tests use `fast: false`.
   */
  crash(): Promise<void>;
}

const SQLITE_FILE = 'livecanvas.sqlite';

/** Registers the beforeAll/afterAll that start and stop the store's database (PostgreSQL). Call it
 * inside the describe block (the database then starts only if that block runs). */
export function useStoreUnderTest(kind: StoreKind, pgOpts: PostgresOptions = {}): StoreUnderTest {
  return kind === 'sqlite' ? sqliteStore() : postgresStore(pgOpts);
}

function sqliteStore(): StoreUnderTest {
  const open = (dataDir: string, readonly: boolean) => new Database(join(dataDir, SQLITE_FILE), { readonly });
  return {
    kind: 'sqlite',
    env: {},
    get postgres(): LocalPostgres {
      throw new Error('no PostgreSQL: this is the sqlite store');
    },
    async rows(dataDir, roomId) {
      const db = open(dataDir, true);
      try {
        const updates = db.prepare('SELECT seq, data FROM updates WHERE room_id = ? ORDER BY seq').all(roomId) as StoredUpdate[];
        const snap = db.prepare('SELECT data FROM snapshots WHERE room_id = ?').get(roomId) as { data: Buffer } | undefined;
        return { snapshot: snap?.data ?? null, updates };
      } finally {
        db.close();
      }
    },
    async appendRaw(dataDir, roomId, data) {
      const db = open(dataDir, false);
      try {
        const seq = db.prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM updates WHERE room_id = ?').get(roomId) as { seq: number };
        db.prepare('INSERT INTO updates (room_id, seq, data) VALUES (?, ?, ?)').run(roomId, seq.seq, data);
        return seq.seq;
      } finally {
        db.close();
      }
    },
    async query() {
      throw new Error('no SQL access to the sqlite store from here: open DATA_DIR/livecanvas.sqlite');
    },
    async crash() {},
  };
}

function postgresStore(pgOpts: PostgresOptions): StoreUnderTest {
  let server: LocalPostgres | undefined;
  let pool: pg.Pool | undefined;
  beforeAll(async () => {
    server = await startPostgres(pgOpts);
    // application_name differs from the server's ('livecanvas'): tests that end the server's
    // sessions (pg_terminate_backend … WHERE application_name = 'livecanvas') leave these alone;
    // and a test that makes the database read-only for the server (ALTER DATABASE … SET
    // default_transaction_read_only) can still undo it from here (a client's own setting wins)
    pool = new pg.Pool({ connectionString: server.url, max: 2, application_name: 'livecanvas-test', options: '-c default_transaction_read_only=off' });
    pool.on('error', () => {}); // an idle connection dropped by a crash: the next query reconnects
  });
  afterAll(async () => {
    await pool?.end().catch(() => {});
    await server?.stop();
  });
  const running = (): LocalPostgres => {
    if (!server) throw new Error('PostgreSQL is not started: call useStoreUnderTest inside a describe block, use it in tests');
    return server;
  };
  const query = async <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> => {
    running();
    return (await pool!.query<T>(sql, params)).rows;
  };
  return {
    kind: 'postgres',
    get env() {
      return { DATABASE_URL: running().url };
    },
    get postgres() {
      return running();
    },
    async rows(_dataDir, roomId) {
      const updates = await query<{ seq: string | number; data: Buffer }>('SELECT seq, data FROM updates WHERE room_id = $1 ORDER BY seq', [roomId]);
      const snap = await query<{ data: Buffer }>('SELECT data FROM snapshots WHERE room_id = $1', [roomId]);
      // seq is a BIGINT: a string unless this process set pg's int8 parser (the server's code does)
      return { snapshot: snap[0]?.data ?? null, updates: updates.map((u) => ({ seq: Number(u.seq), data: u.data })) };
    },
    async appendRaw(_dataDir, roomId, data) {
      const r = await query<{ seq: string | number }>('INSERT INTO updates (room_id, data) VALUES ($1, $2) RETURNING seq', [roomId, data]);
      return Number(r[0]!.seq);
    },
    query,
    async crash() {
      const pgServer = running();
      const proc = pgServer.proc;
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise<void>((r) => proc.once('exit', () => r()));
        proc.kill('SIGQUIT'); // immediate shutdown: like a crash, recovered from the WAL on start
        await exited;
      }
      await pgServer.restart(); // the same dir and port: DATABASE_URL is unchanged
    },
  };
}

/** The record ids (tl_records keys) of a stored update, sorted. */
export function recordIdsOf(...updates: Array<Uint8Array | Buffer>): string[] {
  const doc = new Y.Doc();
  for (const u of updates) Y.applyUpdate(doc, new Uint8Array(u));
  const ids = [...doc.getMap('tl_records').keys()].sort();
  doc.destroy();
  return ids;
}

/** The record ids a fresh load of these rows yields: the snapshot, then every logged update. */
export function loadedRecordIds(rows: StoredRows): string[] {
  return recordIdsOf(...(rows.snapshot ? [rows.snapshot] : []), ...rows.updates.map((u) => u.data));
}
