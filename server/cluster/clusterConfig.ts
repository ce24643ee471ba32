// The environment of cluster mode (docs/deploy.md), part of the server's one env schema
// (server/config.ts).
import { hostname } from 'node:os';
import { z } from 'zod';

export const CLUSTER_ENV = {
  /** cluster mode: 'remote' (default) renders in `npm run worker` processes fed through Redis;
   * 'local' keeps an engine in each web node */
  RENDER_WORKERS: z.enum(['local', 'remote']).optional(),
  /** postgres://…: PostgreSQL is the durable store instead of SQLite in DATA_DIR */
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, { message: 'must be a postgres:// URL' }).optional(),
  /** redis://…: cluster mode — several web nodes serve the same rooms (needs DATABASE_URL) */
  REDIS_URL: z.string().regex(/^rediss?:\/\//, { message: 'must be a redis:// URL' }).optional(),
  /** this node's name in logs, /healthz and the cluster (default: host name and process id) */
  NODE_ID: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { message: 'letters, digits, . _ - (at most 64)' }).optional(),
  /** PostgreSQL connections kept by this process */
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
};

/** Where durable data lives and which other nodes share it (docs/deploy.md). */
export interface ClusterConfig {
  /** DATABASE_URL: PostgreSQL instead of SQLite */
  databaseUrl?: string;
  /** DATABASE_POOL_SIZE */
  databasePoolSize: number;
  /** REDIS_URL: cluster mode */
  redisUrl?: string;
  /** NODE_ID, or host name and process id */
  nodeId: string;
  /** renders are made by render worker processes (REDIS_URL and RENDER_WORKERS≠local) */
  renderWorkers: boolean;
}

const ClusterEnvSchema = z.object(CLUSTER_ENV);
type ClusterEnv = z.output<typeof ClusterEnvSchema> & { AUTH_SECRET?: string };

/** What is missing for cluster mode, or null. A render worker needs Redis only. */
export function clusterProblem(e: ClusterEnv, role: 'web' | 'worker'): string | null {
  if (role !== 'web' || !e.REDIS_URL) return null;
  if (!e.DATABASE_URL) return 'REDIS_URL (cluster mode) needs DATABASE_URL: the nodes of a cluster share their rooms through PostgreSQL (docs/deploy.md)';
  if (!e.AUTH_SECRET) {
    return 'REDIS_URL (cluster mode) needs AUTH_SECRET, the same on every node (≥ 32 characters): a secret generated into each DATA_DIR would make one node refuse the links another made';
  }
  return null;
}

export function clusterConfig(e: ClusterEnv): ClusterConfig {
  return {
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    redisUrl: e.REDIS_URL,
    nodeId: e.NODE_ID ?? `${hostname()}-${process.pid}`,
    renderWorkers: Boolean(e.REDIS_URL) && e.RENDER_WORKERS !== 'local',
  };
}
