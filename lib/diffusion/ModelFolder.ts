// A model folder on disk in the diffusers/Optimum ONNX layout, checked before any session is
// created: what is missing, what is a Git-LFS pointer instead of weights, what JSON is broken,
// and whether it is a pipeline at all (the taesd preset is only a VAE). Each refusal is one line
// naming the file and what fixes it.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { EngineError } from './errors';
import { installHint, repairHint } from './modelPaths';
import { readPresetStamp, type PresetStamp } from './presetStamp';
import { VAE_PARTS, VaeFolder, type VaeKind, type VaePart } from './VaeFolder';
import { checkWeightsFile, LFS_MAGIC } from './weightsFile';

export type ModelPart = 'text_encoder' | 'unet' | VaePart;
export const MODEL_PARTS: readonly ModelPart[] = ['text_encoder', 'unet', 'vae_encoder', 'vae_decoder'];
export type { VaeKind };

/** Which sampler family the model was distilled for, from scheduler/scheduler_config.json. */
export type ModelKind = 'lcm' | 'turbo';

export interface ModelFolderOptions {
  /** a folder whose vae_encoder/ and vae_decoder/ replace the model's own (e.g. the taesd preset) */
  vaeDir?: string;
}

export class ModelFolder {
  readonly dir: string;
  /** the folder name, which is the preset name for downloaded models */
  readonly name: string;
  /** what `npm run models:download` recorded, or null for a folder made another way */
  readonly stamp: PresetStamp | null;
  readonly kind: ModelKind;
  readonly schedulerClass: string;
  readonly schedulerConfig: Record<string, unknown>;
  readonly unetConfig: Record<string, unknown>;
  /** the VAE halves in use: the model's own or the `vaeDir` override */
  readonly vae: VaeFolder;

  private constructor(dir: string, stamp: PresetStamp | null, vaeDir: string | undefined) {
    this.dir = dir;
    this.name = basename(dir);
    this.stamp = stamp;
    this.schedulerConfig = this.readJson('scheduler/scheduler_config.json', true)!;
    this.schedulerClass = String(this.schedulerConfig._class_name ?? '');
    // the sampler itself is chosen in schedulers/samplerChoice.ts; kind is the family
    this.kind = this.schedulerClass === 'LCMScheduler' ? 'lcm' : 'turbo';
    this.unetConfig = this.readJson('unet/config.json', false) ?? {};
    this.vae = vaeDir ? VaeFolder.open(vaeDir) : VaeFolder.ofModel(dir, stamp);
  }

  get vaeKind(): VaeKind {
    return this.vae.kind;
  }

  /** latent = scaling_factor · vae_encode(image); the UNet works on that scale */
  get latentScale(): number {
    return this.vae.latentScale;
  }

  get encoderSamplesNoise(): boolean {
    return this.vae.encoderSamplesNoise;
  }

  /** How to get an intact copy of this folder (for messages about its files). */
  get repairHint(): string {
    return repairHint(this.dir, this.stamp);
  }

  /** Checks the folder and every file the engine needs; throws EngineError on the first problem. */
  static open(dir: string, opts: ModelFolderOptions = {}): ModelFolder {
    const abs = resolve(dir);
    const name = basename(abs);
    if (!existsSync(abs) || !statSync(abs).isDirectory()) {
      throw new EngineError('MODEL_MISSING', `model folder ${abs} does not exist; ${installHint(name)}`);
    }
    const stamp = readPresetStamp(abs);
    if (isVaeOnly(abs, stamp)) {
      const vae = stamp?.preset ?? name;
      throw new EngineError(
        'MODEL_UNSUPPORTED',
        `${vae} is a VAE only: use --vae ${vae} with a pipeline preset, e.g. --model sdxs-512 --vae ${vae} (server: MODEL=sdxs-512 ENGINE_VAE=${vae})`,
      );
    }
    const hint = repairHint(abs, stamp);
    const parts = MODEL_PARTS.filter((p) => !(opts.vaeDir && VAE_PARTS.includes(p as VaePart)));
    for (const rel of ['scheduler/scheduler_config.json', 'tokenizer/vocab.json', 'tokenizer/merges.txt', ...parts.map((p) => `${p}/model.onnx`)]) {
      if (!existsSync(join(abs, rel))) {
        throw new EngineError('MODEL_MISSING', `model folder ${abs} has no ${rel}; ${hint}`);
      }
    }
    for (const part of parts) {
      for (const f of readdirSync(join(abs, part))) {
        if (f.endsWith('.onnx') || f.endsWith('.onnx_data') || f === 'weights.pb') checkWeightsFile(join(abs, part, f), `${part}/${f}`, hint);
      }
    }
    return new ModelFolder(abs, stamp, opts.vaeDir);
  }

  partPath(part: ModelPart): string {
    return part === 'vae_encoder' || part === 'vae_decoder' ? this.vae.partPath(part) : join(this.dir, part, 'model.onnx');
  }

  private readJson(rel: string, required: boolean): Record<string, unknown> | undefined {
    const p = join(this.dir, rel);
    if (!existsSync(p)) {
      if (required) throw new EngineError('MODEL_MISSING', `model folder ${this.dir} has no ${rel}; ${this.repairHint}`);
      return undefined;
    }
    const text = readFileSync(p, 'utf8');
    if (text.startsWith(LFS_MAGIC)) {
      throw new EngineError('MODEL_LFS_POINTER', `${p} is a Git-LFS pointer, not the file; run \`git lfs pull\` in the model repo or ${this.repairHint}`);
    }
    try {
      const v = JSON.parse(text);
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
      return v;
    } catch (e) {
      throw new EngineError('MODEL_CORRUPT', `${p} is not valid JSON (${(e as Error).message}); ${this.repairHint}`);
    }
  }
}

/** A downloaded VAE preset, or any folder with VAE halves but neither UNet nor scheduler. */
function isVaeOnly(dir: string, stamp: PresetStamp | null): boolean {
  if (stamp?.kind === 'vae') return true;
  const has = (rel: string) => existsSync(join(dir, rel));
  return !has('unet/model.onnx') && !has('scheduler/scheduler_config.json') && (has('vae_decoder/model.onnx') || has('vae_encoder/model.onnx'));
}
