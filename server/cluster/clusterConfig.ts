// The environment of cluster mode (docs/deploy.md), part of the server's one env schema
// (server/config.ts).
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
