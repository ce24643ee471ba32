// What the server knows about the health of its database file: the result of `PRAGMA quick_check`
// at start, and corruption errors met while serving. Reported in /healthz (`storage`) and, while
// it is damaged, the file is read-only (unless ALLOW_DAMAGED_WRITES=1): writing into a damaged
// b-tree can spread the damage, and an acknowledged change must not land in a file that needs a
// repair first. See docs/security.md "Storage".
import type Database from 'better-sqlite3';
import { ClientError } from '../socket/ClientError';

/** Problems kept for the report (quick_check can list thousands). */
const MAX_PROBLEMS = 20;

export interface StorageStatus {
  /** the database file */
  path: string;
  /** PRAGMA quick_check at start: 'off' when SQLITE_QUICK_CHECK=0 */
  quickCheck: 'ok' | 'failed' | 'off';
  /** how long the check took */
  quickCheckMs?: number;
  /** what is wrong: quick_check's findings and corruption errors met while serving */
  problems: string[];
  /** false while the file is known to be damaged (unless ALLOW_DAMAGED_WRITES=1) */
  writable: boolean;
  /** rooms whose stored data did not load completely when last opened (see RoomStore.replay) */
  damagedRooms: string[];
}

/** A room that cannot be opened because its rows cannot be read: the client gets this message
 * (`server-error`, never counted as a violation) instead of a generic failure. */
export class StorageDamagedError extends ClientError {
  override name = 'StorageDamagedError';
  constructor(message: string) {
    super('server-error', message, { violation: false });
  }
}

/** SQLite's own words for a damaged file (SQLITE_CORRUPT and its extended codes, SQLITE_NOTADB). */
export function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

/** Run `PRAGMA quick_check` (O(file size): it reads every page, but skips the index-vs-table
 * comparisons of integrity_check). Returns the problems found, [] when the file is sound. */
export function quickCheck(db: Database.Database): string[] {
  try {
    const rows = db.pragma(`quick_check(${MAX_PROBLEMS})`) as { quick_check: string }[];
    const problems = rows.map((r) => r.quick_check).filter((m) => m !== 'ok');
    return problems;
  } catch (e) {
    // A file damaged badly enough makes the check itself fail.
    return [`quick_check could not run: ${(e as Error).message}`];
  }
}

export class StorageHealth {
  private readonly problems: string[] = [];
  private readonly damaged = new Map<string, string>();
  private check: Pick<StorageStatus, 'quickCheck' | 'quickCheckMs'> = { quickCheck: 'off' };

  constructor(
    readonly path: string,
    private readonly allowDamagedWrites: boolean,
  ) {}

  /** true while nothing is known to be wrong with the file, or writes are allowed anyway */
  get writable(): boolean {
    return this.problems.length === 0 || this.allowDamagedWrites;
  }

  get isDamaged(): boolean {
    return this.problems.length > 0;
  }

  checked(problems: string[], ms: number): void {
    this.check = { quickCheck: problems.length ? 'failed' : 'ok', quickCheckMs: Math.round(ms) };
    for (const p of problems) this.addProblem(p);
  }

  /** Note a corruption error; true when it is news (the first time this problem is seen). */
  corruption(problem: string): boolean {
    if (this.problems.includes(problem)) return false;
    this.addProblem(problem);
    return true;
  }

  roomLoaded(roomId: string, damage: string | null): void {
    if (damage) this.damaged.set(roomId, damage);
    else this.damaged.delete(roomId);
  }

  /** What is wrong with the stored data of this room, if anything. */
  roomDamage(roomId: string): string | undefined {
    return this.damaged.get(roomId);
  }

  /** Why writes are refused, for the one who made one. */
  readOnlyReason(): string {
    return `the database ${this.path} is damaged (${this.problems[0]}) and read-only until an operator repairs it (see /healthz); this change was not saved`;
  }

  status(): StorageStatus {
    return {
      path: this.path,
      ...this.check,
      problems: [...this.problems],
      writable: this.writable,
      damagedRooms: [...this.damaged.keys()].slice(0, MAX_PROBLEMS),
    };
  }

  private addProblem(p: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(p);
  }
}
