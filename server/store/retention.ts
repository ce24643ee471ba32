// Retention for abandoned rooms (ROOM_TTL_DAYS, docs/security.md "Storage"): at start and then
// daily, every room that is not loaded and whose last activity is older than the TTL is deleted
// with all its rows (RoomStore.deleteRoom: document, pinned renders, uploads, access entry), each
// logged with its id. A room's last activity is when its document was last stored whole
// (snapshots.updated_at: every compaction writes it, and a room compacts when it unloads; with a
// TTL set, an unload without changes, e.g. a visit that only looked, renews it too); a room with
// stored updates not yet folded into its snapshot counts as active; a room created and never used
// is as old as its creation (room_access.created_at).
import type { Logger } from '../logger';
import type { RoomStore } from './RoomStore';

/** How often the rooms are looked at after the run at start. */
export const RETENTION_INTERVAL_MS = 86_400_000;

/** Ids of stored rooms whose last activity is before `cutoff` (ms since the epoch). */
export async function expiredRooms(store: RoomStore, cutoff: number): Promise<string[]> {
  // room_access exists once access control has started on this database
  const hasAccess = (await store.sql.tablesWithRoomId()).includes('room_access');
  const sql = `
    SELECT s.room_id AS id FROM snapshots s
     WHERE s.updated_at < $1 AND NOT EXISTS (SELECT 1 FROM updates u WHERE u.room_id = s.room_id)
    ${hasAccess ? `UNION
    SELECT a.room_id FROM room_access a
     WHERE a.created_at < $1
       AND NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.room_id = a.room_id)
       AND NOT EXISTS (SELECT 1 FROM updates u WHERE u.room_id = a.room_id)` : ''}`;
  return (await store.sql.query<{ id: string }>(sql, [cutoff])).map((r) => r.id);
}

/** Delete the expired rooms that `isLoaded` says nobody is in; returns their ids. */
export async function deleteExpiredRooms(store: RoomStore, isLoaded: (roomId: string) => boolean, log: Logger | undefined, now = Date.now()): Promise<string[]> {
  const ttlMs = store.roomTtlMs;
  if (ttlMs <= 0) return [];
  if (!store.writable) {
    log?.warn('retention skipped: the database is damaged and read-only');
    return [];
  }
  const days = +(ttlMs / 86_400_000).toFixed(3);
  const deleted: string[] = [];
  for (const roomId of await expiredRooms(store, now - ttlMs)) {
    if (isLoaded(roomId)) continue;
    try {
      const rows = await store.deleteRoom(roomId);
      deleted.push(roomId);
      log?.info({ room: roomId, rows }, `room ${roomId} deleted: unused for more than ${days} days (ROOM_TTL_DAYS)`);
    } catch (err) {
      store.noteCorruption(err, roomId);
      log?.error({ err, room: roomId }, `could not delete the abandoned room ${roomId}`);
    }
  }
  log?.info({ deleted: deleted.length, ttlDays: days }, `retention: ${deleted.length} room(s) unused for more than ${days} days deleted (ROOM_TTL_DAYS)`);
  return deleted;
}

/** Run deleteExpiredRooms now and every RETENTION_INTERVAL_MS (a run still going when the next is
 * due is not doubled); returns the stop function. */
export function startRetention(store: RoomStore, isLoaded: (roomId: string) => boolean, logger: Logger | undefined): () => void {
  if (store.roomTtlMs <= 0) return () => {};
  const log = logger?.child({ module: 'retention' });
  let running = false;
  let stopped = false;
  const run = async () => {
    if (running || stopped) return;
    running = true;
    try {
      await deleteExpiredRooms(store, isLoaded, log);
    } catch (err) {
      log?.error({ err }, 'retention run failed');
    } finally {
      running = false;
    }
  };
  void run();
  const timer = setInterval(() => void run(), RETENTION_INTERVAL_MS);
  timer.unref();
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
