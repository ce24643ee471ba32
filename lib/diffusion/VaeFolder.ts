// The VAE halves a pipeline runs with — its own vae_encoder/ + vae_decoder/, or those of another
// folder (`vae` load option, e.g. the taesd preset) — and the two facts the ONNX files do not
// state: which autoencoder it is and the latent scaling factor. Getting the factor wrong fails
// silently (TAESD latents × 0.18215 decode to mush), so the facts come from, in order:
//   1. vae_decoder/config.json or vae_encoder/config.json (`_class_name`, `scaling_factor`),
//   2. the preset stamp's `vae` (the taesd repo ships no config.json),
//   3. the graph: TAESD's decoder starts with a tanh clamp (tanh(x/3)·3) that SD's
//      AutoencoderKL decoder never has,
//   4. otherwise SD's AutoencoderKL, 0.18215.
// A config that says AutoencoderKL next to a TAESD graph is refused: that is TAESD copied into
// another model's folders without its config, and guessing either way could be wrong.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { deterministicEncoder, type DeterministicEncoder } from './deterministicEncoder';
import { EngineError } from './errors';
import { repairHint, installHint } from './modelPaths';
import { findOpTypes } from './onnxOps';
import { readPresetStamp, type PresetStamp } from './presetStamp';
import { checkWeightsFile, LFS_MAGIC } from './weightsFile';

/** AutoencoderKL (SD's VAE) or AutoencoderTiny (TAESD). */
export type VaeKind = 'kl' | 'taesd';
export type VaePart = 'vae_encoder' | 'vae_decoder';
export const VAE_PARTS: readonly VaePart[] = ['vae_encoder', 'vae_decoder'];
/** where the VAE facts were read from */
export type VaeFactsSource = 'config' | 'stamp' | 'graph' | 'default';

const SD_SCALING_FACTOR = 0.18215;

export class VaeFolder {
  readonly name: string;
  readonly kind: VaeKind;
  /** latent = scaling_factor · vae_encode(image); the UNet works on that scale */
  readonly latentScale: number;
  readonly factsFrom: VaeFactsSource;
  /**
   * Optimum exports before late 2024 sample the VAE posterior inside vae_encoder/model.onnx
   * (`latent_dist.sample()` → RandomNormalLike, seeded by onnxruntime from the clock, and Node has
   * no way to seed it). Such a model cannot give byte-identical output for the same seed.
   */
  readonly encoderSamplesNoise: boolean;
  /** the encoder file sessions load: model.onnx, or its deterministic rewrite */
  private encoderFile = 'model.onnx';

  private constructor(
    readonly dir: string,
    stamp: PresetStamp | null,
  ) {
    this.name = basename(dir);
    const config = this.readConfig('vae_decoder') ?? this.readConfig('vae_encoder');
    const taesdGraph = findOpTypes(this.partPath('vae_decoder'), ['Tanh']).has('Tanh');
    this.encoderSamplesNoise = findOpTypes(join(dir, 'vae_encoder', 'model.onnx'), ['RandomNormalLike', 'RandomNormal']).size > 0;
    const scale = (v: unknown, kind: VaeKind) => (typeof v === 'number' && v > 0 ? v : kind === 'taesd' ? 1 : SD_SCALING_FACTOR);
    if (config) {
      this.kind = config._class_name === 'AutoencoderTiny' ? 'taesd' : 'kl';
      if (this.kind === 'kl' && taesdGraph) {
        throw new EngineError(
          'MODEL_UNSUPPORTED',
          `${this.dir}/vae_decoder/model.onnx is a TAESD decoder (tanh clamp) but its config.json says ${String(config._class_name ?? 'AutoencoderKL')} (latents × ${scale(config.scaling_factor, 'kl')}): the VAE was copied in without its config; restore this model's own vae_encoder/ and vae_decoder/ and load TAESD with --vae taesd (ENGINE_VAE=taesd)`,
        );
      }
      this.latentScale = scale(config.scaling_factor, this.kind);
      this.factsFrom = 'config';
    } else if (stamp?.vae) {
      this.kind = stamp.vae.class === 'AutoencoderTiny' ? 'taesd' : 'kl';
      this.latentScale = scale(stamp.vae.scalingFactor, this.kind);
      this.factsFrom = 'stamp';
    } else if (taesdGraph) {
      this.kind = 'taesd';
      this.latentScale = 1;
      this.factsFrom = 'graph';
    } else {
      this.kind = 'kl';
      this.latentScale = SD_SCALING_FACTOR;
      this.factsFrom = 'default';
    }
  }

  /** The VAE of a pipeline folder that ModelFolder has already checked. */
  static ofModel(dir: string, stamp: PresetStamp | null): VaeFolder {
    return new VaeFolder(dir, stamp);
  }

  /** Another folder's VAE (`vae` load option): anything with vae_encoder/model.onnx and
   * vae_decoder/model.onnx, e.g. the taesd preset or another pipeline folder. */
  static open(dir: string): VaeFolder {
    const abs = resolve(dir);
    const name = basename(abs);
    if (!existsSync(abs) || !statSync(abs).isDirectory()) {
      throw new EngineError('MODEL_MISSING', `VAE folder ${abs} does not exist; ${installHint(name)}`);
    }
    const stamp = readPresetStamp(abs);
    for (const part of VAE_PARTS) {
      const p = join(abs, part, 'model.onnx');
      if (!existsSync(p)) {
        throw new EngineError('MODEL_MISSING', `VAE folder ${abs} has no ${part}/model.onnx (a VAE folder holds vae_encoder/ and vae_decoder/, like the taesd preset); ${repairHint(abs, stamp)}`);
      }
      checkWeightsFile(p, `${part}/model.onnx`, repairHint(abs, stamp));
    }
    return new VaeFolder(abs, stamp);
  }

  partPath(part: VaePart): string {
    return join(this.dir, part, part === 'vae_encoder' ? this.encoderFile : 'model.onnx');
  }

  /** Switches an encoder that samples inside its graph to its cached deterministic rewrite
   * (deterministicEncoder.ts). Returns false, leaving the original in use, when the copy cannot
   * be written; the caller says so. */
  useDeterministicEncoder(): { ok: true; from: DeterministicEncoder['from'] } | { ok: false; reason: string } {
    if (!this.encoderSamplesNoise) return { ok: true, from: 'original' };
    try {
      const d = deterministicEncoder(join(this.dir, 'vae_encoder', 'model.onnx'));
      this.encoderFile = basename(d.path);
      return { ok: true, from: d.from };
    } catch (e) {
      return { ok: false, reason: (e as Error).message.split('\n')[0] };
    }
  }

  private readConfig(part: VaePart): Record<string, unknown> | undefined {
    const p = join(this.dir, part, 'config.json');
    if (!existsSync(p)) return undefined;
    const text = readFileSync(p, 'utf8');
    const hint = repairHint(this.dir, readPresetStamp(this.dir));
    if (text.startsWith(LFS_MAGIC)) {
      throw new EngineError('MODEL_LFS_POINTER', `${p} is a Git-LFS pointer, not the file; run \`git lfs pull\` in the model repo or ${hint}`);
    }
    try {
      const v = JSON.parse(text);
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
      return v;
    } catch (e) {
      throw new EngineError('MODEL_CORRUPT', `${p} is not valid JSON (${(e as Error).message}); ${hint}`);
    }
  }
}
