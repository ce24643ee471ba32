// Cluster mode's document relay (the "replicas" design, docs/architecture.md "Cluster mode"): a
// room may be loaded on several nodes; each node stores the updates its own clients send, then
// publishes them on the room's Redis channel, and every other node holding the room applies them
// and sends them to its clients. Presence crosses the same way.
//
// Messages are binary (lib0 encoding): kind, sender node id, y-protocols payload. A node listens
// to a room's channel before it loads the room from the store, and keeps what arrives during the
// load, so no update committed elsewhere in between is missed (an update both in the load and on
// the channel applies once: Yjs ignores what it has).
//
// Redis holds nothing durable here: when the link drops, publishes are lost, so on reconnect every
// room catches up from the store (Room.catchUp), re-announces its own clients' presence and drops
// presence relayed before, which the other nodes announce again.
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import type Redis from 'ioredis';
import type { Logger } from '../logger';
import type { Room } from '../rooms/Room';
import type { RoomReplication } from '../rooms/RoomManager';

const KIND_UPDATE = 1;
const KIND_AWARENESS = 2;

/** What a room may keep while it loads; past it the room catches up from the store instead. */
const MAX_KEPT_BYTES = 8 * 1024 * 1024;

export const roomRelayChannel = (roomId: string) => `lc:room:${roomId}`;

interface Entry {
  room: Room | null;
  kept: Array<{ kind: number; node: string; payload: Uint8Array }>;
  keptBytes: number;
  overflow: boolean;
}

export class RoomRelay implements RoomReplication {
  private readonly entries = new Map<string, Entry>();
  private readonly log: Logger;
  /** messages relayed, for /healthz */
  readonly counts = { published: 0, received: 0, publishFailed: 0 };

  /**
   * `pub` publishes (it must not queue commands while disconnected: a stale update published
   * minutes later is useless, the catch-up covers it); `sub` is in subscriber mode.
   */
  constructor(
    private readonly pub: Redis,
    private readonly sub: Redis,
    readonly nodeId: string,
    logger: Logger,
  ) {
    this.log = logger.child({ module: 'relay' });
    sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onMessage(channel.toString(), message));
  }

  async open(roomId: string): Promise<void> {
    if (!this.entries.has(roomId)) this.entries.set(roomId, { room: null, kept: [], keptBytes: 0, overflow: false });
    try {
      await this.sub.subscribe(roomRelayChannel(roomId));
    } catch (err) {
      // Redis is down: the room still loads and serves this node's clients; the catch-up after
      // the reconnect brings in what other nodes stored meanwhile.
      this.log.warn({ err, room: roomId }, 'could not listen to the room channel; catching up after Redis returns');
    }
  }

  attach(room: Room): void {
    const entry = this.entries.get(room.id);
    if (!entry) return;
    entry.room = room;
    for (const m of entry.kept) this.deliver(room, m.kind, m.node, m.payload);
    if (entry.overflow) void this.catchUp(room);
    entry.kept = [];
    entry.keptBytes = 0;
  }

  close(roomId: string): void {
    if (!this.entries.delete(roomId)) return;
    this.sub.unsubscribe(roomRelayChannel(roomId)).catch(() => {});
  }

  publishUpdate(roomId: string, update: Uint8Array): void {
    this.publish(roomId, KIND_UPDATE, update);
  }

  publishAwareness(roomId: string, update: Uint8Array): void {
    this.publish(roomId, KIND_AWARENESS, update);
  }

  /** Rooms loaded here. */
  rooms(): Room[] {
    return [...this.entries.values()].flatMap((e) => (e.room ? [e.room] : []));
  }

  /** After the link to Redis came back: what was published meanwhile is lost. */
  async resync(): Promise<void> {
    // a room whose subscription failed while Redis was away (open() only logs it) listens now
    for (const roomId of this.entries.keys()) this.sub.subscribe(roomRelayChannel(roomId)).catch(() => {});
    const rooms = this.rooms();
    for (const room of rooms) {
      await this.catchUp(room);
      const mine = room.presence.messageOf(room.clients.keys());
      if (mine) this.publishAwareness(room.id, mine);
    }
    if (rooms.length) this.log.info({ rooms: rooms.length }, 'rooms caught up from the store after the Redis outage');
  }

  private async catchUp(room: Room): Promise<void> {
    try {
      await room.catchUp();
    } catch (err) {
      this.log.error({ err, room: room.id }, 'could not catch up from the store');
    }
  }

  private publish(roomId: string, kind: number, payload: Uint8Array): void {
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, kind);
    encoding.writeVarString(encoder, this.nodeId);
    encoding.writeVarUint8Array(encoder, payload);
    const message = Buffer.from(encoding.toUint8Array(encoder));
    this.pub.publish(roomRelayChannel(roomId), message).then(
      () => this.counts.published++,
      () => this.counts.publishFailed++,
    );
  }

  private onMessage(channel: string, message: Buffer): void {
    if (!channel.startsWith('lc:room:')) return;
    const entry = this.entries.get(channel.slice('lc:room:'.length));
    if (!entry) return;
    let kind: number, node: string, payload: Uint8Array;
    try {
      const d = decoding.createDecoder(new Uint8Array(message.buffer, message.byteOffset, message.byteLength));
      kind = decoding.readVarUint(d);
      node = decoding.readVarString(d);
      payload = decoding.readVarUint8Array(d);
    } catch (err) {
      this.log.warn({ err, channel }, 'unreadable relay message dropped');
      return;
    }
    if (node === this.nodeId) return;
    this.counts.received++;
    if (entry.room) {
      this.deliver(entry.room, kind, node, payload);
    } else if (entry.keptBytes + payload.byteLength <= MAX_KEPT_BYTES) {
      entry.kept.push({ kind, node, payload });
      entry.keptBytes += payload.byteLength;
    } else {
      entry.overflow = true;
    }
  }

  private deliver(room: Room, kind: number, node: string, payload: Uint8Array): void {
    try {
      if (kind === KIND_UPDATE) room.applyRemoteUpdate(payload, node);
      else if (kind === KIND_AWARENESS) room.presence.applyRemote(payload, node);
    } catch (err) {
      this.log.error({ err, room: room.id, node, kind }, 'could not apply a relayed change');
    }
  }
}
