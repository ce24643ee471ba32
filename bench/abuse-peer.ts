// Sockets and room peers for bench/abuse.ts. Like test/helpers/yclient.ts's connectPeer, plus what
// an abuse benchmark needs: a chosen local (loopback) address, a count of the bytes received, and
// a way to stop reading (a client whose network does not drain what the server sends).
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { io, type Socket } from 'socket.io-client';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { EV } from '../lib/protocol/events';

export interface AckResult {
  ok: boolean;
  error?: { code: string; message: string };
  [k: string]: unknown;
}

export interface BenchSocket {
  socket: Socket;
  /** payload bytes received so far (engine.io packets: text and binary attachments) */
  receivedBytes(): number;
  /** stop / restart reading from the TCP connection (what the server sends then piles up); while
   * paused, the client does not close the connection for missing pings */
  pauseReading(): void;
  resumeReading(): void;
  /** true once the connection closed; `closedBy` says why (socket.io's disconnect reason) */
  closed(): boolean;
  closedBy(): string | null;
  close(): void;
}

export interface SocketOptions {
  /** connect from this loopback address (e.g. 127.0.0.2), so per-address limits see another client */
  localAddress?: string;
  /** a room link's token, sent in the handshake `auth` as the page does (a shared room admits no
   * join without it) */
  token?: string;
}

type WsLike = { pause(): void; resume(): void };
const transportWs = (s: Socket) => (s.io.engine as unknown as { transport?: { ws?: WsLike } }).transport?.ws;

/** engine.io-client closes a connection on which no ping arrived for pingInterval + pingTimeout:
 * a client that does not read would close itself. An attacker's does not, so disarm that timer
 * (engine.io-client 6 internals; reading a ping again re-arms it). Whether the server drops the
 * connection is what is measured. */
function disarmClientHeartbeat(s: Socket): void {
  const engine = s.io.engine as unknown as { _pingTimeoutTimer?: NodeJS.Timeout; _pingTimeoutTime?: number };
  clearTimeout(engine._pingTimeoutTimer);
  engine._pingTimeoutTime = Infinity;
}

function byteLength(data: unknown): number {
  if (typeof data === 'string') return Buffer.byteLength(data);
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

/** A Socket.IO connection (websocket only, no reconnection) that resolves once connected. */
export async function openSocket(url: string, opts: SocketOptions = {}): Promise<BenchSocket> {
  const socket = io(url, {
    transports: ['websocket'],
    forceNew: true,
    reconnection: false,
    ...(opts.localAddress && { localAddress: opts.localAddress }),
    ...(opts.token && { auth: { token: opts.token } }),
  } as Parameters<typeof io>[1]);
  let received = 0;
  let reason: string | null = null;
  // The engine exists as soon as io() returns (autoConnect), before anything is read.
  socket.io.engine.on('packet', (p: { data?: unknown }) => (received += byteLength(p.data)));
  socket.on('disconnect', (r) => (reason = r));
  await new Promise<void>((resolve, reject) => {
    const fail = (e: Error) => {
      clearTimeout(t);
      socket.disconnect();
      reject(e);
    };
    const t = setTimeout(() => fail(new Error(`no connection to ${url} within 10 s`)), 10_000);
    socket.once('connect', () => {
      clearTimeout(t);
      resolve();
    });
    socket.once('connect_error', fail);
  });
  return {
    socket,
    receivedBytes: () => received,
    pauseReading: () => {
      transportWs(socket)?.pause();
      disarmClientHeartbeat(socket);
    },
    resumeReading: () => transportWs(socket)?.resume(),
    closed: () => reason !== null,
    closedBy: () => reason,
    close: () => socket.disconnect(),
  };
}

/** emit with an ack, failing after `ms` (a refused or unanswered message is data, not an error). */
export async function ask(socket: Socket, event: string, payload: unknown, ms = 10_000): Promise<AckResult> {
  try {
    return (await socket.timeout(ms).emitWithAck(event, payload)) as AckResult;
  } catch (e) {
    return { ok: false, error: { code: 'no-answer', message: (e as Error).message } };
  }
}

/** y-protocols sync message carrying a Yjs update. */
export function updateMessage(update: Uint8Array): Uint8Array {
  const enc = encoding.createEncoder();
  syncProtocol.writeUpdate(enc, update);
  return encoding.toUint8Array(enc);
}

/** 'update': a local change of the doc; 'sync': the sync exchange of a join */
export type MessageKind = 'update' | 'sync';

/** A joined, synced room member keeping a Y.Doc; every update it sends carries an ack. */
export class RoomPeer {
  readonly doc = new Y.Doc();
  readonly records = this.doc.getMap<unknown>('tl_records');
  readonly nacks: AckResult[] = [];
  private pending = 0;
  private waiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];
  private syncedNow = false;
  private syncWaiters: Array<() => void> = [];
  private sent = 0;
  /** message number → when it was sent and what it was, until its ack arrives */
  private readonly inflight = new Map<number, { at: number; kind: MessageKind }>();
  /** called with each acknowledged message's round trip (ms, from emit to ack) */
  onAck?: (ms: number, res: AckResult, kind: MessageKind) => void;
  /** called on a disconnect with the messages whose acks will never come */
  onLost?: (lost: Array<{ at: number; kind: MessageKind }>, reason: string) => void;

  private constructor(
    readonly conn: BenchSocket,
    readonly roomId: string,
  ) {
    const { socket } = conn;
    socket.on(EV.ySync, (msg: { roomId: string; data: ArrayBuffer | Uint8Array }) => {
      if (msg.roomId !== roomId) return;
      const enc = encoding.createEncoder();
      const type = syncProtocol.readSyncMessage(decoding.createDecoder(new Uint8Array(msg.data)), enc, this.doc, 'server');
      if (encoding.length(enc) > 0) this.send(encoding.toUint8Array(enc), 'sync');
      if (type === syncProtocol.messageYjsSyncStep2) {
        this.syncedNow = true;
        this.syncWaiters.splice(0).forEach((f) => f());
      }
    });
    socket.on('disconnect', (reason) => {
      const lost = [...this.inflight.values()];
      this.inflight.clear();
      if (lost.length > 0) this.onLost?.(lost, reason);
      if (this.pending === 0) return;
      const err = new Error(`disconnected (${reason}) with ${this.pending} unacknowledged updates`);
      this.pending = 0;
      this.waiters.splice(0).forEach((w) => w.reject(err));
    });
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== 'server' && socket.connected) this.send(updateMessage(update), 'update');
    });
  }

  /** Connect (with `opts.token`: the room's link), join `roomId` and wait for the first sync (10 s). */
  static async join(url: string, roomId: string, opts: SocketOptions & { name?: string } = {}): Promise<RoomPeer> {
    const conn = await openSocket(url, opts);
    const peer = new RoomPeer(conn, roomId);
    const ack = await ask(conn.socket, EV.roomJoin, { roomId, user: { name: opts.name ?? 'bench', color: '#336699' } });
    if (!ack.ok) {
      conn.close();
      throw new Error(`join of ${roomId} refused: ${JSON.stringify(ack.error)}`);
    }
    const enc = encoding.createEncoder();
    syncProtocol.writeSyncStep1(enc, peer.doc);
    peer.send(encoding.toUint8Array(enc), 'sync');
    if (!peer.syncedNow) {
      await withTimeout(new Promise<void>((r) => peer.syncWaiters.push(r)), 10_000, `sync of room ${roomId}`).catch((e) => {
        conn.close();
        throw e;
      });
    }
    return peer;
  }

  get socket(): Socket {
    return this.conn.socket;
  }

  /** the messages still waiting for their ack */
  inflightNow(): Array<{ at: number; kind: MessageKind }> {
    return [...this.inflight.values()];
  }

  /** Resolves once every update sent so far is acknowledged; rejects on a disconnect. */
  acked(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  close(): void {
    if (this.socket.connected) this.socket.emit(EV.roomLeave, { roomId: this.roomId });
    this.conn.close();
    this.doc.destroy();
  }

  private send(data: Uint8Array, kind: MessageKind): void {
    const n = ++this.sent;
    this.inflight.set(n, { at: performance.now(), kind });
    this.pending++;
    this.socket.emit(EV.ySync, { roomId: this.roomId, data }, (res: AckResult) => {
      const sent = this.inflight.get(n);
      this.inflight.delete(n);
      if (!res?.ok) this.nacks.push(res);
      if (sent) this.onAck?.(performance.now() - sent.at, res, kind);
      if (this.pending > 0 && --this.pending === 0) this.waiters.splice(0).forEach((w) => w.resolve());
    });
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
