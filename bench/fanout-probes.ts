// Measurements around bench/fanout.ts's clients: CPU of each process group from /proc (Linux)
// and of the whole machine (what else ran on it meanwhile), and probes of the two shared services
// under the same load — a commit to PostgreSQL (an INSERT, autocommit: what every stored update
// waits for) and a Redis PING, each timed every 100 ms from a connection of their own.
import Redis from 'ioredis';
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import pg from 'pg';

export const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

// ---- CPU from /proc (Linux) ----------------------------------------------------------------------

/** utime+stime of a process in clock ticks (+ its waited-for children's with `reaped`); 0 if gone. */
export function ticks(pid: number, reaped = false): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]) + (reaped ? Number(f[13]) + Number(f[14]) : 0);
  } catch {
    return 0;
  }
}

/** Live children of `pid` (postgres' backends). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (Number(readFileSync(`/proc/${e}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]) === pid) out.push(Number(e));
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/** Busy and total jiffies of the whole machine. */
function machine(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total };
}

export type Group = { name: string; ticks: () => number };

const CORES = availableParallelism();

/** CPU % of one core per group (and of the machine, % of all cores) over the window, average and
 * the busiest second. */
export function cpuSampler(groups: Group[]) {
  const HZ = 100; // USER_HZ
  const series: Array<{ at: number; v: number[]; m: { busy: number; total: number } }> = [];
  const sample = () => series.push({ at: performance.now(), v: groups.map((g) => g.ticks()), m: machine() });
  sample();
  const timer = setInterval(sample, 1000);
  return () => {
    clearInterval(timer);
    sample();
    const pct = (a: (typeof series)[number], b: (typeof series)[number]) => {
      const s = (b.at - a.at) / 1000;
      const per = Object.fromEntries(groups.map((g, i) => [g.name, round(((b.v[i]! - a.v[i]!) / HZ / s) * 100, 0)]));
      const busy = (b.m.busy - a.m.busy) / (b.m.total - a.m.total);
      // other = whatever else ran on the machine meanwhile (% of one core)
      const ours = Object.values(per).reduce((x, y) => x + y, 0);
      return { ...per, other: Math.max(0, round(busy * CORES * 100 - ours, 0)), machine: round(busy * 100, 0) };
    };
    const avg = pct(series[0]!, series.at(-1)!);
    const peak: Record<string, number> = {};
    const seconds: Array<Record<string, number>> = [];
    for (let i = 1; i < series.length; i++) {
      const sec = pct(series[i - 1]!, series[i]!);
      seconds.push(sec);
      for (const [k, v] of Object.entries(sec)) peak[k] = Math.max(peak[k] ?? 0, v);
    }
    return { avg, peak, seconds };
  };
}

// ---- service probes ----------------------------------------------------------------------------------

export interface ProbeFigures {
  pg_commit_ms_p50: number | null;
  pg_commit_ms_p95: number | null;
  redis_ping_ms_p50: number | null;
  redis_ping_ms_p95: number | null;
}

/** Time an INSERT into PostgreSQL and a Redis PING every `everyMs` until the returned stop(). */
export async function startProbes(postgresUrl: string, redisUrl: string, everyMs = 100): Promise<() => Promise<ProbeFigures>> {
  const db = new pg.Client({ connectionString: postgresUrl });
  db.on('error', () => {});
  await db.connect();
  await db.query('CREATE TABLE IF NOT EXISTS bench_probe (at DOUBLE PRECISION NOT NULL)');
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  redis.on('error', () => {});
  await redis.connect();
  const pgMs: number[] = [];
  const redisMs: number[] = [];
  const timed = async (into: number[], f: () => Promise<unknown>) => {
    const t = performance.now();
    await f();
    into.push(performance.now() - t);
  };
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return; // one at a time: a slow answer is one long sample, not a pile of them
    busy = true;
    Promise.all([timed(pgMs, () => db.query('INSERT INTO bench_probe (at) VALUES ($1)', [Date.now()])), timed(redisMs, () => redis.ping())])
      .catch(() => {})
      .finally(() => (busy = false));
  }, everyMs);
  return async () => {
    clearInterval(timer);
    await Promise.allSettled([db.end(), redis.quit()]);
    const p = (xs: number[], q: number) => {
      const v = percentile([...xs].sort((a, b) => a - b), q);
      return v === null ? null : round(v, 2);
    };
    return { pg_commit_ms_p50: p(pgMs, 50), pg_commit_ms_p95: p(pgMs, 95), redis_ping_ms_p50: p(redisMs, 50), redis_ping_ms_p95: p(redisMs, 95) };
  };
}
