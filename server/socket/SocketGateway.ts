// Everything a client socket can send passes through here: rate limiting, payload validation with
// the zod schemas of lib/protocol, the "has this socket joined this room" check, error events,
// and disconnection of sockets that keep sending bad messages. Server features add their own room
// events with `registerRoomEvent` and get the same treatment.
import type { Server, Socket } from 'socket.io';
import type { z } from 'zod';
import { ACCESS_EV, HandshakeAuth, roleAtLeast, type Role, type RoomRevoked } from '../../lib/protocol/access';
import { EV, RoomJoin, RoomLeave, YAwareness, YSync, type ErrorEvent } from '../../lib/protocol/events';
import type { AccessControl } from '../auth/AccessControl';
import { MAX_SOCKET_BUFFER_BYTES, MAX_YJS_MESSAGE_BYTES, OUTGOING_BYTE_RATE_LIMIT } from '../../lib/protocol/limits';
import type { Logger } from '../logger';
import { RoomFullError, StoreWriteError, type AwarenessRefusal, type Room } from '../rooms/Room';
import type { RoomManager } from '../rooms/RoomManager';
import { InvalidChangeError } from '../rooms/documentRules';
import { MalformedMessageError } from '../rooms/yjsMessages';
import { refuseOtherNames, refuseViewerWrites, type Grant } from './grants';
import { ForeignClientError } from '../rooms/yjsWriters';
import { ClientError, clientErrorFromZod } from './ClientError';
import { OutboundGuard } from './OutboundGuard';
import type { AddressBudgets } from './AddressBudgets';
import { IncomingBudget } from './IncomingBudget';
import { ViolationWindow, payloadBytes } from './SocketGuard';

/** One socket may be in this many rooms at once; each loaded room costs memory. */
export const MAX_ROOMS_PER_SOCKET = 8;

/** Dropped awareness entries are reported once per (room, client id, reason) and socket; past
 * this many distinct ones a socket gets no more reports. */
const MAX_AWARENESS_REPORTS = 64;

export interface RoomEventContext<T> {
  socket: Socket;
  /** the loaded room named by `payload.roomId`; the socket has joined it */
  room: Room;
  payload: T;
}

/** Return an object to add fields to the ack (`{ok: true, ...result}`); throw a ClientError to
 * reject the message with a protocol error code. */
export type RoomEventHandler<T> = (ctx: RoomEventContext<T>) => unknown;

export interface SocketGatewayOptions {
  io: Server;
  rooms: RoomManager;
  logger: Logger;
  rateLimit: { perSecond: number; burst: number };
  byteRateLimit: { perSecond: number; burst: number };
  violations: { max: number; windowMs: number };
  /** what a socket can make the server send (OutboundGuard); defaults from lib/protocol/limits */
  outgoing?: { rate: { perSecond: number; burst: number }; maxBufferBytes: number };
  /** decides each join's role from the handshake's link token */
  access: AccessControl;
  /** per client address, over all its sockets (MAX_SOCKETS_PER_ADDRESS, ADDRESS_BYTES_*) */
  addresses?: AddressBudgets;
}


type Ack = (response: unknown) => void;

interface Guard {
  incoming: IncomingBudget;
  violations: ViolationWindow;
  /** `${roomId}/${clientID}/${code}` of dropped awareness entries already reported */
  awarenessReported: Set<string>;
}

type Handler = (socket: Socket, raw: unknown, respond: (result?: unknown) => void) => unknown;

export class SocketGateway {
  private readonly log: Logger;
  private readonly guards = new WeakMap<Socket, Guard>();
  /** per socket: roomId → its grant there */
  private readonly grants = new WeakMap<Socket, Map<string, Grant>>();
  private readonly handlers = new Map<string, Handler>();
  /** events carrying the latest value of something: over the byte budget they are refused
   * without counting a violation (see registerRoomEvent's `stream`) */
  private readonly streams = new Set<string>();
  /** replies paid from a per-socket outgoing budget, one at a time; sockets that do not read are cut */
  private readonly outbound: OutboundGuard;

  constructor(private readonly opts: SocketGatewayOptions) {
    this.log = opts.logger.child({ module: 'socket' });
    this.outbound = new OutboundGuard({
      rooms: opts.rooms,
      logger: opts.logger,
      rate: opts.outgoing?.rate ?? OUTGOING_BYTE_RATE_LIMIT,
      maxBufferBytes: opts.outgoing?.maxBufferBytes ?? MAX_SOCKET_BUFFER_BYTES,
    });
    this.handlers.set(EV.roomJoin, (socket, raw, respond) => this.onJoin(socket, raw, respond));
    this.handlers.set(EV.roomLeave, (socket, raw) => {
      const { roomId } = parse(RoomLeave, raw, EV.roomLeave);
      opts.rooms.leave(roomId, socket);
      this.grants.get(socket)?.delete(roomId);
    });
    this.handlers.set(EV.ySync, async (socket, raw) => {
      const { roomId, data } = parseYSync(raw);
      const room = this.joinedRoom(socket, roomId);
      // a viewer syncs (step 1, and empty answers) but writes nothing: never stored nor broadcast
      if (this.grants.get(socket)?.get(roomId)?.role === 'viewer') refuseViewerWrites(data);
      const step1 = await malformedAsClientError(() => room.handleSyncMessage(data, socket.id));
      // answered when its outgoing budget allows; a later step 1 replaces a waiting one
      if (step1) this.outbound.requestStep2(socket, roomId, step1.step1);
    });
    this.handlers.set(EV.yAwareness, async (socket, raw) => {
      const { roomId, data } = parse(YAwareness, raw, EV.yAwareness);
      const room = this.joinedRoom(socket, roomId);
      const fixedName = this.grants.get(socket)?.get(roomId)?.fixedName;
      if (fixedName !== undefined) refuseOtherNames(data, fixedName);
      const refused = await malformedAsClientError(() => room.presence.handle(data, socket.id));
      if (refused.length === 0) return undefined;
      this.reportAwarenessRefusals(socket, roomId, refused);
      return { dropped: refused.map((r) => r.clientID) };
    });
    opts.io.on('connection', (socket) => this.onConnection(socket));
  }

  /**
   * Add a client → server event about a room. `schema` must parse the payload into an object with
   * a `roomId`; the handler only runs for valid payloads from sockets that joined that room, after
   * rate limiting. Its result (or `{ok:true}`) answers the client's ack, if it sent one.
   * `stream: true` marks an event that carries the latest value of something and that clients
   * resend when refused (e.g. a frame's content while someone draws): over the byte budget it is
   * refused with `rate-limited` like any event, but that does not count towards a disconnect.
   */
  registerRoomEvent<S extends z.ZodType<{ roomId: string }>>(
    name: string,
    schema: S,
    handler: RoomEventHandler<z.output<S>>,
    opts: { stream?: boolean; role?: Role } = {},
  ): void {
    if (this.handlers.has(name)) throw new Error(`socket event ${name} is already registered`);
    if (opts.stream) this.streams.add(name);
    const needed = opts.role ?? 'editor';
    const h: Handler = (socket, raw) => {
      const payload = parse(schema, raw, name);
      const room = this.joinedRoom(socket, payload.roomId);
      this.requireRole(socket, payload.roomId, needed, name);
      return handler({ socket, room, payload });
    };
    this.handlers.set(name, h);
    for (const socket of this.opts.io.of('/').sockets.values()) this.bind(socket, name, h);
  }

  /** Send an `lc:error` to one socket without counting a violation (e.g. a failed render). */
  sendError(socket: Socket, error: ErrorEvent): void {
    socket.emit(EV.error, error);
  }

  private onConnection(socket: Socket): void {
    const { rateLimit, violations, addresses } = this.opts;
    const guard: Guard = {
      incoming: new IncomingBudget(
        { events: rateLimit, bytes: this.opts.byteRateLimit },
        addresses && { budgets: addresses, address: addresses.addressOf(socket.request) },
      ),
      violations: new ViolationWindow(violations.max, violations.windowMs),
      awarenessReported: new Set(),
    };
    this.guards.set(socket, guard);
    this.outbound.add(socket);
    // Runs before any handler, for every incoming event, known or not.
    socket.use((packet, next) => {
      // Echoed in errors and logs: keep whatever a client sent as event name short.
      const event = String(packet[0]).slice(0, 64);
      const ack = typeof packet[packet.length - 1] === 'function' ? (packet[packet.length - 1] as Ack) : undefined;
      const size = payloadBytes(packet.slice(1));
      const refused = guard.incoming.take(event, size);
      const limited = refused?.message ?? null;
      const violation = !refused?.bytes || !this.streams.has(packet[0]);
      if (limited !== null) {
        if (packet[0] === EV.yAwareness) {
          // Presence is a stream of latest values: dropping some costs nothing, and an honest
          // client moving its cursor fast must never be disconnected for it.
          ack?.({ ok: false, error: { code: 'rate-limited', message: limited } });
          return;
        }
        this.reject(socket, event, new ClientError('rate-limited', limited, { violation }), ack, packet[1]);
        return;
      }
      if (!this.handlers.has(packet[0])) {
        this.reject(socket, event, new ClientError('invalid-message', `unknown event ${JSON.stringify(event)}`), ack, packet[1]);
        return;
      }
      next();
    });
    for (const [name, h] of this.handlers) this.bind(socket, name, h);
    socket.on('disconnect', (reason) => {
      this.outbound.remove(socket);
      this.opts.rooms.leaveAll(socket);
      this.log.debug({ socket: socket.id, reason }, 'socket disconnected');
    });
    socket.on('error', (err) => this.log.warn({ err, socket: socket.id }, 'socket error'));
    this.log.debug({ socket: socket.id }, 'socket connected');
  }

  private bind(socket: Socket, event: string, handler: Handler): void {
    socket.on(event, async (...args: unknown[]) => {
      const ack = typeof args[args.length - 1] === 'function' ? (args.pop() as Ack) : undefined;
      const raw = args[0];
      let answered = false;
      const respond = (result?: unknown) => {
        if (answered) return;
        answered = true;
        ack?.(result && typeof result === 'object' ? { ok: true, ...result } : { ok: true });
      };
      try {
        const result = await handler(socket, raw, respond);
        respond(result);
      } catch (e) {
        if (answered) {
          this.log.error({ err: e, event, socket: socket.id }, 'handler failed after answering');
          return;
        }
        answered = true;
        this.reject(socket, event, e, ack, raw);
      }
    });
  }

  private reject(socket: Socket, event: string, e: unknown, ack: Ack | undefined, raw: unknown): void {
    const roomId = roomIdOf(raw);
    let error: ClientError;
    if (e instanceof ClientError) {
      error = e;
    } else {
      this.log.error({ err: e, event, socket: socket.id, room: roomId }, 'socket handler failed');
      error = new ClientError('server-error', `${event}: the server failed to handle this message; it has been logged`);
    }
    const body: ErrorEvent = { code: error.code, message: error.message, event, ...(roomId && { roomId }) };
    socket.emit(EV.error, body);
    ack?.({ ok: false, error: { code: error.code, message: error.message } });
    if (error.code === 'server-error' || !error.violation) return;
    this.log.debug({ socket: socket.id, code: error.code, event }, 'message rejected');
    if (this.guards.get(socket)?.violations.record() && socket.connected) {
      const { max, windowMs } = this.opts.violations;
      this.log.warn({ socket: socket.id, address: socket.handshake.address, lastCode: error.code }, 'disconnecting a socket that keeps sending bad messages');
      socket.emit(EV.error, {
        code: error.code,
        message: `${max} rejected messages within ${windowMs / 1000} s; disconnecting`,
        event,
      } satisfies ErrorEvent);
      socket.disconnect(true);
    }
  }

  /** One lc:error per dropped kind of awareness entry (the same cursor moving 30 times a second
   * would otherwise produce 30 errors a second); never a violation: a reconnecting client whose
   * old connection is not timed out yet sends such entries too. */
  private reportAwarenessRefusals(socket: Socket, roomId: string, refused: AwarenessRefusal[]): void {
    const reported = this.guards.get(socket)?.awarenessReported;
    if (!reported) return;
    for (const r of refused) {
      const key = `${roomId}/${r.clientID}/${r.code}`;
      if (reported.has(key) || reported.size >= MAX_AWARENESS_REPORTS) continue;
      reported.add(key);
      this.sendError(socket, { code: r.code, message: `${EV.yAwareness}: ${r.message}`, event: EV.yAwareness, roomId });
    }
  }

  /** The one place a socket gets a role in a room: its handshake's link token, checked by
   * AccessControl.roleFor (an unknown room is refused, never created). */
  private async onJoin(socket: Socket, raw: unknown, respond: (result?: unknown) => void): Promise<void> {
    const { roomId, user } = parse(RoomJoin, raw, EV.roomJoin);
    const rooms = this.opts.rooms;
    const already = rooms.get(roomId)?.hasClient(socket.id) ?? false;
    if (!already && rooms.roomsOf(socket.id).length >= MAX_ROOMS_PER_SOCKET) {
      throw new ClientError('invalid-room', `already in ${MAX_ROOMS_PER_SOCKET} rooms; leave one before joining another`);
    }
    const auth = HandshakeAuth.safeParse(socket.handshake.auth ?? {});
    const decision = await this.opts.access.roleFor(roomId, auth.success ? auth.data.token : undefined);
    if (!decision.ok) throw new ClientError(decision.code, `${EV.roomJoin}: ${decision.message}`, { violation: false });
    if (!socket.connected) return;
    // a name fixed by a single-sign-on token is the one others see
    if (user || decision.name) socket.data.user = { ...(user ?? { color: '#888888' }), ...(decision.name && { name: decision.name }) };
    this.grantsOf(socket).set(roomId, { role: decision.role, version: decision.version, fixedName: decision.name });
    const room = await rooms.join(roomId, socket);
    if (!room) return; // disconnected while the room loaded
    respond({ role: decision.role, open: decision.open, ...(decision.name && { name: decision.name }) });
    // The server's half of the sync: its state vector (the client answers with what the server
    // lacks, e.g. offline edits) and everyone's presence — the latter, like any reply that can be
    // large, from the socket's outgoing budget (joining again and again costs the joiner).
    const step1 = room.syncStep1Message();
    this.outbound.charge(socket, step1.byteLength);
    socket.emit(EV.ySync, { roomId, data: step1 });
    this.outbound.requestAwareness(socket, roomId);
  }

  private joinedRoom(socket: Socket, roomId: string): Room {
    const room = this.opts.rooms.get(roomId);
    if (!room || !room.hasClient(socket.id)) {
      throw new ClientError('not-joined', `not in room ${roomId}; emit ${EV.roomJoin} first`);
    }
    return room;
  }

  /** What a reply a feature sends (e.g. a renders replay) may weigh now, from the socket's outgoing
   * budget; `chargeOutgoing` pays for what was sent. */
  outgoingAllowance(socket: Socket): number {
    return this.outbound.allowance(socket);
  }

  chargeOutgoing(socket: Socket, bytes: number): void {
    this.outbound.charge(socket, bytes);
  }

  /** The role a joined socket holds in a room (undefined when it has not joined it). */
  roleOf(socketId: string, roomId: string): Role | undefined {
    const socket = this.opts.io.of('/').sockets.get(socketId);
    return socket ? this.grants.get(socket)?.get(roomId)?.role : undefined;
  }

  /** Tell the sockets of a room whose grant matches why they lose access, and disconnect them. */
  revoke(roomId: string, which: (grant: Grant) => boolean, reason: string): number {
    let n = 0;
    for (const socket of this.opts.io.of('/').sockets.values()) {
      const grant = this.grants.get(socket)?.get(roomId);
      if (!grant || !which(grant)) continue;
      socket.emit(ACCESS_EV.revoked, { roomId, reason } satisfies RoomRevoked);
      // after the event has gone out: disconnect(true) would close before the buffer is flushed
      setImmediate(() => socket.disconnect(true));
      n++;
    }
    if (n) this.log.info({ room: roomId, sockets: n, reason }, 'access revoked');
    return n;
  }

  private grantsOf(socket: Socket): Map<string, Grant> {
    let g = this.grants.get(socket);
    if (!g) this.grants.set(socket, (g = new Map()));
    return g;
  }

  /** Refuses what the socket's role in the room may not do. */
  private requireRole(socket: Socket, roomId: string, needed: Role, what: string): void {
    const role = this.grants.get(socket)?.get(roomId)?.role ?? 'viewer';
    if (!roleAtLeast(role, needed)) {
      throw new ClientError('forbidden', `${what}: your link to this room is a ${role} link; this needs the ${needed} role`, { violation: false });
    }
  }
}

function parse<S extends z.ZodType>(schema: S, raw: unknown, event: string): z.output<S> {
  const r = schema.safeParse(raw);
  if (!r.success) throw clientErrorFromZod(r.error, event);
  return r.data;
}

/** YSync, with a refusal of an oversized message that says what to do about it. */
function parseYSync(raw: unknown) {
  try {
    return parse(YSync, raw, EV.ySync);
  } catch (e) {
    if (!(e instanceof ClientError) || e.code !== 'too-large') throw e;
    const data = (raw as { data?: { byteLength?: unknown } }).data;
    const size = typeof data?.byteLength === 'number' ? `${(data.byteLength / 1048576).toFixed(2)} MB` : 'too large';
    throw new ClientError(
      'too-large',
      `${EV.ySync}: message is ${size}, over the ${MAX_YJS_MESSAGE_BYTES / 1048576} MB limit; nothing was applied. Send changes this large (e.g. a sync step 2 after long offline editing) as several update messages of at most ${MAX_YJS_MESSAGE_BYTES / 1048576} MB, each a complete Yjs update that applies after the previous ones`,
    );
  }
}

async function malformedAsClientError<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    return clientErrorOf(e);
  }
}

/** The ClientError a room's refusal becomes (rethrows anything else). */
function clientErrorOf(e: unknown): never {
  if (e instanceof MalformedMessageError) throw new ClientError('malformed-update', e.message);
  // Not a violation: a client of another build (e.g. a tab open across a deploy) writes such
  // records in good faith; it is told, and its provider joins again.
  if (e instanceof InvalidChangeError) {
    throw new ClientError('invalid-message', `${e.message}; the update was not applied`, { violation: false });
  }
  // Not a violation either: a page reconnecting before its old connection timed out meets it.
  if (e instanceof ForeignClientError) throw new ClientError('invalid-message', e.message, { violation: false });
  // Not the sender's fault: a full room refuses everyone's additions alike.
  if (e instanceof RoomFullError) throw new ClientError('too-large', e.message, { violation: false });
  // The disk failed, not the client: reported, never counted towards a disconnect.
  if (e instanceof StoreWriteError) throw new ClientError('server-error', e.message, { violation: false });
  throw e;
}


function roomIdOf(raw: unknown): string | undefined {
  const id = raw && typeof raw === 'object' ? (raw as { roomId?: unknown }).roomId : undefined;
  return typeof id === 'string' && id.length <= 64 ? id : undefined;
}

