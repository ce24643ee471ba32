// The server side of bench/abuse.ts: a fresh real server per attack (test/helpers/server.ts, with
// its own data directory that is removed afterwards), its RSS read from /proc, the settle waits
// around an attack, and the probe process (bench/abuse-probe.ts) that measures during one.
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, startServer, type TestServer } from '../test/helpers/server';
import type { ProbeResult } from './abuse-probe';
import { onCleanup } from './cleanup';
import { sleep } from './abuse-peer';

export function readRssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)\s*kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

const mbOf = (kb: number) => Math.round((kb / 1024) * 10) / 10;

const cmdline = (pid: number) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
};

const childrenOf = (pid: number): number[] => {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

/** The pid of the node process running server/index.ts: startServer spawns node itself (with tsx
 * as an --import loader, no wrapper), but should a wrapper ever sit between, look below it. */
export function serverPid(server: TestServer): number {
  const queue = [server.proc.pid!];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (cmdline(pid).includes('server/index.ts')) return pid;
    queue.push(...childrenOf(pid));
  }
  throw new Error(`no process running server/index.ts under pid ${server.proc.pid}`);
}

/** Servers started here and not stopped yet. On an interrupted run they are killed (SIGKILL: their
 * data is thrown away, no need to wait for a graceful stop while attack traffic still flows) and
 * their data directories removed; the normal path stops them gracefully (stopBenchServer). */
const live = new Set<BenchServer>();
const dataDirs = new Set<string>();
onCleanup(() => {
  for (const s of live) s.server.proc.kill('SIGKILL');
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
});

export interface BenchServer {
  server: TestServer;
  pid: number;
  url: string;
  port: number;
  dataDir: string;
}

export async function startBenchServer(model: string, modelsDir: string): Promise<BenchServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'lc-abuse-'));
  dataDirs.add(dataDir);
  let server: TestServer;
  try {
    server = await startServer({
      dataDir,
      model,
      // the per-address socket and byte limits as shipped ('' = the default; the test helper
      // raises them for suites that open many sockets from one address)
      env: { MODELS_DIR: modelsDir, LOG_LEVEL: 'warn', ENGINE_WARMUP_SIZES: '256,1024', MAX_SOCKETS_PER_ADDRESS: '', ADDRESS_BYTES_PER_SECOND: '', ADDRESS_BYTES_BURST: '' },
    });
  } catch (e) {
    rmSync(dataDir, { recursive: true, force: true });
    dataDirs.delete(dataDir);
    throw e;
  }
  const s: BenchServer = { server, pid: server.proc.pid!, url: server.url, port: server.port, dataDir };
  live.add(s);
  try {
    if (model) await engineReady(server.url);
    s.pid = serverPid(server);
  } catch (e) {
    await stopBenchServer(s);
    throw e;
  }
  return s;
}

export async function stopBenchServer(s: BenchServer): Promise<void> {
  try {
    await s.server.stop();
  } finally {
    rmSync(s.dataDir, { recursive: true, force: true });
    dataDirs.delete(s.dataDir);
    live.delete(s);
  }
}

async function engineReady(url: string): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const h = (await (await fetch(`${url}/healthz`)).json()) as { engine?: { state?: string; message?: string } };
    if (h.engine?.state === 'ready') return;
    if (h.engine?.state === 'error' || h.engine?.state === 'no-model') throw new Error(`engine: ${h.engine.message}`);
    if (Date.now() > deadline) throw new Error('engine did not become ready within 120 s');
    await sleep(200);
  }
}

/** MB of the files in a data directory (the SQLite database and its journal). */
export function dataDirMb(dir: string): number {
  let bytes = 0;
  for (const name of readdirSync(dir)) {
    try {
      bytes += statSync(join(dir, name)).size;
    } catch {
      /* removed meanwhile */
    }
  }
  return Math.round((bytes / 1048576) * 10) / 10;
}

/** RSS once it stopped moving (two reads 500 ms apart within 1 MB), at most `maxMs`: the baseline. */
export async function settledRssMb(pid: number, maxMs = 10_000): Promise<number> {
  const deadline = Date.now() + maxMs;
  let prev = readRssKb(pid);
  let calm = 0;
  while (Date.now() < deadline && calm < 2) {
    await sleep(500);
    const now = readRssKb(pid);
    calm = Math.abs(now - prev) < 1024 ? calm + 1 : 0;
    prev = now;
  }
  return mbOf(prev);
}

/** After an attack: poll RSS every 500 ms for up to `maxMs` (GC and freeing take a few seconds),
 * stopping as soon as it is within `pct` % of `beforeMb`. Returns the last read and the highest. */
export async function rssAfterMb(pid: number, beforeMb: number, pct: number, maxMs = 10_000) {
  const started = Date.now();
  let last = readRssKb(pid);
  let highest = last;
  while (mbOf(last) > beforeMb * (1 + pct / 100) && Date.now() - started < maxMs) {
    await sleep(500);
    last = readRssKb(pid);
    highest = Math.max(highest, last);
  }
  return { afterMb: mbOf(last), highestMb: mbOf(highest), waitedS: Math.round((Date.now() - started) / 100) / 10 };
}

/** Is `address` usable as a local address towards the server (127.0.0.2 on Linux: all of
 * 127/8 is loopback)? The honest client then counts as another machine for per-address limits. */
export function canConnectFrom(address: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, localAddress: address });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface Probe {
  start(): void;
  stop(): Promise<ProbeResult>;
  close(): void;
}

const probes = new Set<ChildProcess>();
onCleanup(() => {
  for (const p of probes) p.kill('SIGKILL');
});

/** The honest client + RSS sampler process, connected and joined to `roomId` with its link's
 * `token` (a room made with POST /api/rooms; the token reaches the probe in its environment). */
export async function startProbe(url: string, roomId: string, token: string, pid: number, localAddress?: string): Promise<Probe> {
  const child = fork(join(import.meta.dirname, 'abuse-probe.ts'), [], {
    cwd: ROOT,
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, PROBE_URL: url, PROBE_ROOM: roomId, PROBE_TOKEN: token, PROBE_PID: String(pid), PROBE_LOCAL_ADDRESS: localAddress ?? '' },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  probes.add(child);
  child.once('exit', () => probes.delete(child));
  const next = (type: string, ms: number) =>
    new Promise<{ type: string; result?: ProbeResult; message?: string }>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`probe: no '${type}' within ${ms / 1000} s`)), ms);
      const onMessage = (m: { type: string; message?: string }) => {
        if (m.type !== type && m.type !== 'error') return;
        clearTimeout(t);
        child.off('message', onMessage);
        if (m.type === 'error') reject(new Error(`probe: ${m.message}`));
        else resolve(m);
      };
      child.on('message', onMessage);
      child.once('exit', (code) => reject(new Error(`probe exited (${code})`)));
    });
  try {
    await next('ready', 30_000);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    start: () => child.send({ type: 'start' }),
    stop: async () => {
      const answer = next('result', 15_000);
      child.send({ type: 'stop' });
      return (await answer).result!;
    },
    close: () => {
      if (child.connected) child.send({ type: 'close' });
      setTimeout(() => child.kill('SIGKILL'), 2_000).unref();
    },
  };
}
