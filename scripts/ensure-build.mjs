// Builds the Next.js app when there is no production build or when a source file is newer than
// it, so `npm start` and `npm test` work on a fresh clone and never serve a stale page.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const SOURCES = ['app', 'lib/protocol', 'lib/canvas', 'next.config.js', 'package.json', 'tsconfig.json', 'tsconfig.web.json', 'public'];

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

export function buildIsFresh() {
  const id = join(root, '.next', 'BUILD_ID');
  if (!existsSync(id)) return false;
  const built = statSync(id).mtimeMs;
  return SOURCES.every((s) => newestMtime(join(root, s)) <= built);
}

export function ensureBuild({ quiet = false } = {}) {
  if (buildIsFresh()) return;
  if (!quiet) console.log('[livecanvas] building the web app (next build)…');
  // Same steps as `npm run build`, run with this node binary: no shell, no npm on PATH needed
  // (spawning `npm` fails on Windows without a shell).
  const steps = [
    [join(root, 'scripts', 'copy-tldraw-assets.mjs')],
    [join(root, 'node_modules', 'next', 'dist', 'bin', 'next'), 'build'],
  ];
  for (const args of steps) {
    const r = spawnSync(process.execPath, args, {
      cwd: root,
      stdio: quiet ? 'pipe' : 'inherit',
      env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    });
    if (r.error) throw r.error;
    if (r.status !== 0) {
      if (quiet) process.stderr.write(String(r.stdout) + String(r.stderr));
      throw new Error(`next build failed (exit ${r.status})`);
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) ensureBuild();
