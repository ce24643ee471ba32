// The `cluster` field of /healthz on every node: the mode, this node's id, and whether the
// services it depends on answer, with their latency — what a load balancer or an operator checks
// first when a node misbehaves. PostgreSQL is pinged in the background (never from the request).
import type { HealthRegistry } from '../http/health';
import type { RoomStore } from '../store/RoomStore';
import type { ClusterLink } from './ClusterLink';

const PING_MS = 2_000;

export function attachClusterHealth(health: HealthRegistry, store: RoomStore, link: ClusterLink | null, nodeId: string): () => void {
  let postgres: { reachable: boolean; latencyMs: number | null; error?: string } | null = null;
  let timer: NodeJS.Timeout | null = null;
  if (store.kind === 'postgres') {
    const ping = async () => {
      const started = performance.now();
      try {
        await store.sql.query('SELECT 1 AS one');
        postgres = { reachable: true, latencyMs: Math.round((performance.now() - started) * 10) / 10 };
      } catch (e) {
        postgres = { reachable: false, latencyMs: null, error: (e as Error).message };
      }
    };
    void ping();
    timer = setInterval(() => void ping(), PING_MS);
    timer.unref();
    health.addProblems(() =>
      postgres && !postgres.reachable ? [`PostgreSQL (${store.path}) is unreachable: changes are refused until it is back (${postgres.error})`] : [],
    );
  }
  if (link) health.addProblems(() => link.problems());
  health.register('cluster', () => ({
    mode: link ? 'cluster' : 'single',
    nodeId,
    store: store.kind,
    ...(postgres && { postgres: { ...postgres, url: store.path } }),
    ...(link && (({ nodeId: _n, ...rest }) => rest)(link.status())),
  }));
  return () => {
    if (timer) clearInterval(timer);
  };
}
