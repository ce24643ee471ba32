// The PostgreSQL connection pool of a process in cluster mode (DATABASE_URL). One pool per
// process, shared by every table through PostgresDatabase.
import pg from 'pg';

// BIGINT (int8, oid 20) and COUNT/SUM results arrive as strings by default; every such value the
// store keeps (milliseconds, byte counts, sequence numbers) fits a double exactly.
pg.types.setTypeParser(20, (v) => Number(v));
pg.types.setTypeParser(1700, (v) => Number(v)); // NUMERIC (SUM of BIGINT)

export interface PostgresPoolOptions {
  /** connections kept by this process (default 10) */
  max?: number;
  /** how long a query waits for a connection before failing (default 5 s) */
  connectionTimeoutMs?: number;
  /** a statement running longer than this is cancelled (default 15 s): a stuck server must not hold a room's writes forever */
  statementTimeoutMs?: number;
}

export function createPostgresPool(url: string, opts: PostgresPoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.max ?? 10,
    connectionTimeoutMillis: opts.connectionTimeoutMs ?? 5_000,
    statement_timeout: opts.statementTimeoutMs ?? 15_000,
    idleTimeoutMillis: 30_000,
    application_name: 'livecanvas',
  });
  // An idle connection that the server drops (restart, network) emits 'error' on the pool; without
  // a listener that would crash the process. The next query opens a new connection.
  pool.on('error', () => {});
  return pool;
}

/** postgres://user@host:port/db, without the password: for logs, /healthz and errors. */
export function describePostgresUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    return u.toString().replace(/:@/, '@');
  } catch {
    return 'postgres (unparseable DATABASE_URL)';
  }
}
