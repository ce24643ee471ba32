// `npm test`: type-check the whole project (tsx and next build only strip or check parts of it),
// then unit, integration and browser tests in one vitest run. The global setup
// (test/global-setup.ts) generates the tiny models and the production build when needed.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const env = { NEXT_TELEMETRY_DISABLED: '1', ...process.env };

function run(script, args) {
  const r = spawnSync(process.execPath, [script, ...args], { cwd: root, stdio: 'inherit', env });
  if (r.error) throw r.error;
  return r.status ?? 1;
}

console.log('[livecanvas] type-checking (tsc --noEmit)…');
const tsc = run(join(root, 'node_modules', 'typescript', 'bin', 'tsc'), ['--noEmit', '-p', '.']);
if (tsc !== 0) {
  console.error('[livecanvas] type errors: fix them before the tests run');
  process.exit(tsc);
}
process.exit(run(join(root, 'node_modules', 'vitest', 'vitest.mjs'), ['run', ...process.argv.slice(2)]));
