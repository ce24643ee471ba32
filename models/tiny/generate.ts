// Writes one tiny variant as a complete diffusers/Optimum ONNX folder. The folder is assembled
// next to its destination and renamed into place, so a reader never sees half a model.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { buildBpeVocab } from './bpe-vocab';
import { modelIndex, schedulerConfig, textEncoderConfig, tokenizerFiles, unetConfig, vaeConfig } from './configs';
import type { GraphBuilder } from './onnx-graph';
import { seedFor } from './rng';
import { buildTextEncoder } from './text-encoder';
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

  // Seeds depend on the variant's contract-independent identity (hidden size, VAE kind), so
  // tiny-turbo and tiny-turbo-fp16 share weights up to float16 rounding.
  const weightsId = `${variant.kind}-${variant.hiddenSize}`;
  await writeGraph(
    join(work, 'text_encoder'),
    buildTextEncoder({ vocabSize, hiddenSize: variant.hiddenSize, idsType: variant.idsType, storage: variant.storage, seed: seedFor(weightsId, 'text_encoder') }),
  );
  await writeJson(join(work, 'text_encoder', 'config.json'), textEncoderConfig(vocabSize, variant.hiddenSize, eosId, bosId, padId));

  await writeGraph(
    join(work, 'unet'),
    buildUnet({
      crossAttentionDim: variant.hiddenSize,
      timestep: variant.timestep,
      timeCondProjDim: variant.timeCondProjDim,
      storage: variant.storage,
      seed: seedFor(weightsId, 'unet'),
    }),
    variant.unetExternalData ? 'model.onnx_data' : undefined,
  );
  await writeJson(join(work, 'unet', 'config.json'), unetConfig(variant.hiddenSize, variant.timeCondProjDim, SAMPLE_SIZE));

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
