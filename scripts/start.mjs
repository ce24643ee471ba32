// `npm start`: build if needed, then run the one production server process.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ALLOCATOR_ENV } from './allocatorEnv.mjs';
import { ensureBuild } from './ensure-build.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
// LC_WEB=0 serves only sockets, /healthz and feature routes: no web build needed.
const web = !['0', 'false', 'no'].includes(process.env.LC_WEB ?? '');
if (web) ensureBuild();
const child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts', ...process.argv.slice(2)], {
  cwd: root,
  // 'ipc': the server reports when it starts shutting down (see below).
  stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
  env: { NODE_ENV: 'production', NEXT_TELEMETRY_DISABLED: '1', ...ALLOCATOR_ENV, ...process.env },
});

// Ctrl-C in a terminal sends SIGINT to the whole process group, so the server usually has it
// already; passing it on as well would be a second signal. Pass a signal on only when the server
// has not said within a moment that it is shutting down (e.g. `kill -INT` aimed at this process
// alone). The server treats repeats as harmless anyway and forces an exit only on the third.
let serverShuttingDown = false;
child.on('message', (msg) => {
  if (msg && typeof msg === 'object' && msg.type === 'shutting-down') serverShuttingDown = true;
});
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    setTimeout(() => {
      if (!serverShuttingDown && child.exitCode === null && child.signalCode === null) child.kill(sig);
    }, 500).unref();
  });
}
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
