// `npm run worker`: one render worker process — one engine (MODEL, ENGINE_VAE, ENGINE_EP,
// ENGINE_DEVICE_ID), fed by the cluster-wide queue in Redis (REDIS_URL). It advertises the model it
// serves and renews that every second; takes the next job of its model in the queue's fair order;
// holds it with a lease it renews while rendering; publishes the result (every web node sends it to
// its own sockets and keeps it in the frame's history). On SIGTERM it takes no new job, finishes
// the one it holds (or, past WORKER_STOP_TIMEOUT_MS, leaves it to the lease, so another worker
// renders it) and exits.
import { realpathSync } from 'node:fs';
import Redis from 'ioredis';
import { ConfigError, loadConfig } from '../config';
import { EngineHost, EngineRenderError } from '../engine/EngineHost';
import { createLogger } from '../logger';
import { decodeFrame, encodeFrame, type JobHeader, type QueueMessage } from './jobCodec';
import { ANY_MODEL, WorkQueue, newToken, type WorkerAdvert } from './WorkQueue';

const HEARTBEAT_MS = 1_000;
const ADVERT_TTL_MS = 3_000;
const LEASE_MS = 2_000;

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env, [], 'worker');
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(`livecanvas worker: ${e.message}`);
      process.exit(2);
    }
    throw e;
  }
  const redisUrl = config.cluster.redisUrl;
  if (!redisUrl) {
    console.error('livecanvas worker: REDIS_URL is required (the queue the web nodes fill); see docs/deploy.md "Render workers"');
    process.exit(2);
  }
  const id = process.env.WORKER_ID || config.cluster.nodeId;
  const device = String(config.render.deviceIds?.[0] ?? 0);
  const log = createLogger(config.logLevel).child({ module: 'worker', worker: id });
  const rc = config.render;
  const engine = new EngineHost({
    model: config.model,
    modelsDir: config.modelsDir,
    executionProvider: rc.executionProvider,
    ...(rc.deviceIds && { deviceIds: rc.deviceIds }),
    threads: rc.threads,
    vae: rc.vae,
    warmupSizes: rc.warmupSizes,
    workers: 1,
    jpegQuality: rc.jpegQuality,
    ...(rc.testDelayMs > 0 && { testDelayMs: rc.testDelayMs }),
    ...(rc.testCrashPrompt && { testCrashPrompt: rc.testCrashPrompt }),
  });
  const started = performance.now();
  const status = await engine.start();
  if (status.state !== 'ready') {
    log.fatal({ engine: status }, `render worker could not load its model: ${status.message ?? status.state}`);
    await engine.stop?.();
    process.exit(1);
  }
  const model = status.model!;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, connectionName: `livecanvas:${id}:worker` });
  const blocking = new Redis(redisUrl, { maxRetriesPerRequest: null, connectionName: `livecanvas:${id}:worker-wait` });
  for (const r of [redis, blocking]) r.on('error', (err) => log.warn({ err: err.message }, 'Redis'));
  const queue = new WorkQueue(redis, { maxPendingBytes: rc.pendingBytes, jobTtlMs: 60_000, leaseMs: LEASE_MS });
  const token = newToken();
  const advert: WorkerAdvert = {
    id,
    models: [model],
    device,
    executionProvider: status.executionProvider ?? rc.executionProvider,
    startedAt: Date.now(),
    loadMs: status.loadMs,
    warmupMs: status.warmupMs,
    ...(status.graphCache && { graphCache: status.graphCache }),
    rendered: 0,
  };
  const models = [model, ANY_MODEL];
  let holding: string | null = null;
  let stopping = false;

  const beat = async () => {
    try {
      await queue.advertise({ ...advert, ...(holding && { current: holding }) }, ADVERT_TTL_MS);
      if (holding) await queue.renew(id, token, [holding]);
      await queue.reap();
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'heartbeat failed');
    }
  };
  await beat();
  const heartbeat = setInterval(() => void beat(), HEARTBEAT_MS);
  const readyMs = Math.round(performance.now() - started);
  log.info({ model, device, loadMs: status.loadMs, warmupMs: status.warmupMs, graphCache: status.graphCache, readyMs }, `render worker ${id} ready: model ${model}, device ${rc.executionProvider}:${device}, loaded in ${status.loadMs} ms (warm-up ${status.warmupMs} ms)`);
  process.stderr.write(`Render worker ${id} ready: ${model} on ${rc.executionProvider}:${device} (load ${status.loadMs} ms, warm-up ${status.warmupMs} ms, optimised graphs: ${status.graphCache ?? 'n/a'})\n`);

  const renderOne = async (job: { fk: string; payload: Buffer }) => {
    holding = job.fk;
    const startedAt = Date.now();
    let message: QueueMessage;
    let meta: Omit<JobHeader, 'width' | 'height'> | undefined;
    try {
      const { header, bytes } = decodeFrame<JobHeader>(job.payload);
      const { width, height, ...rest } = header;
      meta = rest;
      const out = await engine.render({ data: new Uint8Array(bytes), width, height }, header.settings, header.roomId);
      message = { t: 'result', fk: job.fk, job: meta, worker: id, model, width: out.width, height: out.height, params: out.params, timings: out.timings, startedAt, finishedAt: Date.now() };
      const published = await queue.finish(id, token, job.fk, encodeFrame(message, out.jpeg));
      if (published) advert.rendered++;
      else log.warn({ frame: job.fk }, 'render done after its lease expired: another worker has it; not published');
    } catch (err) {
      const code = err instanceof EngineRenderError ? err.code : undefined;
      if (!meta) {
        // unreadable job: nobody to tell but the log; release it so the frame is not stuck
        await queue.finish(id, token, job.fk, Buffer.from(JSON.stringify({ t: 'state', fk: job.fk, state: 'error', message: 'the render job could not be read' }))).catch(() => {});
        log.error({ frame: job.fk, err: (err as Error).message }, 'unreadable render job dropped');
        return;
      }
      message = { t: 'failed', fk: job.fk, job: meta, worker: id, ...(code && { code }), message: (err as Error).message };
      await queue.finish(id, token, job.fk, encodeFrame(message)).catch(() => {});
      log.warn({ frame: job.fk, code, err: (err as Error).message }, 'render failed');
    } finally {
      holding = null;
    }
  };

  const loop = async () => {
    while (!stopping) {
      try {
        const job = await queue.take(id, token, models);
        if (job) await renderOne(job);
        else await queue.waitForWork(blocking, models, 1);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'queue unreachable; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
  const running = loop();

  let signals = 0;
  const stop = async (signal: string) => {
    if (signals++ > 0) {
      if (signals > 2) process.exit(1);
      return;
    }
    stopping = true;
    log.info({ signal, holding }, 'stopping: finishing the job it holds');
    const timeout = Number(process.env.WORKER_STOP_TIMEOUT_MS ?? 30_000);
    await Promise.race([running, new Promise((r) => setTimeout(r, timeout))]);
    clearInterval(heartbeat);
    await queue.retire(id).catch(() => {});
    blocking.disconnect();
    await redis.quit().catch(() => {});
    await engine.stop?.();
    process.exit(0);
  };
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void stop(sig));
}

if (process.argv[1] && import.meta.filename === realpathSync(process.argv[1])) {
  main().catch((err) => {
    console.error(`livecanvas worker: failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
