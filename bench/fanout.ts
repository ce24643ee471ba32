// Cluster fan-out benchmark (issue 11): how fast a stroke reaches the other people in its room
// when they are connected to different web nodes, and whether two nodes carry at least the update
// rate of one. For each node count (default 1 and 2) a fresh cluster — redis-server and PostgreSQL
// from the installed binaries (scripts/localServices.ts), N real server processes
// (server/index.ts) in cluster mode sharing them (REDIS_URL, DATABASE_URL, AUTH_SECRET, NODE_ID),
// so that 1 and 2 nodes differ only in the node count — then CLIENTS socket clients in ROOMS rooms
// (room i's clients alternate between the nodes), drawing at a person's pace
// (bench/fanout-clients.ts): per room DRAWERS draw at a time, RATE stroke updates/s each, the pen
// passing to the next ones every ROTATE s. Prints one JSON line per node count:
//   {"nodes":2,"rooms":20,"clients":200,"updates_per_s":…,"propagation_ms_p50":…,"propagation_ms_p95":…,
//    "cross_node_propagation_ms_p95":…, …}
//   npm run bench:fanout -- --json [--duration 20] [--nodes 1,2] [--rooms 20] [--clients 200]
// propagation = receipt − send time of each update at each other client of its room (one wall
// clock), percentiles over all (sender, receiver) pairs; updates_per_s = updates acknowledged by
// the server (committed to PostgreSQL) per second of the measured window.
// Targets: cross-node propagation p95 ≤ 50 ms; 2 nodes ≥ the update rate of 1 node.
import { Command } from 'commander';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { startPostgres, startRedis, stopAllServices } from '../scripts/localServices';
import { ROOT, startServer, stopAllServers, type TestServer } from '../test/helpers/server';
import { createRoom, roomToken } from '../test/helpers/yclient';
import { onCleanup, runBench } from './cleanup';
import { childrenOf, cpuSampler, percentile, round, startProbes, ticks, type Group, type ProbeFigures } from './fanout-probes';
import { connectClients, wallNow, type ClientResults, type ClientSetup, type ClientSpec, type Timing } from './fanout-clients';

const TARGETS = { cross_node_propagation_ms_p95: 50 };
/** 2 nodes "hold the rate" of 1 when they acknowledge at least this share of its updates/s (both
 * are offered the same load, so the figures differ by a few updates at the window's edges). */
const RATE_TOLERANCE = 0.99;

const opts = new Command()
  .name('bench:fanout')
  .description('Cluster fan-out: propagation of stroke updates between clients on 1 or 2 web nodes (Redis + PostgreSQL)')
  .option('--json', 'print JSON lines on stdout (progress always goes to stderr)')
  .option('--duration <s>', 'seconds measured per node count (after the warm-up)', '20')
  .option('--warmup <s>', 'seconds of drawing before measuring', '3')
  .option('--rooms <n>', 'rooms', '20')
  .option('--clients <n>', 'socket clients, spread evenly over the rooms', '200')
  .option('--nodes <list>', 'node counts to run, comma-separated', '1,2')
  .option('--drawers <n>', 'clients of a room drawing at any time', '2')
  .option('--rate <n>', 'stroke updates per second of a drawing client', '10')
  .option('--rotate <s>', 'seconds before the pen passes to the next clients of the room', '3')
  .option('--stroke <n>', 'updates per stroke (then a new shape)', '15')
  .option('--client-procs <n>', 'child processes the clients run in (0 = in the bench process)', '2')
  .option('--dump <file>', 'also write every sample (send time, ms, kind) as JSON lines to this file, for analysis')
  .option('--durable', 'PostgreSQL with fsync and synchronous_commit on (default: off, as the tests run it)')
  .addHelpText(
    'after',
    `
Pace: in each room --drawers clients (default 2 of 10) draw at once, each sending a stroke update
every 1000/--rate ms (default 100 ms: the stroke's draw shape in tl_records, rewritten with 6 more
points, a new shape every --stroke updates); every --rotate s (default 3) the next clients take
over (rooms staggered). With the defaults: 20 rooms × 2 drawers × 10/s = 400 updates/s offered,
each received by the 9 others in its room (3,600 receipts/s).`,
  )
  .parse()
  .opts<{
    json?: boolean;
    duration: string;
    warmup: string;
    rooms: string;
    clients: string;
    nodes: string;
    drawers: string;
    rate: string;
    rotate: string;
    stroke: string;
    clientProcs: string;
    dump?: string;
    durable?: boolean;
  }>();

const say = (...a: unknown[]) => console.error(...a);
const int = (name: string, v: string, min: number) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number ≥ ${min} (got ${v})`);
  return n;
};
const positive = (name: string, v: string) => {
  const n = Number(v);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`--${name} must be a number > 0 (got ${v})`);
  return n;
};

const ms = (x: number | null) => (x === null ? null : round(x, 1));

// ---- the cluster and the clients -----------------------------------------------------------------

async function startNodes(n: number) {
  const [redis, postgres] = await Promise.all([startRedis(), startPostgres({ fast: !opts.durable })]);
  const env = { DATABASE_URL: postgres.url, REDIS_URL: redis.url, AUTH_SECRET: randomBytes(32).toString('base64url') };
  const nodes: TestServer[] = [];
  for (let i = 0; i < n; i++) nodes.push(await startServer({ env: { ...env, NODE_ID: `web-${i + 1}` } }));
  const stop = async () => {
    await Promise.allSettled(nodes.map((s) => s.stop()));
    await Promise.allSettled([redis.stop(), postgres.stop()]);
  };
  return { redis, postgres, nodes, stop };
}

const children = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

function message<T>(child: ChildProcess, key: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: Record<string, unknown>) => {
      if (m.error) return done(() => reject(new Error(`client process ${child.pid}: ${String(m.error)}`)));
      if (key in m) done(() => resolve(m[key] as T));
    };
    const onExit = (code: number | null) => done(() => reject(new Error(`client process ${child.pid} exited (${code}) before sending ${key}`)));
    const done = (f: () => void) => {
      child.off('message', onMessage);
      child.off('exit', onExit);
      f();
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** The clients split over `procs` child processes (0: here); resolves once all are connected. */
async function startClients(setup: ClientSetup, procs: number): Promise<{ run: (t: Timing) => Promise<ClientResults[]>; pids: number[] }> {
  if (procs === 0) {
    const c = await connectClients(setup);
    onCleanup(c.close);
    return { run: async (t) => [await c.run(t)], pids: [] };
  }
  const parts = Array.from({ length: procs }, (_, p) => setup.clients.filter((c) => c.index % procs === p));
  const started = parts.map((clients) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/fanout-clients.ts'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.add(child);
    child.once('exit', () => children.delete(child));
    child.send({ ...setup, clients });
    return { child, connected: message<number>(child, 'connected') };
  });
  await Promise.all(started.map((s) => s.connected));
  return {
    pids: started.map((s) => s.child.pid!),
    run: (t) =>
      Promise.all(
        started.map(({ child }) => {
          const results = message<ClientResults>(child, 'results');
          child.send(t);
          return results;
        }),
      ),
  };
}

async function runConfig(nodeCount: number) {
  const rooms = int('rooms', opts.rooms, 1);
  const clients = int('clients', opts.clients, rooms * 2);
  const duration = positive('duration', opts.duration);
  const warmup = opts.warmup === '0' ? 0 : positive('warmup', opts.warmup);
  const procs = int('client-procs', opts.clientProcs, 0);
  const pace = {
    drawers: int('drawers', opts.drawers, 1),
    rate: positive('rate', opts.rate),
    rotateMs: positive('rotate', opts.rotate) * 1000,
    strokeUpdates: int('stroke', opts.stroke, 1),
  };
  say(`── ${nodeCount} node(s): starting Redis, PostgreSQL (${opts.durable ? 'durable' : 'fsync off'}) and ${nodeCount} web node(s)…`);
  const cluster = await startNodes(nodeCount);
  try {
    const roomIds = await Promise.all(Array.from({ length: rooms }, () => createRoom(cluster.nodes[0]!.url)));
    const roomSizes = roomIds.map((_, r) => Math.floor(clients / rooms) + (r < clients % rooms ? 1 : 0));
    const specs: ClientSpec[] = [];
    roomIds.forEach((roomId, room) => {
      for (let slot = 0; slot < roomSizes[room]!; slot++) {
        const node = slot % nodeCount;
        specs.push({ index: specs.length, slot, room, roomId, token: roomToken(roomId), node, url: cluster.nodes[node]!.url });
      }
    });
    const setup: ClientSetup = {
      clients: specs,
      rooms,
      roomSizes,
      ...pace,
      keepTimes: opts.dump !== undefined,
    };
    say(`   connecting ${clients} clients to ${rooms} rooms${procs ? ` from ${procs} client processes` : ''}…`);
    const c = await startClients(setup, procs);
    const startAt = wallNow() + 500;
    const timing: Timing = { startAt, measureFrom: startAt + warmup * 1000, measureTo: startAt + (warmup + duration) * 1000, settleMs: 10_000 };
    say(`   drawing: ${warmup} s warm-up, then ${duration} s measured…`);
    const pgPid = cluster.postgres.proc.pid!;
    const groups: Group[] = [
      ...cluster.nodes.map((n, i) => ({ name: `web-${i + 1}`, ticks: () => ticks(n.proc.pid!) })),
      { name: 'redis', ticks: () => ticks(cluster.redis.proc.pid!) },
      { name: 'postgres', ticks: () => ticks(pgPid, true) + childrenOf(pgPid).reduce((a, p) => a + ticks(p), 0) },
      { name: 'clients', ticks: () => ticks(process.pid) + c.pids.reduce((a, p) => a + ticks(p), 0) },
    ];
    // CPU and the service probes over the measured window only
    let stopCpu: ReturnType<typeof cpuSampler> | undefined;
    let stopProbes: Promise<() => Promise<ProbeFigures>> | undefined;
    const from = setTimeout(() => {
      stopCpu = cpuSampler(groups);
      stopProbes = startProbes(cluster.postgres.url, cluster.redis.url);
    }, timing.measureFrom - wallNow());
    let cpu: ReturnType<ReturnType<typeof cpuSampler>> | undefined;
    let probes: Promise<ProbeFigures> | undefined;
    const to = setTimeout(() => {
      cpu = stopCpu?.();
      probes = stopProbes?.then((stop) => stop());
    }, timing.measureTo - wallNow());
    const results = await c.run(timing);
    clearTimeout(from);
    clearTimeout(to);
    cpu ??= stopCpu?.();
    probes ??= stopProbes?.then((stop) => stop());
    const probed = (await probes?.catch((e: Error) => say(`   probes failed: ${e.message}`))) ?? undefined;
    if (opts.dump) {
      const kinds = ['same', 'cross', 'ack'];
      const rows = results.flatMap((r) => r.times ?? []).map(([at, v, k]) => JSON.stringify({ nodes: nodeCount, t: round((at - timing.measureFrom) / 1000, 3), ms: round(v, 2), kind: kinds[k] }));
      const cpuRows = (cpu?.seconds ?? []).map((c, i) => JSON.stringify({ nodes: nodeCount, t: i, kind: 'cpu', ...c }));
      appendFileSync(opts.dump, [...rows, ...cpuRows].join('\n') + '\n');
    }
    return { ...summarize(nodeCount, rooms, clients, duration, warmup, procs, setup, results, cpu), ...probed };
  } finally {
    say('   stopping the cluster…');
    await cluster.stop();
  }
}

function summarize(nodes: number, rooms: number, clients: number, duration: number, warmup: number, procs: number, setup: ClientSetup, results: ClientResults[], cpu: { avg: Record<string, number>; peak: Record<string, number> } | undefined) {
  const cat = (k: 'sameNode' | 'crossNode' | 'ackMs') => results.flatMap((r) => r[k]).sort((a, b) => a - b);
  const sum = (k: 'sent' | 'expected' | 'ackedInWindow' | 'nacks') => results.reduce((a, r) => a + r[k], 0);
  const same = cat('sameNode');
  const cross = cat('crossNode');
  const all = [...same, ...cross].sort((a, b) => a - b);
  const acks = cat('ackMs');
  const errors = results.flatMap((r) => r.errors);
  return {
    nodes,
    rooms,
    clients,
    updates_per_s: round(sum('ackedInWindow') / duration),
    propagation_ms_p50: ms(percentile(all, 50)),
    propagation_ms_p95: ms(percentile(all, 95)),
    propagation_ms_p99: ms(percentile(all, 99)),
    propagation_ms_max: ms(all.at(-1) ?? null),
    cross_node_propagation_ms_p50: nodes > 1 ? ms(percentile(cross, 50)) : null,
    cross_node_propagation_ms_p95: nodes > 1 ? ms(percentile(cross, 95)) : null,
    same_node_propagation_ms_p95: ms(percentile(same, 95)),
    ack_ms_p50: ms(percentile(acks, 50)),
    ack_ms_p95: ms(percentile(acks, 95)),
    offered_updates_per_s: round(sum('sent') / duration),
    updates_sent: sum('sent'),
    receipts: all.length,
    lost: sum('expected') - all.length,
    nacks: sum('nacks'),
    duration_s: duration,
    warmup_s: warmup,
    pace: `${setup.drawers} drawing per room at ${setup.rate} updates/s, rotating every ${setup.rotateMs / 1000} s`,
    postgres: opts.durable ? 'durable' : 'fsync off',
    client_procs: procs,
    cpu_pct: cpu?.avg ?? null,
    cpu_pct_peak_1s: cpu?.peak ?? null,
    client_loop_delay_ms_p99: round(Math.max(...results.map((r) => r.loopDelayP99))),
    client_loop_delay_ms_max: round(Math.max(...results.map((r) => r.loopDelayMax))),
    ...(errors.length > 0 && { errors: errors.slice(0, 10) }),
  };
}

type Line = Awaited<ReturnType<typeof runConfig>> & Record<string, unknown>;

function human(l: Line): string {
  const cross = l.nodes > 1 ? `, cross-node p95 ${l.cross_node_propagation_ms_p95} ms (${l.target_cross_node_p95_ok ? 'ok' : 'FAIL'})` : '';
  const rate = 'target_rate_ok' in l ? ` (${l.target_rate_ok ? 'ok' : 'FAIL'} vs 1 node)` : '';
  return (
    `${l.nodes} node(s): ${l.updates_per_s} updates/s acked${rate} of ${l.offered_updates_per_s} offered; propagation p50 ${l.propagation_ms_p50} ms, p95 ${l.propagation_ms_p95} ms, p99 ${l.propagation_ms_p99} ms${cross}; ` +
    `ack p95 ${l.ack_ms_p95} ms; lost ${l.lost}, nacks ${l.nacks}; CPU % ${JSON.stringify(l.cpu_pct)}; client loop delay p99 ${l.client_loop_delay_ms_p99} ms`
  );
}

async function main() {
  onCleanup(async () => {
    for (const c of children) c.kill('SIGKILL');
    await stopAllServers();
    await stopAllServices();
  });
  const counts = opts.nodes.split(',').map((x) => int('nodes', x.trim(), 1));
  let oneNodeRate: number | undefined;
  for (const n of counts) {
    const line: Line = await runConfig(n);
    if (n === 1) oneNodeRate = line.updates_per_s;
    if (n > 1) {
      line.target_cross_node_p95_ok = line.cross_node_propagation_ms_p95 !== null && line.cross_node_propagation_ms_p95 <= TARGETS.cross_node_propagation_ms_p95 && line.lost === 0;
      if (oneNodeRate !== undefined) line.target_rate_ok = line.updates_per_s >= oneNodeRate * RATE_TOLERANCE;
    }
    if (opts.json) say(`   ${human(line)}`);
    console.log(opts.json ? JSON.stringify(line) : human(line));
  }
}

runBench(main);
