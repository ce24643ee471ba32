// Attaches the live render loop to the Livecanvas server in one call (server/index.ts): socket
// events frame:snapshot, frame:pin and renders:replay, engine status on change and in /healthz,
// room load/unload, and the HTTP routes /api/assets/… and /api/renders/….
import { EV, FramePin, FrameRefine, FrameSnapshot, RendersReplay } from '../../lib/protocol';
import { EngineHost } from '../engine/EngineHost';
import { ModelEngines } from '../engine/ModelEngines';
import type { Logger } from '../logger';
import { RemoteRenders } from '../workers/RemoteRenders';
import { WorkerPool } from '../workers/WorkerPool';
import { WorkQueue } from '../workers/WorkQueue';
import type { SnapshotJob } from './renderState';
import type { LivecanvasServer } from '../LivecanvasServer';
import { roomChannel } from '../rooms/RoomManager';
import { ClientError } from '../socket/ClientError';
import { PinnedRenders } from './PinnedRenders';
import { RenderLoop } from './RenderLoop';
import { publicEngineStatus } from './renderState';
import { RENDER_ROUTE_PREFIXES, renderRoutes } from './renderRoutes';

export async function attachRender(server: LivecanvasServer): Promise<RenderLoop> {
  const { config, io, rooms, sockets, health, store } = server;
  const rc = config.render;
  const log = server.logger.child({ module: 'render' });
  // cluster mode: render worker processes (npm run worker) fed through Redis; else an engine here
  const remote = config.cluster.renderWorkers && server.redisConnection ? remoteRenders(server, log) : null;
  const engine = remote ? null : localEngine(server, log);
  const pins = await PinnedRenders.open(store.sql, store);
  const loop = new RenderLoop(remote?.pool ?? engine!, pins, log, {
    concurrency: rc.concurrency,
    snapshotRate: rc.snapshotRate,
    pendingBytes: rc.pendingBytes,
    historyBytes: rc.historyBytes,
    keepClosedRoomMs: rc.keepClosedRoomMs,
    send: {
      room: (roomId, event, payload) => io.to(roomChannel(roomId)).emit(event, payload),
      localRoom: (roomId, event, payload) => io.local.to(roomChannel(roomId)).emit(event, payload),
      socket: (socketId, event, payload) => io.to(socketId).emit(event, payload),
      all: (event, payload) => io.local.emit(event, payload),
    },
    ...(remote && { dispatch: (job: SnapshotJob) => remote.dispatch(job), forget: (roomId: string, frameId: string) => remote.forget(roomId, frameId) }),
  });
  if (remote) {
    await remote.start(loop);
    health.register('workers', () => ({ live: remote.pool.workers(), queueDepth: remote.pool.depth() }));
    server.onClose(() => remote.pool.stop());
  }

  // a stream of latest values that clients resend when refused: over the byte budget, refused
  // without counting towards a disconnect (the intake's snapshot rate still does)
  sockets.registerRoomEvent(EV.snapshot, FrameSnapshot, ({ socket, room, payload }) => loop.intake.take(socket, room.doc, payload), {
    stream: true,
  });
  sockets.registerRoomEvent(EV.pin, FramePin, ({ payload }) => loop.delivery.pin(payload));
  // answered once the refined image is stored (seconds): the client then places it like a pin
  sockets.registerRoomEvent(EV.refine, FrameRefine, ({ socket, room, payload }) => loop.refines.request(socket, room.doc, payload));
  // a replay sends up to REPLAY_MAX_BYTES: once per join of a room, not on demand
  const replayable = new WeakMap<object, Set<string>>();
  rooms.on('client-joined', (room, socket) => {
    let set = replayable.get(socket);
    if (!set) replayable.set(socket, (set = new Set()));
    set.add(room.id);
  });
  sockets.registerRoomEvent(EV.replay, RendersReplay, ({ socket, payload }) => {
    if (!replayable.get(socket)?.delete(payload.roomId)) {
      throw new ClientError('rate-limited', `${EV.replay}: once per join of a room; rejoin to ask again`, { violation: false });
    }
    // what the socket's outgoing budget allows now (it also paid for the join's sync): the frames'
    // states always, renders while they fit; later renders arrive as they are made
    const reply = loop.delivery.replay(payload.roomId, sockets.outgoingAllowance(socket));
    sockets.chargeOutgoing(socket, reply.images?.byteLength ?? 0);
    return reply;
  }, { role: 'viewer' });
  rooms.on('room-loaded', (room) => loop.roomOpened(room.id, room.doc));
  rooms.on('room-unloaded', (room) => loop.roomClosed(room.id));
  health.register('engine', () => publicEngineStatus(loop.engine.status));
  health.register('render', () => ({ historyBytes: loop.history.usedBytes, historyLimitBytes: loop.history.limitBytes }));
  health.register('cpu', () => {
    const u = process.cpuUsage();
    return { userMs: Math.round(u.user / 1000), systemMs: Math.round(u.system / 1000) };
  });
  if (engine) server.onClose(() => engine.stop());
  const routes = renderRoutes(loop.queue, pins, (roomId) => loop.stats(roomId), server.authorizeRead);
  for (const prefix of RENDER_ROUTE_PREFIXES) server.routes.add(prefix, routes);

  // Loading takes seconds to minutes; the server serves rooms meanwhile (engine state 'loading').
  void engine?.start().then((s) => {
    if (s.state === 'ready') log.info({ model: s.model, loadMs: s.loadMs, warmupMs: s.warmupMs, graphCache: s.graphCache, sizes: s.sizes }, 'engine ready');
    else log.warn({ state: s.state, message: s.message }, 'engine not available');
  });
  return loop;
}

function localEngine(server: LivecanvasServer, log: Logger): EngineHost | ModelEngines {
  const rc = server.config.render;
  if (rc.testDelayMs > 0) log.warn({ testDelayMs: rc.testDelayMs }, 'ENGINE_TEST_DELAY_MS is set: every render blocks its engine worker (tests only)');
  const base = {
    modelsDir: server.config.modelsDir,
    executionProvider: rc.executionProvider,
    ...(rc.deviceIds && { deviceIds: rc.deviceIds }),
    threads: rc.threads,
    vae: rc.vae,
    warmupSizes: rc.warmupSizes,
    workers: rc.concurrency,
    jpegQuality: rc.jpegQuality,
    ...(rc.testDelayMs > 0 && { testDelayMs: rc.testDelayMs }),
    ...(rc.testCrashPrompt && { testCrashPrompt: rc.testCrashPrompt }),
  };
  // MODELS=a,b: one engine per model, frames pick theirs
  const models = server.config.models;
  return models.length > 1 ? new ModelEngines(models, base) : new EngineHost({ ...base, model: server.config.model });
}

function remoteRenders(server: LivecanvasServer, log: Logger): RemoteRenders {
  const connect = server.redisConnection!;
  const queue = new WorkQueue(connect('render-queue'), { maxPendingBytes: server.config.render.pendingBytes, jobTtlMs: 60_000, leaseMs: 2_000 });
  log.info('renders are made by render workers (npm run worker) through the queue in Redis');
  return new RemoteRenders(queue, new WorkerPool(queue), connect('render-results'), server.config.cluster.nodeId, log);
}
