// One engine worker thread: owns an Img2ImgPipeline and does the heavy work of a render —
// diffusion (onnxruntime, which blocks its thread) and JPEG encode — so the main thread only routes
// bytes. Snapshots usually arrive as raw RGB at the render size (decoded once, by the server's
// validation); encoded input is still decoded here.
//
// One message at a time, without a queue: the host sends `load` once and a render only to a
// loaded worker with no render in flight (EngineHost picks a free worker). A render that arrives
// anyway is refused, not queued: NOT_LOADED before the load, BUSY (from the pipeline) during one.
import { parentPort } from 'node:worker_threads';
import { Img2ImgPipeline } from '../../lib/diffusion/Img2ImgPipeline';
import { firstLine } from '../../lib/diffusion/sessions';
import type { EngineInfo, EngineLoadRequest, EngineRenderRequest, EngineReply, EngineRequest } from './messages';

const port = parentPort!;
let pipeline: Img2ImgPipeline | undefined;
let testDelayMs = 0;
let testCrashPrompt = '';

const reply = (msg: EngineReply, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

port.on('message', (msg: EngineRequest) => {
  void (msg.type === 'load' ? load(msg) : render(msg));
});

async function load(req: EngineLoadRequest) {
  const t0 = performance.now();
  try {
    pipeline = await Img2ImgPipeline.load(req.modelDir, {
      executionProvider: req.executionProvider as never,
      ...(req.deviceId !== undefined && { deviceId: req.deviceId }),
      modelsDir: req.modelsDir,
      ...(req.vae && { vae: req.vae }),
      ...(req.threads > 0 && { threads: req.threads }),
    });
    const loadMs = performance.now() - t0;
    testDelayMs = req.testDelayMs ?? 0;
    testCrashPrompt = req.testCrashPrompt ?? '';
    // Each size twice: onnxruntime settles its memory arena and kernels only on the second run.
    // Measured with tiny-lcm at 512² (first real render ÷ median of the next five): one warm-up
    // run 1.8–2.4×, two runs 1.0–1.5×, none 2–4.7×. A fixed-size UNet warms its one size.
    const warm = await pipeline.warmup(req.warmupSizes, { runs: 2 });
    const i = pipeline.info;
    const info: EngineInfo = {
      model: i.name,
      executionProvider: i.executionProvider,
      scheduler: i.scheduler,
      kind: i.kind,
      vaeKind: i.vaeKind,
      threads: i.threads,
      contract: i.contract,
      graphCache: i.graphCache,
      ...(i.fixedSize && { fixedSize: i.fixedSize }),
    };
    reply({ type: 'loaded', info, loadMs: Math.round(loadMs), warmupMs: Math.round(warm.ms), warmedSizes: warm.sizes });
  } catch (err) {
    reply({ type: 'load-error', message: firstLine(err), code: (err as { code?: string }).code });
  }
}

async function render(req: EngineRenderRequest) {
  try {
    if (!pipeline) throw Object.assign(new Error('engine has no model loaded'), { code: 'NOT_LOADED' });
    const input =
      req.image.kind === 'rgb'
        ? { data: new Uint8Array(req.image.data), width: req.image.width, height: req.image.height }
        : new Uint8Array(req.image.bytes);
    // ENGINE_TEST_CRASH_PROMPT: end this thread the way a native crash would (tests only)
    if (testCrashPrompt && req.params.prompt === testCrashPrompt) process.exit(70);
    const blockedMs = testDelayMs > 0 ? blockThisThread(testDelayMs) : 0;
    // diffusion and JPEG encode (and the decode of encoded input) happen here, off the event loop;
    // `fit` makes any live-frame setting renderable and reports what was used
    const out = await pipeline.runJpeg(input, req.params, { quality: req.quality, fit: true });
    // a fresh ArrayBuffer of exactly the JPEG's bytes, so it can be transferred
    const bytes = new Uint8Array(out.jpeg.byteLength);
    bytes.set(out.jpeg);
    reply(
      {
        type: 'result',
        id: req.id,
        jpeg: bytes.buffer,
        width: out.image.width,
        height: out.image.height,
        params: out.params,
        timings: { ...out.timings, testDelayMs: blockedMs },
      },
      [bytes.buffer],
    );
  } catch (err) {
    reply({ type: 'render-error', id: req.id, message: firstLine(err), code: (err as { code?: string }).code });
  }
}

/** ENGINE_TEST_DELAY_MS: blocks this thread synchronously, as onnxruntime's session.run does, so
 * tests can prove a slow render never stalls the server's event loop. Returns the time blocked. */
function blockThisThread(ms: number): number {
  const t0 = performance.now();
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  return performance.now() - t0;
}
