// What the server keeps durably about rooms, behind one interface with two implementations:
// SqliteRoomStore (the embedded default: one file in DATA_DIR) and PostgresRoomStore (cluster
// mode, DATABASE_URL). Rooms, features and /healthz only see this interface.
//
// The promise of every write: when it resolves, the data is committed (SQLite: in the WAL, fsync'ed
// with SQLITE_SYNC=FULL; PostgreSQL: COMMIT returned). The server acknowledges or broadcasts a
// change only after that, so "acknowledged" means "durable".
import type * as Y from 'yjs';
import type { Logger } from '../logger';
import type { StorageHealth, StorageStatus } from './integrity';
import type { ReplayResult } from './replay';
import type { SqlDatabase, SqlDialect } from './sql/SqlDatabase';
import type { StoreUsage } from './storeQuota';

export type { ReplayResult, ReplaySkip } from './replay';
export type { StorageStatus } from './integrity';
export type { StoreUsage } from './storeQuota';

export interface StoredRoom {
  snapshot: Uint8Array | null;
  updates: Uint8Array[];
  /** the `seq` of each update (same order), to name them in logs */
  seqs: number[];
}

export interface RoomStore {
  readonly kind: SqlDialect;
  /** where the data is, for logs (the SQLite file, or the PostgreSQL URL without password) */
  readonly path: string;
  /** the same database through the SQL interface: features keep their tables there */
  readonly sql: SqlDatabase;
  readonly log: Logger | undefined;
  /** damage found in the stored data (quick_check, unreadable rows, rooms that did not load whole) */
  readonly health: StorageHealth;
  /** the server-wide quota (STORE_MAX_MB) and the store's size */
  readonly quota: { current(): StoreUsage };
  /** ROOM_TTL_DAYS in ms (0 = rooms are kept for ever) */
  readonly roomTtlMs: number;
  /** false while writes are refused (a damaged SQLite file) */
  readonly writable: boolean;
  /** for /healthz */
  status(): StorageStatus & StoreUsage;
  /** Why content of `bytes` may not be added now (the store is over STORE_MAX_MB), or null. */
  quotaRefusal(bytes: number): string | null;
  /** Build the room's document into `doc` (empty, no update listener yet): the snapshot, then
   * every logged update, each on its own, tolerating damaged parts (replay.ts). */
  replay(roomId: string, doc: Y.Doc): Promise<ReplayResult>;
  /** Resolves once the update is committed. */
  appendUpdate(roomId: string, update: Uint8Array): Promise<void>;
  /** Replace the room's snapshot + update log by one snapshot. `snapshot` holds everything the
   * caller's document has; an implementation shared by several processes also keeps whatever
   * others stored that the caller may not have seen yet (PostgresRoomStore merges it). */
  compact(roomId: string, snapshot: Uint8Array): Promise<void>;
  /** Mark the room as used now (retention reads it). */
  touch(roomId: string): Promise<void>;
  pendingUpdates(roomId: string): Promise<number>;
  hasRoom(roomId: string): Promise<boolean>;
  /** Deletes everything stored about a room, in every table with a `room_id` column. */
  deleteRoom(roomId: string): Promise<number>;
  /** Report an error met reading or writing the store (a damaged SQLite file becomes read-only). */
  noteCorruption(err: unknown, roomId: string): void;
  close(): Promise<void>;
}
