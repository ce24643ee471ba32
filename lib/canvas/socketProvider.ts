// A Yjs provider over a Socket.IO connection, in the style of y-websocket: y-protocols sync and
// awareness messages travel unchanged as the payload of the `y:sync` / `y:awareness` events.
//
// The document never depends on the connection: edits made while offline stay in the Y.Doc and
// reach the server on reconnect through the state-vector exchange (both sides send sync step 1
// and answer the other's with step 2), so nothing is queued here.
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import type { Socket } from 'socket.io-client';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { ErrorCode, EV, type ErrorEvent, type UserInfo } from '../protocol/events';
import { PRESENCE_TIMEOUT_MS } from '../protocol/limits';

/** connecting: never reached the server yet; syncing: (re)joined, waiting for the server's state;
 * connected: in sync, edits flow both ways; offline: lost the connection, editing locally. */
export type ConnectionStatus = 'connecting' | 'syncing' | 'connected' | 'offline';

export interface SocketProviderOptions {
  /** sent with `room:join` and published in awareness as the `user` field */
  user?: UserInfo;
  awareness?: awarenessProtocol.Awareness;
  /** how long to wait for the `room:join` ack before retrying */
  joinTimeoutMs?: number;
}

type Listener<T> = (value: T) => void;

const JOIN_TIMEOUT_MS = 10_000;
/** Peers drop silent clients after PRESENCE_TIMEOUT_MS, so re-announce well within it. */
const HEARTBEAT_MS = Math.floor(PRESENCE_TIMEOUT_MS / 3);

const toBytes = (data: unknown): Uint8Array | null =>
  data instanceof Uint8Array ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : null;

const describe = (error: unknown): string =>
  typeof error === 'string'
    ? error
    : error && typeof error === 'object' && 'message' in error
      ? String((error as { message: unknown }).message)
      : 'no reason given';

export class SocketIoProvider {
  readonly awareness: awarenessProtocol.Awareness;
  /** true once the first sync with the server has completed (stays true while offline) */
  synced = false;
  private _status: ConnectionStatus = 'connecting';
  private joined = false;
  private destroyed = false;
  private readonly ownsAwareness: boolean;
  private user: UserInfo | undefined;
  private readonly joinTimeoutMs: number;
  private readonly statusListeners = new Set<Listener<ConnectionStatus>>();
  private readonly errorListeners = new Set<Listener<ErrorEvent>>();
  private readonly syncedWaiters = new Set<() => void>();
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private readonly unbind: (() => void)[] = [];

  constructor(
    readonly socket: Socket,
    readonly roomId: string,
    readonly doc: Y.Doc,
    opts: SocketProviderOptions = {},
  ) {
    this.awareness = opts.awareness ?? new awarenessProtocol.Awareness(doc);
    this.ownsAwareness = !opts.awareness;
    this.joinTimeoutMs = opts.joinTimeoutMs ?? JOIN_TIMEOUT_MS;
    this.user = opts.user;
    if (this.user) this.awareness.setLocalStateField('user', this.user);

    this.on(socket, 'connect', () => this.join());
    this.on(socket, 'disconnect', () => this.handleDisconnect());
    this.on(socket, EV.ySync, (msg: { roomId?: string; data?: unknown }) => this.handleSync(msg));
    this.on(socket, EV.yAwareness, (msg: { roomId?: string; data?: unknown }) =>
      this.handleAwareness(msg),
    );
    this.on(socket, EV.error, (err: ErrorEvent) => {
      if (!err.roomId || err.roomId === roomId) this.emitError(err);
    });

    const onDocUpdate = (update: Uint8Array, origin: unknown) => {
      if (origin === this) return; // came from the server, it has it
      const encoder = encoding.createEncoder();
      syncProtocol.writeUpdate(encoder, update);
      this.send(EV.ySync, encoding.toUint8Array(encoder));
    };
    doc.on('update', onDocUpdate);
    this.unbind.push(() => doc.off('update', onDocUpdate));

    const onAwarenessUpdate = (
      { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
      origin: unknown,
    ) => {
      if (origin === this) return;
      // Only our own state is ours to announce; the server relays everyone else's.
      const self = this.awareness.clientID;
      if (![...added, ...updated, ...removed].includes(self)) return;
      this.send(EV.yAwareness, awarenessProtocol.encodeAwarenessUpdate(this.awareness, [self]));
    };
    this.awareness.on('update', onAwarenessUpdate);
    this.unbind.push(() => this.awareness.off('update', onAwarenessUpdate));

    this.timers.push(
      setInterval(() => {
        // setLocalState bumps the clock even when nothing changed, which is what keeps us alive
        // on the other side.
        const state = this.awareness.getLocalState();
        if (state !== null && this.joined) this.awareness.setLocalState(state);
        this.dropSilentPeers();
      }, HEARTBEAT_MS),
    );

    if (socket.connected) this.join();
  }

  get status(): ConnectionStatus {
    return this._status;
  }

  /** Subscribe to status changes; the listener is called at once with the current status. */
  onStatus(listener: Listener<ConnectionStatus>): () => void {
    this.statusListeners.add(listener);
    listener(this._status);
    return () => this.statusListeners.delete(listener);
  }

  /** `lc:error` events for this room and failed joins. */
  onError(listener: Listener<ErrorEvent>): () => void {
    this.errorListeners.add(listener);
    return () => this.errorListeners.delete(listener);
  }

  /** Resolves once the first sync with the server completed. */
  whenSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncedWaiters.add(resolve));
  }

  /** Change the name/colour others see; takes effect in awareness at once and on the next join. */
  setUser(user: UserInfo) {
    this.user = user;
    this.awareness.setLocalStateField('user', user);
  }

  destroy() {
    if (this.destroyed) return;
    // Tell the others we left before going quiet, so our cursor disappears at once.
    awarenessProtocol.removeAwarenessStates(this.awareness, [this.awareness.clientID], 'destroy');
    if (this.joined && this.socket.connected) this.socket.emit(EV.roomLeave, { roomId: this.roomId });
    this.destroyed = true;
    this.joined = false;
    for (const t of this.timers) clearInterval(t);
    for (const off of this.unbind) off();
    this.statusListeners.clear();
    this.errorListeners.clear();
    if (this.ownsAwareness) this.awareness.destroy();
  }

  // ───────────── internals ─────────────

  private on(socket: Socket, event: string, fn: (...args: any[]) => void) {
    socket.on(event, fn);
    this.unbind.push(() => socket.off(event, fn));
  }

  private setStatus(status: ConnectionStatus) {
    if (status === this._status) return;
    this._status = status;
    for (const l of this.statusListeners) l(status);
  }

  private emitError(err: ErrorEvent) {
    if (this.errorListeners.size === 0) console.warn(`[livecanvas] ${err.code}: ${err.message}`);
    for (const l of this.errorListeners) l(err);
  }

  /** Emit only while joined: socket.io would otherwise buffer the message and deliver it before
   * the next `room:join`, where the server refuses it. The sync on rejoin carries it instead. */
  private send(event: string, data: Uint8Array) {
    if (!this.joined || !this.socket.connected || this.destroyed) return;
    this.socket.emit(event, { roomId: this.roomId, data });
  }

  private join() {
    if (this.destroyed) return;
    this.setStatus('syncing');
    const socketAtJoin = this.socket.id;
    this.socket
      .timeout(this.joinTimeoutMs)
      .emit(
        EV.roomJoin,
        { roomId: this.roomId, user: this.user },
        (timeoutErr: Error | null, ack?: { ok: boolean; error?: unknown }) => {
          if (this.destroyed || !this.socket.connected || this.socket.id !== socketAtJoin) return;
          if (timeoutErr || !ack?.ok) {
            const message = timeoutErr
              ? `the server did not answer room:join within ${this.joinTimeoutMs / 1000} s, retrying`
              : `the server refused to join the room: ${describe(ack?.error)}`;
            const refused = ErrorCode.safeParse((ack?.error as { code?: unknown } | undefined)?.code);
            this.emitError({
              code: timeoutErr ? 'server-error' : refused.success ? refused.data : 'invalid-room',
              message,
              event: EV.roomJoin,
              roomId: this.roomId,
            });
            if (timeoutErr) this.join();
            else this.setStatus('offline');
            return;
          }
          this.joined = true;
          const encoder = encoding.createEncoder();
          syncProtocol.writeSyncStep1(encoder, this.doc);
          this.send(EV.ySync, encoding.toUint8Array(encoder));
          if (this.awareness.getLocalState() !== null) {
            this.send(
              EV.yAwareness,
              awarenessProtocol.encodeAwarenessUpdate(this.awareness, [this.awareness.clientID]),
            );
          }
        },
      );
  }

  private handleSync(msg: { roomId?: string; data?: unknown }) {
    if (msg?.roomId !== this.roomId) return;
    const data = toBytes(msg.data);
    if (!data) return;
    const encoder = encoding.createEncoder();
    let type: number;
    try {
      type = syncProtocol.readSyncMessage(decoding.createDecoder(data), encoder, this.doc, this);
    } catch (e) {
      console.warn('[livecanvas] dropped a malformed sync message:', e);
      return;
    }
    // A step 1 from the server asks for what it lacks: our offline edits travel in this reply.
    if (encoding.length(encoder) > 0 && this.socket.connected) {
      this.socket.emit(EV.ySync, { roomId: this.roomId, data: encoding.toUint8Array(encoder) });
    }
    if (type === syncProtocol.messageYjsSyncStep2) {
      this.setStatus('connected');
      if (!this.synced) {
        this.synced = true;
        for (const w of this.syncedWaiters) w();
        this.syncedWaiters.clear();
      }
    }
  }

  private handleAwareness(msg: { roomId?: string; data?: unknown }) {
    if (msg?.roomId !== this.roomId) return;
    const data = toBytes(msg.data);
    if (!data) return;
    try {
      awarenessProtocol.applyAwarenessUpdate(this.awareness, data, this);
    } catch (e) {
      console.warn('[livecanvas] dropped a malformed awareness message:', e);
    }
  }

  private handleDisconnect() {
    this.joined = false;
    if (this.destroyed) return;
    this.setStatus('offline');
    // We can no longer tell who is still there. Forget the peers entirely (meta too), so that
    // the states the server sends on rejoin are accepted even if their clocks did not move.
    const others = [...this.awareness.getStates().keys()].filter((id) => id !== this.awareness.clientID);
    awarenessProtocol.removeAwarenessStates(this.awareness, others, this);
    for (const id of others) this.awareness.meta.delete(id);
  }

  /** y-protocols only times peers out after 30 s; we want a closed tab's cursor gone within a few
   * seconds even if the server's removal message was lost. */
  private dropSilentPeers() {
    const now = Date.now();
    const silent: number[] = [];
    for (const [id, meta] of this.awareness.meta) {
      if (id === this.awareness.clientID || !this.awareness.states.has(id)) continue;
      if (now - meta.lastUpdated > PRESENCE_TIMEOUT_MS) silent.push(id);
    }
    if (silent.length) awarenessProtocol.removeAwarenessStates(this.awareness, silent, this);
  }
}
