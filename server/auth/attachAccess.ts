// The owner's socket events (the Share dialog): the room's links, replacing the edit or view link
// (sockets holding the old one are told and disconnected at once), and deleting the room (everyone
// is disconnected, every stored row of it goes). Attached in server/index.ts like any feature.
import { ACCESS_EV, DeleteRoomRequest, RoomLinksRequest, RotateLinkRequest } from '../../lib/protocol/access';
import type { LivecanvasServer } from '../LivecanvasServer';
import { ClientError } from '../socket/ClientError';

export function attachAccess(server: LivecanvasServer): void {
  const { access, sockets, rooms, store, logger, otherNodes } = server;
  const log = logger.child({ module: 'access' });
  const revokeRotated = ({ roomId, role, version }: Rotated) =>
    sockets.revoke(roomId, (g) => g.role === role && g.version !== undefined && g.version < version, `the owner replaced the ${role === 'viewer' ? 'view' : 'edit'} link of this room`);
  // Everyone out and the room dropped without compaction: a snapshot written back would revive it.
  const evict = ({ roomId }: { roomId: string }) => {
    sockets.revoke(roomId, () => true, 'the owner deleted this room');
    return rooms.discard(roomId);
  };
  access.onRevoked((roomId, role, version) => {
    revokeRotated({ roomId, role, version });
    otherNodes.tell(ROTATED, { roomId, role, version } satisfies Rotated);
  });
  otherNodes.on(ROTATED, (p) => revokeRotated(p as Rotated));
  otherNodes.on(DELETED, (p) => void evict(p as { roomId: string }));
  const sharedOnly = async (roomId: string) => {
    if (!(await access.access.get(roomId))) throw new ClientError('forbidden', `room ${roomId} is an open room: it has no links to manage (an operator can claim it: npm run rooms -- claim)`, { violation: false });
  };
  sockets.registerRoomEvent(ACCESS_EV.links, RoomLinksRequest, async ({ payload }) => {
    await sharedOnly(payload.roomId);
    return { links: await access.links(payload.roomId) };
  }, { role: 'owner' });
  sockets.registerRoomEvent(ACCESS_EV.rotateLink, RotateLinkRequest, async ({ payload }) => {
    await sharedOnly(payload.roomId);
    await access.rotate(payload.roomId, payload.role);
    log.info({ room: payload.roomId, role: payload.role }, 'link replaced');
    return { links: await access.links(payload.roomId) };
  }, { role: 'owner' });
  sockets.registerRoomEvent(ACCESS_EV.deleteRoom, DeleteRoomRequest, async ({ payload }) => {
    await sharedOnly(payload.roomId);
    const { roomId } = payload;
    // the answer first, then everyone out on every node, then its rows
    setImmediate(async () => {
      otherNodes.tell(DELETED, { roomId });
      await evict({ roomId });
      // the other nodes drop the room within a relay's delay; then nothing writes it back
      if (server.config.cluster.redisUrl) await new Promise((r) => setTimeout(r, OTHER_NODES_DELAY_MS));
      try {
        const rows = await store.deleteRoom(roomId);
        log.info({ room: roomId, rows }, 'room deleted');
      } catch (err) {
        log.error({ err, room: roomId }, `could not delete room ${roomId}`);
      }
    });
    return {};
  }, { role: 'owner' });
}

interface Rotated {
  roomId: string;
  role: 'editor' | 'viewer';
  version: number;
}
const ROTATED = 'lc:access-rotated';
const DELETED = 'lc:room-deleted';
/** How long the deleting node waits for the others to drop the room before deleting its rows. */
const OTHER_NODES_DELAY_MS = 1_000;
