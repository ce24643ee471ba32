// One engine worker thread: owns an Img2ImgPipeline and does all heavy work of a render — decode
// and resize the snapshot (sharp), diffusion (onnxruntime, which blocks its thread), JPEG encode —
// so the main thread only routes bytes. Renders run one at a time, in arrival order.
import { parentPort } from 'node:worker_threads';
import { Img2ImgPipeline } from '../../lib/diffusion/Img2ImgPipeline';
import { decodeImage, encodeJpeg, ImageDecodeError } from '../../lib/image';
import { MAX_SNAPSHOT_SIDE } from '../../lib/protocol/limits';
import type { EngineInfo, EngineLoadRequest, EngineRenderRequest, EngineReply, EngineRequest } from './messages';

const port = parentPort!;
let pipeline: Img2ImgPipeline | undefined;
let chain: Promise<void> = Promise.resolve();

const reply = (msg: EngineReply, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

port.on('message', (msg: EngineRequest) => {
  // strictly sequential: a worker holds one session set and renders one job at a time
  chain = chain.then(() => (msg.type === 'load' ? load(msg) : render(msg))).catch(() => undefined);
});

async function load(req: EngineLoadRequest) {
  const t0 = performance.now();
  try {
    pipeline = await Img2ImgPipeline.load(req.modelDir, {
      executionProviders: [req.executionProvider],
      ...(req.threads > 0 && { intraOpNumThreads: req.threads }),
    });
    const loadMs = performance.now() - t0;
    const t1 = performance.now();
    for (const side of req.warmupSizes) {
      const blank = { data: new Uint8Array(side * side * 3).fill(255), width: side, height: side };
      await pipeline.run(blank, { prompt: '', strength: 0.5, steps: 1, seed: 0, guidance: 1, width: side, height: side });
    }
    const info: EngineInfo = { ...pipeline.info, model: req.modelDir, executionProvider: pipeline.info.executionProvider };
    reply({ type: 'loaded', info, loadMs: Math.round(loadMs), warmupMs: Math.round(performance.now() - t1) });
  } catch (err) {
    reply({ type: 'load-error', message: firstLine(err), code: (err as { code?: string }).code });
  }
}

async function render(req: EngineRenderRequest) {
  try {
    if (!pipeline) throw Object.assign(new Error('engine has no model loaded'), { code: 'NOT_LOADED' });
    const { params } = req;
    const t0 = performance.now();
    const input = await decodeImage(new Uint8Array(req.image), {
      width: params.width,
      height: params.height,
      maxInputPixels: MAX_SNAPSHOT_SIDE * MAX_SNAPSHOT_SIDE,
    });
    const t1 = performance.now();
    const out = await pipeline.run(input, params);
    const t2 = performance.now();
    const jpeg = await encodeJpeg(out.image, req.quality);
    const t3 = performance.now();
    // a fresh ArrayBuffer of exactly the JPEG's bytes, so it can be transferred
    const bytes = new Uint8Array(jpeg.byteLength);
    bytes.set(jpeg);
    reply(
      {
        type: 'result',
        id: req.id,
        jpeg: bytes.buffer,
        width: out.image.width,
        height: out.image.height,
        params: { ...params, ...(out.params ?? {}) },
        timings: { decodeMs: t1 - t0, inferenceMs: t2 - t1, encodeMs: t3 - t2, pipeline: out.timings as Record<string, number> },
      },
      [bytes.buffer],
    );
  } catch (err) {
    const code = err instanceof ImageDecodeError ? 'INVALID_IMAGE' : (err as { code?: string }).code;
    reply({ type: 'render-error', id: req.id, message: firstLine(err), code });
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}
