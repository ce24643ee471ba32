// Attaches the live render loop to the Livecanvas server in one call (server/index.ts):
// socket events frame:snapshot and frame:pin, engine status on join / on change / in /healthz,
// the latest renders for late joiners, and the HTTP routes /api/assets/… and /api/renders/….
import { EV, FramePin, FrameSnapshot } from '../../lib/protocol';
import { EngineHost } from '../engine/EngineHost';
import type { LivecanvasServer } from '../index';
import { AssetStore } from './AssetStore';
import { loadRenderConfig } from './renderConfig';
import { RenderService } from './RenderService';
import { roomChannel } from '../rooms/RoomManager';

export async function attachRender(server: LivecanvasServer, env: NodeJS.ProcessEnv = process.env): Promise<RenderService> {
  const { config, io, rooms, sockets, health, store } = server;
  const log = server.logger.child({ module: 'render' });
  const rc = loadRenderConfig(env);
  const engine = new EngineHost({
    model: config.model,
    modelsDir: config.modelsDir,
    executionProvider: rc.executionProvider,
    threads: rc.threads,
    vae: rc.vae,
    warmupSizes: rc.warmupSizes,
    workers: rc.concurrency,
    jpegQuality: rc.jpegQuality,
    ...(rc.testDelayMs > 0 && { testDelayMs: rc.testDelayMs }),
  });
  if (rc.testDelayMs > 0) log.warn({ testDelayMs: rc.testDelayMs }, 'ENGINE_TEST_DELAY_MS is set: every render blocks its engine worker (tests only)');
  const service = new RenderService({ io, channel: roomChannel }, engine, new AssetStore(store.db), log, {
    concurrency: rc.concurrency,
    snapshotRate: rc.snapshotRate,
    pendingBytesBudget: rc.pendingBytes,
  });

  // a stream of latest values that clients resend when refused: over the byte budget, refused
  // without counting towards a disconnect (the snapshot count limit of RenderService still does)
  sockets.registerRoomEvent(EV.snapshot, FrameSnapshot, ({ socket, room, payload }) => service.snapshot(socket, room.doc, payload), {
    stream: true,
  });
  sockets.registerRoomEvent(EV.pin, FramePin, ({ payload }) => service.pin(payload));
  // after the join ack and the server's sync step 1, which the gateway sends right after this event
  rooms.on('client-joined', (room, socket) => setImmediate(() => socket.connected && service.joined(socket, room.id)));
  rooms.on('room-loaded', (room) => service.roomOpened(room.id, room.doc));
  rooms.on('room-unloaded', (room) => service.roomClosed(room.id));
  service.keepClosedRoomMs = rc.keepClosedRoomS * 1000;
  health.register('engine', () => engine.status);
  health.register('cpu', () => {
    const u = process.cpuUsage();
    return { userMs: Math.round(u.user / 1000), systemMs: Math.round(u.system / 1000) };
  });
  server.onClose(() => engine.stop());

  for (const prefix of ['/api/assets/', '/api/renders/']) server.routes.add(prefix, (req, res) => service.handleHttp(req, res));

  // Loading takes seconds to minutes; the server serves rooms meanwhile (engine state 'loading').
  void engine.start().then((s) => {
    if (s.state === 'ready') log.info({ model: s.model, loadMs: s.loadMs, sizes: s.sizes }, 'engine ready');
    else log.warn({ state: s.state, message: s.message }, 'engine not available');
  });
  return service;
}
