// Messages between the engine host (main thread) and an engine worker. Image bytes travel as
// transferred ArrayBuffers, so nothing is copied between threads.

export interface EngineLoadRequest {
  type: 'load';
  /** folder of the model (diffusers/Optimum ONNX layout) */
  modelDir: string;
  /** MODELS_DIR, where a VAE preset name is looked up */
  modelsDir: string;
  /** ENGINE_VAE: VAE-only preset or folder replacing the model's VAE */
  vae?: string;
  executionProvider: string;
  /** onnxruntime intra-op threads; 0 = onnxruntime's default */
  threads: number;
  /** output sides to run once at load so the first real render is not slow */
  warmupSizes: number[];
  /** ENGINE_TEST_DELAY_MS (tests only): block this worker's thread for this long in every render */
  testDelayMs?: number;
}

export interface RenderParams {
  prompt: string;
  strength: number;
  steps: number;
  seed: number;
  guidance: number;
  width: number;
  height: number;
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
  params: RenderParams;
  /** JPEG quality of the result */
  quality: number;
}

export type EngineRequest = EngineLoadRequest | EngineRenderRequest;

export interface EngineInfo {
  /** preset/folder name shown to users */
  model: string;
  executionProvider: string;
  /** which sampler family the model uses: decides how strength and steps must relate */
  scheduler?: string;
  [key: string]: unknown;
}

export interface RenderTimingsMs {
  /** decode + resize of the snapshot in the worker (0 for raw RGB at the render size) */
  decodeMs: number;
  /** the diffusion pipeline (text encoder, VAE, UNet steps) */
  inferenceMs: number;
  /** JPEG encode of the result */
  encodeMs: number;
  /** the pipeline's own breakdown, when it reports one */
  pipeline?: Record<string, number>;
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
      /** the parameters actually used, after the engine's own adjustments */
      params: RenderParams;
      timings: RenderTimingsMs;
    }
  | { type: 'render-error'; id: number; message: string; code?: string };
