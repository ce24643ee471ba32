// onnxruntime sessions for the four model parts: options chosen on purpose, execution-provider
// fallback to CPU, and load failures turned into messages that name the file.
import { availableParallelism } from 'node:os';
import * as ort from 'onnxruntime-node';
import { EngineError } from './errors';
import type { ExecutionProvider } from './executionProviders';
import type { ModelFolder, ModelPart } from './ModelFolder';
import { repairHint } from './modelPaths';
import { createCachedSession, type GraphCacheOptions, type GraphCacheState } from './optimizedGraphCache';
import { readPresetStamp } from './presetStamp';

export interface EngineLogger {
  warn(msg: string): void;
  info?(msg: string): void;
  debug?(msg: string): void;
}

export interface SessionConfig {
  executionProvider: ExecutionProvider;
  /** the GPU to run on (ENGINE_DEVICE_ID); ignored on the CPU */
  deviceId?: number;
  /** intra-op threads; default = cores (the engine runs one model at a time) */
  threads: number;
  logger?: EngineLogger;
  /** set when the model must not fall back to cpu: the refusal shown instead of falling back */
  noCpuFallback?: string;
  /** the optimised-graph cache (optimizedGraphCache.ts); default on unless ENGINE_GRAPH_CACHE=0 */
  graphCache?: GraphCacheOptions;
}

export function defaultThreads(): number {
  return availableParallelism();
}

export function sessionOptions(ep: ExecutionProvider, threads: number, deviceId?: number): ort.InferenceSession.SessionOptions {
  return {
    // a GPU index pins the session to one device (ENGINE_DEVICE_ID(S)); the CPU has none
    executionProviders: [deviceId !== undefined && ep !== 'cpu' ? ({ name: ep, deviceId } as ort.InferenceSession.ExecutionProviderConfig) : ep],
    // constant folding + node fusions + layout transforms; the one-off cost is paid at load
    graphOptimizationLevel: 'all',
    intraOpNumThreads: threads,
    // one model at a time: parallel branches only contend with intra-op threads for the cores
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // shapes repeat frame after frame, so the arena and memory pattern plans are reused
    enableCpuMemArena: true,
    enableMemPattern: true,
    // fatal only: a load failure comes back as the exception we turn into one readable line, and
    // the session logger would print it again as a multi-line ANSI dump; ORT's warnings (e.g.
    // about fp16 Cast insertion) are not actionable by users either
    logSeverityLevel: 4,
    // onnxruntime's pool threads busy-wait after each run by default. Between UNet steps the
    // engine's own JS and sharp need those cores: with spinning on, a 512² 4-step tiny-model frame
    // measured 29–39 ms instead of 13–15 ms on the 2-core project machine (bench/engine.ts).
    extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } },
  };
}

/**
 * onnxruntime-node's process-wide logger (separate from the per-session one) prints failures that
 * we report ourselves — a provider library that cannot be loaded, e.g. `--ep cuda` without CUDA —
 * as multi-line ANSI-coloured stderr dumps. It reads `env.logLevel` once, when the first session
 * of the process is created, so it is set before that and left alone afterwards.
 */
function quietGlobalOrtLogger(): void {
  if (globalLoggerSet) return;
  globalLoggerSet = true;
  ort.env.logLevel = 'fatal';
}
let globalLoggerSet = false;

export interface LoadedSessions {
  sessions: Record<ModelPart, ort.InferenceSession>;
  /** the provider actually in use (cpu after a fallback) */
  executionProvider: ExecutionProvider;
  /** 'hit' when every part came from the optimised-graph cache, 'off' when none could use it */
  graphCache: GraphCacheState;
}

/**
 * Creates the four sessions by file path (so `model.onnx_data` next to a model is found).
 * A non-CPU provider that cannot start falls back to CPU with one warning: onnxruntime-node throws
 * for ['cuda','cpu'] instead of falling back itself, so the first part is tried with the requested
 * provider and retried on CPU. Each part's optimised graph comes from the cache next to the model
 * when it is there and current, and is written there when not (optimizedGraphCache.ts).
 */
export async function createSessions(folder: ModelFolder, cfg: SessionConfig): Promise<LoadedSessions> {
  quietGlobalOrtLogger();
  let ep = cfg.executionProvider;
  const sessions: Partial<Record<ModelPart, ort.InferenceSession>> = {};
  const cache: Partial<Record<ModelPart, GraphCacheState>> = {};
  const open = async (part: ModelPart, on: ExecutionProvider) => {
    const opened = await createCachedSession(folder.partPath(part), sessionOptions(on, cfg.threads, cfg.deviceId), part, { ...cfg.graphCache, logger: cfg.logger });
    cache[part] = opened.cache;
    return opened.session;
  };
  try {
    for (const part of ['text_encoder', 'vae_encoder', 'vae_decoder', 'unet'] as const) {
      try {
        sessions[part] = await open(part, ep);
      } catch (err) {
        if (ep === 'cpu') throw loadError(folder, part, err, ep);
        const why = firstLine(err);
        if (cfg.noCpuFallback) {
          throw new EngineError('MODEL_UNSUPPORTED', `execution provider '${ep}' is unavailable here (${why}) and ${folder.name} cannot fall back to cpu: ${cfg.noCpuFallback}`);
        }
        // was it the provider or the file? the CPU answers that
        try {
          sessions[part] = await open(part, 'cpu');
        } catch (cpuErr) {
          throw loadError(folder, part, cpuErr, 'cpu');
        }
        (cfg.logger?.warn.bind(cfg.logger) ?? console.warn)(
          `execution provider '${ep}' is unavailable here (${why}); running on cpu instead`,
        );
        // parts that did load on the provider move to CPU too: tensors then never cross
        // devices between parts, and the reported provider is the truth for every part
        for (const done of Object.keys(sessions) as ModelPart[]) {
          if (done === part) continue;
          await sessions[done]!.release();
          sessions[done] = await open(done, 'cpu');
        }
        ep = 'cpu';
      }
    }
  } catch (err) {
    await Promise.all(Object.values(sessions).map((s) => s.release().catch(() => undefined)));
    throw err;
  }
  const graphCache = cacheSummary(Object.values(cache));
  cfg.logger?.info?.(`optimised graphs: ${graphCache} (${Object.entries(cache).map(([p, c]) => `${p} ${c}`).join(', ')})`);
  return { sessions: sessions as Record<ModelPart, ort.InferenceSession>, executionProvider: ep, graphCache };
}

/** 'hit' when every part that used the cache found its graph there, 'off' when none used it. */
export function cacheSummary(states: GraphCacheState[]): GraphCacheState {
  const used = states.filter((s) => s !== 'off');
  if (used.length === 0) return 'off';
  return used.every((s) => s === 'hit') ? 'hit' : 'miss';
}

function loadError(folder: ModelFolder, part: ModelPart, err: unknown, ep: ExecutionProvider): EngineError {
  const reason = ortReason(firstLine(err));
  // the VAE halves may come from another folder (`vae` option), which has its own origin
  const vaePart = part === 'vae_encoder' || part === 'vae_decoder';
  const hint = vaePart ? repairHint(folder.vae.dir, readPresetStamp(folder.vae.dir)) : folder.repairHint;
  // an operator without a kernel on this provider (ORT's NOT_IMPLEMENTED): the file is fine, it
  // was built for another provider — ORT-optimized fp16 builds use CUDA-only fused contrib ops
  if (/Could not find an implementation for/i.test(reason)) {
    return new EngineError(
      'MODEL_UNSUPPORTED',
      `${folder.partPath(part)} uses an operator the ${ep} execution provider has no kernel for (${reason}): this model needs the CUDA execution provider (a GPU-only build such as an ONNX Runtime-optimized fp16 export); run it with --ep cuda on an NVIDIA GPU or use a plain fp32 export here`,
    );
  }
  const missing = /External data path does not exist: "?([^"]+)"?/.exec(reason);
  if (missing) {
    return new EngineError('MODEL_MISSING', `${missing[1]} is missing (${part}/model.onnx keeps its weights there); ${hint}`);
  }
  if (/External initializer|external data/i.test(reason)) {
    return new EngineError('MODEL_CORRUPT', `the external weights of ${folder.partPath(part)} are truncated or unreadable (${reason}); ${hint}`);
  }
  return new EngineError('MODEL_CORRUPT', `${folder.partPath(part)} is corrupt or incomplete (onnxruntime: ${reason}); ${hint}`);
}

/** onnxruntime prefixes its messages with source paths and C++ signatures; keep what a person can read. */
function ortReason(msg: string): string {
  const afterFail = msg.lastIndexOf(' FAIL : ');
  let m = afterFail >= 0 ? msg.slice(afterFail + 8) : msg;
  m = m.replace(/^\S+\.(cc|h):\d+ \S+ /, '');
  return m.replace(/\s+/g, ' ').trim();
}

export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0].trim();
}
