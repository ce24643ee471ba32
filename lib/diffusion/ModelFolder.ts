// A model folder on disk in the diffusers/Optimum ONNX layout, checked before any session is
// created: what is missing, what is a Git-LFS pointer instead of weights, what JSON is broken.
// Each refusal is one line naming the file and the command that fixes it.
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { EngineError } from './errors';

export type ModelPart = 'text_encoder' | 'unet' | 'vae_encoder' | 'vae_decoder';
export const MODEL_PARTS: readonly ModelPart[] = ['text_encoder', 'unet', 'vae_encoder', 'vae_decoder'];

/** Which sampler family the model was distilled for, from scheduler/scheduler_config.json. */
export type ModelKind = 'lcm' | 'turbo';
/** AutoencoderKL (SD's VAE) or AutoencoderTiny (TAESD). */
export type VaeKind = 'kl' | 'taesd';

const LFS_MAGIC = 'version https://git-lfs';

export function downloadHint(preset: string): string {
  return `re-download with \`npm run models:download -- ${preset}\``;
}

export class ModelFolder {
  readonly dir: string;
  /** the folder name, which is the preset name for downloaded models */
  readonly name: string;
  readonly kind: ModelKind;
  readonly schedulerClass: string;
  readonly schedulerConfig: Record<string, unknown>;
  readonly vaeKind: VaeKind;
  /** latent = scaling_factor · vae_encode(image); the UNet works on that scale */
  readonly latentScale: number;
  readonly unetConfig: Record<string, unknown>;
  /**
   * Optimum exports before late 2024 sample the VAE posterior inside vae_encoder/model.onnx
   * (`latent_dist.sample()` → RandomNormalLike, seeded by onnxruntime from the clock, and Node has
   * no way to seed it). Such a model cannot give byte-identical output for the same seed.
   */
  readonly encoderSamplesNoise: boolean;

  private constructor(dir: string) {
    this.dir = dir;
    this.name = basename(dir);
    this.schedulerConfig = this.readJson('scheduler/scheduler_config.json', true)!;
    this.schedulerClass = String(this.schedulerConfig._class_name ?? '');
    // LCMScheduler → consistency sampling; Euler*/DDIM/PNDM/… exports (SD-Turbo ships
    // EulerDiscreteScheduler) are driven with trailing Euler, the few-step sampler for ADD models
    this.kind = this.schedulerClass === 'LCMScheduler' ? 'lcm' : 'turbo';
    this.unetConfig = this.readJson('unet/config.json', false) ?? {};
    const vaeConfig = this.readJson('vae_decoder/config.json', false) ?? this.readJson('vae_encoder/config.json', false) ?? {};
    this.vaeKind = vaeConfig._class_name === 'AutoencoderTiny' ? 'taesd' : 'kl';
    const sf = vaeConfig.scaling_factor;
    // AutoencoderTiny latents are already in UNet space; SD's KL VAE uses 0.18215
    this.latentScale = typeof sf === 'number' && sf > 0 ? sf : this.vaeKind === 'taesd' ? 1 : 0.18215;
    this.encoderSamplesNoise = fileContains(this.partPath('vae_encoder'), ['RandomNormalLike', 'RandomNormal']);
  }

  /** Checks the folder and every file the engine needs; throws EngineError on the first problem. */
  static open(dir: string): ModelFolder {
    const abs = resolve(dir);
    const preset = basename(abs);
    if (!existsSync(abs) || !statSync(abs).isDirectory()) {
      throw new EngineError('MODEL_MISSING', `model folder ${abs} does not exist; download it with \`npm run models:download -- ${preset}\` or pass a diffusers ONNX folder`);
    }
    for (const rel of ['scheduler/scheduler_config.json', 'tokenizer/vocab.json', 'tokenizer/merges.txt', ...MODEL_PARTS.map((p) => `${p}/model.onnx`)]) {
      const p = join(abs, rel);
      if (!existsSync(p)) {
        throw new EngineError('MODEL_MISSING', `model folder ${abs} has no ${rel}; ${downloadHint(preset)}`);
      }
    }
    for (const part of MODEL_PARTS) {
      for (const f of readdirSync(join(abs, part))) {
        if (f.endsWith('.onnx') || f.endsWith('.onnx_data') || f === 'weights.pb') checkWeightsFile(join(abs, part, f), `${part}/${f}`, preset);
      }
    }
    return new ModelFolder(abs);
  }

  partPath(part: ModelPart): string {
    return join(this.dir, part, 'model.onnx');
  }

  private readJson(rel: string, required: boolean): Record<string, unknown> | undefined {
    const p = join(this.dir, rel);
    if (!existsSync(p)) {
      if (required) throw new EngineError('MODEL_MISSING', `model folder ${this.dir} has no ${rel}; ${downloadHint(this.name)}`);
      return undefined;
    }
    const text = readFileSync(p, 'utf8');
    if (text.startsWith(LFS_MAGIC)) {
      throw new EngineError('MODEL_LFS_POINTER', `${p} is a Git-LFS pointer, not the file; run \`git lfs pull\` in the model repo or ${downloadHint(this.name)}`);
    }
    try {
      const v = JSON.parse(text);
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
      return v;
    } catch (e) {
      throw new EngineError('MODEL_CORRUPT', `${p} is not valid JSON (${(e as Error).message}); ${downloadHint(this.name)}`);
    }
  }
}

/** Whether any of the ASCII strings occurs in the file; op types are plain strings in the ONNX
 * protobuf, so this finds a node type without parsing a 100+ MB model. Reads in 4 MiB chunks. */
function fileContains(path: string, needles: string[]): boolean {
  const patterns = needles.map((n) => Buffer.from(n, 'latin1'));
  const overlap = Math.max(...patterns.map((p) => p.length)) - 1;
  const chunk = Buffer.alloc(4 << 20);
  const fd = openSync(path, 'r');
  try {
    let position = 0;
    let carry = 0;
    for (;;) {
      const n = readSync(fd, chunk, carry, chunk.length - carry, position);
      if (n === 0) return false;
      const view = chunk.subarray(0, carry + n);
      if (patterns.some((p) => view.includes(p))) return true;
      position += n;
      carry = Math.min(overlap, view.length);
      view.copy(chunk, 0, view.length - carry);
    }
  } finally {
    closeSync(fd);
  }
}

/** Git-LFS pointers are ~130-byte text files that clones without git-lfs leave in place of the
 * weights; onnxruntime would report them as a cryptic protobuf parse error. */
function checkWeightsFile(path: string, rel: string, preset: string): void {
  const size = statSync(path).size;
  if (size === 0) throw new EngineError('MODEL_CORRUPT', `${path} is empty; ${downloadHint(preset)}`);
  const head = Buffer.alloc(Math.min(size, LFS_MAGIC.length));
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (head.toString('latin1') === LFS_MAGIC) {
    throw new EngineError(
      'MODEL_LFS_POINTER',
      `${path} is a Git-LFS pointer, not the ${rel.endsWith('.onnx') ? 'model' : 'weights'}; run \`git lfs pull\` in the model repo or ${downloadHint(preset)}`,
    );
  }
}
