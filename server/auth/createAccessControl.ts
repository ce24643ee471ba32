// Builds the server's AccessControl from its configuration and room store.
import type { ServerConfig } from '../config';
import type { RoomStore } from '../store/RoomStore';
import { AccessControl } from './AccessControl';
import { RoomAccess } from './RoomAccess';
import { RoomTokens } from './RoomTokens';

export async function createAccessControl(config: ServerConfig, store: RoomStore): Promise<AccessControl> {
  const tokens = await RoomTokens.create({ dataDir: config.dataDir, secret: config.access.secret, publicKeyPem: config.access.publicKeyPem });
  return new AccessControl(tokens, await RoomAccess.open(store.sql), { openRooms: config.access.openRooms, hasDocument: (id) => store.hasRoom(id) });
}
