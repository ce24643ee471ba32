// SqlDatabase over better-sqlite3 (synchronous underneath). PLACEHOLDER: the helper replaces this.
import type Database from 'better-sqlite3';
import type { SqlDatabase, SqlRunner, SqlValue } from './SqlDatabase';

export class SqliteDatabase implements SqlDatabase {
  readonly dialect = 'sqlite' as const;
  readonly types = { blob: 'BLOB', bigint: 'INTEGER' };
  constructor(
    readonly db: Database.Database,
    readonly description: string,
  ) {}
  async query<R extends object>(_sql: string, _params?: SqlValue[]): Promise<R[]> {
    throw new Error('not yet');
  }
  async run(_sql: string, _params?: SqlValue[]): Promise<number> {
    throw new Error('not yet');
  }
  async exec(sql: string): Promise<void> {
    this.db.exec(sql);
  }
  async transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
    return fn(this);
  }
  async tablesWithRoomId(): Promise<string[]> {
    return [];
  }
  async close(): Promise<void> {}
}
