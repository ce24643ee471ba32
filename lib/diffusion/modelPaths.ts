// Where a model named on the command line or in config lives, and what to tell a person whose
// model folder is broken: re-downloading only helps for a folder that came from a preset.
import { existsSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';
import type { PresetStamp } from './presetStamp';

/** $MODELS_DIR, default ./models/local (relative to the working directory). */
export function defaultModelsDir(): string {
  return process.env.MODELS_DIR ?? join(process.cwd(), 'models', 'local');
}

/** A preset name resolves to <modelsDir>/<preset>; anything that looks like a path is used as a
 * folder (relative to the working directory). */
export function resolveModelArg(model: string, modelsDir = defaultModelsDir()): string {
  const looksLikePath = isAbsolute(model) || model.startsWith('.') || model.includes('/') || model.includes('\\');
  if (looksLikePath || existsSync(join(model, 'model_index.json'))) return resolve(model);
  return join(modelsDir, model);
}

// The engine reads the manifest's names only (not its schema, which models/presets.ts owns): it
// is data next to the code, and lib/ must not import models/ (models/ imports lib/).
const MANIFEST = join(import.meta.dirname, '..', '..', 'models', 'presets.json');
let presetSources: Map<string, string> | undefined;

/** 'hub' for a downloadable preset, 'generated' for a tiny test model, undefined otherwise. */
export function presetSource(name: string): 'hub' | 'generated' | undefined {
  if (!presetSources) {
    presetSources = new Map();
    try {
      const presets = JSON.parse(readFileSync(MANIFEST, 'utf8')).presets as Record<string, { source?: string }>;
      for (const [n, p] of Object.entries(presets)) if (p && typeof p.source === 'string') presetSources.set(n, p.source);
    } catch {
      // no manifest: every folder is a plain folder
    }
  }
  const s = presetSources.get(name);
  return s === 'hub' || s === 'generated' ? s : undefined;
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
