// `npm run cluster:local`: cluster mode on one machine. Starts Redis and PostgreSQL from the
// installed binaries (scripts/localServices.ts), builds the web app if needed (as `npm start`
// does), then N web nodes (the same server/index.ts process) sharing them, each on its own port,
// and M render workers (npm run worker; by default the tiny model, generated when missing).
// Data lives under <data-dir>/cluster/ (redis, postgres, web-<i>, auth-secret), so a second run
// keeps the rooms. Ctrl-C stops the nodes, then Redis and PostgreSQL. See docs/deploy.md.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { Command, InvalidArgumentError } from 'commander';
// @ts-expect-error plain .mjs helper shared with npm start and the tests
import { ensureBuild } from './ensure-build.mjs';
// @ts-expect-error plain .mjs module without type declarations
import { ALLOCATOR_ENV } from './allocatorEnv.mjs';
import { ensureTinyModels, isTinyModel } from '../models/tiny/ensure';
import { freePort, startPostgres, startRedis, type LocalPostgres, type LocalRedis } from './localServices';

const ROOT = resolve(import.meta.dirname, '..');
const FIRST_PORT = 3001;
const HEALTH_TIMEOUT_MS = 60_000;
/** the server flushes within 10 s of SIGTERM (SHUTDOWN_TIMEOUT_MS in server/index.ts) */
const NODE_STOP_TIMEOUT_MS = 15_000;

const program = new Command('cluster:local')
  .description('Run Redis, PostgreSQL and several web nodes on this machine (cluster mode)')
  .option('--nodes <n>', 'web nodes to start', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 16) throw new InvalidArgumentError('must be a whole number from 1 to 16');
    return n;
  }, 2)
  .option('--workers <n>', 'render workers to start (0: the web nodes render themselves)', (v) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0 || n > 16) throw new InvalidArgumentError('must be a whole number from 0 to 16');
    return n;
  }, 2)
  .option('--model <name>', 'model of the render workers (a preset installed in models/local, or a tiny test model)', process.env.MODEL || 'tiny-lcm')
  .option('--data-dir <dir>', 'data folder (cluster data goes in <dir>/cluster)', process.env.DATA_DIR || './data')
  .parse();
const opts = program.opts<{ nodes: number; workers: number; model: string; dataDir: string }>();
const clusterDir = resolve(ROOT, opts.dataDir, 'cluster');

const say = (msg: string) => console.log(`[cluster] ${msg}`);

/** Port `preferred` when nothing listens on it, else a free one. */
async function portNear(preferred: number): Promise<number> {
  const free = await new Promise<boolean>((r) => {
    const srv = createServer();
    srv.once('error', () => r(false));
    srv.listen(preferred, () => srv.close(() => r(true)));
  });
  return free ? preferred : freePort();
}

/** The AUTH_SECRET every node shares (room links signed by one must open on another): the
 * environment's, else generated once into <cluster>/auth-secret (mode 0600). */
function authSecret(): string {
  if (process.env.AUTH_SECRET) return process.env.AUTH_SECRET;
  const file = join(clusterDir, 'auth-secret');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('base64url') + '\n', { mode: 0o600, flag: 'wx' });
  const secret = readFileSync(file, 'utf8').trim();
  if (secret.length < 32) throw new Error(`${file} holds a secret shorter than 32 characters: delete it to generate a new one`);
  return secret;
}

interface WebNode {
  id: string;
  port: number;
  proc: ChildProcess;
}

const nodes: WebNode[] = [];
const workers: WebNode[] = [];
let redis: LocalRedis | undefined;
let postgres: LocalPostgres | undefined;
let servicesStarting: Promise<unknown> | undefined;
let stopping = false;
const alive = (p: ChildProcess) => p.exitCode === null && p.signalCode === null;

// Last resort if this process exits some other way: the nodes run in their own process groups
// (so Ctrl-C reaches only this script, which stops them in order). localServices.ts has the
// same hook for Redis and PostgreSQL.
process.on('exit', () => {
  for (const n of [...nodes, ...workers]) if (alive(n.proc)) n.proc.kill('SIGKILL');
});

function prefixLines(stream: NodeJS.ReadableStream, prefix: string, out: NodeJS.WriteStream) {
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => out.write(`${prefix} ${line}\n`));
}

function startNode(i: number, port: number, env: Record<string, string>): WebNode {
  return startProcess(`web-${i}`, 'server/index.ts', { ...env, PORT: String(port) }, port);
}

/** A render worker (npm run worker) on the cluster's Redis. */
function startWorker(i: number, env: Record<string, string>): WebNode {
  const id = `worker-${i}`;
  return startProcess(id, 'server/workers/renderWorker.ts', { REDIS_URL: env.REDIS_URL!, WORKER_ID: id, MODEL: opts.model, ENGINE_THREADS: '1' }, 0);
}

function startProcess(id: string, script: string, env: Record<string, string>, port: number): WebNode {
  const dataDir = join(clusterDir, id);
  mkdirSync(dataDir, { recursive: true });
  const proc = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...ALLOCATOR_ENV, // as `npm start` runs a node (scripts/start.mjs)
      ...process.env,
      NODE_ENV: process.env.NODE_ENV || 'production',
      NEXT_TELEMETRY_DISABLED: process.env.NEXT_TELEMETRY_DISABLED || '1',
      ...env,
      NODE_ID: id,
      DATA_DIR: dataDir,
    },
  });
  prefixLines(proc.stdout!, `[${id}]`, process.stdout);
  prefixLines(proc.stderr!, `[${id}]`, process.stderr);
  proc.on('error', (err) => console.error(`[${id}] could not start: ${err.message}`));
  proc.once('exit', (code, signal) => {
    if (stopping) return;
    say(`${id} (pid ${proc.pid}) exited unexpectedly: ${signal ? `killed by ${signal}` : `exit code ${code}`}; stopping the cluster`);
    void shutdown(1);
  });
  return { id, port, proc };
}

/** Watches a service for an unexpected end and says why (its last output lines). */
function watchService(name: string, svc: LocalRedis | LocalPostgres) {
  svc.proc.once('exit', (code, signal) => {
    if (stopping) return;
    const tail = svc.output().trim().split('\n').slice(-10).join('\n  ');
    say(`${name} (pid ${svc.proc.pid}) exited unexpectedly: ${signal ? `killed by ${signal}` : `exit code ${code}`}; stopping the cluster${tail ? `\n  ${tail}` : ''}`);
    void shutdown(1);
  });
}

async function waitHealthy(node: WebNode): Promise<void> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  for (;;) {
    if (!alive(node.proc)) throw new Error(`${node.id} exited before answering /healthz`);
    try {
      const r = await fetch(`http://127.0.0.1:${node.port}/healthz`);
      if (r.ok) return;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) throw new Error(`${node.id} did not answer /healthz within ${HEALTH_TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopNode(node: WebNode): Promise<void> {
  if (!alive(node.proc)) return;
  const exited = new Promise<void>((r) => node.proc.once('exit', () => r()));
  node.proc.kill('SIGTERM');
  const t = setTimeout(() => {
    say(`${node.id} did not stop within ${NODE_STOP_TIMEOUT_MS / 1000} s; killing it`);
    node.proc.kill('SIGKILL');
  }, NODE_STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(t);
}

let shuttingDown: Promise<never> | undefined;
/** Nodes first (they flush to the store), then Redis and PostgreSQL; then exit. */
function shutdown(code: number): Promise<never> {
  stopping = true;
  shuttingDown ??= (async () => {
    if (nodes.some((n) => alive(n.proc))) say('stopping the web nodes…');
    await Promise.all(nodes.map(stopNode));
    if (workers.length) say('stopping the render workers…');
    await Promise.all(workers.map(stopNode));
    await servicesStarting; // a Ctrl-C during their start stops them once they are up
    if (redis || postgres) say('stopping Redis and PostgreSQL…');
    const results = await Promise.allSettled([redis?.stop(), postgres?.stop()]);
    for (const r of results) if (r.status === 'rejected') console.error(`[cluster] ${(r.reason as Error).message}`);
    say('stopped');
    process.exit(code);
  })();
  return shuttingDown;
}

// One Ctrl-C may arrive twice (the terminal signals the whole process group, and npm or tsx may
// pass it on as well): repeats within a second count as the same one.
let signals = 0;
let lastSignalAt = 0;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(sig, () => {
    const now = Date.now();
    if (now - lastSignalAt < 1000) return;
    lastSignalAt = now;
    signals++;
    if (signals === 1) void shutdown(0);
    else if (signals === 2) say('already stopping; send the signal once more to kill everything now');
    else {
      // the exit hooks SIGKILL the nodes, Redis and PostgreSQL
      say('killing everything');
      process.exit(130);
    }
  });
}

async function main() {
  mkdirSync(clusterDir, { recursive: true });
  const web = !['0', 'false', 'no'].includes(process.env.LC_WEB ?? '');
  // Same build check as `npm start` (synchronous: nothing else is running yet).
  if (web) ensureBuild();
  const secret = authSecret();

  say(`data in ${clusterDir}`);
  const started = Promise.allSettled([
    startRedis({ dir: join(clusterDir, 'redis') }).then((s) => (redis = s)),
    startPostgres({ dir: join(clusterDir, 'postgres') }).then((s) => (postgres = s)),
  ]);
  servicesStarting = started;
  for (const r of await started) if (r.status === 'rejected') throw r.reason;
  if (stopping || !redis || !postgres) return; // Ctrl-C while they started: shutdown() stops them
  watchService('Redis', redis);
  watchService('PostgreSQL', postgres);
  say(`Redis      ${redis.url}`);
  say(`PostgreSQL ${postgres.url}`);

  const env = { REDIS_URL: redis.url, DATABASE_URL: postgres.url, AUTH_SECRET: secret, ...(opts.workers === 0 && { RENDER_WORKERS: 'local' }) };
  if (opts.workers > 0 && isTinyModel(opts.model)) await ensureTinyModels(join(ROOT, 'models', 'local'), [opts.model]);
  for (let i = 1; i <= opts.workers; i++) workers.push(startWorker(i, env));
  for (let i = 1; i <= opts.nodes; i++) {
    const port = await portNear(FIRST_PORT + i - 1);
    if (stopping) return;
    nodes.push(startNode(i, port, env));
  }
  await Promise.all(nodes.map(waitHealthy));
  if (stopping) return;
  console.log('');
  console.log(`Livecanvas cluster: ${nodes.length} web node${nodes.length > 1 ? 's' : ''} sharing Redis and PostgreSQL`);
  for (const n of nodes) console.log(`  ${n.id}  http://localhost:${n.port}`);
  if (workers.length) console.log(`  ${workers.length} render worker${workers.length > 1 ? 's' : ''} (${opts.model}); /healthz lists them once loaded`);
  console.log('Ctrl-C stops everything.');
  console.log('');
}

main().catch((err: Error) => {
  if (stopping) return;
  console.error(`[cluster] ${err.message}`);
  void shutdown(1);
});
