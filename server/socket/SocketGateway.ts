// Everything a client socket can send passes through here: rate limiting, payload validation with
// the zod schemas of lib/protocol, the "has this socket joined this room" check, error events,
// and disconnection of sockets that keep sending bad messages. Server features add their own room
// events with `registerRoomEvent` and get the same treatment.
import type { Server, Socket } from 'socket.io';
import type { z } from 'zod';
import { EV, RoomJoin, RoomLeave, YAwareness, YSync, type ErrorEvent } from '../../lib/protocol/events';
import type { Logger } from '../logger';
import type { Room } from '../rooms/Room';
import type { RoomManager } from '../rooms/RoomManager';
import { MalformedMessageError } from '../rooms/yjsMessages';
import { ClientError, clientErrorFromZod } from './ClientError';
import { TokenBucket, ViolationWindow } from './SocketGuard';

/** One socket may be in this many rooms at once; each loaded room costs memory. */
export const MAX_ROOMS_PER_SOCKET = 8;

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
  violations: { max: number; windowMs: number };
}

type Ack = (response: unknown) => void;

interface Guard {
  bucket: TokenBucket;
  violations: ViolationWindow;
}

type Handler = (socket: Socket, raw: unknown, respond: (result?: unknown) => void) => unknown;

export class SocketGateway {
  private readonly log: Logger;
  private readonly guards = new WeakMap<Socket, Guard>();
  private readonly handlers = new Map<string, Handler>();

  constructor(private readonly opts: SocketGatewayOptions) {
    this.log = opts.logger.child({ module: 'socket' });
    this.handlers.set(EV.roomJoin, (socket, raw, respond) => this.onJoin(socket, raw, respond));
    this.handlers.set(EV.roomLeave, (socket, raw) => {
      const { roomId } = parse(RoomLeave, raw, EV.roomLeave);
      opts.rooms.leave(roomId, socket);
    });
    this.handlers.set(EV.ySync, (socket, raw) => {
      const { roomId, data } = parse(YSync, raw, EV.ySync);
      const room = this.joinedRoom(socket, roomId);
      const reply = malformedAsClientError(() => room.handleSyncMessage(data, socket.id));
      if (reply) socket.emit(EV.ySync, { roomId, data: reply });
    });
    this.handlers.set(EV.yAwareness, (socket, raw) => {
      const { roomId, data } = parse(YAwareness, raw, EV.yAwareness);
      const room = this.joinedRoom(socket, roomId);
      malformedAsClientError(() => room.handleAwarenessMessage(data, socket.id));
    });
    opts.io.on('connection', (socket) => this.onConnection(socket));
  }

  /**
   * Add a client → server event about a room. `schema` must parse the payload into an object with
   * a `roomId`; the handler only runs for valid payloads from sockets that joined that room, after
   * rate limiting. Its result (or `{ok:true}`) answers the client's ack, if it sent one.
   */
  registerRoomEvent<S extends z.ZodType<{ roomId: string }>>(
    name: string,
    schema: S,
    handler: RoomEventHandler<z.output<S>>,
  ): void {
    if (this.handlers.has(name)) throw new Error(`socket event ${name} is already registered`);
    const h: Handler = (socket, raw) => {
      const payload = parse(schema, raw, name);
      const room = this.joinedRoom(socket, payload.roomId);
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
    const { rateLimit, violations } = this.opts;
    this.guards.set(socket, {
      bucket: new TokenBucket(rateLimit.perSecond, rateLimit.burst),
      violations: new ViolationWindow(violations.max, violations.windowMs),
    });
    // Runs before any handler, for every incoming event, known or not.
    socket.use((packet, next) => {
      // Echoed in errors and logs: keep whatever a client sent as event name short.
      const event = String(packet[0]).slice(0, 64);
      const ack = typeof packet[packet.length - 1] === 'function' ? (packet[packet.length - 1] as Ack) : undefined;
      if (!this.guards.get(socket)!.bucket.take()) {
        const { perSecond, burst } = this.opts.rateLimit;
        const msg = `${event}: too many messages (limit ${perSecond}/s, burst ${burst}); slow down`;
        this.reject(socket, event, new ClientError('rate-limited', msg), ack, packet[1]);
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
    if (error.code === 'server-error') return;
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

  private onJoin(socket: Socket, raw: unknown, respond: (result?: unknown) => void): void {
    const { roomId, user } = parse(RoomJoin, raw, EV.roomJoin);
    const rooms = this.opts.rooms;
    const already = rooms.get(roomId)?.hasClient(socket.id) ?? false;
    if (!already && rooms.roomsOf(socket.id).length >= MAX_ROOMS_PER_SOCKET) {
      throw new ClientError('invalid-room', `already in ${MAX_ROOMS_PER_SOCKET} rooms; leave one before joining another`);
    }
    if (user) socket.data.user = user;
    const room = rooms.join(roomId, socket);
    respond();
    // The server's half of the sync: its state vector (the client answers with what the server
    // lacks, e.g. offline edits) and everyone's presence.
    socket.emit(EV.ySync, { roomId, data: room.syncStep1Message() });
    const awareness = room.awarenessMessage();
    if (awareness) socket.emit(EV.yAwareness, { roomId, data: awareness });
  }

  private joinedRoom(socket: Socket, roomId: string): Room {
    const room = this.opts.rooms.get(roomId);
    if (!room || !room.hasClient(socket.id)) {
      throw new ClientError('not-joined', `not in room ${roomId}; emit ${EV.roomJoin} first`);
    }
    return room;
  }
}

function parse<S extends z.ZodType>(schema: S, raw: unknown, event: string): z.output<S> {
  const r = schema.safeParse(raw);
  if (!r.success) throw clientErrorFromZod(r.error, event);
  return r.data;
}

function malformedAsClientError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof MalformedMessageError) throw new ClientError('malformed-update', e.message);
    throw e;
  }
}

function roomIdOf(raw: unknown): string | undefined {
  const id = raw && typeof raw === 'object' ? (raw as { roomId?: unknown }).roomId : undefined;
  return typeof id === 'string' && id.length <= 64 ? id : undefined;
}
