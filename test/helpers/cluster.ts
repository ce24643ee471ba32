// A cluster on one machine for tests and benchmarks: Redis and PostgreSQL from the installed
// binaries (scripts/localServices.ts) and web nodes (the real server process) sharing them.
import { randomBytes } from 'node:crypto';
import { startServer, type StartOptions, type TestServer } from './server';
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
