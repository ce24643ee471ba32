// Runs the diffusion engine off the main thread: one worker thread per concurrent render, each
// with its own Img2ImgPipeline, because onnxruntime's inference would otherwise stall Socket.IO.
// The host tracks the engine state (loading/ready/no-model/error) and reports every change.
import { Worker } from 'node:worker_threads';
import type { EngineStatus } from '../../lib/protocol';
import type { RgbImage } from '../../lib/image/rgb';
import { engineGraphCache, type EngineInfo, type EngineInput, type EngineReply, type EngineRequest, type EngineTimings, type RenderParams } from './messages';
import { resolveModel } from './resolveModel';

export { inferenceMs, type EngineTimings, type RenderParams } from './messages';

export interface EngineConfig {
  /** MODEL: preset name or folder; '' = default preset */
  model: string;
  /** MODELS_DIR */
  modelsDir: string;
  /** ENGINE_EP, e.g. 'cpu', 'cuda', 'webgpu'; a failing accelerator falls back to cpu in the worker */
  executionProvider: string;
  /** ENGINE_THREADS: onnxruntime intra-op threads per worker, 0 = default */
  threads: number;
  /** ENGINE_VAE: VAE-only preset or folder replacing the model's VAE; '' or absent = the model's */
  vae?: string;
  /** ENGINE_WARMUP_SIZES */
  warmupSizes: number[];
  /** ENGINE_DEVICE_IDS / ENGINE_DEVICE_ID: the GPUs the workers run on (worker i on ids[i mod n]) */
  deviceIds?: number[];
  /** RENDER_CONCURRENCY: workers, each rendering one job at a time; the caller runs at most this
   * many renders at once (render() refuses more rather than queueing them) */
  workers: number;
  /** JPEG quality of renders */
  jpegQuality: number;
  /** ENGINE_TEST_DELAY_MS, tests only: every render blocks its worker's thread this long */
  testDelayMs?: number;
  /** ENGINE_TEST_CRASH_PROMPT, tests only: a render with exactly this prompt ends its worker */
  testCrashPrompt?: string;
}

/** What a worker reports once its model is loaded and warmed up. */
interface WorkerLoaded {
  info: EngineInfo;
  warmupMs: number;
  warmedSizes: { width: number; height: number }[];
}

export interface EngineRenderOutput {
  jpeg: Uint8Array;
  width: number;
  height: number;
  /** the parameters actually used: fitted to the model's sampler and, for a fixed-size UNet, its
   * size (Img2ImgPipeline `fit`) */
  params: RenderParams;
  /** the pipeline's timings (JPEG encode included) plus testDelayMs; see inferenceMs() */
  timings: EngineTimings;
  /** the model that rendered it, when several are loaded (ModelEngines) */
  model?: string;
}

/** An engine failure with the code the worker gave it (e.g. INVALID_IMAGE for undecodable input). */
export class EngineRenderError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'EngineRenderError';
  }
}

interface WorkerSlot {
  worker: Worker;
  busy: boolean;
  /** the GPU it runs on, if pinned */
  deviceId?: number;
  pending?: { id: number; culprit: string; resolve: (o: EngineRenderOutput) => void; reject: (e: Error) => void };
}

// tsx does not hook `.ts` entry points of worker threads on Node 20 (execArgv `--import tsx` is
// inherited but the entry still fails with "Unknown file extension"), so a plain .mjs bootstrap
// registers tsx inside the thread and then imports the TypeScript worker.
// The restart budget counts culprits, not crashes: a model is given up on (state 'error') when
// crashes come from more than MAX_CRASH_CULPRITS different sources (the render's caller-given culprit, e.g.
// its room; each crash outside a render counts as its own) within RESTART_WINDOW_MS. So one room
// whose input keeps crashing the engine cannot use the budget up for every room: the render loop
// quarantines it (server/render/CrashQuarantine.ts). MAX_RESTARTS caps reloads in the window
// whatever their source, so nothing can keep the engine reloading forever.
const MAX_CRASH_CULPRITS = 3;
const MAX_RESTARTS = 20;
const RESTART_WINDOW_MS = 10 * 60_000;

const BOOT_URL = new URL('./engineWorkerBoot.mjs', import.meta.url);
const WORKER_URL = new URL('./engineWorker.ts', import.meta.url);

export class EngineHost {
  private slots: WorkerSlot[] = [];
  private nextId = 1;
  private statusNow: EngineStatus = { state: 'loading' };
  private listeners = new Set<(s: EngineStatus) => void>();
  private info?: EngineInfo;
  private stopped = false;
  private modelDir?: string;
  private restarts: { at: number; culprit: string }[] = [];

  constructor(readonly config: EngineConfig) {}

  get status(): EngineStatus {
    return this.statusNow;
  }

  get engineInfo(): EngineInfo | undefined {
    return this.info;
  }

  onStatus(fn: (s: EngineStatus) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Resolves the model and loads it in every worker; never throws — failures become the status. */
  async start(): Promise<EngineStatus> {
    const model = resolveModel(this.config.model, this.config.modelsDir, this.config.executionProvider);
    if (!model.ok) {
      this.setStatus({ state: 'no-model', message: model.message });
      return this.statusNow;
    }
    this.modelDir = model.dir;
    this.setStatus({ state: 'loading', model: model.name, executionProvider: this.config.executionProvider });
    const t0 = performance.now();
    try {
      const loaded = await Promise.all(
        // ENGINE_DEVICE_IDS: worker i on GPU ids[i mod n]
        Array.from({ length: Math.max(1, this.config.workers) }, (_, i) => this.spawn(model.dir, this.config.deviceIds?.[i % this.config.deviceIds.length])),
      );
      if (this.stopped) return this.statusNow;
      this.info = { ...loaded[0].info, model: model.name };
      this.setStatus({
        state: 'ready',
        model: model.name,
        executionProvider: this.info.executionProvider,
        loadMs: Math.round(performance.now() - t0),
        // the workers warm up in parallel; the slowest one decides when the engine is ready
        warmupMs: Math.max(...loaded.map((l) => l.warmupMs)),
        graphCache: engineGraphCache(loaded.map((l) => l.info.graphCache)),
        sizes: warmedSides(loaded[0].warmedSizes),
      });
    } catch (err) {
      await this.terminateAll();
      this.setStatus({
        state: 'error',
        model: model.name,
        message: `model '${model.name}' failed to load: ${(err as Error).message}`,
      });
    }
    return this.statusNow;
  }

  /** Renders one snapshot on a free worker; the params are fitted to the model there, and the
   * output says what was used. There is no waiting list: the render queue in front of the engine
   * never runs more renders than there are workers, so a call with every worker busy is a bug of
   * the caller and is refused (ENGINE_BUSY). `image` is encoded bytes (copied) or raw RGB, whose
   * buffer is transferred to the worker when the view covers all of it (detached here: the
   * caller must not use it afterwards). */
  async render(image: Uint8Array | RgbImage, params: RenderParams, culprit = ''): Promise<EngineRenderOutput> {
    if (this.statusNow.state !== 'ready') {
      throw new EngineRenderError(this.statusNow.message ?? `engine is ${this.statusNow.state}`, 'ENGINE_NOT_READY');
    }
    const slot = this.slots.find((s) => !s.busy);
    if (!slot) {
      throw new EngineRenderError(`all ${this.slots.length} engine workers are busy: run at most RENDER_CONCURRENCY (${this.config.workers}) renders at once`, 'ENGINE_BUSY');
    }
    slot.busy = true;
    const id = this.nextId++;
    const input: EngineInput =
      image instanceof Uint8Array
        ? { kind: 'encoded', bytes: copyOf(image) }
        : { kind: 'rgb', data: ownBuffer(image.data), width: image.width, height: image.height };
    const request: EngineRequest = { type: 'render', id, image: input, params, quality: this.config.jpegQuality };
    return new Promise<EngineRenderOutput>((resolve, reject) => {
      slot.pending = { id, culprit, resolve, reject };
      slot.worker.postMessage(request, [input.kind === 'rgb' ? input.data : input.bytes]);
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.terminateAll();
  }

  // ───────────── internals ─────────────

  private setStatus(s: EngineStatus) {
    this.statusNow = s;
    for (const fn of this.listeners) fn(s);
  }

  private spawn(modelDir: string, deviceId?: number): Promise<WorkerLoaded> {
    const worker = new Worker(BOOT_URL, { workerData: { entry: WORKER_URL.href } });
    const slot: WorkerSlot = { worker, busy: true, ...(deviceId !== undefined && { deviceId }) };
    this.slots.push(slot);
    return new Promise<WorkerLoaded>((resolve, rejectLoad) => {
      let loaded = false;
      // A worker that never loaded is of no use: drop its slot and end its thread (it may hold a
      // half-loaded pipeline), so a failed reload after a crash leaves nothing running.
      const reject = (err: Error) => {
        this.slots = this.slots.filter((s) => s !== slot);
        void worker.terminate();
        rejectLoad(err);
      };
      worker.on('message', (msg: EngineReply) => {
        switch (msg.type) {
          case 'loaded':
            loaded = true;
            slot.busy = false;
            resolve({ info: msg.info, warmupMs: msg.warmupMs, warmedSizes: msg.warmedSizes });
            break;
          case 'load-error':
            reject(new Error(msg.message));
            break;
          case 'result':
          case 'render-error':
            this.settle(slot, msg);
            break;
        }
      });
      worker.on('error', (err) => {
        if (!loaded) reject(err);
        else this.crashed(slot, err);
      });
      worker.on('exit', (code) => {
        if (!loaded) reject(new Error(`engine worker exited with code ${code} while loading`));
        else if (!this.stopped) this.crashed(slot, new Error(`engine worker exited with code ${code}`));
      });
      const load: EngineRequest = {
        type: 'load',
        modelDir,
        modelsDir: this.config.modelsDir,
        ...(this.config.vae && { vae: this.config.vae }),
        executionProvider: this.config.executionProvider,
        ...(deviceId !== undefined && { deviceId }),
        threads: this.config.threads,
        warmupSizes: this.config.warmupSizes,
        ...(this.config.testDelayMs && { testDelayMs: this.config.testDelayMs }),
        ...(this.config.testCrashPrompt && { testCrashPrompt: this.config.testCrashPrompt }),
      };
      worker.postMessage(load);
    });
  }

  private settle(slot: WorkerSlot, msg: Extract<EngineReply, { type: 'result' | 'render-error' }>) {
    const p = slot.pending;
    if (!p || p.id !== msg.id) return;
    slot.pending = undefined;
    slot.busy = false;
    if (msg.type === 'result') {
      p.resolve({
        jpeg: new Uint8Array(msg.jpeg),
        width: msg.width,
        height: msg.height,
        params: msg.params,
        timings: msg.timings,
      });
    } else {
      p.reject(new EngineRenderError(msg.message, msg.code));
    }
  }

  /** A worker died (an uncaught error in the thread, or it was terminated): the job it had fails,
   * and a replacement loads the model again — until crashes came from more than MAX_CRASH_CULPRITS sources
   * (or MAX_RESTARTS reloads) within RESTART_WINDOW_MS, after which the engine stays in 'error'
   * rather than crash-looping. */
  private crashed(slot: WorkerSlot, err: Error) {
    if (this.stopped || !this.slots.includes(slot)) return;
    const culprit = slot.pending?.culprit || `no render #${this.nextId++}`;
    slot.pending?.reject(new EngineRenderError(`engine crashed: ${err.message}`, 'ENGINE_CRASHED'));
    slot.pending = undefined;
    this.slots = this.slots.filter((s) => s !== slot);
    void slot.worker.terminate();
    const now = Date.now();
    this.restarts = this.restarts.filter((r) => now - r.at < RESTART_WINDOW_MS);
    this.restarts.push({ at: now, culprit });
    const culprits = new Set(this.restarts.map((r) => r.culprit)).size;
    if (!this.modelDir || culprits > MAX_CRASH_CULPRITS || this.restarts.length > MAX_RESTARTS) {
      this.setStatus({ ...this.statusNow, state: 'error', message: `engine crashed repeatedly (${err.message}) — check the server log and restart it` });
      return;
    }
    const ready = this.statusNow;
    this.setStatus({ ...ready, state: 'loading', message: `engine crashed (${err.message}); reloading the model` });
    const t0 = performance.now();
    this.spawn(this.modelDir, slot.deviceId).then(
      () => {
        if (this.stopped) return;
        this.setStatus({ ...ready, state: 'ready', loadMs: Math.round(performance.now() - t0), message: undefined });
      },
      (e: Error) => {
        if (this.stopped) return;
        this.setStatus({ ...ready, state: 'error', message: `engine crashed and could not reload: ${e.message}` });
      },
    );
  }

  private async terminateAll() {
    const slots = this.slots;
    this.slots = [];
    for (const s of slots) s.pending?.reject(new EngineRenderError('engine stopped', 'ENGINE_STOPPED'));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}

/** The output sides a worker actually warmed up (a fixed-size model warms its one size). */
function warmedSides(sizes: { width: number; height: number }[]): number[] {
  return [...new Set(sizes.flatMap((s) => [s.width, s.height]))];
}

/** A buffer the worker may take: the view's own ArrayBuffer when the view covers all of it
 * (transferred, no copy), else a copy — a Buffer may be a view into Node's shared pool, which
 * must not be detached from the main thread. */
function ownBuffer(view: Uint8Array): ArrayBuffer {
  const b = view.buffer;
  if (b instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === b.byteLength) return b;
  return copyOf(view);
}

function copyOf(view: Uint8Array): ArrayBuffer {
  const copy = new Uint8Array(view.byteLength);
  copy.set(view);
  return copy.buffer;
}
