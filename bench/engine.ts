// Engine benchmark: one img2img frame as the server does it (JPEG in → pipeline → JPEG out),
// split into model time (inside session.run), codec time (JPEG decode + encode) and overhead
// (everything else: tensor conversion, sampler math, JS). `--json` prints one JSON line.
//
//   npm run bench:engine -- [--model models/local/tiny-lcm] [--vae taesd] [--size 512] [--steps 4] [--iterations 60] [--json]
//
// A tiny-* model (or VAE) is generated into $MODELS_DIR (default models/local) when missing; any
// other preset must be installed there (npm run models:download).
import { Command } from 'commander';
import sharp from 'sharp';
import { Img2ImgPipeline } from '../lib/diffusion/Img2ImgPipeline';
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
  .option('--json', 'print one JSON line')
  .parse();
const o = program.opts();

await ensureTinyModels(defaultModelsDir(), [o.model, o.vae].filter(isTinyModel));
const modelDir = resolveModelArg(o.model);
const size = Number(o.size);
const steps = Number(o.steps);
const iterations = Number(o.iterations);

/** A sketch-like test frame: white paper, a few filled shapes and strokes, as JPEG (what the
 * browser sends). Content barely matters to the tiny model's speed; the codec cost does. */
async function sketchJpeg(side: number): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${side}" height="${side}">
    <rect width="100%" height="100%" fill="#fff"/>
    <circle cx="${side * 0.35}" cy="${side * 0.4}" r="${side * 0.18}" fill="#e8b04a" stroke="#222" stroke-width="6"/>
    <rect x="${side * 0.5}" y="${side * 0.55}" width="${side * 0.35}" height="${side * 0.3}" fill="#4a7be8"/>
    <path d="M10 ${side - 30} Q ${side / 2} ${side / 2} ${side - 10} ${side - 60}" stroke="#1a1" stroke-width="10" fill="none"/>
  </svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toBuffer();
}

const p50 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (v: number) => Math.round(v * 100) / 100;

const pipeline = await Img2ImgPipeline.load(modelDir, {
  executionProvider: o.ep,
  vae: o.vae,
  ...(o.threads && { threads: Number(o.threads) }),
  logger: { warn: (m) => process.stderr.write(`warning: ${m}\n`) },
}).catch((e: Error) => {
  process.stderr.write(`error: ${e.message}\n`);
  process.exit(1);
});
const input = await sketchJpeg(size);
const params = { prompt: 'a watercolor landscape with a sun and a lake', strength: Number(o.strength), steps, seed: 1, guidance: 8, width: size, height: size };
for (let i = 0; i < Number(o.warmup); i++) await pipeline.runJpeg(input, { ...params, seed: i });

const rows: { total: number; model: number; codec: number; overhead: number; unet: number; vae: number }[] = [];
let unetCalls = 0;
for (let i = 0; i < iterations; i++) {
  const r = await pipeline.runJpeg(input, { ...params, seed: 100 + i });
  const t = r.timings;
  unetCalls = r.timesteps.length;
  rows.push({ total: t.totalMs, model: t.modelMs, codec: t.codecMs, overhead: t.overheadMs, unet: t.unetMs, vae: t.vaeEncodeMs + t.vaeDecodeMs });
}
await pipeline.dispose();

const result = {
  size,
  steps,
  total_ms_p50: round(p50(rows.map((r) => r.total))),
  model_ms_p50: round(p50(rows.map((r) => r.model))),
  codec_ms_p50: round(p50(rows.map((r) => r.codec))),
  overhead_ms_p50: round(p50(rows.map((r) => r.overhead))),
  model: pipeline.info.name,
  vae: pipeline.info.vae,
  unet_calls: unetCalls,
  iterations,
  threads: pipeline.info.threads,
  ep: pipeline.info.executionProvider,
};
if (o.json) {
  console.log(JSON.stringify(result));
} else {
  console.log(`engine bench: ${result.model} (${pipeline.info.kind}, ${pipeline.info.vaeKind} VAE from ${pipeline.info.vae}) ${size}² ${steps} steps, ${unetCalls} UNet calls, ${iterations} runs, ${result.threads} threads, ${result.ep}`);
  const line = (name: string, xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    console.log(`${name.padEnd(10)} p50 ${p50(xs).toFixed(2).padStart(8)} ms   min ${s[0].toFixed(2).padStart(8)}   max ${s[s.length - 1].toFixed(2).padStart(8)}`);
  };
  line('total', rows.map((r) => r.total));
  line('model', rows.map((r) => r.model));
  line('  unet', rows.map((r) => r.unet));
  line('  vae', rows.map((r) => r.vae));
  line('codec', rows.map((r) => r.codec));
  line('overhead', rows.map((r) => r.overhead));
}
