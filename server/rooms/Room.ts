// One shared canvas: a Y.Doc and the presence of the people in it (RoomPresence), synced over
// Socket.IO and persisted through RoomStore.
//
// Order of effects for an incoming update: validate (yjsMessages.checkUpdate; documentRules:
// valid tldraw records, the server's schema) → apply → append to the store (queued in the doc's
// 'update' handler, one commit after the other: RoomWrites) → once committed, broadcast to the
// other clients and publish to the other nodes holding the room (cluster mode) → the caller
// acknowledges to the sender. So anything broadcast or acknowledged is committed.
//
// In cluster mode the same room may be loaded on several nodes (docs/architecture.md "Cluster
// mode"): an update another node committed arrives with a RemoteOrigin; it is applied and sent to
// this node's clients, never stored again.
import * as encoding from 'lib0/encoding';
import type { Socket } from 'socket.io';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { EV } from '../../lib/protocol/events';
import { MAX_YJS_CLIENT_IDS_PER_SOCKET } from '../../lib/protocol/limits';
import type { Logger } from '../logger';
import type { RoomStore } from '../store/RoomStore';
import { RoomWrites, StoreWriteError } from './RoomWrites';
import type { AwarenessRefusal } from './awarenessOwners';
import { ClientOrigin, RemoteOrigin, type RoomBroadcast, type RoomPeers } from './origins';
import { RoomPresence } from './RoomPresence';
import { checkDocumentChanges } from './documentRules';
import { ownSchema } from './schemaOwner';
import { YjsWriters } from './yjsWriters';
import {
  MalformedMessageError,
  MissingChangesError,
  checkUpdate,
  parseSyncMessage,
} from './yjsMessages';

export type { AwarenessRefusal };

export { ClientOrigin, RemoteOrigin, type RoomBroadcast, type RoomPeers };

export interface RoomOptions {
  store: RoomStore;
  broadcast: RoomBroadcast;
  /** cluster mode: the other nodes */
  peers?: RoomPeers;
  logger: Logger;
  compactEvery: number;
  compactIntervalMs: number;
  /** largest encoded document; updates that would grow it beyond are refused (RoomFullError) */
  maxBytes: number;
}

/** An update refused because the room's document would grow beyond RoomOptions.maxBytes. */
export class RoomFullError extends Error {
  override name = 'RoomFullError';
}

export { StoreWriteError };

export class Room {
  readonly doc = new Y.Doc();
  /** cursors, selections, names */
  readonly presence: RoomPresence;
  readonly loadedAt = Date.now();
  private readonly sockets = new Map<string, Socket>();
  /** who may write with each Yjs client id (ForeignClientError) */
  private readonly writers = new YjsWriters(MAX_YJS_CLIENT_IDS_PER_SOCKET, () => this.doc.clientID);
  /** the store's commits of this room, in order */
  private readonly writes: RoomWrites;
  private uncompacted = 0;
  private oldestUncompactedAt = 0;
  /** encoded size of the document when last measured… */
  private encodedBytes = 0;
  /** …or an upper bound of it (after a load that did not re-encode the document) */
  private encodedBytesExact = true;
  /** bytes of the updates integrated since encodedBytes was measured */
  private bytesSince = 0;
  /** Why compaction is off for this room, if it is: the stored data did not load completely, and
   * compacting would replace it by the part that did. */
  private compactionDisabled: string | null = null;
  /** Yjs client ids with an update refused because the room is full: their later updates build
   * on it and are refused for the same reason (not as malformed). */
  private readonly refusedWhenFull = new Set<number>();
  /** bumped by every document change; keys the cached encoding of the whole document */
  private version = 0;
  private fullState: { version: number; message: Uint8Array } | null = null;
  private destroyed = false;

  private constructor(
    readonly id: string,
    private readonly opts: RoomOptions,
  ) {
    this.writes = new RoomWrites(opts.store, id);
    this.presence = new RoomPresence(this.doc, id, opts.broadcast, opts.peers);
  }

  /** Build the room's document from the store: snapshot plus the updates logged after it. */
  static async load(id: string, opts: RoomOptions): Promise<Room> {
    const room = new Room(id, opts);
    const log = opts.logger.child({ room: id });
    // Part by part, tolerating damage: an unreadable part does not hide the ones after it
    // (RoomStore.replay logs it and the room's clients are told). Rows that cannot be read at all
    // refuse the join (StorageDamagedError); the half-built room must not linger (its awareness
    // runs a timer).
    let replay: Awaited<ReturnType<RoomStore['replay']>>;
    try {
      replay = await opts.store.replay(id, room.doc);
    } catch (e) {
      room.destroy();
      throw e;
    }
    const skipped = replay.skipped.map((s) => (s.id === 'snapshot' ? 'the snapshot' : typeof s.id === 'number' ? `update ${s.id}` : s.id));
    room.doc.on('update', room.onDocUpdate);
    room.presence.start();
    // After the handlers: a repair or migration is stored like any change.
    try {
      ownSchema(room.doc, id, log);
    } catch (err) {
      log.error({ err }, 'could not bring the room to the current schema; serving it as stored');
    }
    room.encodedBytes = replay.bytes;
    room.encodedBytesExact = replay.updates === 0 && skipped.length === 0;
    if (skipped.length > 0) {
      // Compaction would replace the stored data by what loaded: the unreadable parts would be
      // gone for good. Keep everything (new updates are still appended) until someone looks.
      room.compactionDisabled = `${skipped.join(', ')} of room ${id} could not be applied`;
      log.error(
        { skipped, db: opts.store.path },
        `ROOM DATA DAMAGED: ${room.compactionDisabled}; the room is served without them and compaction is OFF for it, so the stored rows stay in the database (tables snapshots/updates) for inspection`,
      );
    } else if (replay.updates > 0) {
      // Updates left in the log (e.g. after a crash) are folded into the snapshot right away.
      const state = Y.encodeStateAsUpdate(room.doc);
      try {
        await opts.store.compact(id, state);
        room.encodedBytes = state.byteLength;
        room.encodedBytesExact = true;
      } catch (err) {
        // the log still holds everything; the next compaction folds it
        log.warn({ err }, 'could not fold the update log into the snapshot at load');
      }
    }
    log.debug({ bytes: replay.bytes, snapshot: replay.snapshot, updates: replay.updates }, 'room loaded');
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
    this.writers.release(socketId);
    this.presence.release(socketId);
    return true;
  }

  /** The server's sync step 1 (its state vector), sent on join. */
  syncStep1Message(): Uint8Array {
    const encoder = encoding.createEncoder();
    syncProtocol.writeSyncStep1(encoder, this.doc);
    return encoding.toUint8Array(encoder);
  }

  /**
   * The sync step 2 answering a step 1 with `stateVector`: what the room has beyond it. A state
   * vector that knows nothing of this document ("send me everything", 3 bytes) gets the one
   * encoding of the whole document kept per document version, not a new one each time.
   */
  step2For(stateVector: Uint8Array): Uint8Array {
    const sv = Y.decodeStateVector(stateVector);
    const knowsNothing = [...sv].every(([client, clock]) => clock === 0 || !this.doc.store.clients.has(client));
    if (knowsNothing && this.fullState?.version === this.version) return this.fullState.message;
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, syncProtocol.messageYjsSyncStep2);
    encoding.writeVarUint8Array(encoder, Y.encodeStateAsUpdate(this.doc, knowsNothing ? undefined : stateVector));
    const message = encoding.toUint8Array(encoder);
    if (knowsNothing) this.fullState = { version: this.version, message };
    return message;
  }

  /**
   * Handle a y-protocols sync message from a client. A step 1 is returned (its state vector) for
   * the caller to answer with step2For when the socket's outgoing budget allows; updates are
   * applied. Throws MalformedMessageError (and the other refusals) without touching the document
   * when the message is not something this room can integrate.
   */
  async handleSyncMessage(data: Uint8Array, socketId: string): Promise<{ step1: Uint8Array } | null> {
    const step1 = this.integrate(data, socketId);
    if (step1) return step1;
    // acknowledged only once committed (with every change applied before it)
    await this.writes.settled();
    return null;
  }

  /** The synchronous part of handleSyncMessage: check and apply; the commit is queued. */
  private integrate(data: Uint8Array, socketId: string): { step1: Uint8Array } | null {
    const msg = parseSyncMessage(data);
    if (msg.type === 'step1') return { step1: msg.stateVector };
    let checked;
    try {
      checked = checkUpdate(this.doc, msg.update);
    } catch (e) {
      if (e instanceof MissingChangesError && this.refusedWhenFull.has(e.client)) {
        throw new RoomFullError(
          `room ${this.id} is full: this update builds on one refused earlier because the room or the server's storage was full, and was not applied either; reload the room to continue`,
        );
      }
      throw e;
    }
    this.writers.check(checked.writers, socketId);
    // tl_records and tl_meta: valid tldraw records, and the schema is the server's (InvalidChangeError)
    const { touchesMeta } = checkDocumentChanges(this.doc, checked.decoded);
    if (checked.inserts) {
      try {
        this.checkRoomSize(msg.update.byteLength);
      } catch (e) {
        for (const c of checked.clients) this.refusedWhenFull.add(c);
        throw e;
      }
    }
    try {
      Y.applyUpdate(this.doc, msg.update, new ClientOrigin(socketId));
    } catch (e) {
      if (e instanceof MalformedMessageError || e instanceof StoreWriteError) throw e;
      // checkUpdate let it through, so this is a Yjs integration failure: report it loudly.
      this.opts.logger.error({ err: e, room: this.id, socket: socketId }, 'Yjs refused a checked update');
      throw new MalformedMessageError(`the update could not be applied (${(e as Error).message})`);
    }
    this.writers.claim(checked.writers, socketId);
    // Safety net: whatever the update did to tl_meta, the schema entry stays the server's.
    if (touchesMeta) ownSchema(this.doc, this.id, this.opts.logger, true);
    this.compactIfDue();
    return null;
  }

  /** An update another node committed (cluster mode): applied and sent to this node's clients. */
  applyRemoteUpdate(update: Uint8Array, nodeId: string): void {
    Y.applyUpdate(this.doc, update, new RemoteOrigin(nodeId));
  }

  /** Apply whatever the store holds that this document lacks (after a relay outage, other nodes'
   * commits may not have reached it); sent to this node's clients like any remote change. */
  async catchUp(): Promise<void> {
    const stored = new Y.Doc();
    await this.opts.store.replay(this.id, stored);
    if (this.destroyed) return;
    const missing = Y.encodeStateAsUpdate(stored, Y.encodeStateVector(this.doc));
    stored.destroy();
    Y.applyUpdate(this.doc, missing, new RemoteOrigin('store'));
  }

  /**
   * Refuse (RoomFullError) an update of `updateBytes` while the server's store is over its quota
   * (STORE_MAX_MB), or that could make the document larger than maxBytes. Cheap while the running
   * estimate (last measured size + bytes since) stays below the limit; near it, the document is
   * measured exactly (by compacting it when that is allowed).
   */
  private checkRoomSize(updateBytes: number): void {
    const storeFull = this.opts.store.quotaRefusal(updateBytes);
    if (storeFull) throw new RoomFullError(`${storeFull}; this update adds content and was not applied (deleting content is still accepted; the server's operator sees this in /healthz)`);
    const max = this.opts.maxBytes;
    if (this.encodedBytes + this.bytesSince + updateBytes <= max) return;
    if (this.bytesSince > 0 || !this.encodedBytesExact) this.measure();
    if (this.encodedBytes + updateBytes <= max) return;
    throw new RoomFullError(
      `room ${this.id} is full: its document is ${size(this.encodedBytes)} and this update adds up to ${size(updateBytes)}, over the ${size(max)} limit (MAX_ROOM_BYTES); the update was not applied (delete content, which is always accepted, or use a new room)`,
    );
  }

  /** Set encodedBytes to the document's exact encoded size. */
  private measure(): void {
    this.encodedBytes = Y.encodeStateAsUpdate(this.doc).byteLength;
    this.encodedBytesExact = true;
    this.bytesSince = 0;
  }

  /** Compact when COMPACT_EVERY updates or COMPACT_INTERVAL_S have accumulated. */
  compactIfDue(now = Date.now()): void {
    if (this.uncompacted === 0 || this.compactionDisabled) return;
    if (this.uncompacted >= this.opts.compactEvery || now - this.oldestUncompactedAt >= this.opts.compactIntervalMs) {
      this.compact().catch((err) => this.opts.logger.error({ err, room: this.id }, 'compaction failed; the update log keeps everything'));
    }
  }

  /** Store the whole document as one snapshot and drop the update log (not for a room whose
   * stored data did not load completely: see `load`). */
  async compact(): Promise<void> {
    if (this.destroyed || this.uncompacted === 0) return;
    if (this.compactionDisabled) {
      this.opts.logger.warn({ room: this.id, updates: this.uncompacted }, `not compacting: ${this.compactionDisabled}`);
      return;
    }
    const updates = this.uncompacted;
    this.uncompacted = 0;
    // Encoded now, committed after the appends queued before it (exactly the updates in this
    // snapshot); the appends queued after it stay in the log.
    const snapshot = Y.encodeStateAsUpdate(this.doc);
    await this.writes.run(async () => {
      try {
        await this.opts.store.compact(this.id, snapshot);
      } catch (e) {
        this.uncompacted += updates; // still in the log; try again later
        throw e;
      }
      this.opts.logger.debug({ room: this.id, updates, bytes: snapshot.byteLength }, 'room compacted');
      this.encodedBytes = snapshot.byteLength;
      this.encodedBytesExact = true;
      this.bytesSince = 0;
    });
  }

  /** The room is being deleted: no compaction from now on. */
  discardCompaction(): void {
    this.compactionDisabled = 'the room is being deleted';
    this.uncompacted = 0;
  }

  /** Resolves when every change applied so far is committed (or failed). */
  flushed(): Promise<void> {
    return this.writes.settled().catch(() => {});
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.doc.off('update', this.onDocUpdate);
    this.presence.destroy();
    this.doc.destroy();
    this.sockets.clear();
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown) => {
    this.version++;
    this.fullState = null;
    this.bytesSince += update.byteLength;
    const except = origin instanceof ClientOrigin ? origin.socketId : undefined;
    if (origin instanceof RemoteOrigin) {
      // committed by the node that sent it
      this.broadcastUpdate(update, except);
      return;
    }
    if (this.uncompacted++ === 0) this.oldestUncompactedAt = Date.now();
    // Durable first: nothing is broadcast, published or acknowledged before the commit. A failed
    // commit fails the waiting handleSyncMessage (StoreWriteError) and reloads the room.
    this.writes
      .append(update)
      .then(() => {
        if (this.destroyed) return;
        this.broadcastUpdate(update, except);
        this.opts.peers?.publishUpdate(this.id, update);
      })
      .catch((e: Error) => this.storeFailed(e));
  };

  private broadcastUpdate(update: Uint8Array, except: string | undefined): void {
    const encoder = encoding.createEncoder();
    syncProtocol.writeUpdate(encoder, update);
    this.opts.broadcast(EV.ySync, { roomId: this.id, data: encoding.toUint8Array(encoder) }, except);
  }

  /**
   * An update reached memory but not the disk. Serving on would be a lie: a client that rejoins
   * gets a state vector that includes the change, sends nothing, and believes it saved. So the
   * room never compacts its memory into the store again, and every client is disconnected at once;
   * the room unloads, and on reconnect it reloads from what the store really holds, so the clients'
   * sync step 2 sends the unsaved change again (stored then, if the disk has recovered).
   */
  private storeFailed(err: Error): void {
    if (this.compactionDisabled?.startsWith('store write failed')) return;
    this.compactionDisabled = `store write failed (${err.message})`;
    this.opts.logger.error({ err, room: this.id, db: this.opts.store.path }, 'could not store an update: disconnecting the room so it reloads from disk');
    const sockets = [...this.sockets.values()];
    setImmediate(() => {
      for (const socket of sockets) {
        socket.emit(EV.error, {
          code: 'server-error',
          message: `the server could not save changes to this room (${err.message}); reconnecting — your unsaved edits are kept and sent again`,
          roomId: this.id,
        });
        socket.disconnect(true);
      }
    });
  }

}

const size = (n: number) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${(n / 1024).toFixed(1)} KB`);
