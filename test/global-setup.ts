// Prepares what the tests run against: the tiny random-weight models (generated in the real
// diffusers/Optimum layouts) and a fresh production build of the web app for browser tests.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
// @ts-expect-error plain .mjs helper shared with npm start
import { ensureBuild } from '../scripts/ensure-build.mjs';
import { TINY_GENERATOR_VERSION } from '../models/tiny/configs';

const root = join(import.meta.dirname, '..');
export const TINY_DIR = join(root, 'models', 'local');

export default function setup() {
  // Regenerate when a model is missing or was written by an older generator.
  const needModels = ['tiny-lcm', 'tiny-turbo', 'tiny-taesd', 'tiny-turbo-fp16'].some((m) => {
    const index = join(TINY_DIR, m, 'model_index.json');
    if (!existsSync(index)) return true;
    return JSON.parse(readFileSync(index, 'utf8'))._livecanvas_tiny_version !== TINY_GENERATOR_VERSION;
  });
  if (needModels) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'models/tiny/cli.ts', '--out', TINY_DIR], {
      cwd: root,
      stdio: 'inherit',
    });
    if (r.status !== 0) throw new Error('tiny model generation failed');
  }
  if (process.env.LC_SKIP_BUILD !== '1') ensureBuild();
}
