// SqlDatabase over PostgreSQL (`pg`), the durable store of cluster mode (DATABASE_URL). One pool
// per process (postgresPool.ts, which also makes BIGINT and NUMERIC arrive as numbers). Every error
// of pg is rethrown as a PostgresError that says which server, what was being done and whether the
// server could not be reached at all, keeping pg's error as `cause` and its SQLSTATE as `code`.
import type pg from 'pg';
import { createPostgresPool, describePostgresUrl, type PostgresPoolOptions } from './postgresPool';
import type { SqlDatabase, SqlRunner, SqlValue } from './SqlDatabase';

export class PostgresError extends Error {
  /** pg's SQLSTATE (e.g. '23505' unique violation) or Node's (e.g. 'ECONNREFUSED'), when it had one */
  readonly code: string | undefined;
  /** the server could not be reached or dropped the connection: nothing says the statement ran */
  readonly unreachable: boolean;

  constructor(description: string, doing: string, cause: unknown) {
    const message = cause instanceof Error ? cause.message : String(cause);
    const code = (cause as { code?: unknown } | null)?.code;
    const unreachable = isUnreachable(message, code);
    super(
      unreachable
        ? `PostgreSQL at ${description} is unreachable (${doing}): ${message || String(code)}`
        : `PostgreSQL at ${description}: ${doing} failed: ${message}`,
      { cause },
    );
    this.name = 'PostgresError';
    this.code = typeof code === 'string' ? code : undefined;
    this.unreachable = unreachable;
  }
}

/** Node's socket errors, and the SQLSTATEs of a connection that failed or a server going down. */
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', '57P01', '57P02', '57P03', '53300']);

function isUnreachable(message: string, code: unknown): boolean {
  if (typeof code === 'string' && (UNREACHABLE_CODES.has(code) || code.startsWith('08'))) return true;
  // pg's own messages for a pool that cannot connect in time and a connection that went away
  return /timeout exceeded when trying to connect|Connection terminated|connection timeout/i.test(message);
}

/** The start of a statement, to say in an error what was being done. */
const statementHead = (sql: string) => {
  const oneLine = sql.replace(/\s+/g, ' ').trim();
  return oneLine.length > 60 ? `${oneLine.slice(0, 57)}…` : oneLine;
};

const toPgValues = (params: readonly SqlValue[]) =>
  params.map((v) => (v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v));

export class PostgresDatabase implements SqlDatabase {
  readonly dialect = 'postgres' as const;
  readonly types = { blob: 'BYTEA', bigint: 'BIGINT' };

  constructor(
    readonly pool: pg.Pool,
    readonly description: string,
  ) {}

  /** A pool of its own for DATABASE_URL, described without the password. Connects lazily: the
   * first statement says whether the server is there. */
  static fromUrl(url: string, opts: PostgresPoolOptions = {}): PostgresDatabase {
    return new PostgresDatabase(createPostgresPool(url, opts), describePostgresUrl(url));
  }

  query<R extends object>(sql: string, params: SqlValue[] = []): Promise<R[]> {
    return this.rows<R>(this.pool, sql, params);
  }

  async run(sql: string, params: SqlValue[] = []): Promise<number> {
    return (await this.send(this.pool, sql, params)).rowCount ?? 0;
  }

  async exec(sql: string): Promise<void> {
    // without parameters pg uses the simple protocol, which takes several statements at once
    await this.send(this.pool, sql, undefined);
  }

  async transaction<T>(fn: (tx: SqlRunner) => Promise<T>, opts: { lockKey?: string } = {}): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw new PostgresError(this.description, 'connecting for a transaction', e);
    }
    // a checked-out client has no error listener of the pool's: without one, the server going away
    // while `fn` awaits something else would be an uncaught 'error' event
    let lost: unknown;
    const onLost = (e: unknown) => (lost = e);
    client.on('error', onLost);
    let open = true;
    const guard = () => {
      if (!open) throw new Error('SQL through a transaction that has ended');
    };
    const tx: SqlRunner = {
      query: async <R extends object>(sql: string, params: SqlValue[] = []) => (guard(), this.rows<R>(client, sql, params)),
      run: async (sql, params = []) => (guard(), (await this.send(client, sql, params)).rowCount ?? 0),
    };
    try {
      await this.send(client, 'BEGIN', undefined);
      // two processes never run a transaction for the same key at once: the second waits here
      if (opts.lockKey !== undefined) await this.send(client, 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [opts.lockKey]);
      const result = await fn(tx);
      await this.send(client, 'COMMIT', undefined);
      return result;
    } catch (e) {
      try {
        await client.query('ROLLBACK');
      } catch {
        lost ??= e; // the connection is unusable: it must not go back into the pool
      }
      throw e;
    } finally {
      open = false;
      client.off('error', onLost);
      client.release(lost !== undefined);
    }
  }

  async tablesWithRoomId(): Promise<string[]> {
    const rows = await this.query<{ name: string }>(
      `SELECT c.table_name AS name FROM information_schema.columns c
         JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
        WHERE c.table_schema = current_schema() AND c.column_name = 'room_id' AND t.table_type = 'BASE TABLE'
        ORDER BY c.table_name`,
    );
    return rows.map((r) => r.name);
  }

  /** Ends the pool: its connections close once their queries are done. */
  async close(): Promise<void> {
    if (!this.pool.ended) await this.pool.end();
  }

  private async rows<R extends object>(on: pg.Pool | pg.PoolClient, sql: string, params: SqlValue[]): Promise<R[]> {
    return (await this.send(on, sql, params)).rows as R[];
  }

  private async send(on: pg.Pool | pg.PoolClient, sql: string, params: SqlValue[] | undefined): Promise<pg.QueryResult> {
    try {
      return await on.query(sql, params && toPgValues(params));
    } catch (e) {
      throw new PostgresError(this.description, statementHead(sql), e);
    }
  }
}
