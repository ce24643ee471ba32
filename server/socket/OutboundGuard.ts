// What a socket can make the server send. A sync step 1 with an empty state vector is 3 bytes and
// asks for the whole document; a join asks for everyone's presence. So replies to a socket's own
// requests are paid from its outgoing byte budget (a token bucket like the incoming one), one
// reply at a time: a request that arrives while the previous reply is still in the socket's
// buffers, or while the budget is spent, waits, and later requests for the same room replace it
// (coalesced: the latest state vector wins). And a socket whose unsent data grows past a limit —
// it does not read what it is sent, e.g. a paused reader in a busy room — is disconnected, which
// frees its buffers at once.
import type { Socket } from 'socket.io';
import { EV } from '../../lib/protocol/events';
import type { Logger } from '../logger';
import type { RoomManager } from '../rooms/RoomManager';
import { TokenBucket } from './SocketGuard';

export interface OutboundOptions {
  rooms: RoomManager;
  logger: Logger;
  /** per-socket budget over the bytes of replies (RATE_OUT_BYTES_PER_SECOND / _BURST) */
  rate: { perSecond: number; burst: number };
  /** unsent bytes past which a socket is disconnected (MAX_SOCKET_BUFFER_BYTES), on top of the
   * reply being sent */
  maxBufferBytes: number;
}

/** A reply counts as sent once the socket's unsent data is below this. */
const SENT_BELOW_BYTES = 64 * 1024;
/** How often a socket with a reply in flight is looked at, and all sockets swept. */
const POLL_MS = 20;
const SWEEP_MS = 100;

interface Pending {
  /** answer with a step 2 for this state vector */
  stateVector: Uint8Array | null;
  /** send everyone's presence */
  awareness: boolean;
}

interface Out {
  budget: TokenBucket;
  /** requests waiting, per room id, in arrival order */
  pending: Map<string, Pending>;
  /** bytes of the last reply until the socket's buffers have taken it (0: none in flight) */
  inFlight: number;
  timer: NodeJS.Timeout | null;
}

/** Bytes queued for a socket and not yet handed to the network: engine.io's write buffer plus
 * what the WebSocket holds (ws' bufferedAmount: its sender queue and the TCP socket's buffer). */
export function unsentBytes(socket: Socket): number {
  const conn = socket.conn as unknown as {
    writeBuffer?: Array<{ data?: unknown }>;
    transport?: { name?: string; socket?: { bufferedAmount?: number } };
  };
  let n = 0;
  for (const p of conn.writeBuffer ?? []) {
    const d = p.data;
    n += typeof d === 'string' ? d.length : ((d as { byteLength?: number } | undefined)?.byteLength ?? 0);
  }
  if (conn.transport?.name === 'websocket') n += conn.transport.socket?.bufferedAmount ?? 0;
  return n;
}

const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;

export class OutboundGuard {
  private readonly outs = new Map<Socket, Out>();
  private readonly log: Logger;
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly opts: OutboundOptions) {
    this.log = opts.logger.child({ module: 'socket' });
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  add(socket: Socket): void {
    const { perSecond, burst } = this.opts.rate;
    this.outs.set(socket, { budget: new TokenBucket(perSecond, burst), pending: new Map(), inFlight: 0, timer: null });
  }

  remove(socket: Socket): void {
    const out = this.outs.get(socket);
    if (out?.timer) clearTimeout(out.timer);
    this.outs.delete(socket);
  }

  /** Answer a sync step 1 in `roomId` when the budget allows (a later one replaces it). */
  requestStep2(socket: Socket, roomId: string, stateVector: Uint8Array): void {
    this.request(socket, roomId, (p) => (p.stateVector = stateVector));
  }

  /** Send everyone's presence in `roomId` when the budget allows. */
  requestAwareness(socket: Socket, roomId: string): void {
    this.request(socket, roomId, (p) => (p.awareness = true));
  }

  /** Charge bytes sent to the socket outside a reply (they are small: the server's step 1). */
  charge(socket: Socket, bytes: number): void {
    this.outs.get(socket)?.budget.take(bytes);
  }

  /** Bytes the socket may still make the server send now, from its outgoing budget. */
  allowance(socket: Socket): number {
    return this.outs.get(socket)?.budget.available() ?? 0;
  }

  stop(): void {
    clearInterval(this.sweeper);
    for (const socket of [...this.outs.keys()]) this.remove(socket);
  }

  private request(socket: Socket, roomId: string, set: (p: Pending) => void): void {
    const out = this.outs.get(socket);
    if (!out) return;
    let p = out.pending.get(roomId);
    if (!p) out.pending.set(roomId, (p = { stateVector: null, awareness: false }));
    set(p);
    this.pump(socket, out);
  }

  /** Send the next waiting reply, if nothing is in flight and the budget allows. */
  private pump(socket: Socket, out: Out): void {
    if (out.timer || !socket.connected) return;
    if (out.inFlight > 0) {
      if (unsentBytes(socket) > SENT_BELOW_BYTES) return this.later(socket, out, POLL_MS);
      out.inFlight = 0;
    }
    for (const [roomId, p] of out.pending) {
      const room = this.opts.rooms.get(roomId);
      if (!room || !room.hasClient(socket.id)) {
        out.pending.delete(roomId);
        continue;
      }
      // Spent: do not even encode until tokens are back.
      const empty = out.budget.waitMs(1);
      if (empty > 0) return this.later(socket, out, empty);
      const step2 = p.stateVector ? room.step2For(p.stateVector) : null;
      const awareness = p.awareness ? room.presence.message() : null;
      const bytes = (step2?.byteLength ?? 0) + (awareness?.byteLength ?? 0);
      if (!out.budget.take(bytes)) return this.later(socket, out, out.budget.waitMs(bytes));
      out.pending.delete(roomId);
      if (step2) socket.emit(EV.ySync, { roomId, data: step2 });
      if (awareness) socket.emit(EV.yAwareness, { roomId, data: awareness });
      if (bytes === 0) continue;
      out.inFlight = bytes;
      if (out.pending.size > 0) this.later(socket, out, POLL_MS);
      return;
    }
  }

  private later(socket: Socket, out: Out, ms: number): void {
    out.timer = setTimeout(() => {
      out.timer = null;
      this.pump(socket, out);
    }, Math.max(1, ms));
    out.timer.unref();
  }

  /** Disconnect the sockets that do not take what they are sent. */
  private sweep(): void {
    for (const [socket, out] of this.outs) {
      const unsent = unsentBytes(socket);
      if (out.inFlight > 0 && unsent <= SENT_BELOW_BYTES) out.inFlight = 0;
      if (unsent > this.opts.maxBufferBytes + out.inFlight) this.cut(socket, unsent);
    }
  }

  private cut(socket: Socket, unsent: number): void {
    const rooms = this.opts.rooms.roomsOf(socket.id).map((r) => r.id);
    this.log.warn(
      { socket: socket.id, address: socket.handshake.address, rooms, unsentBytes: unsent, limit: this.opts.maxBufferBytes },
      `disconnecting a socket whose outgoing buffer holds ${mb(unsent)} it has not read (limit ${mb(this.opts.maxBufferBytes)}, MAX_SOCKET_BUFFER_BYTES); rooms ${rooms.join(', ') || '-'}`,
    );
    this.remove(socket);
    // Free its buffers now: a WebSocket is torn down at once (a polite close would wait for the
    // data it does not read), a polling transport's queue is discarded.
    const transport = socket.conn.transport as unknown as { name?: string; socket?: { terminate?: () => void } };
    if (transport.name === 'websocket') transport.socket?.terminate?.();
    socket.conn.close(true);
    socket.disconnect(true);
  }
}
