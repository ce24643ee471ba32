// The steps of Img2ImgPipeline.load that decide something before or after the sessions exist:
// which execution provider and thread count, which sampler, whether the VAE encoder is made
// deterministic, and what the loaded pipeline reports about itself.
import type * as ort from 'onnxruntime-node';
import type { ControlNetInfo } from './ControlNets';
import { EngineError } from './errors';
import { readContract, summarizeContract, type FloatType, type ModelContract } from './ModelContract';
import type { ModelFolder, ModelKind, ModelPart, VaeKind } from './ModelFolder';
import { samplerFromConfig, type SamplerName } from './schedulers/samplerChoice';
import type { Sampler } from './schedulers/Sampler';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from './executionProviders';
import type { GraphCacheOptions, GraphCacheState } from './optimizedGraphCache';
import { defaultThreads, type EngineLogger } from './sessions';
import type { VaeFactsSource } from './VaeFolder';

export interface PipelineLoadOptions {
  /** cpu (default), cuda, coreml, dml or webgpu; an unavailable one falls back to cpu with one warning */
  executionProvider?: ExecutionProvider;
  /** same as executionProvider, as a list; the first entry is used */
  executionProviders?: readonly string[];
  /** onnxruntime intra-op threads; default = number of cores */
  threads?: number;
  /** the GPU index for cuda/dml (one worker per GPU); ignored on the CPU */
  deviceId?: number;
  /** onnxruntime's name for `threads` */
  intraOpNumThreads?: number;
  logger?: EngineLogger;
  /** override the sampler picked from scheduler_config.json */
  sampler?: SamplerName;
  /** prompt embeddings kept (LRU); a repeated prompt skips the text encoder */
  promptCacheSize?: number;
  /** use this folder's vae_encoder/ + vae_decoder/ instead of the model's own: a folder path or
   * a preset name under `modelsDir` (e.g. 'taesd', the tiny VAE that makes CPU frames cheap) */
  vae?: string;
  /** where preset names (of `vae`) live; default $MODELS_DIR or ./models/local */
  modelsDir?: string;
  /** the optimised-graph cache next to the model (optimizedGraphCache.ts): on unless
   * `enabled: false` or ENGINE_GRAPH_CACHE=0 */
  graphCache?: GraphCacheOptions;
}

export interface PipelineInfo {
  name: string;
  dir: string;
  kind: ModelKind;
  scheduler: SamplerName;
  schedulerClass: string;
  vaeKind: VaeKind;
  latentScale: number;
  /** name of the folder the VAE halves come from (the model's own unless the `vae` option is set) */
  vae: string;
  /** where the VAE kind and scaling factor were read: config.json, the preset stamp, the graph */
  vaeFactsFrom: VaeFactsSource;
  dtypes: Record<ModelPart, FloatType>;
  contract: string;
  executionProvider: ExecutionProvider;
  requestedExecutionProvider: ExecutionProvider;
  threads: number;
  /** whether the optimised graphs came from the cache ('hit'), were written to it ('miss') or not */
  graphCache: GraphCacheState;
  /** sides the exported UNet is fixed to, when it is */
  fixedSize?: { width: number; height: number };
  /** set when the UNet takes ControlNet inputs: the layout and the kinds a render may ask for */
  controlNet?: ControlNetInfo;
  /** how image ⇄ tensor conversion runs */
  pixelKernels: 'wasm-simd' | 'js';
  /** false only when the VAE encoder samples noise inside its graph and its deterministic rewrite
   * could not be written (then the same seed does not give the same bytes) */
  deterministic: boolean;
}

/** The provider asked for, checked against the ones onnxruntime-node knows. */
export function requestedProvider(opts: PipelineLoadOptions): ExecutionProvider {
  const requested = (opts.executionProvider ?? opts.executionProviders?.[0] ?? 'cpu') as ExecutionProvider;
  if (!EXECUTION_PROVIDERS.includes(requested)) {
    throw new EngineError('INVALID_PARAMS', `unknown execution provider '${requested}'; use one of ${EXECUTION_PROVIDERS.join(', ')}`);
  }
  return requested;
}

/** A downloaded preset says where it runs (sd-turbo's fused fp16 graphs: CUDA only): refuse before
 * any session exists. Returns the refusal text when the preset must not fall back to cpu. */
export function checkPresetProvider(folder: ModelFolder, requested: ExecutionProvider): string | undefined {
  const allowed = folder.stamp?.executionProviders;
  if (!allowed) return undefined;
  const refusal = `${folder.stamp!.preset} runs on ${allowed.join(', ')} only. ${folder.stamp!.epRefusal ?? ''}`.trim();
  if (!allowed.includes(requested)) {
    throw new EngineError('MODEL_UNSUPPORTED', `refusing to load ${folder.name} on the ${requested} execution provider: ${refusal}`);
  }
  return allowed.includes('cpu') ? undefined : refusal;
}

export function threadCount(opts: PipelineLoadOptions): number {
  const threads = opts.threads ?? opts.intraOpNumThreads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) throw new EngineError('INVALID_PARAMS', `threads must be a positive integer (got ${threads})`);
  return threads;
}

export function modelSampler(folder: ModelFolder, override?: SamplerName): { name: SamplerName; sampler: Sampler } {
  try {
    return samplerFromConfig(folder.schedulerConfig, override);
  } catch (e) {
    throw new EngineError('MODEL_UNSUPPORTED', `${folder.dir}/scheduler/scheduler_config.json: ${(e as Error).message}`);
  }
}

/** An old Optimum encoder samples its latent with an unseedable random op: load a rewrite of it
 * that returns the posterior mean, as the engine does for newer exports. False when the rewrite
 * could not be written (then the same seed does not give the same bytes). */
export function makeEncoderDeterministic(folder: ModelFolder, logger?: EngineLogger): boolean {
  if (!folder.encoderSamplesNoise) return true;
  const d = folder.vae.useDeterministicEncoder();
  if (d.ok) {
    logger?.info?.(`${folder.vae.dir}/vae_encoder/model.onnx samples its latent in the graph; using the posterior mean (${d.from === 'cache' ? 'cached' : 'rewrote'} ${folder.partPath('vae_encoder')})`);
    return true;
  }
  (logger?.warn.bind(logger) ?? console.warn)(
    `${folder.vae.dir}/vae_encoder/model.onnx samples its latent with a random op onnxruntime seeds itself, and its deterministic copy could not be written (${d.reason}), so the same seed will not give byte-identical images; make the model folder writable or re-export with a current optimum (latent_parameters output)`,
  );
  return false;
}

/** Reads the contract from the sessions; releases them when the model cannot be driven. */
export async function readContractOrRelease(folder: ModelFolder, sessions: Record<ModelPart, ort.InferenceSession>): Promise<ModelContract> {
  try {
    return readContract(folder, sessions);
  } catch (e) {
    await Promise.all(Object.values(sessions).map((s) => s.release()));
    throw e;
  }
}

export interface LoadFacts {
  folder: ModelFolder;
  contract: ModelContract;
  samplerName: SamplerName;
  executionProvider: ExecutionProvider;
  requested: ExecutionProvider;
  threads: number;
  deterministic: boolean;
  graphCache: GraphCacheState;
}

/** What a loaded pipeline reports about itself (all but pixelKernels, which the pipeline knows). */
export function describePipeline(f: LoadFacts): Omit<PipelineInfo, 'pixelKernels'> {
  const { folder, contract } = f;
  const fixed = contract.unet.fixedLatent;
  return {
    name: folder.name,
    dir: folder.dir,
    kind: folder.kind,
    scheduler: f.samplerName,
    schedulerClass: folder.schedulerClass,
    vaeKind: folder.vaeKind,
    latentScale: folder.latentScale,
    vae: folder.vae.name,
    vaeFactsFrom: folder.vae.factsFrom,
    dtypes: {
      text_encoder: contract.textEncoder.output.type,
      unet: contract.unet.sample.type,
      vae_encoder: contract.vaeEncoder.input.type,
      vae_decoder: contract.vaeDecoder.input.type,
    },
    contract: summarizeContract(contract),
    executionProvider: f.executionProvider,
    requestedExecutionProvider: f.requested,
    threads: f.threads,
    graphCache: f.graphCache,
    deterministic: f.deterministic,
    ...(fixed && { fixedSize: { width: fixed.width * 8, height: fixed.height * 8 } }),
  };
}
