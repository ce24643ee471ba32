// The RoomStore of cluster mode: room documents in PostgreSQL (DATABASE_URL), shared by every node.
//
// The update log is one row per update; `seq` is a BIGSERIAL (unique across the table, so two
// nodes appending to one room at once never collide as `MAX(seq) + 1` would). A write resolves
// when PostgreSQL has committed it: that is what "acknowledged" means in cluster mode.
//
// Compaction must be safe when several nodes write one room. A node's document may lack updates
// that others committed but whose relay has not reached it yet (or never will, while Redis is
// down). So it never just replaces the stored state with its own: in one transaction holding the
// room's advisory lock it reads the stored snapshot and log, merges them with its document's
// state (Y.mergeUpdates: duplicates are dropped, nothing is lost) and deletes exactly the log rows
// it read — an update another node appends meanwhile is not among them and stays.
import * as Y from 'yjs';
import type { Logger } from '../logger';
import { StorageHealth, type StorageStatus } from './integrity';
import { PostgresQuota } from './postgresQuota';
import { replayStored, type ReplayResult } from './replay';
import type { RoomStore, StoredRoom } from './RoomStore';
import type { SqlDatabase, SqlRunner } from './sql/SqlDatabase';
import type { StoreUsage } from './storeQuota';

export interface PostgresRoomStoreOptions {
  /** STORE_MAX_MB in bytes (0 = none) */
  maxStoreBytes?: number;
  /** ROOM_TTL_DAYS in ms (0 = never) */
  roomTtlMs?: number;
  logger?: Logger;
}

/** Schema versions, applied in order at start under one lock (several nodes may start at once). */
const MIGRATIONS: string[] = [
  `CREATE TABLE IF NOT EXISTS updates (
     room_id TEXT NOT NULL,
     seq BIGSERIAL,
     data BYTEA NOT NULL,
     PRIMARY KEY (room_id, seq)
   );
   CREATE TABLE IF NOT EXISTS snapshots (
     room_id TEXT PRIMARY KEY,
     data BYTEA NOT NULL,
     updated_at BIGINT NOT NULL
   );`,
];

export class PostgresRoomStore implements RoomStore {
  readonly kind = 'postgres' as const;
  readonly path: string;
  readonly log: Logger | undefined;
  readonly health: StorageHealth;
  readonly quota: PostgresQuota;
  readonly roomTtlMs: number;
  /** PostgreSQL refuses writes itself when it cannot take them (the write then fails) */
  readonly writable = true;

  private constructor(
    readonly sql: SqlDatabase,
    opts: PostgresRoomStoreOptions,
  ) {
    this.path = sql.description;
    this.log = opts.logger?.child({ module: 'store' });
    this.health = new StorageHealth(this.path, false);
    this.quota = new PostgresQuota(sql, opts.maxStoreBytes ?? 0, this.log);
    this.roomTtlMs = opts.roomTtlMs ?? 0;
  }

  /** Connects, creates or migrates the schema, and measures the database. */
  static async open(sql: SqlDatabase, opts: PostgresRoomStoreOptions = {}): Promise<PostgresRoomStore> {
    const store = new PostgresRoomStore(sql, opts);
    try {
      await migrate(sql);
      await store.quota.measure();
    } catch (e) {
      throw new Error(`cannot open the room database ${sql.description}: ${(e as Error).message}`, { cause: e });
    }
    store.log?.info({ db: store.path }, 'room store: PostgreSQL');
    return store;
  }

  status(): StorageStatus & StoreUsage {
    return { ...this.health.status(), ...this.quota.current() };
  }

  quotaRefusal(bytes: number): string | null {
    return this.quota.refusal(bytes);
  }

  async load(roomId: string, runner: SqlRunner = this.sql): Promise<StoredRoom> {
    const snap = await runner.query<{ data: Buffer }>('SELECT data FROM snapshots WHERE room_id = $1', [roomId]);
    const rows = await runner.query<{ seq: number; data: Buffer }>('SELECT seq, data FROM updates WHERE room_id = $1 ORDER BY seq', [roomId]);
    return { snapshot: snap[0] ? toBytes(snap[0].data) : null, updates: rows.map((r) => toBytes(r.data)), seqs: rows.map((r) => r.seq) };
  }

  async replay(roomId: string, doc: Y.Doc): Promise<ReplayResult> {
    const result = replayStored(doc, await this.load(roomId));
    if (result.skipped.length > 0) {
      const named = result.skipped.map((s) => (typeof s.id === 'number' ? `update ${s.id}` : s.id));
      this.health.roomLoaded(roomId, `${named.join(', ')} could not be applied`);
      this.log?.error({ room: roomId, db: this.path, skipped: result.skipped }, `room ${roomId}: ${named.join(', ')} of its stored data could not be applied; the rest was`);
    } else {
      this.health.roomLoaded(roomId, null);
    }
    return result;
  }

  async appendUpdate(roomId: string, update: Uint8Array): Promise<void> {
    await this.sql.run('INSERT INTO updates (room_id, data) VALUES ($1, $2)', [roomId, update]);
    this.quota.wrote(update.byteLength);
  }

  async compact(roomId: string, snapshot: Uint8Array): Promise<void> {
    const written = await this.sql.transaction(
      async (tx) => {
        const stored = await this.load(roomId, tx);
        const parts = [snapshot, ...(stored.snapshot ? [stored.snapshot] : []), ...stored.updates];
        const merged = parts.length === 1 ? snapshot : Y.mergeUpdates(parts);
        await tx.run(
          'INSERT INTO snapshots (room_id, data, updated_at) VALUES ($1, $2, $3) ON CONFLICT (room_id) DO UPDATE SET data = EXCLUDED.data, updated_at = EXCLUDED.updated_at',
          [roomId, merged, Date.now()],
        );
        if (stored.seqs.length > 0) {
          await tx.run('DELETE FROM updates WHERE room_id = $1 AND seq = ANY($2::bigint[])', [roomId, `{${stored.seqs.join(',')}}`]);
        }
        return merged.byteLength;
      },
      { lockKey: `room:${roomId}` },
    );
    this.quota.wrote(written);
  }

  async touch(roomId: string): Promise<void> {
    try {
      await this.sql.run('UPDATE snapshots SET updated_at = $1 WHERE room_id = $2', [Date.now(), roomId]);
    } catch (err) {
      this.log?.warn({ err, room: roomId }, 'could not record the room as used');
    }
  }

  async pendingUpdates(roomId: string): Promise<number> {
    const rows = await this.sql.query<{ n: number }>('SELECT COUNT(*) AS n FROM updates WHERE room_id = $1', [roomId]);
    return Number(rows[0]?.n ?? 0);
  }

  async hasRoom(roomId: string): Promise<boolean> {
    const rows = await this.sql.query('SELECT 1 AS one FROM snapshots WHERE room_id = $1 UNION ALL SELECT 1 FROM updates WHERE room_id = $1 LIMIT 1', [roomId]);
    return rows.length > 0;
  }

  async deleteRoom(roomId: string): Promise<number> {
    const tables = await this.sql.tablesWithRoomId();
    const rows = await this.sql.transaction(
      async (tx) => {
        let n = 0;
        for (const t of tables) n += await tx.run(`DELETE FROM "${t}" WHERE room_id = $1`, [roomId]);
        return n;
      },
      { lockKey: `room:${roomId}` },
    );
    this.quota.changed();
    return rows;
  }

  /** PostgreSQL checks its own pages; nothing to note here. */
  noteCorruption(): void {}

  async close(): Promise<void> {
    this.quota.stop();
    await this.sql.close();
  }
}

async function migrate(sql: SqlDatabase): Promise<void> {
  await sql.transaction(
    async (tx) => {
      await tx.run('CREATE TABLE IF NOT EXISTS livecanvas_schema (version INTEGER NOT NULL)');
      const rows = await tx.query<{ version: number }>('SELECT version FROM livecanvas_schema');
      let version = rows[0]?.version ?? 0;
      if (rows.length === 0) await tx.run('INSERT INTO livecanvas_schema (version) VALUES (0)');
      if (version > MIGRATIONS.length) {
        throw new Error(`the database's schema is version ${version}, newer than this server's (${MIGRATIONS.length}): run the newer server, or restore a backup`);
      }
      for (; version < MIGRATIONS.length; version++) {
        for (const statement of MIGRATIONS[version].split(';').map((x) => x.trim()).filter(Boolean)) await tx.run(statement);
        await tx.run('UPDATE livecanvas_schema SET version = $1', [version + 1]);
      }
    },
    { lockKey: 'livecanvas:schema' },
  );
}

const toBytes = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
