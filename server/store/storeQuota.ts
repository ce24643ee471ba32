// The server-wide store quota (STORE_MAX_MB, docs/security.md "Storage"): how much the database
// holds — its pages in use, (page_count − freelist_count) × page_size, so space freed by deleted
// rooms counts as free again, plus the WAL file — measured cheaply: the size is re-read at most
// once per REFRESH_MS, and the bytes written through the store in between are added to the last
// measurement. Past the quota, what adds content is refused by its caller (Room: `too-large`;
// uploads: 507); deletions, compaction and the server's own small writes go on.
import type Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import type { Logger } from '../logger';

/** How old a measurement may be before it is taken again. */
const REFRESH_MS = 1_000;

export interface StoreUsage {
  /** pages in use plus the WAL file: what the quota limits */
  usedBytes: number;
  /** page_count × page_size: the database's size, free pages included */
  fileBytes: number;
  /** the WAL file (its pages are checkpointed into the database file) */
  walBytes: number;
  /** STORE_MAX_MB in bytes; 0 = no quota */
  maxBytes: number;
  /** usedBytes has reached maxBytes: additions are refused */
  full: boolean;
}

export class StoreQuota {
  private usage: StoreUsage;
  private measuredAt = 0;
  /** bytes written through the store since the last measurement */
  private since = 0;
  private wasFull = false;

  constructor(
    private readonly db: Database.Database,
    private readonly walPath: string,
    readonly maxBytes: number,
    private readonly log?: Logger,
  ) {
    this.usage = { usedBytes: 0, fileBytes: 0, walBytes: 0, maxBytes, full: false };
  }

  /** Count `bytes` just written (an update, a snapshot). */
  wrote(bytes: number): void {
    this.since += bytes;
  }

  /** Something was deleted: measure again before the next answer. */
  changed(): void {
    this.measuredAt = 0;
  }

  /** The store's size now (for /healthz), measured at most REFRESH_MS ago. */
  current(now = Date.now()): StoreUsage {
    if (now - this.measuredAt >= REFRESH_MS) this.measure(now);
    const usedBytes = this.usage.usedBytes + this.since;
    return { ...this.usage, usedBytes, full: this.maxBytes > 0 && usedBytes >= this.maxBytes };
  }

  /** Why `adding` more bytes may not be stored (the store is or would be over its quota), or null.
   * One sentence naming STORE_MAX_MB; the caller says what was refused. */
  refusal(adding: number): string | null {
    if (this.maxBytes === 0) return null;
    let { usedBytes } = this.current();
    if (usedBytes + adding > this.maxBytes && this.since > 0) usedBytes = this.measure(Date.now()).usedBytes;
    if (usedBytes + adding <= this.maxBytes) return null;
    return `the server's storage is full (STORE_MAX_MB=${+(this.maxBytes / 1048576).toFixed(2)}: the database holds ${mb(usedBytes)} of at most ${mb(this.maxBytes)})`;
  }

  private measure(now: number): StoreUsage {
    let pageSize, pages, free;
    try {
      pageSize = Number(this.db.pragma('page_size', { simple: true }));
      pages = Number(this.db.pragma('page_count', { simple: true }));
      free = Number(this.db.pragma('freelist_count', { simple: true }));
    } catch (err) {
      // a closed or damaged file (reported elsewhere): keep the last measurement
      this.log?.debug({ err }, 'could not measure the database');
      this.measuredAt = now;
      return this.usage;
    }
    let walBytes = 0;
    try {
      walBytes = statSync(this.walPath).size;
    } catch {
      /* no WAL file (yet) */
    }
    const usedBytes = (pages - free) * pageSize + walBytes;
    const full = this.maxBytes > 0 && usedBytes >= this.maxBytes;
    this.usage = { usedBytes, fileBytes: pages * pageSize, walBytes, maxBytes: this.maxBytes, full };
    this.measuredAt = now;
    this.since = 0;
    if (full !== this.wasFull) {
      this.wasFull = full;
      if (full) {
        this.log?.warn({ usedBytes, maxBytes: this.maxBytes }, `STORE FULL: the database holds ${mb(usedBytes)}, at its quota of ${mb(this.maxBytes)} (STORE_MAX_MB); additions to rooms are refused and uploads answer 507 until rooms are deleted or the quota is raised`);
      } else {
        this.log?.info({ usedBytes, maxBytes: this.maxBytes }, `the database holds ${mb(usedBytes)}, below its quota of ${mb(this.maxBytes)} (STORE_MAX_MB) again`);
      }
    }
    return this.usage;
  }
}

const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
