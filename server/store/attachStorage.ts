// Storage integrity and size, made visible: the `storage` field of /healthz (and `ok: false` with
// the problem while the database is damaged or over its quota, STORE_MAX_MB), and a notice
// (`lc:error`, code `server-error`) to every client joining a room whose stored data did not load
// completely, or while the database is read-only because it is damaged; and retention of abandoned
// rooms (ROOM_TTL_DAYS, retention.ts). See docs/security.md "Storage".
import type { Socket } from 'socket.io';
import { EV, type ErrorEvent } from '../../lib/protocol/events';
import type { HealthRegistry } from '../http/health';
import type { RoomManager } from '../rooms/RoomManager';
import { startRetention } from './retention';
import type { RoomStore } from './RoomStore';

/** Attaches the storage reports and retention; returns the function that stops retention. */
export function attachStorage({ store, rooms, health }: { store: RoomStore; rooms: RoomManager; health: HealthRegistry }): () => void {
  health.register('storage', () => store.status());
  health.addProblems(() => {
    const { problems, path } = store.health.status();
    return problems.length ? [`database ${path} is damaged: ${problems[0]}${problems.length > 1 ? ` (+${problems.length - 1} more)` : ''}`] : [];
  });
  health.addProblems(() => {
    const { full, usedBytes, maxBytes } = store.quota.current();
    if (!full) return [];
    const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
    return [`the server's storage is full: the database holds ${mb(usedBytes)} of at most ${mb(maxBytes)} (STORE_MAX_MB); additions to rooms are refused and uploads answer 507 — delete rooms (ROOM_TTL_DAYS removes abandoned ones) or raise STORE_MAX_MB`];
  });
  rooms.on('client-joined', (room, socket) => {
    for (const message of noticesFor(store, room.id)) notify(socket, room.id, message);
  });
  // ROOM_TTL_DAYS: abandoned rooms go, at start and daily; a visit counts as activity
  if (store.roomTtlMs <= 0) return () => {};
  rooms.on('room-unloaded', (room) => void store.touch(room.id));
  // In cluster mode another node's retention cannot see which rooms this node has open: rooms in
  // use are marked as used while they are, well within the TTL.
  const touching = setInterval(() => {
    for (const room of rooms.all()) void store.touch(room.id);
  }, Math.min(store.roomTtlMs / 4, 3_600_000));
  touching.unref();
  const stopRetention = startRetention(store, (roomId) => rooms.get(roomId) !== undefined, store.log);
  return () => {
    clearInterval(touching);
    stopRetention();
  };
}

/** What a client joining `roomId` must know about the stored data. */
export function noticesFor(store: RoomStore, roomId: string): string[] {
  const notices: string[] = [];
  const damage = store.health.roomDamage(roomId);
  if (damage) {
    notices.push(
      `The server's stored copy of this room is damaged: ${damage}. Their changes are missing here; everything stored after them was recovered. The damaged data is kept for the server's operator.`,
    );
  }
  if (store.health.isDamaged && !store.writable) {
    notices.push(
      "The server's database is damaged and read-only until its operator repairs it: you can look, but changes are not saved on the server (they stay in this tab).",
    );
  }
  return notices;
}

function notify(socket: Socket, roomId: string, message: string): void {
  socket.emit(EV.error, { code: 'server-error', message, roomId } satisfies ErrorEvent);
}
