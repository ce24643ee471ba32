// What a feature (the render loop, uploads) gets from the server to attach itself to: kept apart
// from server/index.ts so features import this type, not the module that imports them.
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type Redis from 'ioredis';
import type { Server as SocketServer } from 'socket.io';
import type { AccessControl } from './auth/AccessControl';
import type { ReadAuthorizer } from './auth/accessRoutes';
import type { ServerConfig } from './config';
import type { HealthRegistry } from './http/health';
import type { HttpRoutes } from './http/requestHandler';
import type { Logger } from './logger';
import type { RoomManager } from './rooms/RoomManager';
import type { SocketGateway } from './socket/SocketGateway';
import type { RoomStore } from './store/RoomStore';

export interface OtherNodes {
  tell(event: string, payload: unknown): void;
  on(event: string, fn: (payload: unknown) => void): void;
}

export interface LivecanvasServer {
  config: ServerConfig;
  logger: Logger;
  httpServer: HttpServer;
  io: SocketServer;
  store: RoomStore;
  rooms: RoomManager;
  /** registerRoomEvent(name, schema, handler): validated, rate-limited, joined-room-only events */
  sockets: SocketGateway;
  /** health.register(name, provider): extra /healthz fields */
  health: HealthRegistry;
  /** routes.add(prefix, handler): HTTP routes served before the web app */
  routes: HttpRoutes;
  /** roles from room links: roleFor(roomId, token), createRoom, rotate */
  access: AccessControl;
  /** what every HTTP read of a room's data calls first (renders, uploads, pinned assets) */
  authorizeRead: ReadAuthorizer;
  /** the cluster's other nodes (cluster mode; in single-machine mode `tell` does nothing): a
   * feature tells them what happened here with `tell(event, payload)` and hears them with `on` */
  otherNodes: OtherNodes;
  /** cluster mode: a new connection to the cluster's Redis for a feature (closed on close());
   * null on a single machine */
  redisConnection: ((purpose: string) => Redis) | null;
  /** run `fn` during close(), before rooms are flushed and the database is closed */
  onClose(fn: () => unknown): void;
  listen(): Promise<AddressInfo>;
  /** Stop accepting clients, disconnect them, compact and unload every room, close the db. */
  close(): Promise<void>;
}
