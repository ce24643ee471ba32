// A marker file in DATA_DIR, written the first time the directory holds rooms. Without it a
// deleted (or not mounted, or truncated) database is indistinguishable from a fresh install, and
// the server would start silently empty while people's rooms are gone. With it, the start is
// refused with a message saying what to do; ALLOW_EMPTY_DATA=1 starts empty on purpose.
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DATA_MARKER_FILE = 'livecanvas-data.json';

export interface DataMarker {
  /** when the directory first held rooms (ISO) */
  since: string;
  database: string;
}

export function readDataMarker(dataDir: string): DataMarker | null {
  const path = join(dataDir, DATA_MARKER_FILE);
  if (!existsSync(path)) return null;
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as Partial<DataMarker>;
    return { since: String(m.since ?? 'unknown'), database: String(m.database ?? 'unknown') };
  } catch {
    // A marker we cannot read still says the directory held data.
    return { since: 'unknown', database: 'unknown' };
  }
}

/** Write the marker durably (temp file, fsync, rename, fsync of the directory). */
export function writeDataMarker(dataDir: string, database: string): void {
  const path = join(dataDir, DATA_MARKER_FILE);
  const tmp = `${path}.tmp`;
  const marker: DataMarker = { since: new Date().toISOString(), database };
  const text = `${JSON.stringify(
    { ...marker, note: 'Written by livecanvas when this directory first held rooms. If the database is missing, the server refuses to start (ALLOW_EMPTY_DATA=1 overrides). Do not delete.' },
    null,
    2,
  )}\n`;
  writeFileSync(tmp, text, { mode: 0o644 });
  const fd = openSync(tmp, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  try {
    const dir = openSync(dataDir, 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    /* directories cannot be opened for fsync on some platforms (Windows) */
  }
}

/** The refusal to start, or null when the database may be opened. `dbPath` must not have been
 * opened yet (opening creates it). */
export function missingDatabaseProblem(dataDir: string, dbPath: string): string | null {
  const marker = readDataMarker(dataDir);
  if (!marker) return null;
  if (existsSync(dbPath) && statSync(dbPath).size > 0) return null;
  return emptyDatabaseMessage(dataDir, dbPath, marker, existsSync(dbPath) ? 'is an empty file' : 'is missing');
}

export function emptyDatabaseMessage(dataDir: string, dbPath: string, marker: DataMarker, what: string): string {
  return (
    `refusing to start: the data directory ${dataDir} has held rooms since ${marker.since} (marker ${join(dataDir, DATA_MARKER_FILE)}), ` +
    `but its database ${dbPath} ${what}. Starting would serve every room empty. Restore the database (with its -wal file) from a backup, ` +
    `or check that DATA_DIR points at the right directory (e.g. a volume that is not mounted); to start with an empty database on purpose, ` +
    `set ALLOW_EMPTY_DATA=1 for one start.`
  );
}
