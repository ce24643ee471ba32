// The one SQL interface the store's tables are written against, with two implementations:
// better-sqlite3 (the embedded default, sqliteDatabase.ts) and PostgreSQL through `pg`
// (postgresDatabase.ts, cluster mode with DATABASE_URL). Features keep their SQL in one text for
// both: parameters are written `$1, $2, …` (SQLite's implementation rewrites them), and column
// types that differ come from `types`. Code above this interface never asks which one it has,
// except to describe it in logs and /healthz.

export type SqlValue = string | number | Uint8Array | null;

export type SqlDialect = 'sqlite' | 'postgres';

/** Column types whose names differ between the dialects. */
export interface SqlTypes {
  /** binary data: BLOB / BYTEA */
  blob: string;
  /** 64-bit integer (milliseconds since 1970, byte counts): INTEGER / BIGINT */
  bigint: string;
}

export interface SqlRunner {
  /** Rows of a SELECT (or of an INSERT … RETURNING). BIGINT columns come back as numbers, binary
   * columns as Buffers, in both dialects. */
  query<R extends object>(sql: string, params?: SqlValue[]): Promise<R[]>;
  /** An INSERT / UPDATE / DELETE; returns the number of rows it changed. */
  run(sql: string, params?: SqlValue[]): Promise<number>;
}

export interface SqlDatabase extends SqlRunner {
  readonly dialect: SqlDialect;
  readonly types: SqlTypes;
  /** Where the data is, for logs and errors (a file path, or postgres://host:port/db without the password). */
  readonly description: string;
  /** DDL: one or more statements, no parameters (CREATE TABLE IF NOT EXISTS …). */
  exec(sql: string): Promise<void>;
  /** `fn`'s statements in one transaction on one connection: committed when it resolves, rolled
   * back when it throws. `lockKey` (a room id, say) first takes a lock held until the end of the
   * transaction, so two processes never run such a transaction for the same key at once. */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>, opts?: { lockKey?: string }): Promise<T>;
  /** Names of the tables with a `room_id` column (deleting a room empties it from all of them). */
  tablesWithRoomId(): Promise<string[]>;
  close(): Promise<void>;
}
