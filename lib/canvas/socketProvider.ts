// A Yjs provider over a Socket.IO connection, in the style of y-websocket: y-protocols sync and
// awareness messages travel unchanged as the payload of the `y:sync` / `y:awareness` events.
//
// The document never depends on the connection: edits made while offline stay in the Y.Doc and
// reach the server on reconnect through the state-vector exchange (both sides send sync step 1
// and answer the other's with step 2).
//
// Every local update is kept until the server acknowledges it (committed to its database), in an
// UpdateOutbox (./updateOutbox.ts). That tells whether edits are still unsent (the page warns before
// closing), and it is what gets sent when the step 2 would be over the server's message limit: the
// pending updates, merged in groups under the limit, in order, paced under the server's byte
// budget. A refused update leaves a gap (the next ones build on it), so a refusal is answered by
// joining again, which repairs it. A single local change over the limit can never be shared: the
// provider stops sending and says so. Awareness (presence) travels through an AwarenessLink
// (./awarenessLink.ts); what acks and refusals mean is in ./serverAnswers.ts. A viewer (role of the
// join ack, ./roomAccess.ts) sends step 1 and presence only; a final refusal or revocation stops it.
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import type { Socket } from 'socket.io-client';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import type * as Y from 'yjs';
import { ACCESS_EV, RoomRevoked } from '../protocol/access';
import { EV, type ErrorEvent, type UserInfo } from '../protocol/events';
import { MAX_YJS_MESSAGE_BYTES } from '../protocol/limits';
import { AwarenessLink } from './awarenessLink';
import { readJoinAck, RoomAccessState, type AccessDenial } from './roomAccess';
import { isWorthShowing, joinFailure, MAX_BACKOFF_MS, refusalDelayMs, refusalError, type AckResult } from './serverAnswers';
import { tooLargeToShareMessage } from './shareLimits';
import { SendBudget, UpdateOutbox } from './updateOutbox';

/** connecting: never reached the server yet; syncing: (re)joined, waiting for the server's state;
 * connected: in sync, edits flow both ways; offline: lost the connection, editing locally. */
export type ConnectionStatus = 'connecting' | 'syncing' | 'connected' | 'offline';

export interface SocketProviderOptions {
  /** sent with `room:join` and published in awareness as the `user` field */
  user?: UserInfo;
  awareness?: awarenessProtocol.Awareness;
  /** how long to wait for the `room:join` ack before retrying */
  joinTimeoutMs?: number;
  /** first delay before reconnecting after the server closed the connection; doubles per attempt */
  reconnectBaseMs?: number;
}

type Listener<T> = (value: T) => void;

const JOIN_TIMEOUT_MS = 10_000;
/** An update not acknowledged within this is treated as lost: join again to resync. */
const ACK_TIMEOUT_MS = 30_000;
/** After `io server disconnect` socket.io-client stays offline; we reconnect with backoff
 * (base · 2^attempt, ±25 %, capped), counting attempts afresh once a connection held. */
const RECONNECT_BASE_MS = 1_000;
const STABLE_CONNECTION_MS = 30_000;

const toBytes = (data: unknown): Uint8Array | null =>
  data instanceof Uint8Array ? data : data instanceof ArrayBuffer ? new Uint8Array(data) : null;

export class SocketIoProvider {
  readonly awareness: awarenessProtocol.Awareness;
  /** true once the first sync with the server has completed (stays true while offline) */
  synced = false;
  private _status: ConnectionStatus = 'connecting';
  private joined = false;
  private destroyed = false;
  private readonly presence: AwarenessLink;
  private user: UserInfo | undefined;
  private readonly joinTimeoutMs: number;
  private readonly statusListeners = new Set<Listener<ConnectionStatus>>();
  private readonly errorListeners = new Set<Listener<ErrorEvent>>();
  private readonly syncedWaiters = new Set<() => void>();
  /** the role granted on join (`access.role`, `access.onGrant`: called before our presence is
   * announced on that join) and a final refusal (`access.denied`, `access.onDenied`) */
  readonly access = new RoomAccessState();
  private readonly unbind: (() => void)[] = [];
  private readonly reconnectBaseMs: number;
  private reconnectAttempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private connectedAt = 0;
  private readonly outbox = new UpdateOutbox();
  private readonly budget = new SendBudget();
  /** joined, but our answer to the server's step 1 is not acknowledged yet: updates wait */
  private resyncing = false;
  private rejoinTimer: ReturnType<typeof setTimeout> | null = null;
  /** counts joins: answers to messages sent before the latest join are stale */
  private joinEpoch = 0;
  /** refusals since the last accepted update; spaces out rejoins that keep being refused */
  private refusals = 0;
  private pumpTimer: ReturnType<typeof setTimeout> | null = null;
  /** set when a local change can never be sent (over the message limit); nothing more is sent */
  private blockedReason: string | null = null;

  constructor(
    readonly socket: Socket,
    readonly roomId: string,
    readonly doc: Y.Doc,
    opts: SocketProviderOptions = {},
  ) {
    this.awareness = opts.awareness ?? new awarenessProtocol.Awareness(doc);
    this.joinTimeoutMs = opts.joinTimeoutMs ?? JOIN_TIMEOUT_MS;
    this.reconnectBaseMs = opts.reconnectBaseMs ?? RECONNECT_BASE_MS;
    this.user = opts.user;
    if (this.user) this.awareness.setLocalStateField('user', this.user);

    this.on(socket, 'connect', () => {
      this.connectedAt = Date.now();
      this.join();
    });
    this.on(socket, 'disconnect', (reason: string) => this.handleDisconnect(reason));
    this.on(socket, EV.ySync, (msg: { roomId?: string; data?: unknown }) => this.handleSync(msg));
    this.on(socket, EV.yAwareness, (msg: { roomId?: string; data?: unknown }) => {
      const data = msg?.roomId === roomId ? toBytes(msg.data) : null;
      if (data) this.presence.receive(data);
    });
    this.on(socket, ACCESS_EV.revoked, (raw: unknown) => {
      const m = RoomRevoked.safeParse(raw);
      if (m.success && m.data.roomId === roomId) this.deny({ kind: 'revoked', code: 'revoked', message: m.data.reason });
    });
    this.on(socket, EV.error, (err: ErrorEvent) => {
      if (err.roomId && err.roomId !== roomId) return;
      if (isWorthShowing(err)) this.emitError(err);
    });

    const onDocUpdate = (update: Uint8Array, origin: unknown) => {
      if (origin === this) return; // came from the server, it has it
      if (!this.access.mayWrite) return; // a viewer's changes never leave the page
      const bytes = this.outbox.add(update);
      if (bytes > MAX_YJS_MESSAGE_BYTES) this.block(bytes);
      else this.pump();
    };
    doc.on('update', onDocUpdate);
    this.unbind.push(() => doc.off('update', onDocUpdate));

    this.presence = new AwarenessLink(this.awareness, {
      origin: this,
      send: (update) => this.send(EV.yAwareness, update),
      isJoined: () => this.joined,
      owned: !opts.awareness,
    });

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

  /** Local edits the server has not confirmed storing (offline, in flight, or unsendable). */
  hasUnsentChanges(): boolean {
    return this.access.mayWrite && !this.outbox.isEmpty;
  }

  /** Why local edits are no longer shared (a change over the message limit), or null. */
  get blocked(): string | null {
    return this.blockedReason;
  }

  destroy() {
    if (this.destroyed) return;
    // Tell the others we left before going quiet, so our cursor disappears at once.
    this.presence.leave();
    if (this.joined && this.socket.connected) this.socket.emit(EV.roomLeave, { roomId: this.roomId });
    this.destroyed = true;
    this.joined = false;
    for (const t of [this.reconnectTimer, this.rejoinTimer, this.pumpTimer]) if (t) clearTimeout(t);
    for (const off of this.unbind) off();
    this.statusListeners.clear();
    this.errorListeners.clear();
    this.access.clearListeners();
    this.presence.stop();
  }

  // ───────────── internals ─────────────

  private on(socket: Socket, event: string, fn: (...args: any[]) => void) {
    socket.on(event, fn);
    this.unbind.push(() => socket.off(event, fn));
  }

  /** The server said this page may not be in the room: stop joining and reconnecting. */
  private deny(denial: AccessDenial) {
    if (this.destroyed || this.access.denied) return;
    this.joined = false;
    for (const t of [this.reconnectTimer, this.rejoinTimer, this.pumpTimer]) if (t) clearTimeout(t); // none runs again
    this.setStatus('offline');
    this.access.deny(denial);
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

  /** Emit a y:sync message with an ack; `onAck` runs on the server's answer on this connection. */
  private sendSync(data: Uint8Array, onAck: (ack: AckResult) => void) {
    const epoch = this.joinEpoch;
    this.budget.take(data.byteLength);
    this.socket
      .timeout(ACK_TIMEOUT_MS)
      .emit(EV.ySync, { roomId: this.roomId, data }, (err: Error | null, ack?: AckResult) => {
        if (this.destroyed || epoch !== this.joinEpoch || !this.socket.connected) return;
        if (err || !ack) return this.rejoinSoon(0); // lost in transit: resync
        if (ack.ok) this.refusals = 0;
        onAck(ack);
      });
  }

  /** Send the pending updates not yet sent on this join, merged in groups under the message
   * limit, in order, within the byte budget (waiting for tokens when needed). */
  private pump() {
    if (this.pumpTimer || !this.joined || this.resyncing || this.blockedReason || !this.socket.connected) return;
    if (!this.access.mayWrite) return; // a viewer sends no updates
    while (true) {
      const group = this.outbox.nextGroup();
      if (!group) return;
      const wait = this.budget.waitMs(group.bytes);
      if (wait > 0) {
        this.pumpTimer = setTimeout(() => {
          this.pumpTimer = null;
          this.pump();
        }, wait);
        return;
      }
      const seqs = group.items.map((p) => p.seq);
      this.sendSync(this.outbox.take(group), (ack) => {
        if (ack.ok) this.outbox.acknowledged(seqs);
        else this.onRefused(ack);
      });
    }
  }

  /** The server refused one of our updates: the ones after it build on it and are refused too.
   * Joining again makes the server send a fresh step 1, whose answer fills the gap. */
  private onRefused(ack: AckResult) {
    const error = refusalError(ack, this.roomId);
    if (error) this.emitError(error);
    this.rejoinSoon(refusalDelayMs(ack, this.refusals++));
  }

  private rejoinSoon(delayMs: number) {
    if (this.rejoinTimer || this.destroyed) return;
    this.rejoinTimer = setTimeout(() => {
      this.rejoinTimer = null;
      if (this.socket.connected) this.join();
    }, delayMs);
  }

  /** A local change larger than the server accepts in one message: it can never be shared, and
   * every later update builds on it. Stop sending (the server would refuse each one) and say so. */
  private block(bytes: number) {
    if (this.blockedReason) return;
    this.blockedReason = `${tooLargeToShareMessage(bytes)} Your later changes stay on this page only; copy what you need and reload to share again.`;
    this.emitError({ code: 'too-large', message: this.blockedReason, event: EV.ySync, roomId: this.roomId });
  }

  private join() {
    if (this.destroyed || this.access.denied) return;
    this.setStatus('syncing');
    this.joined = false;
    this.resyncing = true;
    this.joinEpoch++;
    const socketAtJoin = this.socket.id;
    this.socket
      .timeout(this.joinTimeoutMs)
      .emit(
        EV.roomJoin,
        { roomId: this.roomId, user: this.user },
        (timeoutErr: Error | null, ack?: { ok: boolean; error?: unknown }) => {
          if (this.destroyed || this.access.denied || !this.socket.connected || this.socket.id !== socketAtJoin) return;
          const result = timeoutErr ? null : readJoinAck(ack);
          if (!result?.ok) {
            this.emitError(joinFailure(!!timeoutErr, ack, this.joinTimeoutMs, this.roomId));
            if (!result) this.join();
            else if (result.final) this.deny(result.denial);
            else this.setStatus('offline');
            return;
          }
          this.joined = true;
          this.access.granted(result.grant);
          if (!this.access.mayWrite) this.outbox.clear();
          // Whatever was in flight on an earlier join is covered by this join's sync.
          this.outbox.markAllUnsent();
          const encoder = encoding.createEncoder();
          syncProtocol.writeSyncStep1(encoder, this.doc);
          this.send(EV.ySync, encoding.toUint8Array(encoder));
          this.presence.announce();
        },
      );
  }

  /** Our answer to the server's step 1: everything it lacks. One message when it fits; else the
   * pending updates in groups (see pump), which hold the same local changes. */
  private answerStep1(reply: Uint8Array) {
    if (!this.joined) return;
    if (this.blockedReason) return; // it would carry the unsendable change
    // a viewer answers nothing: the server would refuse its step 2
    if (!this.access.mayWrite) return void (this.resyncing = false);
    if (reply.byteLength > MAX_YJS_MESSAGE_BYTES) {
      this.resyncing = false;
      this.pump();
      return;
    }
    const covered = this.outbox.coverAll();
    this.sendSync(reply, (ack) => {
      if (!ack.ok) return this.onRefused(ack);
      this.outbox.acknowledged(covered);
      this.resyncing = false;
      this.pump();
    });
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
    if (type === syncProtocol.messageYjsSyncStep1 && this.socket.connected) {
      this.answerStep1(encoding.toUint8Array(encoder));
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

  private handleDisconnect(reason: string) {
    this.joined = false;
    this.resyncing = false;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.pumpTimer = null;
    if (this.destroyed) return;
    this.setStatus('offline');
    this.presence.forgetPeers();
    if (this.access.denied) return; // told to go: reconnecting would only be refused
    // socket.io-client reconnects by itself after network trouble, but not when the server
    // closed the connection (e.g. after too many refused messages, or a deploy): do it ourselves.
    if (reason === 'io server disconnect') this.scheduleReconnect();
  }

  private scheduleReconnect() {
    if (this.reconnectTimer) return;
    if (this.connectedAt && Date.now() - this.connectedAt > STABLE_CONNECTION_MS) this.reconnectAttempt = 0;
    const base = Math.min(MAX_BACKOFF_MS, this.reconnectBaseMs * 2 ** this.reconnectAttempt++);
    const delay = Math.round(base * (0.75 + Math.random() * 0.5));
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (!this.destroyed && !this.socket.connected) this.socket.connect();
    }, delay);
  }
}
