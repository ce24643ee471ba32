// One shared canvas: a Y.Doc and the y-protocols Awareness (cursors, selections, names) of the
// people in it, synced over Socket.IO and persisted through RoomStore.
//
// Order of effects for an incoming update: validate (yjsMessages.checkUpdate) → apply → append
// to the store (synchronously, in the doc's 'update' handler) → broadcast to the other clients →
// the caller acknowledges to the sender. So anything broadcast or acknowledged is on disk.
import * as encoding from 'lib0/encoding';
import type { Socket } from 'socket.io';
import {
  Awareness,
  applyAwarenessUpdate,
  encodeAwarenessUpdate,
  removeAwarenessStates,
} from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { EV } from '../../lib/protocol/events';
import type { Logger } from '../logger';
import type { RoomStore } from '../store/RoomStore';
import { MalformedMessageError, checkUpdate, parseAwarenessUpdate, parseSyncMessage } from './yjsMessages';

/** Transaction origin of changes that came from a client socket: those are broadcast to
 * everyone but that socket. Any other origin (a server feature editing the doc) goes to all. */
export class ClientOrigin {
  constructor(readonly socketId: string) {}
}

/** Send `payload` as `event` to every socket in the room, except one. */
export type RoomBroadcast = (event: string, payload: unknown, exceptSocketId?: string) => void;

export interface RoomOptions {
  store: RoomStore;
  broadcast: RoomBroadcast;
  logger: Logger;
  compactEvery: number;
  compactIntervalMs: number;
}

export class Room {
  readonly doc = new Y.Doc();
  readonly awareness: Awareness;
  readonly loadedAt = Date.now();
  private readonly sockets = new Map<string, Socket>();
  /** awareness clientID → id of the socket that last announced it */
  private readonly awarenessOwners = new Map<number, string>();
  private uncompacted = 0;
  private oldestUncompactedAt = 0;
  private destroyed = false;

  private constructor(
    readonly id: string,
    private readonly opts: RoomOptions,
  ) {
    this.awareness = new Awareness(this.doc);
    // The server is not a participant: no cursor of its own.
    this.awareness.setLocalState(null);
  }

  /** Build the room's document from the store: snapshot plus the updates logged after it. */
  static load(id: string, opts: RoomOptions): Room {
    const room = new Room(id, opts);
    const log = opts.logger.child({ room: id });
    const { snapshot, updates } = opts.store.load(id);
    const parts = snapshot ? [snapshot, ...updates] : updates;
    if (parts.length > 0) {
      try {
        Y.applyUpdate(room.doc, parts.length === 1 ? parts[0]! : Y.mergeUpdates(parts));
      } catch (e) {
        // Should never happen (only validated updates are stored); salvage what applies.
        log.error({ err: e }, 'stored room data does not merge; applying parts one by one');
        for (const p of parts) {
          try {
            Y.applyUpdate(room.doc, p);
          } catch (err) {
            log.error({ err }, 'skipped an unreadable stored update');
          }
        }
      }
    }
    room.doc.on('update', room.onDocUpdate);
    room.awareness.on('update', room.onAwarenessUpdate);
    // Updates left in the log (e.g. after a crash) are folded into the snapshot right away.
    if (updates.length > 0) opts.store.compact(id, Y.encodeStateAsUpdate(room.doc));
    log.debug({ snapshotBytes: snapshot?.byteLength ?? 0, updates: updates.length }, 'room loaded');
    return room;
  }

  get clients(): ReadonlyMap<string, Socket> {
    return this.sockets;
  }

  hasClient(socketId: string): boolean {
    return this.sockets.has(socketId);
  }

  addClient(socket: Socket): void {
    this.sockets.set(socket.id, socket);
  }

  /** Forget the socket and remove its awareness states at once, so its cursor disappears for
   * the others now rather than after the awareness timeout. */
  removeClient(socketId: string): boolean {
    if (!this.sockets.delete(socketId)) return false;
    const owned = [...this.awarenessOwners].filter(([, s]) => s === socketId).map(([c]) => c);
    for (const c of owned) this.awarenessOwners.delete(c);
    if (owned.length > 0) removeAwarenessStates(this.awareness, owned, 'client-left');
    return true;
  }

  /** The server's sync step 1 (its state vector), sent on join. */
  syncStep1Message(): Uint8Array {
    const encoder = encoding.createEncoder();
    syncProtocol.writeSyncStep1(encoder, this.doc);
    return encoding.toUint8Array(encoder);
  }

  /** Every known awareness state, for a client that just joined; null when nobody is there. */
  awarenessMessage(): Uint8Array | null {
    const clients = [...this.awareness.getStates().keys()];
    return clients.length > 0 ? encodeAwarenessUpdate(this.awareness, clients) : null;
  }

  /**
   * Handle a y-protocols sync message from a client. Returns the reply to send back (step 2 for a
   * step 1), or null. Throws MalformedMessageError without touching the document when the message
   * is not something this room can integrate.
   */
  handleSyncMessage(data: Uint8Array, socketId: string): Uint8Array | null {
    const msg = parseSyncMessage(data);
    if (msg.type === 'step1') {
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, syncProtocol.messageYjsSyncStep2);
      encoding.writeVarUint8Array(encoder, Y.encodeStateAsUpdate(this.doc, msg.stateVector));
      return encoding.toUint8Array(encoder);
    }
    checkUpdate(this.doc, msg.update);
    try {
      Y.applyUpdate(this.doc, msg.update, new ClientOrigin(socketId));
    } catch (e) {
      if (e instanceof MalformedMessageError) throw e;
      // checkUpdate let it through, so this is a Yjs integration failure: report it loudly.
      this.opts.logger.error({ err: e, room: this.id, socket: socketId }, 'Yjs refused a checked update');
      throw new MalformedMessageError(`the update could not be applied (${(e as Error).message})`);
    }
    this.compactIfDue();
    return null;
  }

  /** Apply a client's awareness update and remember which awareness clients it speaks for. */
  handleAwarenessMessage(data: Uint8Array, socketId: string): void {
    const entries = parseAwarenessUpdate(data);
    applyAwarenessUpdate(this.awareness, data, new ClientOrigin(socketId));
    for (const { clientID, state } of entries) {
      if (state === null) {
        if (this.awarenessOwners.get(clientID) === socketId) this.awarenessOwners.delete(clientID);
      } else {
        // Latest announcer wins: after a reconnect the new socket takes over its old identity.
        this.awarenessOwners.set(clientID, socketId);
      }
    }
  }

  /** Compact when COMPACT_EVERY updates or COMPACT_INTERVAL_S have accumulated. */
  compactIfDue(now = Date.now()): void {
    if (this.uncompacted === 0) return;
    if (this.uncompacted >= this.opts.compactEvery || now - this.oldestUncompactedAt >= this.opts.compactIntervalMs) {
      this.compact();
    }
  }

  /** Store the whole document as one snapshot and drop the update log. */
  compact(): void {
    if (this.destroyed || this.uncompacted === 0) return;
    const snapshot = Y.encodeStateAsUpdate(this.doc);
    this.opts.store.compact(this.id, snapshot);
    this.opts.logger.debug({ room: this.id, updates: this.uncompacted, bytes: snapshot.byteLength }, 'room compacted');
    this.uncompacted = 0;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.doc.off('update', this.onDocUpdate);
    this.awareness.off('update', this.onAwarenessUpdate);
    this.awareness.destroy();
    this.doc.destroy();
    this.sockets.clear();
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown) => {
    // Durable first: if this throws, nothing is broadcast and the sender gets an error.
    this.opts.store.appendUpdate(this.id, update);
    if (this.uncompacted++ === 0) this.oldestUncompactedAt = Date.now();
    const encoder = encoding.createEncoder();
    syncProtocol.writeUpdate(encoder, update);
    const except = origin instanceof ClientOrigin ? origin.socketId : undefined;
    this.opts.broadcast(EV.ySync, { roomId: this.id, data: encoding.toUint8Array(encoder) }, except);
  };

  private readonly onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ) => {
    const changed = [...added, ...updated, ...removed];
    const except = origin instanceof ClientOrigin ? origin.socketId : undefined;
    this.opts.broadcast(EV.yAwareness, { roomId: this.id, data: encodeAwarenessUpdate(this.awareness, changed) }, except);
  };
}
