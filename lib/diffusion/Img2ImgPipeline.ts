// Few-step img2img on onnxruntime: image → VAE encode → noise at the first timestep → n UNet calls
// driven by an LCM or Euler sampler → VAE decode → RGB. The model's I/O contract is read from the
// sessions (ModelContract); buffers are allocated once per output size and reused frame after
// frame, so the time outside session.run stays a few milliseconds at 512².
import * as ort from 'onnxruntime-node';
import { decodeImage, encodeJpeg, nchw16ToRgb, PlanarConverter, resizeRgb, rgbToNchw16, ImageDecodeError, type RgbImage } from '../image';
import { ClipTokenizer } from './ClipTokenizer';
import { EngineError } from './errors';
import { byteToHalfTable, float16ToFloat32, float32ToFloat16, halfToByteTable } from './fp16';
import { readContract, summarizeContract, type FloatType, type ModelContract } from './ModelContract';
import { ModelFolder, type ModelKind, type ModelPart, type VaeKind } from './ModelFolder';
import { resolveModelArg } from './modelPaths';
import type { VaeFactsSource } from './VaeFolder';
import { GaussianRng } from './rng';
import { EulerScheduler } from './schedulers/EulerScheduler';
import { guidanceEmbedding, LcmScheduler } from './schedulers/LcmScheduler';
import { noiseScheduleFromConfig } from './schedulers/alphas';
import { chooseSampler, type SamplerName } from './schedulers/samplerChoice';
import { createSessions, defaultThreads, EXECUTION_PROVIDERS, type EngineLogger, type ExecutionProvider } from './sessions';

export const MIN_SIDE = 128;
export const MAX_SIDE = 1024;
export const SIDE_MULTIPLE = 64;
export const MAX_STEPS = 50;
/** LCM's default guidance (diffusers uses 8.5; 8 is the common UI default) */
export const DEFAULT_GUIDANCE = 8;

export type { SamplerName };

export interface PipelineLoadOptions {
  /** cpu (default), cuda, coreml, dml or webgpu; an unavailable one falls back to cpu with one warning */
  executionProvider?: ExecutionProvider;
  /** same as executionProvider, as a list; the first entry is used */
  executionProviders?: readonly string[];
  /** onnxruntime intra-op threads; default = number of cores */
  threads?: number;
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
}

export interface Img2ImgParams {
  prompt: string;
  /** how much of the input is replaced: (0, 1] */
  strength: number;
  steps: number;
  seed: number;
  /** LCM guidance scale (embedded, no second UNet pass); ignored by Turbo models */
  guidance?: number;
  width: number;
  height: number;
}

/** Milliseconds per stage. model = time inside session.run, codec = decode/resize of the input and
 * encode of the output, overhead = everything else (tensor conversion, sampler math, JS). */
export interface PipelineTimings {
  decodeMs: number;
  tokenizeMs: number;
  textEncoderMs: number;
  vaeEncodeMs: number;
  unetMs: number;
  unetStepsMs: number[];
  vaeDecodeMs: number;
  encodeMs: number;
  modelMs: number;
  codecMs: number;
  overheadMs: number;
  totalMs: number;
}

export interface Img2ImgResult {
  image: RgbImage;
  timings: PipelineTimings;
  /** the parameters actually used (Turbo may raise steps, see EulerScheduler) */
  params: Required<Img2ImgParams>;
  /** the UNet timesteps that ran */
  timesteps: number[];
  promptCached: boolean;
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
  /** sides the exported UNet is fixed to, when it is */
  fixedSize?: { width: number; height: number };
  /** how image ⇄ tensor conversion runs */
  pixelKernels: 'wasm-simd' | 'js';
  /** false only when the VAE encoder samples noise inside its graph and its deterministic rewrite
   * could not be written (then the same seed does not give the same bytes) */
  deterministic: boolean;
}

type Sampler = LcmScheduler | EulerScheduler;
type FloatArray = Float32Array | Uint16Array;

/** Buffers for one output size, reused across runs. */
interface SizeBuffers {
  width: number;
  height: number;
  /** the VAE encoder's input of a float16 model (float32 input lives in the PlanarConverter) */
  imageHalf?: Uint16Array;
  z0: Float32Array;
  x: Float32Array;
  /** all the Gaussian noise of one run, grown to the largest step count seen */
  noiseFor(n: number): Float32Array;
  unetIn: FloatArray;
  decoderIn: FloatArray;
  epsF32?: Float32Array;
  /** RGB result when the caller does not keep it (runJpeg) */
  rgbOut?: Uint8Array;
}

const nowMs = () => performance.now();

export class Img2ImgPipeline {
  readonly info: PipelineInfo;
  private readonly buffers = new Map<string, SizeBuffers>();
  private readonly promptCache = new Map<string, ort.Tensor>();
  private readonly guidanceCache = new Map<number, ort.Tensor>();
  /** RGB ⇄ planes on WebAssembly SIMD where available */
  private readonly converter = new PlanarConverter();
  private queue: Promise<unknown> = Promise.resolve();
  private disposed = false;

  private constructor(
    readonly folder: ModelFolder,
    private readonly sessions: Record<ModelPart, ort.InferenceSession>,
    readonly contract: ModelContract,
    private readonly tokenizer: ClipTokenizer,
    private readonly sampler: Sampler,
    info: Omit<PipelineInfo, 'pixelKernels'>,
    private readonly promptCacheSize: number,
  ) {
    this.info = { ...info, pixelKernels: this.converter.implementation };
  }

  static async load(dir: string, opts: PipelineLoadOptions = {}): Promise<Img2ImgPipeline> {
    const requested = (opts.executionProvider ?? opts.executionProviders?.[0] ?? 'cpu') as ExecutionProvider;
    if (!EXECUTION_PROVIDERS.includes(requested)) {
      throw new EngineError('INVALID_PARAMS', `unknown execution provider '${requested}'; use one of ${EXECUTION_PROVIDERS.join(', ')}`);
    }
    const folder = ModelFolder.open(dir, { vaeDir: opts.vae ? resolveModelArg(opts.vae, opts.modelsDir) : undefined });
    // a downloaded preset says where it runs (sd-turbo's fused fp16 graphs: CUDA only); refuse
    // before any session exists, and never fall back to a provider it does not run on
    const allowed = folder.stamp?.executionProviders;
    const refusal = allowed && `${folder.stamp!.preset} runs on ${allowed.join(', ')} only. ${folder.stamp!.epRefusal ?? ''}`.trim();
    if (allowed && !allowed.includes(requested)) {
      throw new EngineError('MODEL_UNSUPPORTED', `refusing to load ${folder.name} on the ${requested} execution provider: ${refusal}`);
    }
    const threads = opts.threads ?? opts.intraOpNumThreads ?? defaultThreads();
    if (!Number.isInteger(threads) || threads < 1) throw new EngineError('INVALID_PARAMS', `threads must be a positive integer (got ${threads})`);
    const tokenizer = ClipTokenizer.fromFolder(folder.dir);
    let noiseSchedule;
    let samplerName: SamplerName;
    try {
      noiseSchedule = noiseScheduleFromConfig(folder.schedulerConfig);
      samplerName = chooseSampler(folder.schedulerConfig, opts.sampler);
    } catch (e) {
      throw new EngineError('MODEL_UNSUPPORTED', `${folder.dir}/scheduler/scheduler_config.json: ${(e as Error).message}`);
    }
    const sc = folder.schedulerConfig;
    const sampler =
      samplerName === 'lcm'
        ? new LcmScheduler({
            ...noiseSchedule,
            originalInferenceSteps: typeof sc.original_inference_steps === 'number' ? sc.original_inference_steps : undefined,
            timestepScaling: typeof sc.timestep_scaling === 'number' ? sc.timestep_scaling : undefined,
          })
        : new EulerScheduler({ ...noiseSchedule, ancestral: samplerName === 'euler-ancestral' });

    // an old Optimum encoder samples its latent with an unseedable random op: load a rewrite of it
    // that returns the posterior mean, as the engine does for newer exports
    let deterministic = true;
    if (folder.encoderSamplesNoise) {
      const d = folder.vae.useDeterministicEncoder();
      if (d.ok) {
        opts.logger?.info?.(`${folder.vae.dir}/vae_encoder/model.onnx samples its latent in the graph; using the posterior mean (${d.from === 'cache' ? 'cached' : 'rewrote'} ${folder.partPath('vae_encoder')})`);
      } else {
        deterministic = false;
        (opts.logger?.warn.bind(opts.logger) ?? console.warn)(
          `${folder.vae.dir}/vae_encoder/model.onnx samples its latent with a random op onnxruntime seeds itself, and its deterministic copy could not be written (${d.reason}), so the same seed will not give byte-identical images; make the model folder writable or re-export with a current optimum (latent_parameters output)`,
        );
      }
    }

    const { sessions, executionProvider } = await createSessions(folder, {
      executionProvider: requested,
      threads,
      logger: opts.logger,
      noCpuFallback: allowed && !allowed.includes('cpu') ? refusal : undefined,
    });
    let contract: ModelContract;
    try {
      contract = readContract(folder, sessions);
    } catch (e) {
      await Promise.all(Object.values(sessions).map((s) => s.release()));
      throw e;
    }
    const fixed = contract.unet.fixedLatent;
    const info: Omit<PipelineInfo, 'pixelKernels'> = {
      name: folder.name,
      dir: folder.dir,
      kind: folder.kind,
      scheduler: samplerName,
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
      executionProvider,
      requestedExecutionProvider: requested,
      threads,
      deterministic,
      ...(fixed && { fixedSize: { width: fixed.width * 8, height: fixed.height * 8 } }),
    };
    opts.logger?.info?.(`loaded ${folder.name} (${folder.kind}, ${samplerName}, ${folder.vaeKind} VAE${opts.vae ? ` from ${folder.vae.name}` : ''}, ${info.contract}) on ${executionProvider}`);
    return new Img2ImgPipeline(folder, sessions, contract, tokenizer, sampler, info, opts.promptCacheSize ?? 16);
  }

  /** Runs img2img. `input` is encoded image bytes (PNG/JPEG/WebP) or raw RGB; it is cover-resized
   * to the requested size. Calls are serialized: the pipeline reuses its buffers. */
  run(input: Uint8Array | RgbImage, params: Img2ImgParams): Promise<Img2ImgResult> {
    return this.enqueue(() => this.runNow(input, params, false).then((r) => r.result));
  }

  /** run() + JPEG encode of the result (the wire format), with the encode in the timings. */
  runJpeg(input: Uint8Array | RgbImage, params: Img2ImgParams, quality = 85): Promise<Img2ImgResult & { jpeg: Buffer }> {
    return this.enqueue(async () => {
      // the RGB result is encoded right away, so it may live in the reused per-size buffer
      const { result, t0 } = await this.runNow(input, params, true);
      const te = nowMs();
      const jpeg = await encodeJpeg(result.image, quality);
      const t = result.timings;
      t.encodeMs = nowMs() - te;
      t.codecMs += t.encodeMs;
      t.totalMs = nowMs() - t0;
      t.overheadMs = t.totalMs - t.modelMs - t.codecMs;
      return { ...result, jpeg };
    });
  }

  /** Runs each size once (1 step) so onnxruntime plans memory and kernels before real traffic. */
  async warmup(sizes: ReadonlyArray<number | { width: number; height: number }>): Promise<number> {
    const t0 = nowMs();
    for (const s of sizes) {
      const { width, height } = typeof s === 'number' ? { width: s, height: s } : s;
      const blank: RgbImage = { data: new Uint8Array(width * height * 3).fill(255), width, height };
      await this.run(blank, { prompt: '', strength: 0.5, steps: 1, seed: 0, width, height });
    }
    return nowMs() - t0;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.queue.catch(() => undefined);
    this.buffers.clear();
    this.promptCache.clear();
    await Promise.all(Object.values(this.sessions).map((s) => s.release()));
  }

  private enqueue<T>(job: () => Promise<T>): Promise<T> {
    if (this.disposed) return Promise.reject(new EngineError('DISPOSED', 'the engine was shut down; load the model again'));
    const next = this.queue.then(job, job);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private validate(p: Img2ImgParams): Required<Img2ImgParams> {
    const bad = (msg: string) => new EngineError('INVALID_PARAMS', msg);
    if (typeof p.prompt !== 'string') throw bad('prompt must be a string');
    if (typeof p.strength !== 'number' || !(p.strength > 0 && p.strength <= 1)) throw bad(`strength must be greater than 0 and at most 1 (got ${p.strength})`);
    if (!Number.isInteger(p.steps) || p.steps < 1 || p.steps > MAX_STEPS) throw bad(`steps must be an integer from 1 to ${MAX_STEPS} (got ${p.steps})`);
    if (!Number.isSafeInteger(p.seed) || p.seed < 0) throw bad(`seed must be a non-negative integer (got ${p.seed})`);
    const guidance = p.guidance ?? DEFAULT_GUIDANCE;
    if (typeof guidance !== 'number' || !Number.isFinite(guidance) || guidance < 0 || guidance > 50) throw bad(`guidance must be a number from 0 to 50 (got ${p.guidance})`);
    for (const [k, v] of [['width', p.width], ['height', p.height]] as const) {
      if (!Number.isInteger(v) || v < MIN_SIDE || v > MAX_SIDE || v % SIDE_MULTIPLE !== 0) {
        throw bad(`${k} must be a multiple of ${SIDE_MULTIPLE} from ${MIN_SIDE} to ${MAX_SIDE} (got ${v})`);
      }
    }
    const fixed = this.info.fixedSize;
    if (fixed && (fixed.width !== p.width || fixed.height !== p.height)) {
      throw bad(`this model's UNet was exported for ${fixed.width}×${fixed.height} only; use that size`);
    }
    return { prompt: p.prompt, strength: p.strength, steps: p.steps, seed: p.seed, guidance, width: p.width, height: p.height };
  }

  private async runNow(input: Uint8Array | RgbImage, rawParams: Img2ImgParams, reuseOutput: boolean): Promise<{ result: Img2ImgResult; t0: number }> {
    const t0 = nowMs();
    const params = this.validate(rawParams);
    const { width, height, seed } = params;
    let timesteps: number[];
    try {
      timesteps = [...this.sampler.setTimesteps(params.steps, params.strength)];
    } catch (e) {
      throw new EngineError('INVALID_PARAMS', (e as Error).message);
    }
    const effectiveSteps = this.sampler instanceof EulerScheduler ? this.sampler.steps : params.steps;
    let modelMs = 0;
    const timed = async (part: ModelPart, feeds: Record<string, ort.Tensor>) => {
      const t = nowMs();
      const out = await this.sessions[part].run(feeds);
      const dt = nowMs() - t;
      modelMs += dt;
      return { out, dt };
    };

    // 1. input image → RGB at the output size (codec). libvips decodes on a libuv thread; the main
    //    thread meanwhile draws all the Gaussian noise of this run (initial noise, then one draw
    //    per noisy step, in that order), so the draw costs no time. codecMs is the wall time of
    //    that window, which is the decode's time as long as the decode outlasts the draw.
    const buf = this.buffersFor(width, height);
    const latentN = 4 * (width / 8) * (height / 8);
    let noisySteps = 0;
    for (let i = 0; i < timesteps.length; i++) if (this.sampler.stepNeedsNoise(i)) noisySteps++;
    const td = nowMs();
    const needsCodec = input instanceof Uint8Array || input.width !== width || input.height !== height;
    const decoding = input instanceof Uint8Array ? decodeImage(input, { width, height }) : resizeRgb(input, width, height);
    decoding.catch(() => undefined); // handled below, after the noise is drawn
    const noise = new GaussianRng(seed).fillNormal(buf.noiseFor((1 + noisySteps) * latentN));
    let rgb: RgbImage;
    try {
      rgb = await decoding;
    } catch (e) {
      if (e instanceof ImageDecodeError || e instanceof RangeError) throw new EngineError('INVALID_IMAGE', e.message);
      throw e;
    }
    const decodeMs = needsCodec ? nowMs() - td : 0;

    // 2. prompt → text embedding, cached by prompt text (a live canvas repeats its prompt every frame)
    const tt = nowMs();
    let hidden = this.promptCache.get(params.prompt);
    let tokenizeMs = 0;
    let textEncoderMs = 0;
    const promptCached = hidden !== undefined;
    if (hidden) {
      this.promptCache.delete(params.prompt); // re-inserted below: most recently used
    } else {
      const ids = this.tokenizer.encode(params.prompt);
      tokenizeMs = nowMs() - tt;
      const c = this.contract.textEncoder;
      const seq = ids.length === c.seqLen ? ids : fitLength(ids, c.seqLen, this.tokenizer.padId, this.tokenizer.eosId);
      const idsTensor =
        c.idsType === 'int64' ? new ort.Tensor('int64', BigInt64Array.from(seq, (v) => BigInt(v)), [1, seq.length]) : new ort.Tensor('int32', Int32Array.from(seq), [1, seq.length]);
      const { out, dt } = await timed('text_encoder', { [c.idsName]: idsTensor });
      textEncoderMs = dt;
      hidden = convertTensor(out[c.output.name] as ort.Tensor, this.contract.unet.hidden.type);
    }
    this.promptCache.set(params.prompt, hidden);
    if (this.promptCache.size > this.promptCacheSize) this.promptCache.delete(this.promptCache.keys().next().value!);

    // 3. VAE encode → z0 in UNet latent space
    const ve = this.contract.vaeEncoder;
    const imageData = buf.imageHalf ? rgbToNchw16(rgb, buf.imageHalf, byteToHalfTable()) : this.converter.toPlanes(rgb);
    const enc = await timed('vae_encoder', { [ve.input.name]: new ort.Tensor(ve.input.type, imageData, [1, 3, height, width]) });
    const latentTensor = enc.out[ve.output.name] as ort.Tensor;
    const [, lc, lh, lw] = latentTensor.dims;
    if ((lc !== 4 && lc !== 8) || lh !== height / 8 || lw !== width / 8) {
      throw new EngineError('MODEL_UNSUPPORTED', `${this.folder.partPath('vae_encoder')} returned a [${latentTensor.dims.join(',')}] latent for a ${width}×${height} image, expected [1,4 or 8,${height / 8},${width / 8}]`);
    }
    // 8 channels = mean ‖ logvar (new Optimum contract): take the mean, the mode of the posterior
    const scale = this.folder.latentScale;
    const z0 = buf.z0;
    if (latentTensor.type === 'float16') {
      float16ToFloat32((latentTensor.data as Uint16Array).subarray(0, latentN), z0);
      scaleInto(z0, z0, scale, latentN);
    } else {
      scaleInto(z0, latentTensor.data as Float32Array, scale, latentN);
    }

    // 4. noise the latent to the first timestep
    const { signal, noise: noiseK } = this.sampler.noiseCoefficients();
    const x = buf.x;
    mixInto(x, signal, z0, noiseK, noise, latentN);
    let noiseAt = latentN;

    // 5. UNet steps
    const u = this.contract.unet;
    const condFeed: Record<string, ort.Tensor> = {};
    if (u.timestepCond && this.sampler instanceof LcmScheduler) condFeed[u.timestepCond.name] = this.guidanceTensor(params.guidance, u.timestepCond.dim, u.timestepCond.type);
    else if (u.timestepCond) condFeed[u.timestepCond.name] = this.guidanceTensor(1, u.timestepCond.dim, u.timestepCond.type);
    const sampleTensor = new ort.Tensor(u.sample.type, buf.unetIn, [1, 4, lh, lw]);
    const unetStepsMs: number[] = [];
    for (let i = 0; i < timesteps.length; i++) {
      const k = this.sampler.modelInputScale(i);
      if (buf.unetIn instanceof Uint16Array) {
        const tmp = buf.epsF32!; // borrow as scratch before it receives eps
        float32ToFloat16(scaleInto(tmp, x, k, latentN), buf.unetIn);
      } else {
        scaleInto(buf.unetIn, x, k, latentN);
      }
      const { out, dt } = await timed('unet', {
        [u.sample.name]: sampleTensor,
        [u.timestep.name]: timestepTensor(timesteps[i], u.timestep.type, u.timestep.rank),
        [u.hidden.name]: hidden,
        ...condFeed,
      });
      unetStepsMs.push(dt);
      const epsTensor = out[u.output.name] as ort.Tensor;
      const eps = epsTensor.type === 'float16' ? float16ToFloat32(epsTensor.data as Uint16Array, buf.epsF32) : (epsTensor.data as Float32Array);
      let stepNoise: Float32Array | undefined;
      if (this.sampler.stepNeedsNoise(i)) {
        stepNoise = noise.subarray(noiseAt, noiseAt + latentN);
        noiseAt += latentN;
      }
      this.sampler.step(eps, i, x, stepNoise);
    }

    // 6. VAE decode → RGB
    const vd = this.contract.vaeDecoder;
    const inv = 1 / scale;
    if (buf.decoderIn instanceof Uint16Array) {
      float32ToFloat16(scaleInto(buf.z0, x, inv, latentN), buf.decoderIn); // z0 is free now: scratch
    } else {
      scaleInto(buf.decoderIn, x, inv, latentN);
    }
    const dec = await timed('vae_decoder', { [vd.input.name]: new ort.Tensor(vd.input.type, buf.decoderIn, [1, 4, lh, lw]) });
    const decoded = dec.out[vd.output.name] as ort.Tensor;
    const [, dc, dh, dw] = decoded.dims;
    if (dc !== 3 || dh !== height || dw !== width) {
      throw new EngineError('MODEL_UNSUPPORTED', `${this.folder.partPath('vae_decoder')} returned [${decoded.dims.join(',')}] for a ${lh}×${lw} latent, expected [1,3,${height},${width}]`);
    }
    const rgbOut = reuseOutput ? (buf.rgbOut ??= new Uint8Array(3 * width * height)) : undefined;
    const image =
      decoded.type === 'float16'
        ? nchw16ToRgb(decoded.data as Uint16Array, width, height, halfToByteTable(), rgbOut)
        : this.converter.toRgb(decoded.data as Float32Array, width, height, rgbOut);

    const totalMs = nowMs() - t0;
    const unetMs = unetStepsMs.reduce((a, b) => a + b, 0);
    const codecMs = decodeMs;
    const timings: PipelineTimings = {
      decodeMs,
      tokenizeMs,
      textEncoderMs,
      vaeEncodeMs: enc.dt,
      unetMs,
      unetStepsMs,
      vaeDecodeMs: dec.dt,
      encodeMs: 0,
      modelMs,
      codecMs,
      overheadMs: totalMs - modelMs - codecMs,
      totalMs,
    };
    return { result: { image, timings, params: { ...params, steps: effectiveSteps }, timesteps, promptCached }, t0 };
  }

  private guidanceTensor(guidance: number, dim: number, type: FloatType): ort.Tensor {
    let t = this.guidanceCache.get(guidance);
    if (!t) {
      const emb = guidanceEmbedding(guidance, dim);
      t = type === 'float16' ? new ort.Tensor('float16', float32ToFloat16(emb), [1, dim]) : new ort.Tensor('float32', emb, [1, dim]);
      if (this.guidanceCache.size > 64) this.guidanceCache.clear();
      this.guidanceCache.set(guidance, t);
    }
    return t;
  }

  private buffersFor(width: number, height: number): SizeBuffers {
    const key = `${width}x${height}`;
    let b = this.buffers.get(key);
    if (b) {
      this.buffers.delete(key);
      this.buffers.set(key, b);
      return b;
    }
    const c = this.contract;
    const pixels = 3 * width * height;
    const latent = 4 * (width / 8) * (height / 8);
    const half = (t: FloatType, n: number): FloatArray => (t === 'float16' ? new Uint16Array(n) : new Float32Array(n));
    let noise = new Float32Array(latent * 5);
    b = {
      width,
      height,
      imageHalf: c.vaeEncoder.input.type === 'float16' ? new Uint16Array(pixels) : undefined,
      z0: new Float32Array(latent),
      x: new Float32Array(latent),
      noiseFor(n: number) {
        if (noise.length < n) noise = new Float32Array(n);
        return noise.subarray(0, n);
      },
      unetIn: half(c.unet.sample.type, latent),
      decoderIn: half(c.vaeDecoder.input.type, latent),
      epsF32: c.unet.sample.type === 'float16' || c.unet.output.type === 'float16' ? new Float32Array(latent) : undefined,
    };
    this.buffers.set(key, b);
    // a handful of sizes in flight at most (one per live-frame size); drop the least recent
    if (this.buffers.size > 4) this.buffers.delete(this.buffers.keys().next().value!);
    return b;
  }
}

// Latent arithmetic lives in small module functions rather than inline in runNow: V8 optimizes a
// small hot function early, and the same loops inline in the long async runNow took ~40% more
// time in CPU profiles of bench/engine.ts.

/** out[j] = k·src[j] */
function scaleInto(out: Float32Array, src: Float32Array, k: number, n: number): Float32Array {
  for (let j = 0; j < n; j++) out[j] = src[j] * k;
  return out;
}

/** out[j] = a·x[j] + b·y[j] */
function mixInto(out: Float32Array, a: number, x: Float32Array, b: number, y: Float32Array, n: number): void {
  for (let j = 0; j < n; j++) out[j] = a * x[j] + b * y[j];
}

function timestepTensor(t: number, type: ModelContract['unet']['timestep']['type'], rank: 0 | 1): ort.Tensor {
  const dims = rank === 0 ? [] : [1];
  switch (type) {
    case 'int64':
      return new ort.Tensor('int64', BigInt64Array.of(BigInt(Math.round(t))), dims);
    case 'int32':
      return new ort.Tensor('int32', Int32Array.of(Math.round(t)), dims);
    case 'float16':
      return new ort.Tensor('float16', float32ToFloat16(Float32Array.of(t)), dims);
    default:
      return new ort.Tensor('float32', Float32Array.of(t), dims);
  }
}

/** Text-encoder output in the dtype the UNet wants. */
function convertTensor(t: ort.Tensor, want: FloatType): ort.Tensor {
  if (t.type === want) return t;
  if (want === 'float16') return new ort.Tensor('float16', float32ToFloat16(t.data as Float32Array), t.dims);
  return new ort.Tensor('float32', float16ToFloat32(t.data as Uint16Array), t.dims);
}

/** Re-fits CLIP ids to an export with a different fixed sequence length (eos kept last). */
function fitLength(ids: Int32Array, len: number, padId: number, eosId: number): Int32Array {
  const out = new Int32Array(len).fill(padId);
  const eosAt = ids.indexOf(eosId);
  const body = Math.min(eosAt < 0 ? ids.length : eosAt, len - 1);
  out.set(ids.subarray(0, body));
  out[body] = eosId;
  return out;
}
