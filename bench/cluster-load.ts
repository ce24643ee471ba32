// The load of bench/cluster.ts and what it measures: socket clients drawing into live frames
// (test/helpers/yclient.ts peers, the browser's protocol), a tap on the render workers' results
// channel in Redis, and CPU per process from /proc.
//
// Throughput load (`stream`): every frame gets a new snapshot every `intervalMs` (frames staggered
// over the interval), each frame from its own socket, so the per-socket snapshot rate limit never
// bites; the sockets of a room alternate between the web nodes, so half the receipts cross nodes.
// Light load (`oneAtATime`): one snapshot in flight at a time: send, wait for its render at the
// sender, pause `gapMs`, send the next; with a frame on the single process and one on the cluster,
// their samples alternate.
//
// Times are one wall clock: performance.timeOrigin + performance.now() in this process (sentAt,
// receipts); the servers' and workers' stamps (receivedAt, startedAt, finishedAt, renderedAt) are
// their Date.now(), the same clock at 1 ms resolution.
import { readFileSync, readdirSync } from 'node:fs';
import Redis from 'ioredis';
import { liveFrameRecord } from '../lib/canvas/liveFrame';
import { EV, type RenderResult } from '../lib/protocol';
import { decodeFrame, type QueueMessage } from '../server/workers/jobCodec';
import { RESULTS_CHANNEL } from '../server/workers/WorkQueue';
import { connectPeer, createRoom, until, type Peer } from '../test/helpers/yclient';

export const wallNow = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
export const round = (x: number | null, d = 1) => (x === null ? null : Math.round(x * 10 ** d) / 10 ** d);
export const p50 = (xs: number[]) => round(percentile(xs, 50));

/** One render as a client saw it. */
export interface Receipt {
  frameId: string;
  seq: number;
  at: number;
  sentAt: number;
  worker?: string;
  renderedAt: number;
  timings: RenderResult['timings'];
  /** the receiving socket is the one that sent the snapshot */
  own: boolean;
}

/** A socket in a room drawing into one live frame of its own. */
export interface Drawer {
  peer: Peer;
  frameId: string;
  node: number;
  receipts: Receipt[];
  lastSeq: number;
  sent: number;
}

async function drawer(url: string, node: number, roomId: string, frameId: string): Promise<Drawer> {
  const peer = await connectPeer(url, roomId);
  const d: Drawer = { peer, frameId, node, receipts: [], lastSeq: 0, sent: 0 };
  peer.socket.on(EV.render, (r: RenderResult) => {
    d.receipts.push({ frameId: r.frameId, seq: r.seq, at: wallNow(), sentAt: r.sentAt ?? NaN, worker: r.worker, renderedAt: r.renderedAt, timings: r.timings, own: r.frameId === frameId });
  });
  return d;
}

/** `rooms` rooms with `framesPerRoom` drawing sockets each (socket i of a room on node i mod
 * nodes); every socket adds its live frame and sees everyone's before this resolves. */
export async function setUpRooms(urls: string[], rooms: number, framesPerRoom: number, size: number): Promise<Drawer[]> {
  const all: Drawer[] = [];
  for (let r = 0; r < rooms; r++) {
    const roomId = await createRoom(urls[0]!);
    const ds = await Promise.all(Array.from({ length: framesPerRoom }, (_, i) => drawer(urls[i % urls.length]!, i % urls.length, roomId, `shape:live-r${r}f${i}`)));
    for (const d of ds) {
      d.peer.records.set(d.frameId, liveFrameRecord(d.frameId, { w: size, h: size, outputSize: size, prompt: 'a cat', steps: 1 }));
      await d.peer.acked();
    }
    try {
      await until(() => ds.every((d) => ds.every((o) => d.peer.records.has(o.frameId))), 30_000, `the live frames of room ${r} on every socket`);
    } catch (e) {
      const seen = ds.map((d) => `socket on node ${d.node + 1} has [${ds.filter((o) => d.peer.records.has(o.frameId)).map((o) => o.frameId)}]`);
      closeAll(ds);
      throw new Error(`${(e as Error).message} (room ${roomId}: ${seen.join('; ')})`);
    }
    all.push(...ds);
  }
  return all;
}

export function closeAll(ds: Drawer[]): void {
  for (const d of ds) d.peer.close();
}

function send(d: Drawer, image: Buffer): number {
  const seq = Math.max(d.lastSeq + 1, Date.now());
  d.lastSeq = seq;
  d.sent++;
  d.peer.socket.emit(EV.snapshot, { roomId: d.peer.roomId, frameId: d.frameId, seq, hash: `h${seq}`, mime: 'image/jpeg', image, sentAt: wallNow() });
  return seq;
}

/** Throughput load: every frame a snapshot every `intervalMs` until `to` (wall clock). Returns the
 * send-loop lateness p99 (ms): how far this process fell behind its own schedule. */
export async function stream(ds: Drawer[], images: Buffer[], intervalMs: number, from: number, to: number): Promise<number> {
  const late: number[] = [];
  await Promise.all(
    ds.map(async (d, i) => {
      for (let k = 0; ; k++) {
        const due = from + (i * intervalMs) / ds.length + k * intervalMs;
        if (due >= to) return;
        await sleep(due - wallNow());
        late.push(wallNow() - due);
        send(d, images[(i + k) % images.length]!);
      }
    }),
  );
  return round(percentile(late, 99)) ?? 0;
}

/** Light load: `count` snapshots into each of `ds`' frames, one in flight at a time over all of
 * them (send, wait for the render at the sender, pause `gapMs`). With several drawers the order
 * alternates (A B, B A, …), so that they sample the same moments of the machine's load. Returns
 * the seqs sent per drawer (same order as `ds`) and how many never came back within 10 s. */
export async function oneAtATime(ds: Drawer[], images: Buffer[], count: number, gapMs: number): Promise<{ seqs: number[][]; lost: number }> {
  const seqs: number[][] = ds.map(() => []);
  let lost = 0;
  for (let i = 0; i < count; i++) {
    const order = ds.map((_, k) => k);
    if (i % 2) order.reverse();
    for (const k of order) {
      const d = ds[k]!;
      const seq = send(d, images[i % images.length]!);
      seqs[k]!.push(seq);
      try {
        await until(() => d.receipts.some((r) => r.own && r.seq === seq), 10_000, `the render of seq ${seq}`);
      } catch {
        lost++;
      }
      await sleep(gapMs);
    }
  }
  return { seqs, lost };
}

// ---- the workers' results, straight from Redis ---------------------------------------------------

export interface Published {
  fk: string;
  seq: number;
  worker: string;
  sentAt: number;
  receivedAt: number;
  startedAt: number;
  finishedAt: number;
  /** when this tap got the message (wall clock): when every web node gets it, give or take */
  tapAt: number;
  inferenceMs: number;
}

export interface Tap {
  results: Published[];
  /** arrival times of frame-state messages (queued, rendering…) on the same channel */
  states: number[];
  close: () => void;
}

/** Subscribes to the results channel the web nodes listen on; `results` fills as workers publish. */
export async function tapResults(redisUrl: string): Promise<Tap> {
  const sub = new Redis(redisUrl, { connectionName: 'bench:cluster:tap' });
  const results: Published[] = [];
  const states: number[] = [];
  sub.on('messageBuffer', (_ch: Buffer, raw: Buffer) => {
    if (raw[0] === 0x7b) return void states.push(wallNow()); // a frame state
    const { header: m } = decodeFrame<QueueMessage>(raw);
    if (m.t !== 'result') return;
    const t = m.timings;
    results.push({
      fk: m.fk, seq: m.job.seq, worker: m.worker, sentAt: m.job.sentAt ?? NaN, receivedAt: m.job.receivedAt,
      startedAt: m.startedAt, finishedAt: m.finishedAt, tapAt: wallNow(), inferenceMs: t.totalMs - t.codecMs + t.testDelayMs,
    });
  });
  await sub.subscribe(RESULTS_CHANNEL);
  return { results, states, close: () => sub.disconnect() };
}

/** Where the time of the light load's renders went (medians, ms). Cluster: from the workers'
 * published stamps; single process: from the render's own timings. */
export function breakdown(own: Receipt[], published?: Published[]) {
  if (published) {
    const bySeq = new Map(published.map((p) => [`${p.fk.slice(p.fk.indexOf('/') + 1)}:${p.seq}`, p]));
    const rows = own.flatMap((r) => {
      const p = bySeq.get(`${r.frameId}:${r.seq}`);
      return p ? [{ r, p }] : [];
    });
    return {
      // client → web node: socket.io, the frame checks, the JPEG decode
      intake: p50(rows.map(({ p }) => p.receivedAt - p.sentAt)),
      // SUBMIT script, the worker's BRPOP wake-up, TAKE script
      to_worker: p50(rows.map(({ p }) => p.startedAt - p.receivedAt)),
      // the worker's engine.render: model, test delay, JPEG encode
      render: p50(rows.map(({ p }) => p.finishedAt - p.startedAt)),
      engine_inference: p50(rows.map(({ p }) => p.inferenceMs)),
      // FINISH script and PUBLISH, as this tap sees it
      publish: p50(rows.map(({ p }) => p.tapAt - p.finishedAt)),
      // the web node: decode the message, keep it in the history, emit to its sockets
      node_deliver: p50(rows.map(({ p, r }) => r.renderedAt - p.finishedAt)),
      // socket.io to this client
      to_client: p50(rows.map(({ r }) => r.at - r.renderedAt)),
    };
  }
  return {
    intake: p50(own.map((r) => r.renderedAt - r.timings.totalMs - r.sentAt)),
    to_worker: p50(own.map((r) => r.timings.queueMs)),
    render: p50(own.map((r) => r.timings.totalMs - r.timings.queueMs)),
    engine_inference: p50(own.map((r) => r.timings.inferenceMs)),
    publish: null,
    node_deliver: null,
    to_client: p50(own.map((r) => r.at - r.renderedAt)),
  };
}

/** The workers' own view of the throughput window: how long a render took (start → finish) and
 * how long a worker sat between finishing one job and starting the next (FINISH, TAKE, the
 * BRPOP wake-up when nothing was waiting), and the share of the window they spent rendering. */
export function workerTimes(published: Published[], from: number, to: number, workers: number) {
  const inWindow = published.filter((p) => p.startedAt >= from && p.finishedAt <= to);
  const gaps: number[] = [];
  const byWorker = new Map<string, Published[]>();
  for (const p of inWindow) byWorker.set(p.worker, [...(byWorker.get(p.worker) ?? []), p]);
  for (const list of byWorker.values()) {
    list.sort((a, b) => a.startedAt - b.startedAt);
    for (let i = 1; i < list.length; i++) gaps.push(list[i]!.startedAt - list[i - 1]!.finishedAt);
  }
  const busy = inWindow.reduce((a, p) => a + (p.finishedAt - p.startedAt), 0);
  return {
    worker_render_ms_p50: p50(inWindow.map((p) => p.finishedAt - p.startedAt)),
    worker_gap_ms_p50: p50(gaps),
    worker_gap_ms_p95: round(percentile(gaps, 95)),
    worker_busy_pct: round((busy / (workers * (to - from))) * 100),
  };
}

// ---- CPU from /proc (Linux) ----------------------------------------------------------------------

const HZ = 100; // USER_HZ

/** utime+stime of a process in ticks (+ its waited-for children's with `reaped`); 0 if gone. */
function ticks(pid: number, reaped = false): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]) + (reaped ? Number(f[13]) + Number(f[14]) : 0);
  } catch {
    return 0;
  }
}

/** `pid` and its descendants' ticks (a worker's tsx wrapper, PostgreSQL's backends). */
function treeTicks(pid: number): number {
  const kids = new Map<number, number[]>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const ppid = Number(readFileSync(`/proc/${e}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
      kids.set(ppid, [...(kids.get(ppid) ?? []), Number(e)]);
    } catch {
      /* exited meanwhile */
    }
  }
  let sum = 0;
  const walk = (p: number, root: boolean) => {
    sum += ticks(p, root);
    for (const k of kids.get(p) ?? []) walk(k, false);
  };
  walk(pid, true);
  return sum;
}

/** Jiffies of the whole machine: in processes (user, nice, system), in interrupts (irq, softirq:
 * much of the loopback network's work), stolen by the hypervisor, and in all. */
function machineJiffies() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  return { procs: f[0]! + f[1]! + f[2]!, irq: f[5]! + f[6]!, steal: f[7]!, idle: f[3]! + f[4]!, total: f.reduce((a, b) => a + b, 0) };
}

/** Starts measuring; the returned function gives % of one core per group over the time since,
 * `other` = other processes busy on the machine (not this benchmark's), `irq` and `steal` (% of
 * one core), `machine` = % of all cores busy. */
export function cpuWindow(groups: Record<string, number[]>, cores: number): () => Record<string, number> {
  // this process' own ticks only: the servers, workers and services are its children
  const read = () => Object.fromEntries(Object.entries(groups).map(([k, pids]) => [k, pids.reduce((a, p) => a + (p === process.pid ? ticks(p) : treeTicks(p)), 0)]));
  const t0 = performance.now();
  const a = read();
  const m0 = machineJiffies();
  return () => {
    const s = (performance.now() - t0) / 1000;
    const b = read();
    const m1 = machineJiffies();
    const out: Record<string, number> = {};
    for (const k of Object.keys(a)) out[k] = Math.round(((b[k]! - a[k]!) / HZ / s) * 100);
    const total = Math.max(1, m1.total - m0.total);
    const share = (k: 'procs' | 'irq' | 'steal') => ((m1[k] - m0[k]) / total) * cores * 100;
    const ours = Object.values(out).reduce((x, y) => x + y, 0);
    out.other = Math.max(0, Math.round(share('procs') - ours));
    out.irq = Math.round(share('irq'));
    out.steal = Math.round(share('steal'));
    out.machine = Math.round((1 - (m1.idle - m0.idle) / total) * 100);
    return out;
  };
}
