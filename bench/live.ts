// Live-loop benchmark: the real server with a model (default the tiny random-weight LCM at 512²),
// N participants in one room, one of them drawing: it sends SNAPSHOTS_PER_S snapshots per second
// for DURATION seconds. Prints one JSON line per N:
//   {"clients":N,"renders":…,"latency_ms_p50":…,"latency_ms_p95":…,"out_of_order":0,"server_cpu_ms_per_render":…}
// latency = snapshot sent → render received, averaged over the receivers of each render.
//   npm run bench:live -- --json [--clients 1,8,32] [--duration 20] [--rate 20] [--size 512] [--model tiny-lcm]
//                            [--engine-threads N]
// A tiny-* model is generated into $MODELS_DIR (default models/local) when missing; any other
// model must be installed there (npm run models:download). The server gets no web build (LC_WEB=0).
import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { io, type Socket } from 'socket.io-client';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { liveFrameRecord } from '../lib/canvas/liveFrame';
import { defaultModelsDir } from '../lib/diffusion/modelPaths';
import { EV, type RenderResult } from '../lib/protocol';
import { ensureTinyModels, isTinyModel } from '../models/tiny/ensure';
import { startServer, type TestServer } from '../test/helpers/server';
import { createRoom, roomToken } from '../test/helpers/yclient';
import { runBench } from './cleanup';
import { sketches } from './sketches';

const program = new Command()
  .option('--json', 'print only the JSON lines')
  .option('--clients <list>', 'participant counts to run, comma-separated', '1,8,32')
  .option('--duration <s>', 'seconds of drawing per run', '20')
  .option('--rate <n>', 'snapshots per second from the drawing client', '20')
  .option('--size <px>', 'render size (outputSize of the frame)', '512')
  .option('--model <name>', 'model preset or folder', 'tiny-lcm')
  .option('--engine-threads <n>', 'ENGINE_THREADS of the server (default: the server default, all cores)')
  .option('--url <url>', 'use a running server instead of starting one (CPU is then not measured)');
program.parse();
const opts = program.opts<{
  json?: boolean;
  clients: string;
  duration: string;
  rate: string;
  size: string;
  model: string;
  engineThreads?: string;
  url?: string;
}>();
const say = (...a: unknown[]) => {
  if (!opts.json) console.error(...a);
};

/** A participant: a Socket.IO connection that joined the room (with its edit link's token in the
 * handshake, as the page does) and keeps a synced Y.Doc. */
class Participant {
  readonly doc = new Y.Doc();
  readonly socket: Socket;
  readonly renders: { seq: number; at: number; sentAt?: number; timings: RenderResult['timings'] }[] = [];

  constructor(
    url: string,
    readonly roomId: string,
    token: string,
  ) {
    this.socket = io(url, { transports: ['websocket'], forceNew: true, auth: { token } });
    this.socket.on(EV.ySync, (m: { roomId: string; data: ArrayBuffer }) => {
      const encoder = encoding.createEncoder();
      syncProtocol.readSyncMessage(decoding.createDecoder(new Uint8Array(m.data)), encoder, this.doc, 'server');
      if (encoding.length(encoder) > 0) this.socket.emit(EV.ySync, { roomId, data: encoding.toUint8Array(encoder) });
    });
    this.doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === 'server') return;
      const encoder = encoding.createEncoder();
      syncProtocol.writeUpdate(encoder, update);
      this.socket.emit(EV.ySync, { roomId, data: encoding.toUint8Array(encoder) });
    });
    this.socket.on(EV.render, (r: RenderResult) => this.renders.push({ seq: r.seq, at: Date.now(), sentAt: r.sentAt, timings: r.timings }));
    this.socket.on(EV.error, (e: unknown) => say('lc:error', e));
  }

  async join(): Promise<void> {
    const ack = await this.socket.timeout(10_000).emitWithAck(EV.roomJoin, { roomId: this.roomId, user: { name: 'bench', color: '#336699' } });
    if (!ack?.ok) throw new Error(`join failed: ${JSON.stringify(ack)}`);
  }

  close() {
    this.socket.close();
    this.doc.destroy();
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** utime+stime of a process in ms, from /proc (Linux). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100; // USER_HZ is 100 on Linux
}

async function runOnce(url: string, server: TestServer | undefined, clients: number, images: Buffer[]) {
  // a shared room, created as the landing page does (POST /api/rooms); everyone joins with its edit link
  const roomId = await createRoom(url);
  const people = Array.from({ length: clients }, () => new Participant(url, roomId, roomToken(roomId)));
  await Promise.all(people.map((p) => p.join()));
  const drawer = people[0];
  const frameId = 'shape:live-bench';
  const size = Number(opts.size);
  drawer.doc.transact(() => {
    drawer.doc
      .getMap('tl_records')
      .set(frameId, liveFrameRecord(frameId, { w: size, h: size, outputSize: size, prompt: 'a cat', steps: 1 }));
  });
  // the record must have reached the server before snapshots refer to it
  const deadline = Date.now() + 5_000;
  while (!people.every((p) => p.doc.getMap('tl_records').has(frameId))) {
    if (Date.now() > deadline) throw new Error('live frame record did not sync within 5 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  const durationMs = Number(opts.duration) * 1000;
  const interval = 1000 / Number(opts.rate);
  const cpu0 = server ? cpuMs(server.proc.pid!) : 0;
  const t0 = Date.now();
  let seq = 0;
  while (Date.now() - t0 < durationMs) {
    const next = t0 + seq * interval;
    if (next > Date.now()) await new Promise((r) => setTimeout(r, next - Date.now()));
    seq++;
    drawer.socket.emit(EV.snapshot, {
      roomId,
      frameId,
      seq,
      hash: `h${seq}`,
      mime: 'image/jpeg',
      image: images[seq % images.length],
      sentAt: Date.now(),
    });
  }
  const lastSeq = seq;
  // wait for the last snapshot's render to reach everybody (it is always rendered)
  const settle = Date.now() + 30_000;
  while (!people.every((p) => p.renders.at(-1)?.seq === lastSeq) && Date.now() < settle) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const cpu1 = server ? cpuMs(server.proc.pid!) : 0;

  const bySeq = new Map<number, number[]>();
  let outOfOrder = 0;
  for (const p of people) {
    let prev = -1;
    for (const r of p.renders) {
      if (r.seq <= prev) outOfOrder++;
      prev = r.seq;
      if (r.sentAt !== undefined) bySeq.set(r.seq, [...(bySeq.get(r.seq) ?? []), r.at - r.sentAt]);
    }
  }
  const latencies = [...bySeq.values()].map((l) => l.reduce((a, b) => a + b, 0) / l.length).sort((a, b) => a - b);
  const renders = bySeq.size;
  const serverSide = drawer.renders.map((r) => r.timings);
  const median = (xs: number[]) => Math.round(percentile([...xs].sort((a, b) => a - b), 50) * 10) / 10;
  for (const p of people) p.close();
  return {
    clients,
    renders,
    snapshots: lastSeq,
    last_rendered: people.every((p) => p.renders.at(-1)?.seq === lastSeq),
    latency_ms_p50: Math.round(percentile(latencies, 50) * 10) / 10,
    latency_ms_p95: Math.round(percentile(latencies, 95) * 10) / 10,
    out_of_order: outOfOrder,
    // where the time goes (server clock, medians): waiting for the engine, the pipeline, arrival → done
    queue_ms_p50: median(serverSide.map((t) => t.queueMs)),
    inference_ms_p50: median(serverSide.map((t) => t.inferenceMs)),
    server_total_ms_p50: median(serverSide.map((t) => t.totalMs)),
    server_cpu_ms_per_render: server && renders ? Math.round(((cpu1 - cpu0) / renders) * 10) / 10 : null,
  };
}

async function main() {
  const size = Number(opts.size);
  let server: TestServer | undefined;
  let url = opts.url;
  if (!url) {
    const modelsDir = resolve(defaultModelsDir());
    const vae = process.env.ENGINE_VAE;
    await ensureTinyModels(modelsDir, [opts.model, ...(vae ? [vae] : [])].filter(isTinyModel));
    say(`starting server with model ${opts.model}, warm-up ${size}²…`);
    server = await startServer({
      model: opts.model,
      env: {
        MODELS_DIR: modelsDir,
        ENGINE_WARMUP_SIZES: String(size),
        ...(opts.engineThreads !== undefined && { ENGINE_THREADS: opts.engineThreads }),
        LOG_LEVEL: 'warn',
      },
    });
    url = server.url;
  }
  try {
    if (server) await engineReady(server.url);
    const images = await sketches(size, 16);
    for (const n of opts.clients.split(',').map(Number)) {
      say(`${n} participants, ${opts.rate} snapshots/s for ${opts.duration} s…`);
      console.log(JSON.stringify(await runOnce(url, server, n, images)));
    }
  } finally {
    await server?.stop();
  }
}

async function engineReady(url: string) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const h = (await (await fetch(`${url}/healthz`)).json()) as { engine?: { state?: string; message?: string } };
    if (h.engine?.state === 'ready') return;
    if (h.engine?.state === 'error' || h.engine?.state === 'no-model') throw new Error(`engine: ${h.engine.message}`);
    if (Date.now() > deadline) throw new Error('engine did not become ready within 120 s');
    await new Promise((r) => setTimeout(r, 200));
  }
}

// Stops the server on every exit path (errors, signals), so a failed run leaves nothing behind.
runBench(main);
