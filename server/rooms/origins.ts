// Where a change to a room came from (the Yjs transaction origin), and where the room sends its
// changes: to this node's sockets (RoomBroadcast) and to the other nodes holding it (RoomPeers).

/** Transaction origin of changes that came from a client socket: those are broadcast to
 * everyone but that socket. Any other origin (a server feature editing the doc) goes to all. */
export class ClientOrigin {
  constructor(readonly socketId: string) {}
}

/** Transaction origin of changes another node of the cluster committed (or of awareness it
 * relayed): applied and sent to this node's clients, neither stored nor published again. */
export class RemoteOrigin {
  constructor(readonly nodeId: string) {}
}

/** Send `payload` as `event` to every socket of this node in the room, except one. */
export type RoomBroadcast = (event: string, payload: unknown, exceptSocketId?: string) => void;

/** The other nodes holding the room (cluster mode): what this node committed or heard from its
 * clients goes to them. */
export interface RoomPeers {
  publishUpdate(roomId: string, update: Uint8Array): void;
  publishAwareness(roomId: string, update: Uint8Array): void;
}
