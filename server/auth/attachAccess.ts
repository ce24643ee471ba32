// The owner's socket events (the Share dialog): the room's links, replacing the edit or view link
// (sockets holding the old one are told and disconnected at once), and deleting the room (everyone
// is disconnected, every stored row of it goes). Attached in server/index.ts like any feature.
import { ACCESS_EV, DeleteRoomRequest, RoomLinksRequest, RotateLinkRequest } from '../../lib/protocol/access';
import type { LivecanvasServer } from '../LivecanvasServer';
import { ClientError } from '../socket/ClientError';

export function attachAccess(server: LivecanvasServer): void {
  const { access, sockets, rooms, store, logger } = server;
  const log = logger.child({ module: 'access' });
  access.onRevoked((roomId, role, version) => {
    sockets.revoke(roomId, (g) => g.role === role && g.version !== undefined && g.version < version, `the owner replaced the ${role === 'viewer' ? 'view' : 'edit'} link of this room`);
  });
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
    // everyone out first (the room unloads when its last socket leaves), then its rows
    setImmediate(() => {
      sockets.revoke(roomId, () => true, 'the owner deleted this room');
      setTimeout(async () => {
        const loaded = rooms.get(roomId);
        if (loaded) for (const id of [...loaded.clients.keys()]) rooms.leave(roomId, loaded.clients.get(id)!);
        try {
          const rows = await store.deleteRoom(roomId);
          log.info({ room: roomId, rows }, 'room deleted');
        } catch (err) {
          log.error({ err, room: roomId }, `could not delete room ${roomId}`);
        }
      }, 50);
    });
    return {};
  }, { role: 'owner' });
}
