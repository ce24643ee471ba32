// The one Livecanvas process: Next.js (app router) and Socket.IO on the same HTTP server, rooms
// with Yjs sync persisted in SQLite, /healthz. Features (the render loop) attach to the object
// `createLivecanvasServer` returns; see docs/architecture.md, "Server extension points".
import { realpathSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { Server as SocketServer } from 'socket.io';
import { MAX_SNAPSHOT_BYTES, MAX_YJS_MESSAGE_BYTES } from '../lib/protocol/limits';
import { ConfigError, loadConfig, type ServerConfig } from './config';
import { HealthRegistry } from './http/health';
import { socketOriginCheck } from './http/origins';
import { AddressBudgets } from './socket/AddressBudgets';
import { HttpRoutes, createRequestHandler, type NextHandler } from './http/requestHandler';
import { securityHeaders } from './http/securityHeaders';
import { createLogger, type Logger } from './logger';
import type { LivecanvasServer } from './LivecanvasServer';
import { attachAccess } from './auth/attachAccess';
import { createAccessControl } from './auth/createAccessControl';
import { accessRoutes, readAuthorizer } from './auth/accessRoutes';
import { ROOMS_PATH } from '../lib/protocol/access';
import { attachRender } from './render/attachRender';
import { RoomManager } from './rooms/RoomManager';
import { SocketGateway } from './socket/SocketGateway';
import { attachStorage } from './store/attachStorage';
import { openRoomStore } from './store/openRoomStore';
import { ClusterLink } from './cluster/ClusterLink';
import { attachClusterHealth } from './cluster/clusterHealth';
import { attachUploads } from './uploads/attachUploads';

/** Engine.io drops a connection whose single message exceeds this. It is twice the largest
 * message the protocol allows, so an oversized Yjs message or snapshot still reaches our
 * validator and gets an `lc:error` (too-large) instead of a silent disconnect. */
export const MAX_SOCKET_MESSAGE_BYTES = 2 * Math.max(MAX_YJS_MESSAGE_BYTES, MAX_SNAPSHOT_BYTES);

/** A stop that takes longer than this (compacting many big rooms, a stuck hook) exits anyway;
 * the update log still holds everything, so nothing acknowledged is lost. */
const SHUTDOWN_TIMEOUT_MS = 10_000;


export type { LivecanvasServer };

export async function createLivecanvasServer(config: ServerConfig, logger = createLogger(config.logLevel)): Promise<LivecanvasServer> {
  let nextHandler: NextHandler | null = null;
  let closeNext: (() => Promise<void>) | null = null;
  if (config.web) {
    const { default: next } = await import('next');
    const app = next({ dev: config.dev, dir: config.root, hostname: config.host, port: config.port });
    try {
      await app.prepare();
    } catch (e) {
      throw new Error(
        config.dev
          ? `Next.js failed to start: ${(e as Error).message}`
          : `Next.js failed to start (${(e as Error).message}); run \`npm run build\` first or use \`npm start\`, which builds when needed`,
      );
    }
    nextHandler = app.getRequestHandler() as NextHandler;
    closeNext = () => app.close();
  }

  // SQLite: refuses to open a lost database of a directory that held rooms; checks the file.
  // PostgreSQL (DATABASE_URL): connects and creates or migrates the schema.
  const store = await openRoomStore(config, logger);
  // The request listener must exist before Socket.IO attaches: engine.io wraps the listeners
  // present at that moment so that /socket.io/ requests never reach them.
  let onRequest: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(503).end();
  const httpServer = createServer((req, res) => onRequest(req, res));
  const addresses = new AddressBudgets(config.addressLimits, config.http.trustProxy, logger.child({ module: 'addresses' }));
  const originCheck = socketOriginCheck(config.http, logger);
  const io = new SocketServer(httpServer, {
    maxHttpBufferSize: MAX_SOCKET_MESSAGE_BYTES,
    // A client that vanished without closing its connection (network loss, frozen tab) is
    // dropped — and its cursor removed — after at most pingInterval + pingTimeout.
    pingInterval: config.ping.intervalMs,
    pingTimeout: config.ping.timeoutMs,
    // Next.js handles its own upgrades (HMR in dev); don't let engine.io close them.
    destroyUpgrade: !config.web,
    // Pages of other origins may not connect (their browsers send Origin; scripts send none),
    // nor an address that holds MAX_SOCKETS_PER_ADDRESS connections already.
    allowRequest: (req, callback) =>
      originCheck(req, (err, ok) => {
        const refused = ok ? addresses.allowHandshake(req) : err;
        callback(refused, refused === null);
      }),
  });
  io.engine.on('connection', (raw: Parameters<AddressBudgets['track']>[0]) => addresses.track(raw));
  // nosniff, Referrer-Policy, HSTS and the page CSP (with its nonce) on every response, Socket.IO's too.
  httpServer.prependListener('request', securityHeaders({ dev: config.dev, hstsMaxAgeS: config.http.hstsMaxAgeS }));
  // cluster mode: the Socket.IO Redis adapter, the document relay, heartbeats
  const { redisUrl, nodeId } = config.cluster;
  let link: ClusterLink | null = null;
  try {
    if (redisUrl) link = await ClusterLink.connect(redisUrl, nodeId, io, logger);
  } catch (e) {
    await store.close().catch(() => {});
    throw e;
  }
  const access = await createAccessControl(config, store);
  const rooms = new RoomManager({
    store,
    io,
    logger,
    compactEvery: config.compactEvery,
    compactIntervalMs: config.compactIntervalMs,
    maxRoomBytes: config.maxRoomBytes,
    replication: link?.relay,
  });
  link?.attach(rooms);
  const sockets = new SocketGateway({
    io,
    rooms,
    logger,
    rateLimit: config.rateLimit,
    byteRateLimit: config.byteRateLimit,
    violations: config.violations,
    outgoing: config.outgoing,
    access,
    addresses,
  });
  const health = new HealthRegistry(config.root, () => ({ rooms: rooms.size, clients: io.of('/').sockets.size }));
  const routes = new HttpRoutes();
  const { roomsPerHour } = config.access;
  routes.add(
    ROOMS_PATH,
    accessRoutes(access, { roomsPerHour, trustProxy: config.http.trustProxy, creations: link?.sharedLimit('rooms-created', roomsPerHour / 3600, roomsPerHour) }),
  );
  const authorizeRead = readAuthorizer(access);
  const stopStorage = attachStorage({ store, rooms, health });
  const stopClusterHealth = attachClusterHealth(health, store, link, nodeId);
  onRequest = createRequestHandler(health, routes, nextHandler, logger);

  const closeHooks: Array<() => unknown> = [];
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      for (const fn of closeHooks) {
        try {
          await fn();
        } catch (err) {
          logger.error({ err }, 'close hook failed');
        }
      }
      // Disconnecting the sockets unloads (and compacts) their rooms; closeAll catches the rest.
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await rooms.closeAll();
      stopClusterHealth();
      stopStorage();
      await link?.close();
      await store.close();
      if (closeNext) await closeNext().catch((err) => logger.warn({ err }, 'Next.js did not close cleanly'));
      if (httpServer.listening) await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    })());

  const listen = () =>
    new Promise<AddressInfo>((resolve, reject) => {
      httpServer.once('error', reject);
      httpServer.listen(config.port, config.host, () => {
        httpServer.off('error', reject);
        resolve(httpServer.address() as AddressInfo);
      });
    });

  // Socket.IO's server-side events cross nodes through the Redis adapter (its in-memory adapter
  // has no other nodes and only warns).
  const otherNodes: LivecanvasServer['otherNodes'] = {
    tell: (event, payload) => {
      if (link) io.serverSideEmit(event, payload);
    },
    on: (event, fn) => {
      io.on(event as 'connection', fn as never);
    },
  };
  return { config, logger, httpServer, io, store, rooms, sockets, health, routes, access, authorizeRead, otherNodes, redisConnection: link ? (purpose) => link.connection(purpose) : null, onClose: (fn) => closeHooks.push(fn), listen, close };
}

async function main(): Promise<void> {
  let config: ServerConfig;
  try {
    config = loadConfig();
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`livecanvas: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const logger = createLogger(config.logLevel);
  // A bug in one handler must not take every room down: log it and keep serving.
  process.on('uncaughtException', (err) => logger.error({ err }, 'uncaught exception'));
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled promise rejection'));

  // libvips' operation cache (50 MB by default) only helps when the same image is processed
  // again; every snapshot and render is new, so it would just hold memory a client chose.
  sharp.cache(false);
  const server = await createLivecanvasServer(config, logger);
  // Features, one line each:
  attachAccess(server);
  await attachRender(server);
  await attachUploads(server);

  // One Ctrl-C often arrives more than once (the terminal signals the whole process group, and
  // `npm start` or a process manager may pass it on too), so repeats must not interrupt the
  // flush: the first signal starts it, the second is ignored, a third forces the exit.
  let signals = 0;
  const shutdown = (signal: NodeJS.Signals) => {
    signals++;
    if (signals === 1) {
      logger.info({ signal }, 'shutting down: flushing rooms');
      // Tell `npm start` (scripts/start.mjs) we got it, so it need not pass the signal on.
      // (A parent that is gone already is no reason to fail: the callback swallows that.)
      if (process.connected) process.send?.({ type: 'shutting-down', signal }, undefined, undefined, () => {});
      const force = setTimeout(() => {
        logger.error(`shutdown took longer than ${SHUTDOWN_TIMEOUT_MS / 1000} s; exiting anyway`);
        process.exit(1);
      }, SHUTDOWN_TIMEOUT_MS);
      force.unref();
      server.close().then(
        () => process.exit(0),
        (err) => {
          logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    } else if (signals === 2) {
      logger.info({ signal }, 'already shutting down; send the signal once more to exit without flushing');
    } else {
      logger.error({ signal }, 'exiting without finishing the flush (the update log keeps every stored update)');
      process.exit(1);
    }
  };
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => shutdown(sig));
  // The IPC channel from scripts/start.mjs must not keep the process alive by itself.
  process.channel?.unref();

  let addr: AddressInfo;
  try {
    addr = await server.listen();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const hint = err.code === 'EADDRINUSE' ? `port ${config.port} is in use; set PORT to another port` : err.message;
    logger.fatal({ err }, `cannot listen on ${config.host}:${config.port}: ${hint}`);
    await server.close().catch(() => {});
    process.exit(1);
  }
  logger.info(
    { url: `http://${addr.address}:${addr.port}`, web: config.web, dev: config.dev, dataDir: config.dataDir },
    'livecanvas listening',
  );
  // One plain line a person can click, besides the JSON logs (on stderr, so stdout stays JSON).
  const host = ['0.0.0.0', '::', '127.0.0.1', '::1'].includes(addr.address) ? 'localhost' : addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  process.stderr.write(`Livecanvas is running: http://${host}:${addr.port}\n`);
}

if (process.argv[1] && import.meta.filename === realpathSync(process.argv[1])) {
  main().catch((err) => {
    console.error(`livecanvas: failed to start: ${(err as Error).message}`);
    process.exit(1);
  });
}
