// A room's presence: the y-protocols Awareness (cursors, selections, names) of the people in it,
// with who speaks for each awareness client id (AwarenessOwners): the first socket to announce an
// id — or, in cluster mode, the node that relayed it — speaks for it until it leaves, so nobody
// can move or remove someone else's cursor.
//
// Changes go to this node's sockets (broadcast) and, unless they came from another node, to the
// other nodes holding the room (peers).
import {
  Awareness,
  applyAwarenessUpdate,
  encodeAwarenessUpdate,
  removeAwarenessStates,
} from 'y-protocols/awareness';
import type * as Y from 'yjs';
import { EV } from '../../lib/protocol/events';
import { AwarenessOwners, type AwarenessRefusal } from './awarenessOwners';
import { ClientOrigin, RemoteOrigin, type RoomBroadcast, type RoomPeers } from './origins';
import { encodeAwarenessEntries, parseAwarenessUpdate } from './yjsMessages';

export class RoomPresence {
  readonly awareness: Awareness;
  private readonly owners: AwarenessOwners;

  constructor(
    doc: Y.Doc,
    private readonly roomId: string,
    private readonly broadcast: RoomBroadcast,
    private readonly peers: RoomPeers | undefined,
  ) {
    this.awareness = new Awareness(doc);
    // The server is not a participant: no cursor of its own.
    this.awareness.setLocalState(null);
    this.owners = new AwarenessOwners(() => this.awareness.clientID);
  }

  /** Start sending changes (once the room is loaded). */
  start(): void {
    this.awareness.on('update', this.onUpdate);
  }

  /** Every known awareness state, for a client that just joined; null when nobody is there. */
  message(): Uint8Array | null {
    const clients = [...this.awareness.getStates().keys()];
    return clients.length > 0 ? encodeAwarenessUpdate(this.awareness, clients) : null;
  }

  /**
   * Apply a client's awareness update, entry by entry (AwarenessOwners.judge: states must be
   * objects of at most MAX_AWARENESS_STATE_BYTES whose `user` is a valid UserInfo, at most
   * MAX_AWARENESS_IDS_PER_SOCKET ids per socket). Returns the entries that were dropped.
   */
  handle(data: Uint8Array, socketId: string): AwarenessRefusal[] {
    const { accepted, refused } = this.owners.judge(parseAwarenessUpdate(data), socketId);
    if (accepted.length === 0) return refused;
    applyAwarenessUpdate(this.awareness, encodeAwarenessEntries(accepted), new ClientOrigin(socketId));
    this.forgetClocks(this.owners.applied(accepted, socketId));
    return refused;
  }

  /** The socket left: its cursors disappear for the others now, not after the awareness timeout. */
  release(socketId: string): void {
    const owned = this.owners.release(socketId);
    if (owned.length > 0) removeAwarenessStates(this.awareness, owned, 'client-left');
    this.forgetClocks(owned);
  }

  /** Presence relayed by another node: its entries belong to that node until it removes them
   * (or is gone: dropNode), so no client here can move or remove those cursors. */
  applyRemote(data: Uint8Array, nodeId: string): void {
    const entries = parseAwarenessUpdate(data);
    applyAwarenessUpdate(this.awareness, data, new RemoteOrigin(nodeId));
    this.forgetClocks(this.owners.applied(entries, remoteOwner(nodeId)));
  }

  /** Remove the presence of every client of a node that is gone (or unheard from). */
  dropNode(nodeId: string): void {
    const owned = this.owners.release(remoteOwner(nodeId));
    if (owned.length === 0) return;
    removeAwarenessStates(this.awareness, owned, new RemoteOrigin(nodeId));
    this.forgetClocks(owned);
  }

  /** The presence of these sockets (this node's clients), for the other nodes. */
  messageOf(socketIds: Iterable<string>): Uint8Array | null {
    const ids = [...socketIds].flatMap((socketId) => this.owners.idsOf(socketId));
    const present = ids.filter((id) => this.awareness.getStates().has(id));
    return present.length > 0 ? encodeAwarenessUpdate(this.awareness, present) : null;
  }

  destroy(): void {
    this.awareness.off('update', this.onUpdate);
    this.awareness.destroy();
  }

  /** Drop the clocks y-protocols keeps of removed awareness ids (after their removal went out):
   * else ids announced and removed in turn would pile up for as long as the room is loaded. */
  private forgetClocks(ids: number[]): void {
    for (const id of ids) if (!this.awareness.states.has(id)) this.awareness.meta.delete(id);
  }

  private readonly onUpdate = ({ added, updated, removed }: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
    const changed = [...added, ...updated, ...removed];
    const except = origin instanceof ClientOrigin ? origin.socketId : undefined;
    const data = encodeAwarenessUpdate(this.awareness, changed);
    this.broadcast(EV.yAwareness, { roomId: this.roomId, data }, except);
    if (!(origin instanceof RemoteOrigin)) this.peers?.publishAwareness(this.roomId, data);
  };
}

const remoteOwner = (nodeId: string) => `node:${nodeId}`;
