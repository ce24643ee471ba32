// The clients of bench/fanout.ts: socket peers (test/helpers/yclient.ts connectPeer, the browser's
// protocol) in rooms spread over the cluster's nodes, drawing "at a person's pace" into the real
// tldraw record map `tl_records`, and timing every update they receive from the others.
//
// Pace: in each room `drawers` clients draw at any time; every `rotateMs` the pen passes to the next
// ones (rooms are staggered so that they do not all switch at once). A drawing client sends one
// stroke update every 1000/`rate` ms: it rewrites its current stroke's draw shape with 6 more
// points (tldraw samples the pointer at ~60 Hz and sends a changed record), and starts a new
// stroke (a new shape) every `strokeUpdates` updates. Each update carries meta
// {sentAt, from, seq, node}; sentAt is a high-resolution wall clock (performance.timeOrigin +
// performance.now(), shared by every process on the machine). A receiver records
// receipt − sentAt for every update it sees, split into same-node and cross-node pairs.
//
// Acks: every update is sent with an ack callback (connectPeer does that); the callback of each
// update is wrapped to time send → ack (the server acks once the update is committed).
//
// Runs in the bench process (connectClients, then run) or, with --client-procs N (default 2), in
// N child processes: node --import tsx bench/fanout-clients.ts, started by bench/fanout.ts, which
// sends the setup and then the timing over the IPC channel and gets the results back.
import { realpathSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { EV } from '../lib/protocol/events';
import { connectPeer, drawShape, type Peer } from '../test/helpers/yclient';

export interface ClientSpec {
  /** global client index; a room's clients are consecutive */
  index: number;
  /** position in its room (0 … room size − 1): who draws when */
  slot: number;
  room: number;
  roomId: string;
  token: string;
  node: number;
  url: string;
}

/** Who connects where, and the pace (the same in every process). */
export interface ClientSetup {
  clients: ClientSpec[];
  rooms: number;
  /** clients in each room (all processes together) */
  roomSizes: number[];
  drawers: number;
  rate: number;
  rotateMs: number;
  strokeUpdates: number;
  /** also return every sample with its send time (ClientResults.times), for --dump */
  keepTimes?: boolean;
}

/** When (wall-clock ms), decided once every process has connected its clients. */
export interface Timing {
  /** drawing starts (warm-up), measuring starts, both end */
  startAt: number;
  measureFrom: number;
  measureTo: number;
  /** after the end: wait for the acks and the last receipts at most this long */
  settleMs: number;
}

type Schedule = ClientSetup & Timing;

export interface ClientResults {
  /** receipt − sent (ms) of updates sent in the window, same-node and cross-node pairs */
  sameNode: number[];
  crossNode: number[];
  /** send → ack (ms) of updates sent in the window */
  ackMs: number[];
  /** with `keepTimes`: [sentAt, ms, kind (0 same-node receipt, 1 cross-node receipt, 2 ack)] */
  times?: Array<[number, number, number]>;
  /** updates sent in the window, and receipts they should get (room size − 1 each) */
  sent: number;
  expected: number;
  /** acks that arrived within the window (whenever their update was sent) */
  ackedInWindow: number;
  nacks: number;
  errors: string[];
  /** event-loop delay of this process while drawing (ms) */
  loopDelayP99: number;
  loopDelayMax: number;
  /** this process' CPU over the window (ms) and its pid */
  cpuMs: number;
  pid: number;
}

/** The wall clock every process on the machine shares, with sub-millisecond resolution. */
export const wallNow = () => performance.timeOrigin + performance.now();

interface Meta {
  sentAt: number;
  from: number;
  seq: number;
  node: number;
}

/** The update being set right now (see connectClients). */
let tagging: { sentAt: number; counted: boolean } | null = null;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Which slots of room `room` draw at wall time `t`. */
function drawsAt(s: Schedule, room: number, slot: number, t: number): boolean {
  const size = s.roomSizes[room]!;
  const turn = Math.floor((t - s.startAt) / s.rotateMs + room / s.rooms);
  const first = (turn * s.drawers) % size;
  return (slot - first + size) % size < s.drawers;
}

/** Connect (and sync) every client of `setup`; `run` then draws and measures. */
export async function connectClients(setup: ClientSetup): Promise<{ run: (t: Timing) => Promise<ClientResults>; close: () => void }> {
  const peers: Array<{ spec: ClientSpec; peer: Peer }> = [];
  // the window is unknown (NaN: nothing is in it) until run()
  const s: Schedule = { ...setup, startAt: NaN, measureFrom: NaN, measureTo: NaN, settleMs: 0 };
  const r: ClientResults = { sameNode: [], crossNode: [], ackMs: [], sent: 0, expected: 0, ackedInWindow: 0, nacks: 0, errors: [], loopDelayP99: 0, loopDelayMax: 0, cpuMs: 0, pid: process.pid };
  if (setup.keepTimes) r.times = [];
  const inWindow = (t: number) => t >= s.measureFrom && t < s.measureTo;

  const connect = async (spec: ClientSpec) => {
    const peer = await connectPeer(spec.url, spec.roomId, { token: spec.token, user: { name: `c${spec.index}`, color: '#336699' } });
    peers.push({ spec, peer });
    peer.socket.on(EV.error, (e: { code?: string; message?: string }) => r.errors.length < 20 && r.errors.push(`${e.code}: ${e.message}`));
    peer.socket.on('disconnect', (reason: string) => {
      if (reason !== 'io client disconnect' && r.errors.length < 20) r.errors.push(`client ${spec.index} disconnected: ${reason}`);
    });
    peer.records.observe((event, tr) => {
      if (tr.local) return;
      const at = wallNow();
      for (const key of event.keysChanged) {
        const m = (peer.records.get(key) as { meta?: Partial<Meta> } | undefined)?.meta;
        if (typeof m?.sentAt !== 'number' || !inWindow(m.sentAt)) continue;
        const cross = m.node !== spec.node;
        (cross ? r.crossNode : r.sameNode).push(at - m.sentAt);
        r.times?.push([m.sentAt, at - m.sentAt, cross ? 1 : 0]);
      }
    });
  };
  for (let i = 0; i < s.clients.length; i += 20) await Promise.all(s.clients.slice(i, i + 20).map(connect));

  // Updates are tagged while they are set: the emit they cause (synchronously, in connectPeer's
  // doc 'update' handler) gets an ack callback that times it.
  for (const { peer } of peers) {
    const socket = peer.socket as unknown as { emit: (ev: string, ...args: unknown[]) => unknown };
    const emit = socket.emit.bind(socket);
    socket.emit = (ev: string, ...args: unknown[]) => {
      const tag = tagging;
      const cb = args.at(-1);
      if (tag && ev === EV.ySync && typeof cb === 'function') {
        tagging = null;
        args[args.length - 1] = (res: { ok?: boolean }) => {
          const at = wallNow();
          if (!res?.ok) r.nacks++;
          else {
            if (inWindow(at)) r.ackedInWindow++;
            if (tag.counted) r.ackMs.push(at - tag.sentAt);
            if (tag.counted) r.times?.push([tag.sentAt, at - tag.sentAt, 2]);
          }
          (cb as (x: unknown) => void)(res);
        };
      }
      return emit(ev, ...args);
    };
  }

  const close = () => {
    for (const { peer } of peers) peer.close();
  };
  return { run: (t) => run(Object.assign(s, t), peers, r, inWindow).finally(close), close };
}

async function run(s: Schedule, peers: Array<{ spec: ClientSpec; peer: Peer }>, r: ClientResults, inWindow: (t: number) => boolean): Promise<ClientResults> {
  const loop = monitorEventLoopDelay({ resolution: 5 });
  const interval = 1000 / s.rate;
  const endAt = s.measureTo;
  await sleep(s.startAt - wallNow());
  loop.enable();
  const cpu0 = process.cpuUsage();
  let cpuAtFrom: NodeJS.CpuUsage | null = null;
  let cpuAtTo: NodeJS.CpuUsage | null = null;
  const cpuMarks = setInterval(() => {
    const t = wallNow();
    if (!cpuAtFrom && t >= s.measureFrom) cpuAtFrom = process.cpuUsage();
    if (!cpuAtTo && t >= s.measureTo) cpuAtTo = process.cpuUsage();
  }, 20);

  // One timer chain per client, on a fixed schedule (a late tick does not shift the later ones),
  // each with its own phase so that the room's updates do not all go out at the same instant.
  const draw = async ({ spec, peer }: { spec: ClientSpec; peer: Peer }) => {
    const phase = ((spec.index * 37) % 100) / 100;
    let stroke = -1;
    let k = s.strokeUpdates;
    let seq = 0;
    let wasDrawing = false;
    for (let n = 0; ; n++) {
      // a person does not catch up on strokes missed while this process was busy: late ticks are
      // skipped (the offered rate then shows the shortfall)
      n = Math.max(n, Math.floor((wallNow() - s.startAt) / interval - phase));
      const due = s.startAt + (n + phase) * interval;
      if (due >= endAt) break;
      await sleep(due - wallNow());
      const t = wallNow();
      const drawing = drawsAt(s, spec.room, spec.slot, t);
      if (!drawing) {
        wasDrawing = false;
        continue;
      }
      if (!wasDrawing || k >= s.strokeUpdates) {
        stroke++;
        k = 0;
      }
      wasDrawing = true;
      const shape = drawShape((spec.index * 997 + stroke) % 238_328, 2 + 6 * k++);
      const sentAt = wallNow();
      const meta: Meta = { sentAt, from: spec.index, seq: seq++, node: spec.node };
      const counted = inWindow(sentAt);
      if (counted) {
        r.sent++;
        r.expected += s.roomSizes[spec.room]! - 1;
      }
      tagging = { sentAt, counted };
      try {
        peer.records.set(`shape:c${spec.index}s${stroke}`, { ...shape, id: `shape:c${spec.index}s${stroke}`, meta });
      } finally {
        tagging = null;
      }
    }
  };
  await Promise.all(peers.map(draw));
  clearInterval(cpuMarks);
  const cpuEnd = process.cpuUsage();
  const from = cpuAtFrom ?? cpu0;
  const to = cpuAtTo ?? cpuEnd;
  r.cpuMs = (to.user - from.user + to.system - from.system) / 1000;
  loop.disable();
  r.loopDelayP99 = loop.percentile(99) / 1e6;
  r.loopDelayMax = loop.max / 1e6;

  // the last acks, then a moment for the last relayed updates
  const settled = Promise.allSettled(peers.map(({ peer }) => peer.acked()));
  await Promise.race([settled, sleep(s.settleMs)]);
  await sleep(Math.min(1_500, s.settleMs));
  return r;
}

// ---- as a child process of bench/fanout.ts ----------------------------------------------------------

if (process.argv[1] && import.meta.filename === realpathSync(process.argv[1])) {
  if (!process.send) {
    console.error('bench/fanout-clients.ts is started by bench/fanout.ts (it needs an IPC channel)');
    process.exit(2);
  }
  // the bench went away (crash, SIGKILL): nothing to report to, stop
  process.on('disconnect', () => process.exit(1));
  const fail = (err: Error) => process.send!({ error: err.stack ?? err.message }, () => process.exit(1));
  process.once('message', (setup: ClientSetup) => {
    connectClients(setup).then((clients) => {
      process.once('message', (t: Timing) => clients.run(t).then((results) => process.send!({ results }, () => process.exit(0)), fail));
      process.send!({ connected: setup.clients.length });
    }, fail);
  });
}
