// Few-step img2img on onnxruntime, in four stages: encodePrompt (text → embedding, cached) →
// prepareLatents (image → VAE latent, noised to the first timestep) → denoise (the UNet steps,
// driven by the model's Sampler) → decodeLatents (VAE decode → RGB). The model's I/O contract is
// read from the sessions (ModelContract); buffers are allocated once per output size and reused
// frame after frame (SizeBufferPool), so the time outside session.run stays a few milliseconds at
// 512². One run at a time per pipeline: a second call while one runs is refused (BUSY).
import * as ort from 'onnxruntime-node';
import { decodeImage, encodeJpeg, ImageDecodeError, nchw16ToRgb, PlanarConverter, resizeRgb, rgbToNchw16, type RgbImage } from '../image';
import { ClipTokenizer } from './ClipTokenizer';
import { ControlNets } from './ControlNets';
import type { ControlRun } from './controlRun';
import { EngineError } from './errors';
import { byteToHalfTable, float16ToFloat32, float32ToFloat16, halfToByteTable } from './fp16';
import type { ModelContract } from './ModelContract';
import { ModelFolder, type ModelPart } from './ModelFolder';
import { resolveModelArg } from './modelPaths';
import { SizeBufferPool, type SizeBuffers } from './pipelineBuffers';
import {
  checkPresetProvider,
  describePipeline,
  makeEncoderDeterministic,
  modelSampler,
  readContractOrRelease,
  requestedProvider,
  threadCount,
  type PipelineInfo,
  type PipelineLoadOptions,
} from './pipelineLoad';
import { decideParams, fitSize, type Img2ImgParams, type RenderParams, type Size } from './renderParams';
import { GaussianRng } from './rng';
import type { Sampler } from './schedulers/Sampler';
import { createSessions } from './sessions';
import { GuidanceTensors, convertTensor, fitLength, idsTensor, mixInto, scaleInto, timestepTensor } from './tensors';
import { newTimings, nowMs, settle, type PipelineTimings } from './timings';

export type { SamplerName } from './schedulers/samplerChoice';
export type { Sampler } from './schedulers/Sampler';
export type { PipelineInfo, PipelineLoadOptions } from './pipelineLoad';
export type { ControlKind, ControlParams, Img2ImgParams, RenderControl, RenderParams, Size } from './renderParams';
export type { ControlNetInfo } from './ControlNets';
export type { PipelineTimings } from './timings';

/** Encoded image bytes (PNG/JPEG/WebP) or raw RGB; cover-resized to the output size. */
export type ImageInput = Uint8Array | RgbImage;

export interface RunOptions {
  /** Fit the parameters instead of refusing them: a fixed-size UNet's size replaces the requested
   * one, and steps/strength become the nearest pair the sampler runs (Sampler.fitParams; strength
   * 0 is accepted). The result's `params` says what was used. */
  fit?: boolean;
}

export interface JpegRunOptions extends RunOptions {
  /** JPEG quality, default 85 */
  quality?: number;
}

export interface Img2ImgResult {
  image: RgbImage;
  timings: PipelineTimings;
  /** the parameters actually used: after `fit`, and with the steps the sampler scheduled (Euler
   * raises them when steps·strength < 1) */
  params: RenderParams;
  /** the UNet timesteps that ran */
  timesteps: number[];
  promptCached: boolean;
}

/** One run in flight: what it decided, where it works, what it measured. */
interface Run {
  params: RenderParams;
  timesteps: number[];
  buf: SizeBuffers;
  timings: PipelineTimings;
  /** the ControlNet work of this run, on a model with ControlNet inputs */
  control?: ControlRun;
}

export class Img2ImgPipeline {
  readonly info: PipelineInfo;
  private readonly buffers: SizeBufferPool;
  private readonly promptCache = new Map<string, ort.Tensor>();
  private readonly guidance = new GuidanceTensors();
  /** RGB ⇄ planes on WebAssembly SIMD where available */
  private readonly converter = new PlanarConverter();
  /** the run in progress: the buffers are reused, so there is at most one */
  private current?: Promise<unknown>;
  private disposed = false;

  private constructor(
    readonly folder: ModelFolder,
    private readonly sessions: Record<ModelPart, ort.InferenceSession>,
    readonly contract: ModelContract,
    private readonly tokenizer: ClipTokenizer,
    private readonly sampler: Sampler,
    info: Omit<PipelineInfo, 'pixelKernels'>,
    private readonly promptCacheSize: number,
    private readonly control: ControlNets | undefined,
  ) {
    this.info = { ...info, pixelKernels: this.converter.implementation, ...(control && { controlNet: control.info }) };
    this.buffers = new SizeBufferPool(contract);
  }

  static async load(dir: string, opts: PipelineLoadOptions = {}): Promise<Img2ImgPipeline> {
    const requested = requestedProvider(opts);
    const folder = ModelFolder.open(dir, { vaeDir: opts.vae ? resolveModelArg(opts.vae, opts.modelsDir) : undefined });
    const noCpuFallback = checkPresetProvider(folder, requested);
    const threads = threadCount(opts);
    const tokenizer = ClipTokenizer.fromFolder(folder.dir);
    const { name: samplerName, sampler } = modelSampler(folder, opts.sampler);
    const deterministic = makeEncoderDeterministic(folder, opts.logger);
    const loaded = await createSessions(folder, { executionProvider: requested, deviceId: opts.deviceId, threads, logger: opts.logger, noCpuFallback, graphCache: opts.graphCache });
    const { sessions, executionProvider, graphCache } = loaded;
    const contract = await readContractOrRelease(folder, sessions);
    const info = describePipeline({ folder, contract, samplerName, executionProvider, requested, threads, deterministic, graphCache });
    const control = await ControlNets.load(folder, contract, { executionProvider, deviceId: opts.deviceId, threads, logger: opts.logger, graphCache: opts.graphCache }).catch(async (e: unknown) => {
      await Promise.all(Object.values(sessions).map((s) => s.release()));
      throw e;
    });
    const cn = control ? `, ControlNet ${control.info.layout}: ${control.info.kinds.join(' + ') || 'none installed'}` : '';
    opts.logger?.info?.(`loaded ${folder.name} (${folder.kind}, ${samplerName}, ${folder.vaeKind} VAE${opts.vae ? ` from ${folder.vae.name}` : ''}, ${info.contract}${cn}) on ${executionProvider}`);
    return new Img2ImgPipeline(folder, sessions, contract, tokenizer, sampler, info, opts.promptCacheSize ?? 16, control);
  }

  /** Runs img2img on `input`, cover-resized to the requested size. */
  run(input: ImageInput, params: Img2ImgParams, opts: RunOptions = {}): Promise<Img2ImgResult> {
    return this.exclusive(() => this.render(input, params, opts.fit ?? false, false, nowMs()));
  }

  /** run() + JPEG encode of the result (the wire format), with the encode in the timings. */
  runJpeg(input: ImageInput, params: Img2ImgParams, opts: JpegRunOptions = {}): Promise<Img2ImgResult & { jpeg: Buffer }> {
    return this.exclusive(async () => {
      const t0 = nowMs();
      // the RGB result is encoded right away, so it may live in the reused per-size buffer
      const result = await this.render(input, params, opts.fit ?? false, true, t0);
      const te = nowMs();
      const jpeg = await encodeJpeg(result.image, opts.quality ?? 85);
      result.timings.encodeMs = nowMs() - te;
      settle(result.timings, t0);
      return { ...result, jpeg };
    });
  }

  /**
   * Renders each size `runs` times (1 step) so onnxruntime plans memory and kernels before real
   * traffic. Sizes are fitted like a `fit` run, so a fixed-size UNet warms its one size. A model
   * with ControlNets also renders each size once with all of them, so the first controlled frame
   * does not pay their first run. Returns the time taken and the sizes actually rendered (in
   * order, without repeats).
   */
  async warmup(sizes: ReadonlyArray<number | Size>, opts: { runs?: number } = {}): Promise<{ ms: number; sizes: Size[] }> {
    const t0 = nowMs();
    const done: Size[] = [];
    for (const s of sizes) {
      const size = fitSize(typeof s === 'number' ? { width: s, height: s } : s, this.info.fixedSize);
      if (done.some((d) => d.width === size.width && d.height === size.height)) continue;
      done.push(size);
      const blank: RgbImage = { data: new Uint8Array(size.width * size.height * 3).fill(255), ...size };
      for (let i = 0; i < (opts.runs ?? 1); i++) await this.run(blank, { prompt: '', strength: 0.5, steps: 1, seed: 0, ...size });
      const kinds = this.control?.info.kinds ?? [];
      if (kinds.length) await this.run(blank, { prompt: '', strength: 0.5, steps: 1, seed: 0, ...size, control: kinds.map((kind) => ({ kind })) });
    }
    return { ms: nowMs() - t0, sizes: done };
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.current?.catch(() => undefined);
    this.buffers.clear();
    this.promptCache.clear();
    await Promise.all([...Object.values(this.sessions).map((s) => s.release()), this.control?.release()]);
  }

  private async exclusive<T>(job: () => Promise<T>): Promise<T> {
    if (this.disposed) throw new EngineError('DISPOSED', 'the engine was shut down; load the model again');
    if (this.current) {
      throw new EngineError('BUSY', `${this.folder.name} is already running a render (a pipeline reuses its buffers): wait for it, or load another pipeline to render in parallel`);
    }
    const running = job();
    this.current = running;
    try {
      return await running;
    } finally {
      this.current = undefined;
    }
  }

  private async render(input: ImageInput, raw: Img2ImgParams, fit: boolean, reuseOutput: boolean, t0: number): Promise<Img2ImgResult> {
    const { params, timesteps } = decideParams(raw, this.sampler, this.info.fixedSize, fit);
    ControlNets.check(this.folder.name, params.control, this.control);
    const buf = this.buffers.get(params.width, params.height);
    const run: Run = { params, timesteps, buf, timings: newTimings(), control: this.control?.begin(params.control, timesteps.length, buf) };
    const prompt = await this.encodePrompt(params.prompt, run.timings);
    const stepNoise = await this.prepareLatents(input, run);
    await this.denoise(prompt.hidden, stepNoise, run);
    const image = await this.decodeLatents(run, reuseOutput);
    return { image, timings: settle(run.timings, t0), params, timesteps, promptCached: prompt.cached };
  }

  /** Prompt → text embedding in the UNet's dtype, cached by prompt text (LRU): a live canvas
   * repeats its prompt every frame. */
  private async encodePrompt(prompt: string, t: PipelineTimings): Promise<{ hidden: ort.Tensor; cached: boolean }> {
    let hidden = this.promptCache.get(prompt);
    const cached = hidden !== undefined;
    if (hidden) {
      this.promptCache.delete(prompt); // re-inserted below: most recently used
    } else {
      const tt = nowMs();
      const ids = this.tokenizer.encode(prompt);
      t.tokenizeMs = nowMs() - tt;
      const c = this.contract.textEncoder;
      const seq = ids.length === c.seqLen ? ids : fitLength(ids, c.seqLen, this.tokenizer.padId, this.tokenizer.eosId);
      const { out, dt } = await this.runPart('text_encoder', { [c.idsName]: idsTensor(seq, c.idsType) }, t);
      t.textEncoderMs = dt;
      hidden = convertTensor(out[c.output.name] as ort.Tensor, this.contract.unet.hidden.type);
    }
    this.promptCache.set(prompt, hidden);
    if (this.promptCache.size > this.promptCacheSize) this.promptCache.delete(this.promptCache.keys().next().value!);
    return { hidden, cached };
  }

  /**
   * Input image → RGB at the output size → VAE latent z₀ → x, noised to the first timestep.
   * Returns the rest of the run's noise, one latent per noisy sampler step. libvips decodes on a
   * libuv thread while this thread draws all the Gaussian noise of the run (initial noise, then
   * one draw per noisy step, in that order), so the draw costs no time; decodeMs is the wall time
   * of that window, which is the decode's time as long as the decode outlasts the draw.
   */
  private async prepareLatents(input: ImageInput, run: Run): Promise<Float32Array> {
    const { width, height, seed } = run.params;
    const { buf } = run;
    let noisySteps = 0;
    for (let i = 0; i < run.timesteps.length; i++) if (this.sampler.stepNeedsNoise(i)) noisySteps++;
    const td = nowMs();
    const needsCodec = input instanceof Uint8Array || input.width !== width || input.height !== height;
    const decoding = input instanceof Uint8Array ? decodeImage(input, { width, height }) : resizeRgb(input, width, height);
    decoding.catch(() => undefined); // handled below, after the noise is drawn
    const noise = new GaussianRng(seed).fillNormal(buf.noiseFor((1 + noisySteps) * buf.latentN));
    let rgb: RgbImage;
    try {
      rgb = await decoding;
    } catch (e) {
      if (e instanceof ImageDecodeError || e instanceof RangeError) throw new EngineError('INVALID_IMAGE', e.message);
      throw e;
    }
    run.timings.decodeMs = needsCodec ? nowMs() - td : 0;
    run.control?.setImage(rgb, run.timings);
    await this.encodeImage(rgb, run);
    const { signal, noise: k } = this.sampler.noiseCoefficients();
    mixInto(buf.x, signal, buf.z0, k, noise, buf.latentN);
    return noise.subarray(buf.latentN);
  }

  /** VAE encode → z₀ (buf.z0) in UNet latent space. */
  private async encodeImage(rgb: RgbImage, run: Run): Promise<void> {
    const { buf } = run;
    const { width, height } = buf;
    const ve = this.contract.vaeEncoder;
    const imageData = buf.imageHalf ? rgbToNchw16(rgb, buf.imageHalf, byteToHalfTable()) : this.converter.toPlanes(rgb);
    const enc = await this.runPart('vae_encoder', { [ve.input.name]: new ort.Tensor(ve.input.type, imageData, [1, 3, height, width]) }, run.timings);
    run.timings.vaeEncodeMs = enc.dt;
    const latent = enc.out[ve.output.name] as ort.Tensor;
    const [, lc, lh, lw] = latent.dims;
    if ((lc !== 4 && lc !== 8) || lh !== buf.latentHeight || lw !== buf.latentWidth) {
      throw new EngineError('MODEL_UNSUPPORTED', `${this.folder.partPath('vae_encoder')} returned a [${latent.dims.join(',')}] latent for a ${width}×${height} image, expected [1,4 or 8,${height / 8},${width / 8}]`);
    }
    // 8 channels = mean ‖ logvar (new Optimum contract): take the mean, the mode of the posterior
    const scale = this.folder.latentScale;
    if (latent.type === 'float16') {
      float16ToFloat32((latent.data as Uint16Array).subarray(0, buf.latentN), buf.z0);
      scaleInto(buf.z0, buf.z0, scale, buf.latentN);
    } else {
      scaleInto(buf.z0, latent.data as Float32Array, scale, buf.latentN);
    }
  }

  /** The UNet steps, in place on buf.x; `stepNoise` holds one latent per noisy step, in order. */
  private async denoise(hidden: ort.Tensor, stepNoise: Float32Array, run: Run): Promise<void> {
    const { buf, timesteps, timings: t } = run;
    const n = buf.latentN;
    const u = this.contract.unet;
    const sample = new ort.Tensor(u.sample.type, buf.unetIn, [1, 4, buf.latentHeight, buf.latentWidth]);
    const fixedFeeds: Record<string, ort.Tensor> = { [u.sample.name]: sample, [u.hidden.name]: hidden, ...run.control?.fixedFeeds() };
    if (u.timestepCond) fixedFeeds[u.timestepCond.name] = this.guidance.get(this.sampler.embeddedGuidance(run.params.guidance), u.timestepCond.dim, u.timestepCond.type);
    let noiseAt = 0;
    for (let i = 0; i < timesteps.length; i++) {
      const k = this.sampler.modelInputScale(i);
      if (buf.unetIn instanceof Uint16Array) {
        float32ToFloat16(scaleInto(buf.epsF32!, buf.x, k, n), buf.unetIn); // epsF32 is scratch until it receives eps
      } else {
        scaleInto(buf.unetIn, buf.x, k, n);
      }
      const control = await run.control?.stepFeeds(i, sample, timesteps[i], hidden, t);
      const { out, dt } = await this.runPart('unet', { ...fixedFeeds, ...control, [u.timestep.name]: timestepTensor(timesteps[i], u.timestep.type, u.timestep.rank) }, t);
      t.unetStepsMs.push(dt);
      t.unetMs += dt;
      const epsTensor = out[u.output.name] as ort.Tensor;
      const eps = epsTensor.type === 'float16' ? float16ToFloat32(epsTensor.data as Uint16Array, buf.epsF32) : (epsTensor.data as Float32Array);
      let noise: Float32Array | undefined;
      if (this.sampler.stepNeedsNoise(i)) {
        noise = stepNoise.subarray(noiseAt, noiseAt + n);
        noiseAt += n;
      }
      this.sampler.step(eps, i, buf.x, noise);
    }
  }

  /** VAE decode of buf.x → RGB (into the reused per-size buffer when `reuseOutput`). */
  private async decodeLatents(run: Run, reuseOutput: boolean): Promise<RgbImage> {
    const { buf } = run;
    const { width, height, latentN: n } = buf;
    const vd = this.contract.vaeDecoder;
    const inv = 1 / this.folder.latentScale;
    if (buf.decoderIn instanceof Uint16Array) {
      float32ToFloat16(scaleInto(buf.z0, buf.x, inv, n), buf.decoderIn); // z0 is free now: scratch
    } else {
      scaleInto(buf.decoderIn, buf.x, inv, n);
    }
    const dec = await this.runPart('vae_decoder', { [vd.input.name]: new ort.Tensor(vd.input.type, buf.decoderIn, [1, 4, buf.latentHeight, buf.latentWidth]) }, run.timings);
    run.timings.vaeDecodeMs = dec.dt;
    const decoded = dec.out[vd.output.name] as ort.Tensor;
    const [, dc, dh, dw] = decoded.dims;
    if (dc !== 3 || dh !== height || dw !== width) {
      throw new EngineError('MODEL_UNSUPPORTED', `${this.folder.partPath('vae_decoder')} returned [${decoded.dims.join(',')}] for a ${buf.latentHeight}×${buf.latentWidth} latent, expected [1,3,${height},${width}]`);
    }
    const rgbOut = reuseOutput ? (buf.rgbOut ??= new Uint8Array(3 * width * height)) : undefined;
    return decoded.type === 'float16'
      ? nchw16ToRgb(decoded.data as Uint16Array, width, height, halfToByteTable(), rgbOut)
      : this.converter.toRgb(decoded.data as Float32Array, width, height, rgbOut);
  }

  /** session.run of one model part, its time added to the run's model time. */
  private async runPart(part: ModelPart, feeds: Record<string, ort.Tensor>, t: PipelineTimings): Promise<{ out: ort.InferenceSession.ReturnType; dt: number }> {
    const t1 = nowMs();
    const out = await this.sessions[part].run(feeds);
    const dt = nowMs() - t1;
    t.modelMs += dt;
    return { out, dt };
  }
}
