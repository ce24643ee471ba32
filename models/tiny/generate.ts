// Writes one tiny variant as a complete diffusers/Optimum ONNX folder. The folder is assembled
// next to its destination and renamed into place, so a reader never sees half a model.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buildBpeVocab } from './bpe-vocab';
import { controlNetConfig, modelIndex, schedulerConfig, textEncoderConfig, tokenizerFiles, unetConfig, vaeConfig } from './configs';
import { buildControlNet, CONTROL_LAYERS_PER_BLOCK, FUSED_KINDS, TINY_CONTROL_KINDS } from './controlnet';
import type { GraphBuilder } from './onnx-graph';
import { SeededRandom, seedFor } from './rng';
import { buildTextEncoder, MAX_POSITIONS, meanHiddenState, textEncoderWeights, type TextEncoderWeights } from './text-encoder';
import { buildUnet } from './unet';
import type { TinyVariant } from './variants';
import { buildVaeDecoder, buildVaeEncoder } from './vae';

/** Merges learned for the tiny CLIP vocab: 256 + 256 + 400 + 2 = 914 tokens. */
export const TINY_MERGES = 400;
/** UNet sample_size (latent pixels): 64 → 512² default output, as SD 1.5 / SD-Turbo. */
const SAMPLE_SIZE = 64;

async function writeJson(path: string, value: unknown) {
  await writeFile(path, typeof value === 'string' ? value : JSON.stringify(value, null, 2) + '\n');
}

async function writeGraph(dir: string, graph: GraphBuilder, externalDataFile?: string) {
  await mkdir(dir, { recursive: true });
  const { model, externalData } = graph.build({ externalDataFile });
  await writeFile(join(dir, 'model.onnx'), model);
  if (externalDataFile && externalData) await writeFile(join(dir, externalDataFile), externalData);
}

/** Generates `variant` into `<outDir>/<variant.name>/`, replacing any previous copy. */
export async function generateTinyModel(variant: TinyVariant, outDir: string): Promise<string> {
  const finalDir = join(outDir, variant.name);
  const work = join(outDir, `.${variant.name}.tmp-${process.pid}`);
  await rm(work, { recursive: true, force: true });
  await mkdir(work, { recursive: true });

  const bpe = buildBpeVocab(TINY_MERGES);
  const vocabSize = bpe.vocab.size;
  const eosId = bpe.vocab.get(bpe.eosToken)!;
  const bosId = bpe.vocab.get(bpe.bosToken)!;
  const padId = bpe.vocab.get(variant.padToken)!;
  const vaeClass = variant.vae === 'taesd' ? 'AutoencoderTiny' : 'AutoencoderKL';
  const scalingFactor = variant.vae === 'taesd' ? 1.0 : 0.18215;

  await writeJson(join(work, 'model_index.json'), modelIndex(variant.kind, vaeClass));
  await mkdir(join(work, 'scheduler'));
  await writeJson(join(work, 'scheduler', 'scheduler_config.json'), schedulerConfig(variant.kind));
  await mkdir(join(work, 'tokenizer'));
  for (const [file, content] of Object.entries(tokenizerFiles(bpe, variant.padToken))) {
    await writeJson(join(work, 'tokenizer', file), content);
  }

  // Seeds depend on the variant's contract-independent identity (kind, hidden size), so
  // tiny-turbo and tiny-turbo-fp16 share weights up to float16 rounding.
  const weightsId = `${variant.kind}-${variant.hiddenSize}`;
  const text = textEncoderWeights(vocabSize, variant.hiddenSize, seedFor(weightsId, 'text_encoder'));
  await writeGraph(join(work, 'text_encoder'), buildTextEncoder(text, { idsType: variant.idsType, storage: variant.storage }));
  await writeJson(join(work, 'text_encoder', 'config.json'), textEncoderConfig(vocabSize, variant.hiddenSize, eosId, bosId, padId));

  await writeGraph(
    join(work, 'unet'),
    buildUnet({
      crossAttentionDim: variant.hiddenSize,
      timestep: variant.timestep,
      timeCondProjDim: variant.timeCondProjDim,
      storage: variant.storage,
      seed: seedFor(weightsId, 'unet'),
      textCalibration: calibrateText(text, { bosId, eosId, padId }, seedFor(weightsId, 'calibration')),
      control: variant.controlnet === 'separate' ? { layout: 'separate' } : variant.controlnet === 'fused' ? { layout: 'fused', kinds: FUSED_KINDS } : undefined,
    }),
    variant.unetExternalData ? 'model.onnx_data' : undefined,
  );
  const layersPerBlock = variant.controlnet ? CONTROL_LAYERS_PER_BLOCK : 1;
  await writeJson(join(work, 'unet', 'config.json'), unetConfig(variant.hiddenSize, variant.timeCondProjDim, SAMPLE_SIZE, layersPerBlock));
  await writeControlNets(work, variant);

  const vaeSpec = { kind: variant.vae, scalingFactor, storage: variant.storage, seed: seedFor(weightsId, variant.vae, 'vae') };
  await writeGraph(join(work, 'vae_encoder'), buildVaeEncoder(vaeSpec));
  await writeGraph(join(work, 'vae_decoder'), buildVaeDecoder(vaeSpec));
  for (const part of ['vae_encoder', 'vae_decoder']) {
    await writeJson(join(work, part, 'config.json'), vaeConfig(vaeClass, SAMPLE_SIZE * 8));
  }

  await mkdir(dirname(finalDir), { recursive: true });
  await rm(finalDir, { recursive: true, force: true });
  await rename(work, finalDir);
  return finalDir;
}

/** The separate layout's controlnet/<kind>/ folders (scribble takes a double [1] scale as OnnxStack
 * feeds it, canny a float scalar: the engine must read which), or the fused layout's kind order. */
async function writeControlNets(work: string, variant: TinyVariant): Promise<void> {
  if (variant.controlnet === 'fused') {
    await writeJson(join(work, 'unet', 'controlnet.json'), { kinds: FUSED_KINDS });
    return;
  }
  if (variant.controlnet !== 'separate') return;
  for (const kind of TINY_CONTROL_KINDS) {
    const dir = join(work, 'controlnet', kind);
    const scale = kind === 'scribble' ? 'double-rank1' : 'float-scalar';
    await writeGraph(dir, buildControlNet({ kind, crossAttentionDim: variant.hiddenSize, scale, storage: variant.storage }));
    await writeJson(join(dir, 'config.json'), controlNetConfig(variant.hiddenSize, SAMPLE_SIZE));
  }
}

/** Mean and spread of the UNet's prompt feature over random prompts of 0–20 tokens, padded the way
 * the variant's tokenizer pads, so the UNet can centre and scale its prompt response. */
function calibrateText(w: TextEncoderWeights, ids: { bosId: number; eosId: number; padId: number }, seed: number) {
  const rng = new SeededRandom(seed);
  const samples: Float64Array[] = [];
  for (let n = 0; n < 64; n++) {
    const length = Math.floor(rng.next() * 21);
    const prompt = Array.from({ length }, () => Math.floor(rng.next() * ids.bosId));
    const seq = [ids.bosId, ...prompt, ids.eosId];
    while (seq.length < MAX_POSITIONS) seq.push(ids.padId);
    samples.push(meanHiddenState(w, seq));
  }
  const D = w.hiddenSize;
  const mean = new Float64Array(D);
  for (const s of samples) for (let j = 0; j < D; j++) mean[j] += s[j] / samples.length;
  let sq = 0;
  for (const s of samples) for (let j = 0; j < D; j++) sq += (s[j] - mean[j]) ** 2;
  return { mean, spread: Math.sqrt(sq / (samples.length * D)) };
}
