// Loads rooms lazily on the first join, unloads them (after compaction) when the last client
// leaves, and tells server features about it through typed events — the extension point the
// render module hooks into (see docs/architecture.md, "Server extension points").
import { EventEmitter } from 'node:events';
import type { Server, Socket } from 'socket.io';
import type { Logger } from '../logger';
import type { RoomStore } from '../store/RoomStore';
import { ClientError } from '../socket/ClientError';
import { Room, type RoomPeers } from './Room';

export interface RoomManagerEvents {
  'room-loaded': [room: Room];
  /** after compaction, just before the room's doc is destroyed */
  'room-unloaded': [room: Room];
  'client-joined': [room: Room, socket: Socket];
  'client-left': [room: Room, socket: Socket];
}

/** Cluster mode: the room's channel to the other nodes holding it (server/cluster/RoomRelay.ts). */
export interface RoomReplication extends RoomPeers {
  /** Listen to the room's channel. Called before the room loads, so that nothing another node
   * commits during the load is missed: what arrives before `attach` is kept and applied then. */
  open(roomId: string): Promise<void>;
  /** The room is loaded: apply what was kept, then everything that arrives. */
  attach(room: Room): void;
  /** The room unloaded: stop listening. */
  close(roomId: string): void;
}

export interface RoomManagerOptions {
  store: RoomStore;
  io: Server;
  logger: Logger;
  compactEvery: number;
  compactIntervalMs: number;
  /** largest encoded document of a room (MAX_ROOM_BYTES) */
  maxRoomBytes: number;
  /** cluster mode */
  replication?: RoomReplication;
}

/** The Socket.IO room a livecanvas room broadcasts to. Prefixed so a room id can never equal a
 * socket id (every socket is alone in a Socket.IO room named after its id). */
export const roomChannel = (roomId: string) => `room:${roomId}`;

export class RoomManager extends EventEmitter<RoomManagerEvents> {
  private readonly loaded = new Map<string, Room>();
  /** rooms being loaded: concurrent joins wait for the same load */
  private readonly loading = new Map<string, Promise<Room>>();
  /** unloads in progress (their last commits and compaction): a room loads again only after its
   * unload is done, and closeAll waits for them */
  private readonly unloading = new Map<string, Promise<void>>();
  private readonly log: Logger;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: RoomManagerOptions) {
    super();
    this.log = opts.logger.child({ module: 'rooms' });
    this.timer = setInterval(() => this.compactDue(), Math.min(opts.compactIntervalMs, 5_000));
    this.timer.unref();
  }

  get size(): number {
    return this.loaded.size;
  }

  get(roomId: string): Room | undefined {
    return this.loaded.get(roomId);
  }

  all(): IterableIterator<Room> {
    return this.loaded.values();
  }

  /** Add the socket to the room, loading the room first if nobody is in it. Idempotent. Resolves
   * with null when the socket disconnected while the room was loading. */
  async join(roomId: string, socket: Socket): Promise<Room | null> {
    const room = this.loaded.get(roomId) ?? (await this.load(roomId));
    if (!socket.connected) {
      if (room.clients.size === 0) this.unload(room);
      return null;
    }
    if (!room.hasClient(socket.id)) {
      room.addClient(socket);
      socket.join(roomChannel(roomId));
      this.safeEmit('client-joined', room, socket);
    }
    return room;
  }

  private load(roomId: string): Promise<Room> {
    let pending = this.loading.get(roomId);
    if (pending) return pending;
    pending = (async () => {
      await this.unloading.get(roomId);
      const started = performance.now();
      const replication = this.opts.replication;
      await replication?.open(roomId);
      let room: Room;
      try {
        room = await Room.load(roomId, {
          store: this.opts.store,
          logger: this.opts.logger,
          compactEvery: this.opts.compactEvery,
          compactIntervalMs: this.opts.compactIntervalMs,
          maxBytes: this.opts.maxRoomBytes,
          peers: replication,
          // this node's sockets only: other nodes hear of changes through `replication` and
          // send them to their own sockets
          broadcast: (event, payload, except) => {
            const to = this.opts.io.local.to(roomChannel(roomId));
            (except ? to.except(except) : to).emit(event, payload);
          },
        });
      } catch (e) {
        replication?.close(roomId);
        if (e instanceof ClientError) throw e;
        this.log.error({ err: e, room: roomId }, 'could not load the room');
        // e.g. PostgreSQL unreachable: the client's provider retries the join by itself
        throw new ClientError('server-error', `room ${roomId} cannot be opened right now: the server could not read it from its store; nothing was changed — retrying`, { violation: false });
      }
      replication?.attach(room);
      this.loaded.set(roomId, room);
      this.log.info({ room: roomId, ms: Math.round(performance.now() - started) }, 'room loaded');
      this.safeEmit('room-loaded', room);
      return room;
    })().finally(() => this.loading.delete(roomId));
    this.loading.set(roomId, pending);
    return pending;
  }

  /** Remove the socket from the room; unload the room when it was the last one. */
  leave(roomId: string, socket: Socket): void {
    const room = this.loaded.get(roomId);
    if (!room || !room.removeClient(socket.id)) return;
    socket.leave(roomChannel(roomId));
    this.safeEmit('client-left', room, socket);
    if (room.clients.size === 0) this.unload(room);
  }

  /** Every room this socket is in (on disconnect). */
  leaveAll(socket: Socket): void {
    for (const room of [...this.loaded.values()]) if (room.hasClient(socket.id)) this.leave(room.id, socket);
  }

  roomsOf(socketId: string): Room[] {
    return [...this.loaded.values()].filter((r) => r.hasClient(socketId));
  }

  /** Disconnect nobody, but drop the room at once without compacting it (it is being deleted:
   * a snapshot written back now would bring it back); resolves when its last commits are done. */
  async discard(roomId: string): Promise<void> {
    const room = this.loaded.get(roomId) ?? (await this.loading.get(roomId)?.catch(() => undefined));
    if (room && this.loaded.get(roomId) === room) {
      for (const socket of [...room.clients.values()]) {
        room.removeClient(socket.id);
        socket.leave(roomChannel(roomId));
        this.safeEmit('client-left', room, socket);
      }
      room.discardCompaction();
      this.unload(room);
    }
    await this.unloading.get(roomId);
  }

  /** Compact and unload every room (shutdown); resolves when their compactions are done. */
  async closeAll(): Promise<void> {
    clearInterval(this.timer);
    await Promise.allSettled([...this.loading.values()]);
    for (const room of [...this.loaded.values()]) this.unload(room);
    await Promise.allSettled([...this.unloading.values()]);
  }

  /** Forget the room now (a join after this loads it again, from the store); its last commits
   * and compaction finish in the background. */
  private unload(room: Room): void {
    if (this.loaded.get(room.id) !== room) return;
    this.loaded.delete(room.id);
    this.opts.replication?.close(room.id);
    this.safeEmit('room-unloaded', room);
    const done = (async () => {
      try {
        await room.flushed();
        await room.compact();
      } catch (err) {
        // The update log still holds everything; the next load replays it.
        this.log.error({ err, room: room.id }, 'compaction on unload failed');
      }
      room.destroy();
      this.log.info({ room: room.id }, 'room unloaded');
    })();
    this.unloading.set(room.id, done);
    void done.finally(() => {
      if (this.unloading.get(room.id) === done) this.unloading.delete(room.id);
    });
  }

  private compactDue(): void {
    const now = Date.now();
    for (const room of this.loaded.values()) {
      try {
        room.compactIfDue(now);
      } catch (err) {
        this.log.error({ err, room: room.id }, 'periodic compaction failed');
      }
    }
  }

  /** A feature's listener that throws (or rejects) is logged; it never breaks a join or leave. */
  private safeEmit<K extends keyof RoomManagerEvents>(event: K, ...args: RoomManagerEvents[K]): void {
    for (const listener of this.rawListeners(event) as Array<(...a: RoomManagerEvents[K]) => unknown>) {
      try {
        const r = listener(...args);
        if (r instanceof Promise) r.catch((err) => this.log.error({ err, event }, 'room event listener failed'));
      } catch (err) {
        this.log.error({ err, event }, 'room event listener failed');
      }
    }
  }
}
