// Where a model named on the command line or in config lives, and what to tell a person whose
// model folder is broken: re-downloading only helps for a folder that came from a preset.
import { existsSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { presetSource } from './presets';
import type { PresetStamp } from './presetStamp';

/** $MODELS_DIR, default ./models/local (relative to the working directory). */
export function defaultModelsDir(): string {
  return process.env.MODELS_DIR ?? join(process.cwd(), 'models', 'local');
}

/** Whether a MODEL / --model value names a folder rather than a preset. */
export function looksLikePath(model: string): boolean {
  return isAbsolute(model) || model.startsWith('.') || model.includes('/') || model.includes('\\');
}

/** A preset name resolves to <modelsDir>/<preset>; anything that looks like a path is used as a
 * folder (relative to the working directory). */
export function resolveModelArg(model: string, modelsDir = defaultModelsDir()): string {
  if (looksLikePath(model) || existsSync(join(model, 'model_index.json'))) return resolve(model);
  return join(modelsDir, model);
}

/** How to get an intact copy of the folder `dir`: re-download a preset (by its stamp, else by its
 * folder name), regenerate a tiny model, or — for a folder made by hand — restore it at its source. */
export function repairHint(dir: string, stamp: PresetStamp | null): string {
  const preset = stamp?.preset ?? basename(dir);
  const source = stamp ? 'hub' : presetSource(preset);
  if (source === 'hub') return `re-download with \`npm run models:download -- ${preset}\``;
  if (source === 'generated') return 'regenerate it with `npm run models:tiny`';
  return 're-export or re-copy the model folder from where it came from';
}

/** How to get a folder that does not exist at all. */
export function installHint(name: string): string {
  const source = presetSource(name);
  if (source === 'hub') return `download it with \`npm run models:download -- ${name}\``;
  if (source === 'generated') return 'generate it with `npm run models:tiny`';
  return 'pass a diffusers ONNX folder or an installed preset name (see `npm run models:download -- --list`)';
}
