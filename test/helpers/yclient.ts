// A minimal Livecanvas room client for tests and benchmarks: a Y.Doc + Awareness synced with the
// server over Socket.IO using the same protocol as the browser (room:join with ack, y:sync and
// y:awareness carrying raw y-protocols messages). Every update it sends carries an ack callback,
// so `acked()` tells when the server has stored everything this peer sent.
//
// Run as a script it is one peer in a process of its own, for tests where a participant must
// vanish without closing anything (SIGSTOP = a frozen machine or a dead network):
//   node --import tsx test/helpers/yclient.ts <url> <roomId> <name>
// It prints `ready <awareness clientID>` once joined and synced.
import { randomBytes } from 'node:crypto';
import { realpathSync } from 'node:fs';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import { io, type Socket } from 'socket.io-client';
import { Awareness, applyAwarenessUpdate, encodeAwarenessUpdate } from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { liveFrameRecord, type LiveFrameProps } from '../../lib/canvas/liveFrame';
import { EV, type ErrorEvent, type UserInfo } from '../../lib/protocol/events';
import { float32ToFloat16 } from '../../lib/diffusion/fp16';
import { CreatedRoom, ROOMS_PATH, tokenFromHash, type Role } from '../../lib/protocol/access';

export interface PeerOptions {
  user?: UserInfo;
  /** wait for the first sync before resolving (default true) */
  waitSync?: boolean;
  /** use this doc instead of a fresh one */
  doc?: Y.Doc;
  /** Socket.IO transports (default websocket only; browsers start with polling) */
  transports?: Array<'polling' | 'websocket'>;
  /** the room link's token sent in the handshake; default: the `role` token of a room made by
   * createRoom (none for other rooms) */
  token?: string;
  /** which of createRoom's links to join with (default editor) */
  role?: Role;
  /** connect from this local address (e.g. 127.0.0.2: all of 127/8 is loopback on Linux), so
   * per-address limits see another client */
  localAddress?: string;
}

export interface AckResult {
  ok: boolean;
  error?: { code: string; message: string };
}

export interface Peer {
  roomId: string;
  doc: Y.Doc;
  awareness: Awareness;
  socket: Socket;
  /** the tldraw record map */
  records: Y.Map<unknown>;
  /** every lc:error received */
  errors: ErrorEvent[];
  /** acks that came back with ok:false */
  nacks: AckResult[];
  /** resolves once the sync of the latest (re)join completed */
  synced(): Promise<void>;
  /** resolves once every update sent so far has been acknowledged by the server; rejects if the
   * connection drops first */
  acked(): Promise<void>;
  /** go offline (the doc keeps working locally) */
  disconnect(): void;
  /** come back online, rejoin and resync */
  reconnect(): Promise<void>;
  /** leave, disconnect and free the doc */
  close(): void;
}

const REMOTE = Symbol('remote');

export async function connectPeer(url: string, roomId: string, opts: PeerOptions = {}): Promise<Peer> {
  const doc = opts.doc ?? new Y.Doc();
  const awareness = new Awareness(doc);
  if (opts.user) awareness.setLocalStateField('user', opts.user);
  const token = opts.token ?? roomTokens.get(roomId)?.[opts.role ?? 'editor'];
  const socket = io(url, {
    transports: opts.transports ?? ['websocket'],
    forceNew: true,
    reconnection: false,
    ...(token && { auth: { token } }),
    ...(opts.localAddress && { localAddress: opts.localAddress }),
  } as Parameters<typeof io>[1]);
  const errors: ErrorEvent[] = [];
  const nacks: AckResult[] = [];
  let joined = false;
  let isSynced = false;
  let syncWaiters: Array<() => void> = [];
  let pending = 0;
  let ackWaiters: Array<{ resolve: () => void; reject: (e: Error) => void }> = [];

  const onAck = (res: AckResult) => {
    if (!res?.ok) nacks.push(res);
    if (pending > 0 && --pending === 0) {
      const w = ackWaiters;
      ackWaiters = [];
      w.forEach((f) => f.resolve());
    }
  };
  const sendSync = (data: Uint8Array) => {
    pending++;
    socket.emit(EV.ySync, { roomId, data }, onAck);
  };

  socket.on(EV.error, (e: ErrorEvent) => errors.push(e));
  socket.on('connect', () => {
    isSynced = false;
    socket.emit(EV.roomJoin, { roomId, user: opts.user }, (res: AckResult) => {
      if (!res?.ok) {
        nacks.push(res);
        return;
      }
      joined = true;
      const enc = encoding.createEncoder();
      syncProtocol.writeSyncStep1(enc, doc);
      sendSync(encoding.toUint8Array(enc));
      // Re-set (not just re-send) the local state: that bumps its clock, and after a reconnect
      // the server and the others hold our removal at the old clock, which a re-send would not beat.
      const state = awareness.getLocalState();
      if (state !== null) awareness.setLocalState(state);
    });
  });
  socket.on('disconnect', (reason) => {
    joined = false;
    isSynced = false;
    // Unanswered acks will never come; whoever waits for them must know.
    if (pending > 0) {
      const last = errors.at(-1);
      const err = new Error(`disconnected (${reason}) with ${pending} unacknowledged updates${last ? `; last error: ${last.code}: ${last.message}` : ''}`);
      pending = 0;
      const w = ackWaiters;
      ackWaiters = [];
      w.forEach((f) => f.reject(err));
    }
  });
  socket.on(EV.ySync, (msg: { roomId: string; data: ArrayBuffer | Uint8Array }) => {
    if (msg.roomId !== roomId) return;
    const enc = encoding.createEncoder();
    const type = syncProtocol.readSyncMessage(decoding.createDecoder(new Uint8Array(msg.data)), enc, doc, REMOTE);
    if (encoding.length(enc) > 0) sendSync(encoding.toUint8Array(enc));
    if (type === syncProtocol.messageYjsSyncStep2) {
      isSynced = true;
      const w = syncWaiters;
      syncWaiters = [];
      w.forEach((f) => f());
    }
  });
  socket.on(EV.yAwareness, (msg: { roomId: string; data: ArrayBuffer | Uint8Array }) => {
    if (msg.roomId === roomId) applyAwarenessUpdate(awareness, new Uint8Array(msg.data), REMOTE);
  });
  doc.on('update', (update: Uint8Array, origin: unknown) => {
    // Offline edits are not queued: the state-vector exchange on rejoin carries them.
    if (origin === REMOTE || !joined || !socket.connected) return;
    const enc = encoding.createEncoder();
    syncProtocol.writeUpdate(enc, update);
    sendSync(encoding.toUint8Array(enc));
  });
  awareness.on('update', ({ added, updated, removed }: Record<string, number[]>, origin: unknown) => {
    if (origin === REMOTE || !joined || !socket.connected) return;
    const changed = [...added!, ...updated!, ...removed!].filter((c) => c === doc.clientID);
    if (changed.length > 0) socket.emit(EV.yAwareness, { roomId, data: encodeAwarenessUpdate(awareness, changed) });
  });

  const synced = () => (isSynced ? Promise.resolve() : new Promise<void>((r) => syncWaiters.push(r)));
  const acked = () =>
    pending === 0 ? Promise.resolve() : new Promise<void>((resolve, reject) => ackWaiters.push({ resolve, reject }));
  const peer: Peer = {
    roomId,
    doc,
    awareness,
    socket,
    records: doc.getMap('tl_records'),
    errors,
    nacks,
    synced,
    acked,
    disconnect: () => socket.disconnect(),
    reconnect: () => {
      socket.connect();
      return synced();
    },
    close: () => {
      if (socket.connected && joined) socket.emit(EV.roomLeave, { roomId });
      socket.disconnect();
      awareness.destroy();
      doc.destroy();
    },
  };
  if (opts.waitSync !== false) await withTimeout(synced(), 10_000, `peer did not sync room ${roomId}`);
  return peer;
}

/** Poll `pred` until it is true; reject with `what` after `timeoutMs`. */
export async function until(pred: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

/** The link tokens of rooms made by createRoom, by room id: connectPeer joins with them. */
const roomTokens = new Map<string, Record<Role, string>>();

/** A shared room created the way the landing page does (POST /api/rooms); connectPeer then joins
 * it with its editor link (or `role`'s). Returns the room id. */
export async function createRoom(url: string): Promise<string> {
  const res = await fetch(`${url}${ROOMS_PATH}`, { method: 'POST' });
  if (res.status !== 201) throw new Error(`POST ${ROOMS_PATH} answered ${res.status}: ${await res.text()}`);
  const created = CreatedRoom.parse(await res.json());
  const token = (link: string) => tokenFromHash(link.slice(link.indexOf('#')))!;
  roomTokens.set(created.roomId, { owner: token(created.links.owner), editor: token(created.links.editor), viewer: token(created.links.viewer) });
  return created.roomId;
}

/** The token of one of createRoom's links. */
export function roomToken(roomId: string, role: Role = 'editor'): string {
  const t = roomTokens.get(roomId)?.[role];
  if (!t) throw new Error(`room ${roomId} was not made by createRoom`);
  return t;
}

/** A random room id matching ROOM_ID_PATTERN (a room that does not exist: joining it is refused). */
export function randomRoomId(): string {
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
  let s = '';
  for (let i = 0; i < 16; i++) s += abc[Math.floor(Math.random() * abc.length)];
  return s;
}

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** A tldraw 5 freehand draw shape record that tldraw's validators accept: `path` is tldraw's
 * delta-encoded base64 (first point as 3×Float32, then 3×Float16 deltas per point) of a small
 * deterministic wiggle, and `index` a valid fractional-index integer key ('c' + three base-62
 * digits: 238,328 distinct keys in order, never ending a fraction in 0). */
export function drawShape(i: number, points = 40): Record<string, unknown> {
  if (i < 0 || i >= BASE62.length ** 3) throw new RangeError(`drawShape index ${i} out of range`);
  const first = new Float32Array([0, 0, 0.5]);
  const deltas = new Float32Array(3 * (points - 1));
  for (let k = 0; k < points - 1; k++) {
    deltas[3 * k] = 1 + ((k * 7 + i) % 5); // x: 1..5 px
    deltas[3 * k + 1] = ((k * 13 + i * 3) % 9) - 4; // y: -4..4 px
    deltas[3 * k + 2] = 0; // pressure unchanged
  }
  const bytes = Buffer.concat([Buffer.from(first.buffer), Buffer.from(float32ToFloat16(deltas).buffer)]);
  return {
    id: `shape:draw${i}`,
    typeName: 'shape',
    type: 'draw',
    x: (i % 50) * 60,
    y: Math.floor(i / 50) * 60,
    rotation: 0,
    index: `c${BASE62[Math.floor(i / 3844)]}${BASE62[Math.floor(i / 62) % 62]}${BASE62[i % 62]}`,
    parentId: 'page:page',
    isLocked: false,
    opacity: 1,
    meta: {},
    props: {
      segments: [{ type: 'free', path: bytes.toString('base64') }],
      color: 'black',
      fill: 'none',
      dash: 'draw',
      size: 'm',
      isComplete: true,
      isClosed: false,
      isPen: false,
      scale: 1,
      scaleX: 1,
      scaleY: 1,
    },
  };
}

/** Compare two record maps key by key (Y.Map key order differs between peers). */
export function recordsOf(map: Y.Map<unknown>): Record<string, unknown> {
  return Object.fromEntries([...map.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

if (process.argv[1] && import.meta.filename === realpathSync(process.argv[1])) {
  const [url, roomId, name = 'peer'] = process.argv.slice(2);
  if (!url || !roomId) {
    console.error('usage: node --import tsx test/helpers/yclient.ts <url> <roomId> [name]');
    process.exit(2);
  }
  connectPeer(url, roomId, { user: { name, color: '#3366ff' } }).then(
    (p) => process.stdout.write(`ready ${p.doc.clientID}\n`),
    (err: Error) => {
      console.error(`peer failed: ${err.message}`);
      process.exit(1);
    },
  );
}

/** Adds a live frame (128², output 128², prompt "a cat" unless `props` say otherwise) to the peer's
 * room and waits for the server's ack; returns its id. */
export async function addLiveFrame(peer: Peer, props: Partial<LiveFrameProps> = {}, id = `shape:live-${randomBytes(3).toString('hex')}`): Promise<string> {
  peer.records.set(id, liveFrameRecord(id, { w: 128, h: 128, prompt: 'a cat', outputSize: 128, ...props }));
  await peer.acked();
  return id;
}
