// Engine benchmark: one img2img frame as the server does it (JPEG in → pipeline → JPEG out),
// split into model time (inside session.run), codec time (JPEG decode + encode) and overhead
// (everything else: tensor conversion, sampler math, JS). `--json` prints one JSON line per row.
//
//   npm run bench:engine -- [--model models/local/tiny-lcm] [--vae taesd] [--size 512] [--steps 4] [--iterations 60] [--json]
//
// After the model's row come the ControlNet rows (skip them with --no-controlnet): on each
// ControlNet model (default the two tiny layouts), 1 and 4 steps, frames with a scribble control
// at scale 1 alternating with the same frames without control, on a sketch that changes every
// frame (as while drawing), then on one sketch every frame (same_frame_*: the control image is
// reused). `controlnet_ms` is the separate ControlNets' own session time (a fused UNet runs them
// inside `unet_ms`), `control_image_ms` the control image, and `control_overhead_ms` = overhead
// with control − overhead without: the pipeline's own ControlNet work (control image, feeds,
// residual sums) beyond the sessions' time.
//
// A tiny-* model (or VAE) is generated into $MODELS_DIR (default models/local) when missing; any
// other preset must be installed there (npm run models:download).
import { Command } from 'commander';
import sharp from 'sharp';
import { Img2ImgPipeline, type ControlKind, type Img2ImgParams, type PipelineTimings } from '../lib/diffusion/Img2ImgPipeline';
import { defaultModelsDir, resolveModelArg } from '../lib/diffusion/modelPaths';
import { ensureTinyModels, isTinyModel } from '../models/tiny/ensure';

const program = new Command()
  .name('bench:engine')
  .option('--model <folder|preset>', 'model folder or preset under $MODELS_DIR', 'tiny-lcm')
  .option('--vae <folder|preset>', "use this folder's VAE halves instead of the model's (e.g. taesd)")
  .option('--size <px>', 'output side', '512')
  .option('--steps <n>', 'steps', '4')
  .option('--strength <s>', 'img2img strength', '0.5')
  .option('--iterations <n>', 'timed runs after warm-up', '60')
  .option('--warmup <n>', 'untimed runs first', '3')
  .option('--threads <n>', 'onnxruntime intra-op threads (default: cores)')
  .option('--ep <provider>', 'execution provider', 'cpu')
  .option('--controlnet-models <list>', 'comma-separated ControlNet models for the ControlNet rows', 'tiny-lcm-controlnet,tiny-lcm-controlnet-fused')
  .option('--control <kind>', 'control kind of the ControlNet rows (scribble or canny)', 'scribble')
  .option('--no-controlnet', 'skip the ControlNet rows')
  .option('--json', 'print one JSON line per row')
  .parse();
const o = program.opts();

const cnModels: string[] = o.controlnet ? String(o.controlnetModels).split(',').filter(Boolean) : [];
await ensureTinyModels(defaultModelsDir(), [o.model, o.vae, ...cnModels].filter(isTinyModel));
const size = Number(o.size);
const iterations = Number(o.iterations);

/** A sketch-like test frame: white paper, a few filled shapes and strokes, as JPEG (what the
 * browser sends). Content barely matters to the tiny model's speed; the codec cost does. Frame
 * `n` > 0 has its stroke drawn a little further, as while someone draws. */
async function sketchJpeg(side: number, n = 0): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}">
    <rect width="100%" height="100%" fill="#fff"/>
    <circle cx="${side * 0.35}" cy="${side * 0.4}" r="${side * 0.18}" fill="#e8b04a" stroke="#222" stroke-width="6"/>
    <rect x="${side * 0.5}" y="${side * 0.55}" width="${side * 0.35}" height="${side * 0.3}" fill="#4a7be8"/>
    <path d="M10 ${side - 30} Q ${side / 2} ${side / 2} ${side - 10 - 12 * n} ${side - 60 - 9 * n}" stroke="#1a1" stroke-width="10" fill="none"/>
  </svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toBuffer();
}

const p50 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (v: number) => Math.round(v * 100) / 100;

async function load(model: string, vae?: string): Promise<Img2ImgPipeline> {
  return Img2ImgPipeline.load(resolveModelArg(model), {
    executionProvider: o.ep,
    vae,
    ...(o.threads && { threads: Number(o.threads) }),
    logger: { warn: (m) => process.stderr.write(`warning: ${m}\n`) },
  }).catch((e: Error) => {
    process.stderr.write(`error: ${e.message}\n`);
    process.exit(1);
  });
}

type Sample = PipelineTimings & { unetCalls: number };
const input = await sketchJpeg(size);
/** frames of a sketch being drawn: each differs from the one before */
const drawing = await Promise.all(Array.from({ length: 8 }, (_, n) => sketchJpeg(size, n + 1)));

interface Variant {
  params: Img2ImgParams;
  /** the input of frame i (default: the same sketch every frame) */
  frame?: (i: number) => Buffer;
}
const baseParams = (steps: number): Img2ImgParams => ({ prompt: 'a watercolor landscape with a sun and a lake', strength: Number(o.strength), steps, seed: 1, guidance: 8, width: size, height: size });

/** Warm-up, then `iterations` timed frames of each variant, interleaved frame by frame (so drift
 * in the machine's load hits every variant alike). */
async function measure(pipeline: Img2ImgPipeline, variants: Variant[]): Promise<Sample[][]> {
  const frame = (v: Variant, i: number) => v.frame?.(i) ?? input;
  for (let i = 0; i < Number(o.warmup); i++) for (const v of variants) await pipeline.runJpeg(frame(v, i), { ...v.params, seed: i });
  const out: Sample[][] = variants.map(() => []);
  for (let i = 0; i < iterations; i++) {
    for (const [k, v] of variants.entries()) {
      const r = await pipeline.runJpeg(frame(v, i), { ...v.params, seed: 100 + i });
      out[k].push({ ...r.timings, unetCalls: r.timesteps.length });
    }
  }
  return out;
}

const col = (rows: Sample[], f: (t: Sample) => number) => round(p50(rows.map(f)));

function printTable(title: string, rows: Sample[]): void {
  console.log(title);
  const line = (name: string, xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    console.log(`${name.padEnd(14)} p50 ${p50(xs).toFixed(2).padStart(8)} ms   min ${s[0].toFixed(2).padStart(8)}   max ${s[s.length - 1].toFixed(2).padStart(8)}`);
  };
  line('total', rows.map((r) => r.totalMs));
  line('model', rows.map((r) => r.modelMs));
  line('  unet', rows.map((r) => r.unetMs));
  if (rows.some((r) => r.controlNetMs > 0)) line('  controlnet', rows.map((r) => r.controlNetMs));
  line('  vae', rows.map((r) => r.vaeEncodeMs + r.vaeDecodeMs));
  line('codec', rows.map((r) => r.codecMs));
  line('overhead', rows.map((r) => r.overheadMs));
  if (rows.some((r) => r.controlImageMs > 0)) line('  control img', rows.map((r) => r.controlImageMs));
}

// ─── the model's own row ─────────────────────────────────────────────────────────────────────
{
  const pipeline = await load(o.model, o.vae);
  const steps = Number(o.steps);
  const [rows] = await measure(pipeline, [{ params: baseParams(steps) }]);
  await pipeline.dispose();
  const result = {
    size,
    steps,
    total_ms_p50: col(rows, (t) => t.totalMs),
    model_ms_p50: col(rows, (t) => t.modelMs),
    codec_ms_p50: col(rows, (t) => t.codecMs),
    overhead_ms_p50: col(rows, (t) => t.overheadMs),
    model: pipeline.info.name,
    vae: pipeline.info.vae,
    unet_calls: rows[0].unetCalls,
    iterations,
    threads: pipeline.info.threads,
    ep: pipeline.info.executionProvider,
  };
  if (o.json) console.log(JSON.stringify(result));
  else printTable(`engine bench: ${result.model} (${pipeline.info.kind}, ${pipeline.info.vaeKind} VAE from ${pipeline.info.vae}) ${size}² ${steps} steps, ${result.unet_calls} UNet calls, ${iterations} runs, ${result.threads} threads, ${result.ep}`, rows);
}

// ─── ControlNet rows ─────────────────────────────────────────────────────────────────────────
for (const model of cnModels) {
  const pipeline = await load(model);
  const layout = pipeline.info.controlNet?.layout;
  if (!layout) {
    process.stderr.write(`error: ${model} has no ControlNet inputs; pass --controlnet-models with ControlNet models or --no-controlnet\n`);
    process.exit(1);
  }
  for (const steps of [1, 4]) {
    const control = { kind: o.control as ControlKind, scale: 1 };
    const frame = (i: number) => drawing[i % drawing.length];
    // while drawing: every frame differs, so every control image is made anew
    const [plain, withControl] = await measure(pipeline, [
      { params: baseParams(steps), frame },
      { params: { ...baseParams(steps), control }, frame },
    ]);
    // the same sketch frame after frame (a slider or the prompt changes): the image is reused
    const [same] = await measure(pipeline, [{ params: { ...baseParams(steps), control } }]);
    const row = {
      row: 'controlnet',
      model: pipeline.info.name,
      layout,
      control: control.kind,
      size,
      steps,
      unet_calls: withControl[0].unetCalls,
      total_ms_p50: col(withControl, (t) => t.totalMs),
      model_ms_p50: col(withControl, (t) => t.modelMs),
      unet_ms_p50: col(withControl, (t) => t.unetMs),
      controlnet_ms_p50: col(withControl, (t) => t.controlNetMs),
      codec_ms_p50: col(withControl, (t) => t.codecMs),
      overhead_ms_p50: col(withControl, (t) => t.overheadMs),
      control_image_ms_p50: col(withControl, (t) => t.controlImageMs),
      plain_total_ms_p50: col(plain, (t) => t.totalMs),
      plain_overhead_ms_p50: col(plain, (t) => t.overheadMs),
      control_overhead_ms: round(p50(withControl.map((t) => t.overheadMs)) - p50(plain.map((t) => t.overheadMs))),
      same_frame_overhead_ms_p50: col(same, (t) => t.overheadMs),
      same_frame_control_image_ms_p50: col(same, (t) => t.controlImageMs),
      iterations,
      threads: pipeline.info.threads,
      ep: pipeline.info.executionProvider,
    };
    if (o.json) console.log(JSON.stringify(row));
    else {
      printTable(`\ncontrolnet bench: ${row.model} (${layout}, ${control.kind} at scale 1) ${size}² ${steps} steps, ${row.unet_calls} UNet calls, ${iterations} runs`, withControl);
      console.log(`${'overhead without control'.padEnd(26)} p50 ${row.plain_overhead_ms_p50.toFixed(2)} ms → ControlNet overhead ${row.control_overhead_ms.toFixed(2)} ms per frame`);
      console.log(`${'same sketch every frame'.padEnd(26)} overhead p50 ${row.same_frame_overhead_ms_p50.toFixed(2)} ms (control image ${row.same_frame_control_image_ms_p50.toFixed(2)} ms: reused)`);
    }
  }
  await pipeline.dispose();
}
