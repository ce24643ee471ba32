// Which model folder the engine loads. `MODEL` (env or --model) is a preset name (a folder under
// MODELS_DIR) or a path; empty means the first installed preset of `presetPreference`. Nothing
// found is not a crash: the server runs with engine state 'no-model' and tells people the command
// that fixes it. Preset names come from the one manifest module (lib/diffusion/presets).
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { looksLikePath } from '../../lib/diffusion/modelPaths';
import { presetSource } from '../../lib/diffusion/presets';

export type ModelResolution =
  | { ok: true; name: string; dir: string }
  | { ok: false; message: string };

const isModelFolder = (dir: string) => existsSync(join(dir, 'model_index.json'));

/** A folder holding only a VAE (the taesd preset): usable as ENGINE_VAE, not as MODEL. */
const isVaeOnlyFolder = (dir: string) => !isModelFolder(dir) && existsSync(join(dir, 'vae_decoder', 'model.onnx'));

/** How to install a preset: download it, or generate it when it is a tiny test model. */
const installCommand = (preset: string) => (presetSource(preset) === 'generated' ? 'run `npm run models:tiny`' : `run \`npm run models:download -- ${preset}\``);

/** Which presets the server uses when MODEL is not set, best first, by execution provider.
 * On CPU the one-step SDXS-512 (small UNet; pair it with ENGINE_VAE=taesd) is the only one that
 * feels live on a few cores; on a GPU, LCM Dreamshaper gives better pictures at 4 steps. sd-turbo
 * is a CUDA-only fp16 build. Generated tiny-* models have random weights and are never picked by
 * themselves. */
export function presetPreference(executionProvider: string): string[] {
  return executionProvider === 'cpu' ? ['sdxs-512', 'lcm-dreamshaper-v7'] : ['lcm-dreamshaper-v7', 'sdxs-512', 'sd-turbo'];
}

export function resolveModel(model: string, modelsDir: string, executionProvider = 'cpu'): ModelResolution {
  const wanted = model.trim();
  if (wanted) {
    const isPath = looksLikePath(wanted);
    const dir = isPath ? resolve(wanted) : join(modelsDir, wanted);
    if (isModelFolder(dir)) return { ok: true, name: isPath ? basename(dir) : wanted, dir };
    if (isVaeOnlyFolder(dir)) {
      return {
        ok: false,
        message: `'${wanted}' is a VAE only — set ENGINE_VAE=${wanted} together with a model, e.g. MODEL=sdxs-512 ENGINE_VAE=${wanted}`,
      };
    }
    if (isPath) return { ok: false, message: `model folder ${dir} has no model_index.json — point MODEL at a diffusers ONNX folder` };
    return {
      ok: false,
      message: presetSource(wanted)
        ? `model '${wanted}' is not installed in ${modelsDir} — ${installCommand(wanted)}`
        : `'${wanted}' is neither a preset nor a folder in ${modelsDir} — \`npm run models:download -- --list\` shows the presets`,
    };
  }
  const preferred = presetPreference(executionProvider);
  const installed = preferred.find((p) => isModelFolder(join(modelsDir, p)));
  if (installed) return { ok: true, name: installed, dir: join(modelsDir, installed) };
  return { ok: false, message: `no model installed — ${installCommand(preferred[0])}` };
}
