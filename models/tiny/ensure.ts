// Makes sure tiny models exist and were written by the current generator: what the tests' global
// setup and the benchmarks call instead of asking for a download (tiny models are generated, not
// downloaded). Only missing or stale variants are (re)generated; each is renamed into place whole.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TINY_GENERATOR_VERSION } from './configs';
import { generateTinyModel } from './generate';
import { TINY_VARIANTS, tinyVariant } from './variants';

export const TINY_MODEL_NAMES: readonly string[] = TINY_VARIANTS.map((v) => v.name);

/** True for a name the tiny generator can write (`tiny-lcm`, …), false for presets and paths. */
export function isTinyModel(name: string): boolean {
  return TINY_MODEL_NAMES.includes(name);
}

function isCurrent(dir: string, name: string): boolean {
  const index = join(dir, name, 'model_index.json');
  if (!existsSync(index)) return false;
  try {
    return JSON.parse(readFileSync(index, 'utf8'))._livecanvas_tiny_version === TINY_GENERATOR_VERSION;
  } catch {
    return false;
  }
}

/** Generates into `dir` every tiny model of `names` (default: all) that is missing or stale.
 * Progress goes to `log` (default stderr, so `--json` stdout stays clean). Returns the names written. */
export async function ensureTinyModels(
  dir: string,
  names: readonly string[] = TINY_MODEL_NAMES,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Promise<string[]> {
  const written: string[] = [];
  for (const name of names) {
    const variant = tinyVariant(name);
    if (isCurrent(dir, name)) continue;
    const started = performance.now();
    await generateTinyModel(variant, dir);
    log(`generated tiny model ${name} in ${dir} (${Math.round(performance.now() - started)} ms)`);
    written.push(name);
  }
  return written;
}
