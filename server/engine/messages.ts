// Messages between the engine host (main thread) and an engine worker. Image bytes travel as
// transferred ArrayBuffers, so nothing is copied between threads. Params and timings are the
// pipeline's own types, passed through unchanged.
import type { PipelineInfo, PipelineTimings, RenderParams } from '../../lib/diffusion/Img2ImgPipeline';

export type { RenderParams };

export interface EngineLoadRequest {
  type: 'load';
  /** folder of the model (diffusers/Optimum ONNX layout) */
  modelDir: string;
  /** MODELS_DIR, where a VAE preset name is looked up */
  modelsDir: string;
  /** ENGINE_VAE: VAE-only preset or folder replacing the model's VAE */
  vae?: string;
  executionProvider: string;
  /** the GPU index (ENGINE_DEVICE_ID / ENGINE_DEVICE_IDS) */
  deviceId?: number;
  /** onnxruntime intra-op threads; 0 = onnxruntime's default */
  threads: number;
  /** output sides to run once at load so the first real render is not slow */
  warmupSizes: number[];
  /** ENGINE_TEST_DELAY_MS (tests only): block this worker's thread for this long in every render */
  testDelayMs?: number;
  /** ENGINE_TEST_CRASH_PROMPT (tests only): a render with exactly this prompt ends the worker thread */
  testCrashPrompt?: string;
}

/** What a render starts from: encoded image bytes, or raw RGB already decoded (and usually already
 * resized to the render size) by the server's snapshot validation, so nothing is decoded twice. */
export type EngineInput =
  | { kind: 'encoded'; bytes: ArrayBuffer }
  | { kind: 'rgb'; data: ArrayBuffer; width: number; height: number };

export interface EngineRenderRequest {
  type: 'render';
  id: number;
  image: EngineInput;
  /** what the frame asks for; the pipeline fits it to the model (Img2ImgPipeline `fit`) */
  params: RenderParams;
  /** JPEG quality of the result */
  quality: number;
}

export type EngineRequest = EngineLoadRequest | EngineRenderRequest;

/** What the loaded model is, as the pipeline reports it; `model` is the name users know it by. */
export type EngineInfo = Pick<PipelineInfo, 'executionProvider' | 'scheduler' | 'kind' | 'vaeKind' | 'threads' | 'contract' | 'fixedSize' | 'graphCache'> & {
  model: string;
};

/** The engine's optimised-graph cache state over its workers: 'hit' only when every worker's was. */
export function engineGraphCache(states: PipelineInfo['graphCache'][]): PipelineInfo['graphCache'] {
  const used = states.filter((s) => s !== 'off');
  if (used.length === 0) return 'off';
  return used.every((s) => s === 'hit') ? 'hit' : 'miss';
}

/** The timings of one render: the pipeline's (PipelineTimings, with the JPEG encode in encodeMs
 * and codecMs), plus the time the worker's thread was blocked on purpose by ENGINE_TEST_DELAY_MS
 * (0 outside tests; it stands for a slower model, so inferenceMs counts it). */
export interface EngineTimings extends PipelineTimings {
  testDelayMs: number;
}

/** Time in the engine apart from the codecs (input decode, JPEG encode): the model, the tensor
 * and sampler work around it, and any test delay. */
export function inferenceMs(t: EngineTimings): number {
  return t.totalMs - t.codecMs + t.testDelayMs;
}

export type EngineReply =
  | {
      type: 'loaded';
      info: EngineInfo;
      loadMs: number;
      warmupMs: number;
      /** the output sizes the worker actually rendered during warm-up */
      warmedSizes: { width: number; height: number }[];
    }
  | { type: 'load-error'; message: string; code?: string }
  | {
      type: 'result';
      id: number;
      jpeg: ArrayBuffer;
      width: number;
      height: number;
      /** the parameters actually used (fitted to the model by the pipeline) */
      params: RenderParams;
      timings: EngineTimings;
    }
  | { type: 'render-error'; id: number; message: string; code?: string };
