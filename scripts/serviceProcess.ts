// Process plumbing for scripts/localServices.ts: services spawned in their own process group
// (a terminal's Ctrl-C reaches only the script that started them, which stops them in order),
// output kept for error messages, readiness polling, stop with a SIGKILL fallback, restart
// bookkeeping, and an exit hook that SIGKILLs whatever is still running.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';

export const START_TIMEOUT_MS = 60_000;
export const STOP_TIMEOUT_MS = 30_000;
const OUTPUT_LIMIT = 64 * 1024;

/** Service processes started here and not yet exited: what stopAllServices() and the exit hook stop. */
const running = new Map<ChildProcess, { stop: () => Promise<void>; cleanup: () => void }>();
let exitHookInstalled = false;

/** Last resort on any process.exit(): a synchronous SIGKILL to every service still running
 * (postgres' backends, which put themselves in their own sessions, exit when their postmaster
 * dies), then a best-effort removal of their temp dirs. */
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [proc, { cleanup }] of running) {
      signal(proc, 'SIGKILL');
      try {
        cleanup();
      } catch {
        /* a dying process may still hold a file */
      }
    }
  });
}

/** Stops every Redis and PostgreSQL started here that is still running (their clean stop). */
export async function stopAllServices(): Promise<void> {
  await Promise.all([...running.values()].map(({ stop }) => stop()));
}

export function signal(proc: ChildProcess, sig: NodeJS.Signals) {
  if (!alive(proc)) return;
  try {
    proc.kill(sig);
  } catch {
    /* gone */
  }
}

export function alive(proc: ChildProcess) {
  return proc.exitCode === null && proc.signalCode === null;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Spawned {
  proc: ChildProcess;
  output: () => string;
}

export function spawnService(cmd: string, args: string[], extra: { uid?: number; gid?: number; cwd?: string } = {}): Spawned {
  let out = '';
  const proc = spawn(cmd, args, {
    ...extra,
    // own process group: Ctrl-C in a terminal reaches only our script, which stops the services
    // after whatever uses them (cluster-local.ts: the web nodes first)
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  });
  const keep = (d: Buffer) => {
    out += d;
    if (out.length > OUTPUT_LIMIT) out = out.slice(-OUTPUT_LIMIT);
  };
  // always drained: a full pipe would block the service
  proc.stdout!.on('data', keep);
  proc.stderr!.on('data', keep);
  proc.on('error', (err) => keep(Buffer.from(`\n${err.message}\n`)));
  return { proc, output: () => out };
}

export function exited(proc: ChildProcess): Promise<void> {
  if (!alive(proc)) return Promise.resolve();
  return new Promise((r) => proc.once('exit', () => r()));
}

/** Sends `sig`, then SIGKILL after STOP_TIMEOUT_MS; resolves on exit. */
export async function stopProc(proc: ChildProcess, sig: NodeJS.Signals): Promise<void> {
  if (!alive(proc)) return;
  const done = exited(proc);
  signal(proc, sig);
  const t = setTimeout(() => signal(proc, 'SIGKILL'), STOP_TIMEOUT_MS);
  await done;
  clearTimeout(t);
}

/** Polls `ready` until it resolves true, then runs `then`; fails early if the process exits, and
 * on any failure leaves no process behind. */
export async function waitReady(name: string, s: Spawned, ready: () => Promise<boolean>, then?: () => Promise<void>): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  try {
    for (;;) {
      if (!alive(s.proc)) throw new Error(`${name} exited (${s.proc.exitCode ?? s.proc.signalCode}) while starting:\n${s.output()}`);
      if (await ready().catch(() => false)) break;
      if (Date.now() > deadline) throw new Error(`${name} did not answer within ${START_TIMEOUT_MS / 1000} s:\n${s.output()}`);
      await sleep(100);
    }
    await then?.();
  } catch (err) {
    const done = exited(s.proc);
    signal(s.proc, 'SIGKILL');
    await done;
    throw err;
  }
}

/** Common start/stop/restart bookkeeping for one service. */
export function track(
  start: () => Promise<Spawned>,
  stopOne: (s: Spawned) => Promise<void>,
  cleanup: () => void,
) {
  let current: Spawned;
  let stopping: Promise<void> | undefined;
  const stopCurrent = async () => {
    await stopOne(current);
    running.delete(current.proc);
  };
  const launch = async () => {
    const s = await start();
    current = s;
    installExitHook();
    running.set(s.proc, { stop, cleanup });
    s.proc.once('exit', () => running.delete(s.proc));
  };
  async function stop() {
    stopping ??= stopCurrent().finally(cleanup);
    return stopping;
  }
  async function restart() {
    if (stopping) throw new Error('restart() after stop()');
    await stopCurrent();
    await launch();
  }
  return {
    launch,
    stop,
    restart,
    get proc() {
      return current.proc;
    },
    output: () => current.output(),
  };
}

export function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      /* next */
    }
  }
  return undefined;
}
