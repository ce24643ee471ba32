// The embedded RoomStore: durable room documents in SQLite (better-sqlite3, synchronous API
// underneath the store's async interface).
//
// Every Yjs update a room integrates is appended here synchronously, before the server broadcasts
// it or acknowledges it to the sender, so an acknowledged update survives `kill -9`: in WAL mode a
// committed transaction is in the WAL file, and with synchronous=FULL it is also fsync'ed (power
// loss). Measured on the dev VM: ~0.25 ms per FULL commit, ~0.01 ms with NORMAL.
//
// Compaction replaces a room's snapshot + update log with one snapshot (the encoded state of the
// loaded document) in one transaction.
//
// Integrity (docs/security.md "Storage"): a data directory that held rooms carries a marker file,
// and a missing database there refuses the start (dataDirMarker.ts); `PRAGMA quick_check` runs at
// start, and a damaged file is reported in /healthz and made read-only (integrity.ts); a room is
// rebuilt part by part so one unreadable update does not hide the ones after it (replay.ts).
//
// Other features may keep their own tables in the same file (e.g. pinned render assets): use
// `store.db` and create tables with `CREATE TABLE IF NOT EXISTS` under their own name prefix.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type * as Y from 'yjs';
import type { Logger } from '../logger';
import { emptyDatabaseMessage, missingDatabaseProblem, readDataMarker, writeDataMarker } from './dataDirMarker';
import { StorageDamagedError, StorageHealth, isCorruption, quickCheck, type StorageStatus } from './integrity';
import { replayStored, type ReplayResult } from './replay';
import { StoreQuota, type StoreUsage } from './storeQuota';
import type { SqlDatabase } from './sql/SqlDatabase';
import type { RoomStore, StoredRoom } from './RoomStore';
import { SqliteDatabase } from './sql/sqliteDatabase';

export interface SqliteRoomStoreOptions {
  synchronous?: 'FULL' | 'NORMAL';
  /** start with an empty database although the data directory's marker says it held rooms */
  allowEmpty?: boolean;
  /** run `PRAGMA quick_check` when opening (default true) */
  quickCheck?: boolean;
  /** keep writing into a file found damaged (default false: it becomes read-only) */
  allowDamagedWrites?: boolean;
  /** STORE_MAX_MB in bytes: past it, additions are refused (storeQuota.ts); 0 or absent = none */
  maxStoreBytes?: number;
  /** ROOM_TTL_DAYS in ms: rooms idle longer are deleted (retention.ts, run by attachStorage); 0 or absent = never */
  roomTtlMs?: number;
  logger?: Logger;
}

export const DB_FILE_NAME = 'livecanvas.sqlite';

export class SqliteRoomStore implements RoomStore {
  readonly kind = 'sqlite' as const;
  readonly db: Database.Database;
  /** the same file through the SQL interface both stores share: features keep their tables here */
  readonly sql: SqlDatabase;
  readonly path: string;
  readonly health: StorageHealth;
  /** the server-wide quota (STORE_MAX_MB) and the store's size */
  readonly quota: StoreQuota;
  /** ROOM_TTL_DAYS in ms (0 = rooms are kept for ever) */
  readonly roomTtlMs: number;
  private readonly stmts;
  /** the store's logger (module: store), when one was given */
  readonly log: Logger | undefined;
  /** the data directory's marker is written (it held rooms) */
  private marked: boolean;
  /** `PRAGMA query_only` is on: nothing at all is written into the damaged file */
  private queryOnly = false;
  private readonly compactionSkipLogged = new Set<string>();

  constructor(
    private readonly dataDir: string,
    opts: SqliteRoomStoreOptions = {},
  ) {
    mkdirSync(dataDir, { recursive: true });
    this.path = join(dataDir, DB_FILE_NAME);
    this.log = opts.logger?.child({ module: 'store' });
    this.health = new StorageHealth(this.path, opts.allowDamagedWrites ?? false);
    const missing = missingDatabaseProblem(dataDir, this.path);
    if (missing && !opts.allowEmpty) throw new Error(missing);
    try {
      this.db = new Database(this.path);
    } catch (e) {
      throw new Error(`cannot open the room database ${this.path}: ${(e as Error).message} (check DATA_DIR and its permissions)`);
    }
    try {
      this.checkNotEmptied(opts.allowEmpty ?? false, missing);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
      this.db.pragma('busy_timeout = 5000');
      if (opts.quickCheck ?? true) this.runQuickCheck();
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS updates (
          room_id TEXT NOT NULL,
          seq INTEGER NOT NULL,
          data BLOB NOT NULL,
          PRIMARY KEY (room_id, seq)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS snapshots (
          room_id TEXT PRIMARY KEY,
          data BLOB NOT NULL,
          updated_at INTEGER NOT NULL
        );
      `);
    } catch (e) {
      this.db.close();
      if (isCorruption(e)) throw new Error(`the room database ${this.path} is damaged beyond opening (${(e as Error).message}); ${REPAIR_HINT}`);
      throw e;
    }
    this.stmts = {
      snapshot: this.db.prepare<[string], { data: Buffer }>('SELECT data FROM snapshots WHERE room_id = ?'),
      updates: this.db.prepare<[string], { seq: number; data: Buffer }>('SELECT seq, data FROM updates WHERE room_id = ? ORDER BY seq'),
      append: this.db.prepare<[string, string, Uint8Array]>(
        'INSERT INTO updates (room_id, seq, data) VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM updates WHERE room_id = ?), ?)',
      ),
      putSnapshot: this.db.prepare<[string, Uint8Array, number]>(
        'INSERT INTO snapshots (room_id, data, updated_at) VALUES (?, ?, ?) ON CONFLICT (room_id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at',
      ),
      dropUpdates: this.db.prepare<[string]>('DELETE FROM updates WHERE room_id = ?'),
      touch: this.db.prepare<[number, string]>('UPDATE snapshots SET updated_at = ? WHERE room_id = ?'),
      countUpdates: this.db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM updates WHERE room_id = ?'),
      hasRoom: this.db.prepare<[string, string], { one: number }>(
        'SELECT 1 AS one FROM snapshots WHERE room_id = ? UNION ALL SELECT 1 FROM updates WHERE room_id = ? LIMIT 1',
      ),
      anyRoom: this.db.prepare<[], { one: number }>('SELECT 1 AS one FROM snapshots UNION ALL SELECT 1 FROM updates LIMIT 1'),
    };
    this.sql = new SqliteDatabase(this.db, this.path);
    this.quota = new StoreQuota(this.db, `${this.path}-wal`, opts.maxStoreBytes ?? 0, this.log);
    this.roomTtlMs = opts.roomTtlMs ?? 0;
    this.marked = readDataMarker(dataDir) !== null;
    // A directory that held rooms before markers existed gets its marker now.
    if (!this.marked && this.safeHoldsData()) this.markHoldsData();
  }

  /** True while the file is not known to be damaged (or ALLOW_DAMAGED_WRITES=1). */
  get writable(): boolean {
    return this.health.writable;
  }

  /** For /healthz: integrity, and the store's size against its quota. */
  status(): StorageStatus & StoreUsage {
    return { ...this.health.status(), ...this.quota.current() };
  }

  /** Why content of `bytes` may not be added now (the store is over STORE_MAX_MB), or null. */
  quotaRefusal(bytes: number): string | null {
    return this.quota.refusal(bytes);
  }

  /** The stored snapshot (if any) and the updates appended since, in order. */
  load(roomId: string): StoredRoom {
    const snap = this.stmts.snapshot.get(roomId);
    const rows = this.stmts.updates.all(roomId);
    return { snapshot: snap ? toBytes(snap.data) : null, updates: rows.map((r) => toBytes(r.data)), seqs: rows.map((r) => r.seq) };
  }

  /**
   * Build the room's document into `doc` (which must be empty and have no update listener yet):
   * the snapshot, then every logged update, each on its own. A part that cannot be applied is
   * skipped and the rest still applied (see replay.ts); what was skipped is returned, logged with
   * the room and the database path, and told to the room's clients (attachStorage). Rows that
   * cannot even be read (a damaged page) throw StorageDamagedError with a message for the client.
   */
  async replay(roomId: string, doc: Y.Doc): Promise<ReplayResult> {
    let stored: StoredRoom;
    try {
      stored = this.load(roomId);
    } catch (e) {
      if (!isCorruption(e)) throw e;
      this.noteCorruption(e, roomId);
      throw new StorageDamagedError(
        `room ${roomId} cannot be opened: the server's stored copy of it is damaged (${(e as Error).message}). Nothing was changed; the server's operator is told (/healthz). Try again later`,
      );
    }
    this.enforceReadOnly();
    const result = replayStored(doc, stored);
    if (result.skipped.length > 0) {
      const named = result.skipped.map((s) => (typeof s.id === 'number' ? `update ${s.id}` : s.id));
      this.health.roomLoaded(roomId, `${named.join(', ')} could not be applied`);
      this.log?.error(
        { room: roomId, db: this.path, skipped: result.skipped, applied: result.applied, updates: result.updates },
        `room ${roomId}: ${named.join(', ')} of its stored data could not be applied (database ${this.path}); the rest was, and the room's clients are told`,
      );
    } else {
      this.health.roomLoaded(roomId, null);
    }
    return result;
  }

  /** Durable when it returns (one committed transaction). Throws, writing nothing, while the
   * database is read-only because it is damaged. */
  async appendUpdate(roomId: string, update: Uint8Array): Promise<void> {
    this.enforceReadOnly();
    if (!this.health.writable) throw new Error(this.health.readOnlyReason());
    try {
      this.stmts.append.run(roomId, roomId, update);
    } catch (e) {
      this.noteCorruption(e, roomId);
      throw e;
    }
    this.quota.wrote(update.byteLength);
    if (!this.marked) this.markHoldsData();
  }

  /** Replace the room's snapshot and drop its update log, atomically. `snapshot` must contain
   * every update appended so far (the server's loaded document does). While the database is
   * read-only this does nothing: the log it would replace stays, so nothing is lost. */
  async compact(roomId: string, snapshot: Uint8Array): Promise<void> {
    this.enforceReadOnly();
    if (!this.health.writable) {
      if (!this.compactionSkipLogged.has(roomId)) {
        this.compactionSkipLogged.add(roomId);
        this.log?.warn({ room: roomId, db: this.path }, 'not compacting: the database is damaged and read-only; the update log stays as it is');
      }
      return;
    }
    try {
      this.db.transaction(() => {
        this.stmts.putSnapshot.run(roomId, snapshot, Date.now());
        this.stmts.dropUpdates.run(roomId);
      })();
    } catch (e) {
      this.noteCorruption(e, roomId);
      throw e;
    }
    this.quota.wrote(snapshot.byteLength);
    if (!this.marked) this.markHoldsData();
  }

  /** Mark the room as used now (its snapshot's updated_at, which retention reads: retention.ts);
   * a room without a snapshot or a read-only database is left as it is. */
  async touch(roomId: string): Promise<void> {
    if (!this.health.writable) return;
    try {
      this.stmts.touch.run(Date.now(), roomId);
    } catch (e) {
      this.noteCorruption(e, roomId);
      this.log?.warn({ err: e, room: roomId }, 'could not record the room as used');
    }
  }

  async pendingUpdates(roomId: string): Promise<number> {
    return this.stmts.countUpdates.get(roomId)?.n ?? 0;
  }

  async hasRoom(roomId: string): Promise<boolean> {
    return this.stmts.hasRoom.get(roomId, roomId) !== undefined;
  }

  /** Deletes everything stored about a room, in every table with a `room_id` column (its document,
   * and the rows features keep in this file: pinned renders, uploads, its access entry), in one
   * transaction. Returns the rows deleted. */
  async deleteRoom(roomId: string): Promise<number> {
    const tables = this.db
      .prepare<[], { name: string }>(
        "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = 'room_id')",
      )
      .all()
      .map((t) => t.name);
    const rows = this.db.transaction(() => tables.reduce((n, t) => n + this.db.prepare(`DELETE FROM "${t}" WHERE room_id = ?`).run(roomId).changes, 0))();
    this.quota.changed();
    return rows;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }

  /** A database file that exists but holds no schema at all in a directory that held rooms is as
   * good as missing (e.g. replaced by an empty file). */
  private checkNotEmptied(allowEmpty: boolean, missing: string | null): void {
    const marker = readDataMarker(this.dataDir);
    const tables = this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM sqlite_master').get()?.n ?? 0;
    if (marker && tables === 0) {
      const message = missing ?? emptyDatabaseMessage(this.dataDir, this.path, marker, 'holds no tables');
      if (!allowEmpty) throw new Error(message);
      this.log?.warn({ db: this.path }, `ALLOW_EMPTY_DATA=1: starting with an empty database. ${message}`);
    }
  }

  private runQuickCheck(): void {
    const started = performance.now();
    const problems = quickCheck(this.db);
    const ms = performance.now() - started;
    this.health.checked(problems, ms);
    if (problems.length === 0) {
      this.log?.info({ db: this.path, ms: Math.round(ms) }, 'database quick_check: ok');
      return;
    }
    this.log?.error(
      { db: this.path, problems, ms: Math.round(ms), writable: this.health.writable },
      `DATABASE DAMAGED: PRAGMA quick_check found ${problems.length} problem(s) in ${this.path}; ${
        this.health.writable ? 'writes continue (ALLOW_DAMAGED_WRITES=1)' : 'nothing more is written into it until it is repaired'
      }. ${REPAIR_HINT}`,
    );
  }

  /** Once rooms are served, a damaged file accepts no writes at all, also from other features'
   * tables (their CREATE TABLE IF NOT EXISTS at attach time still runs). */
  private enforceReadOnly(): void {
    if (this.queryOnly || this.health.writable) return;
    this.db.pragma('query_only = 1');
    this.queryOnly = true;
  }

  /** Report an error of a read or write of this file (also other features' tables): when it says
   * the file is damaged, the store becomes read-only and /healthz says so. */
  noteCorruption(err: unknown, roomId: string): void {
    if (!isCorruption(err)) return;
    const problem = `${(err as Error).message} (met while reading or writing room ${roomId})`;
    if (!this.health.corruption(problem)) return;
    this.log?.error(
      { err, room: roomId, db: this.path, writable: this.health.writable },
      `DATABASE DAMAGED: ${problem} in ${this.path}; ${this.health.writable ? 'writes continue (ALLOW_DAMAGED_WRITES=1)' : 'it is read-only from now on'}. ${REPAIR_HINT}`,
    );
  }

  private safeHoldsData(): boolean {
    try {
      return this.stmts.anyRoom.get() !== undefined;
    } catch {
      return true; // unreadable, but it held something
    }
  }

  private markHoldsData(): void {
    try {
      writeDataMarker(this.dataDir, DB_FILE_NAME);
      this.marked = true;
    } catch (err) {
      this.marked = true; // tried; do not retry on every write
      this.log?.warn({ err, dataDir: this.dataDir }, 'could not write the data directory marker');
    }
  }
}

const REPAIR_HINT =
  'To repair: stop the server, keep a copy of the file, then `sqlite3 livecanvas.sqlite ".recover" | sqlite3 recovered.sqlite` and put recovered.sqlite in its place (docs/security.md "Storage")';

const toBytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
