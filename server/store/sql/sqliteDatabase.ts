// SqlDatabase over better-sqlite3, the embedded default. better-sqlite3 is synchronous and this
// process is SQLite's only writer, but a transaction's `fn` is async: while it awaits, other code
// could run statements on the same connection, which would then land inside (and be rolled back
// with) that transaction. So every call goes through one async mutex: a call made while a
// transaction is open waits until it ends, except the calls made through the `tx` runner given to
// `fn`. `lockKey` needs nothing more: one transaction at a time is stricter than one per key.
import type Database from 'better-sqlite3';
import type { SqlDatabase, SqlRunner, SqlValue } from './SqlDatabase';
import { reorderParams, toPositional } from './positionalParams';

type BindValue = string | number | Buffer | null;

interface Prepared {
  stmt: Database.Statement<BindValue[]>;
  /** the value index of each `?` (see positionalParams.ts) */
  order: number[];
}

/** More distinct SQL texts than this and the cache starts over (the store's texts are a few dozen). */
const MAX_CACHED_STATEMENTS = 500;

export class SqliteDatabase implements SqlDatabase {
  readonly dialect = 'sqlite' as const;
  readonly types = { blob: 'BLOB', bigint: 'INTEGER' };
  private readonly statements = new Map<string, Prepared>();
  private readonly mutex = new AsyncMutex();

  constructor(
    readonly db: Database.Database,
    readonly description: string,
  ) {}

  query<R extends object>(sql: string, params: SqlValue[] = []): Promise<R[]> {
    return this.mutex.exclusive(() => this.queryNow<R>(sql, params));
  }

  run(sql: string, params: SqlValue[] = []): Promise<number> {
    return this.mutex.exclusive(() => this.runNow(sql, params));
  }

  exec(sql: string): Promise<void> {
    return this.mutex.exclusive(() => {
      this.db.exec(sql);
    });
  }

  transaction<T>(fn: (tx: SqlRunner) => Promise<T>, _opts?: { lockKey?: string }): Promise<T> {
    return this.mutex.exclusive(async () => {
      // IMMEDIATE takes the write lock now: a transaction that reads then writes cannot fail
      // half-way because another connection (an operator's CLI) wrote meanwhile
      this.prepared('BEGIN IMMEDIATE').stmt.run();
      // runs statements without the mutex (the transaction holds it), only while it is open
      let open = true;
      const inside = <V>(run: () => V): Promise<V> =>
        open ? new Promise((resolve) => resolve(run())) : Promise.reject(new Error('SQL through a transaction that has ended'));
      const tx: SqlRunner = {
        query: (sql, params) => inside(() => this.queryNow(sql, params)),
        run: (sql, params) => inside(() => this.runNow(sql, params)),
      };
      try {
        const result = await fn(tx);
        this.prepared('COMMIT').stmt.run();
        return result;
      } catch (e) {
        // some errors (SQLITE_FULL, SQLITE_IOERR) end the transaction themselves
        try {
          if (this.db.inTransaction) this.prepared('ROLLBACK').stmt.run();
        } catch {
          // the error that made us roll back is the one to report
        }
        throw e;
      } finally {
        open = false;
      }
    });
  }

  async tablesWithRoomId(): Promise<string[]> {
    const rows = await this.query<{ name: string }>(
      "SELECT m.name FROM sqlite_master m WHERE m.type = 'table' AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) p WHERE p.name = 'room_id')",
    );
    return rows.map((r) => r.name);
  }

  /** The database handle belongs to RoomStore, which closes it. */
  async close(): Promise<void> {}

  private queryNow<R extends object>(sql: string, params: SqlValue[] = []): R[] {
    const { stmt, order } = this.prepared(sql);
    const values = bindValues(order, params);
    // like PostgreSQL, a statement without result rows (an INSERT without RETURNING) yields none
    if (!stmt.reader) {
      stmt.run(...values);
      return [];
    }
    return stmt.all(...values) as R[];
  }

  private runNow(sql: string, params: SqlValue[] = []): number {
    const { stmt, order } = this.prepared(sql);
    return stmt.run(...bindValues(order, params)).changes;
  }

  private prepared(sql: string): Prepared {
    let p = this.statements.get(sql);
    if (!p) {
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      const positional = toPositional(sql);
      p = { stmt: this.db.prepare<BindValue[]>(positional.sql), order: positional.order };
      this.statements.set(sql, p);
    }
    return p;
  }
}

function bindValues(order: number[], params: readonly SqlValue[]): BindValue[] {
  return reorderParams(order, params).map((v) =>
    v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : (v as BindValue),
  );
}

/** One holder at a time, the others queued in arrival order; `exclusive` runs a function as the
 * holder. A synchronous function is run at once when nobody holds the mutex. */
class AsyncMutex {
  private held = false;
  private readonly waiting: Array<() => void> = [];

  async exclusive<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.held) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.held = true;
    try {
      return await fn();
    } finally {
      // hand over to the next in line (it stays held), or free it
      const next = this.waiting.shift();
      if (next) next();
      else this.held = false;
    }
  }
}
