// STORE_MAX_MB for PostgreSQL: the size of the database (pg_database_size), measured every
// REFRESH_MS in the background, plus the bytes written through the store since. Same answers as
// StoreQuota (storeQuota.ts) so rooms and uploads refuse additions alike in both modes.
import type { Logger } from '../logger';
import type { SqlDatabase } from './sql/SqlDatabase';
import type { StoreUsage } from './storeQuota';

const REFRESH_MS = 2_000;

export class PostgresQuota {
  private usedBytes = 0;
  private since = 0;
  private readonly timer: NodeJS.Timeout;
  private wasFull = false;

  constructor(
    private readonly sql: SqlDatabase,
    readonly maxBytes: number,
    private readonly log?: Logger,
  ) {
    this.timer = setInterval(() => void this.measure().catch(() => {}), REFRESH_MS);
    this.timer.unref();
  }

  async measure(): Promise<void> {
    const rows = await this.sql.query<{ bytes: number }>('SELECT pg_database_size(current_database()) AS bytes');
    this.usedBytes = Number(rows[0]?.bytes ?? 0);
    this.since = 0;
    const full = this.maxBytes > 0 && this.usedBytes >= this.maxBytes;
    if (full !== this.wasFull) {
      this.wasFull = full;
      this.log?.[full ? 'warn' : 'info']({ usedBytes: this.usedBytes, maxBytes: this.maxBytes }, full ? 'STORE FULL: the PostgreSQL database is at STORE_MAX_MB; additions are refused' : 'the PostgreSQL database is below STORE_MAX_MB again');
    }
  }

  wrote(bytes: number): void {
    this.since += bytes;
  }

  changed(): void {
    void this.measure().catch(() => {});
  }

  current(): StoreUsage {
    const usedBytes = this.usedBytes + this.since;
    return { usedBytes, fileBytes: this.usedBytes, walBytes: 0, maxBytes: this.maxBytes, full: this.maxBytes > 0 && usedBytes >= this.maxBytes };
  }

  refusal(adding: number): string | null {
    if (this.maxBytes === 0) return null;
    const { usedBytes } = this.current();
    if (usedBytes + adding <= this.maxBytes) return null;
    const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
    return `the server's storage is full (STORE_MAX_MB=${+(this.maxBytes / 1048576).toFixed(2)}: the database holds ${mb(usedBytes)} of at most ${mb(this.maxBytes)})`;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
