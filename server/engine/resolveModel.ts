// Which model folder the engine loads. `MODEL` (env or --model) is a preset name (a folder under
// MODELS_DIR) or a path; empty means the first installed preset of `presetPreference` (a preset
// marked `"default": true` in models/presets.json comes first). Nothing found is not a crash: the server runs with engine state 'no-model'
// and tells people the command that fixes it.
import { existsSync, readFileSync } from 'node:fs';
import { basename, isAbsolute, join, resolve } from 'node:path';

export type ModelResolution =
  | { ok: true; name: string; dir: string }
  | { ok: false; message: string };

const PRESETS_FILE = resolve(import.meta.dirname, '..', '..', 'models', 'presets.json');

const isModelFolder = (dir: string) => existsSync(join(dir, 'model_index.json'));

/** Entries of models/presets.json (array of presets, `{presets: [...]}` or an object keyed by
 * name) as [name, preset]; empty when the manifest is missing or unreadable. */
function presetEntries(presetsFile = PRESETS_FILE): [string, unknown][] {
  if (!existsSync(presetsFile)) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(presetsFile, 'utf8'));
  } catch {
    return [];
  }
  const container = raw && typeof raw === 'object' && 'presets' in raw ? (raw as { presets: unknown }).presets : raw;
  return Array.isArray(container)
    ? container.map((p) => [String((p as { name?: unknown; id?: unknown })?.name ?? (p as { id?: unknown })?.id ?? ''), p])
    : container && typeof container === 'object'
      ? Object.entries(container)
      : [];
}

/** The preset marked `default: true` in models/presets.json, or undefined when none is. */
export function defaultPresetName(presetsFile = PRESETS_FILE): string | undefined {
  const found = presetEntries(presetsFile).find(([, p]) => p && typeof p === 'object' && (p as { default?: unknown }).default === true);
  return found?.[0] || undefined;
}

/** A folder holding only a VAE (the taesd preset): usable as ENGINE_VAE, not as MODEL. */
const isVaeOnlyFolder = (dir: string) => !isModelFolder(dir) && existsSync(join(dir, 'vae_decoder', 'model.onnx'));

const downloadHint = (preset: string) => `run \`npm run models:download -- ${preset}\``;

/** Which presets the server uses when MODEL is not set, best first, by execution provider.
 * On CPU the one-step SDXS-512 (small UNet; pair it with ENGINE_VAE=taesd) is the only one that
 * feels live on a few cores; on a GPU, LCM Dreamshaper gives better pictures at 4 steps. sd-turbo is a CUDA-only fp16
 * build. Generated tiny-* models have random weights and are never picked by themselves. */
export function presetPreference(executionProvider: string, presetsFile = PRESETS_FILE): string[] {
  const marked = defaultPresetName(presetsFile);
  const order = executionProvider === 'cpu' ? ['sdxs-512', 'lcm-dreamshaper-v7'] : ['lcm-dreamshaper-v7', 'sdxs-512', 'sd-turbo'];
  return marked ? [marked, ...order.filter((p) => p !== marked)] : order;
}

export function resolveModel(
  model: string,
  modelsDir: string,
  executionProvider = 'cpu',
  presetsFile = PRESETS_FILE,
): ModelResolution {
  const wanted = model.trim();
  if (wanted) {
    const looksLikePath = isAbsolute(wanted) || wanted.startsWith('.') || wanted.includes('/') || wanted.includes('\\');
    const dir = looksLikePath ? resolve(wanted) : join(modelsDir, wanted);
    if (isModelFolder(dir)) return { ok: true, name: looksLikePath ? basename(dir) : wanted, dir };
    if (isVaeOnlyFolder(dir)) {
      return {
        ok: false,
        message: `'${wanted}' is a VAE only — set ENGINE_VAE=${wanted} together with a model, e.g. MODEL=sdxs-512 ENGINE_VAE=${wanted}`,
      };
    }
    if (looksLikePath) return { ok: false, message: `model folder ${dir} has no model_index.json — point MODEL at a diffusers ONNX folder` };
    const known = presetEntries(presetsFile).map(([name]) => name);
    return {
      ok: false,
      message: known.includes(wanted)
        ? `model '${wanted}' is not installed in ${modelsDir} — ${downloadHint(wanted)}`
        : `'${wanted}' is neither a preset nor a folder in ${modelsDir} — \`npm run models:download -- --list\` shows the presets`,
    };
  }
  const preferred = presetPreference(executionProvider, presetsFile);
  const installed = preferred.find((p) => isModelFolder(join(modelsDir, p)));
  if (installed) return { ok: true, name: installed, dir: join(modelsDir, installed) };
  return { ok: false, message: `no model installed — ${downloadHint(preferred[0])}` };
}
