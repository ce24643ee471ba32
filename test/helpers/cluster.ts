// A cluster on one machine for tests and benchmarks: Redis and PostgreSQL from the installed
// binaries (scripts/localServices.ts) and web nodes (the real server process) sharing them.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { ROOT, TINY_MODELS_DIR, startServer, stopProcess, trackProcess, type StartOptions, type TestServer } from './server';
import { startPostgres, startRedis, type LocalPostgres, type LocalRedis } from './services';

export interface TestCluster {
  redis: LocalRedis;
  postgres: LocalPostgres;
  nodes: TestServer[];
  /** what a node needs to join this cluster */
  env: Record<string, string>;
  /** start one more web node (e.g. after one was killed) */
  addNode(opts?: StartOptions): Promise<TestServer>;
  stop(): Promise<void>;
}

export async function startCluster(nodes = 2, opts: StartOptions & { redis?: boolean } = {}): Promise<TestCluster> {
  const [redis, postgres] = await Promise.all([startRedis(), startPostgres()]);
  const env: Record<string, string> = {
    DATABASE_URL: postgres.url,
    ...(opts.redis !== false && { REDIS_URL: redis.url }),
    AUTH_SECRET: randomBytes(32).toString('base64url'),
  };
  let n = 0;
  const started: TestServer[] = [];
  const addNode = async (o: StartOptions = {}) => {
    const id = `web-${++n}`;
    const s = await startServer({ ...opts, ...o, env: { ...env, NODE_ID: id, ...opts.env, ...o.env } });
    started.push(s);
    return s;
  };
  try {
    for (let i = 0; i < nodes; i++) await addNode();
  } catch (e) {
    await Promise.allSettled(started.map((s) => s.stop('SIGKILL')));
    await Promise.allSettled([redis.stop(), postgres.stop()]);
    throw e;
  }
  return {
    redis,
    postgres,
    nodes: started,
    env,
    addNode,
    stop: async () => {
      await Promise.allSettled(started.map((s) => s.stop()));
      await Promise.allSettled([redis.stop(), postgres.stop()]);
    },
  };
}

export interface TestWorker {
  id: string;
  proc: ChildProcess;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

/** A render worker (npm run worker) on `redisUrl` with a tiny model; resolves once it is ready. */
export async function startWorker(redisUrl: string, id: string, env: Record<string, string> = {}): Promise<TestWorker> {
  let out = '';
  const proc = spawn(process.execPath, ['--import', 'tsx', 'server/workers/renderWorker.ts'], {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'production', REDIS_URL: redisUrl, WORKER_ID: id, MODELS_DIR: TINY_MODELS_DIR, MODEL: 'tiny-lcm', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackProcess(proc);
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const deadline = Date.now() + 60_000;
  while (!out.includes(`Render worker ${id} ready`)) {
    if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`worker ${id} exited (${proc.exitCode ?? proc.signalCode}):\n${out}`);
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`worker ${id} not ready within 60 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { id, proc, output: () => out, stop: (signal: NodeJS.Signals = 'SIGTERM') => stopProcess(proc, signal) };
}
