// Starts the real server process (node --import tsx server/index.ts) for integration and browser
// tests, on a free port with its own DATA_DIR, and waits until /healthz answers.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error plain .mjs module without type declarations
import { ALLOCATOR_ENV } from '../../scripts/allocatorEnv.mjs';
import { freePort } from '../../scripts/serviceProcess';

export const ROOT = join(import.meta.dirname, '..', '..');
export const TINY_MODELS_DIR = join(ROOT, 'models', 'local');

/** Server processes started here and not yet exited: what stopAllServers() and the exit hook stop. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Last resort on any process.exit(): a synchronous SIGKILL to every server still running. */
function installExitHook() {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const proc of running) proc.kill('SIGKILL');
  });
}

/** Stops every server process started by startServer that is still running (SIGTERM, then SIGKILL
 * after 10 s). For scripts' signal and error handlers; tests stop their own servers. */
export async function stopAllServers(): Promise<void> {
  await Promise.all([...running].map((proc) => stopProcess(proc, 'SIGTERM')));
}

/** Counts a child process (a server, a render worker) among those stopAllServers and the exit
 * hook stop; forgotten once it exits. */
export function trackProcess(proc: ChildProcess): void {
  installExitHook();
  running.add(proc);
  proc.once('exit', () => running.delete(proc));
}

/** SIGTERM (or `signal`), then SIGKILL after 10 s; resolves once it exited. */
export async function stopProcess(proc: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill(signal);
  const t = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(t);
}

export { freePort };

export interface StartOptions {
  dataDir?: string;
  port?: number;
  /** serve the Next.js app too (needs a production build); integration tests only need sockets */
  web?: boolean;
  /** preset name or folder; '' = no model */
  model?: string;
  env?: Record<string, string>;
}

export interface TestServer {
  url: string;
  port: number;
  dataDir: string;
  proc: ChildProcess;
  output: () => string;
  stop: (signal?: NodeJS.Signals) => Promise<void>;
}

export async function startServer(opts: StartOptions = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'lc-data-'));
  const port = opts.port ?? (await freePort());
  let out = '';
  const proc = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
    cwd: ROOT,
    env: {
      ...ALLOCATOR_ENV, // as `npm start` runs it (scripts/start.mjs)
      ...process.env,
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      MODELS_DIR: TINY_MODELS_DIR,
      MODEL: opts.model ?? '',
      LC_WEB: opts.web ? '1' : '0',
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
      // tests and benches create many rooms and open many sockets from one address; the tests of
      // these limits (and bench:abuse) set them back
      ROOMS_PER_HOUR: '100000',
      MAX_SOCKETS_PER_ADDRESS: '100000',
      ADDRESS_BYTES_PER_SECOND: String(1 << 30),
      ADDRESS_BYTES_BURST: String(1 << 30),
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  trackProcess(proc);
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited (${proc.exitCode}):\n${out}`);
    try {
      const r = await fetch(`${url}/healthz`);
      if (r.ok) break;
    } catch {
      /* not up yet */
    }
    if (Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`server did not start within 120 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const stop = (signal: NodeJS.Signals = 'SIGTERM') => stopProcess(proc, signal);
  return { url, port, dataDir, proc, output: () => out, stop };
}
