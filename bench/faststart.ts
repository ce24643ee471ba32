// Fast-start benchmark: starts an engine worker (EngineHost, one worker thread, as the server does)
// twice on the same model folder, each in a fresh process: the first with the optimised-graph cache
// cleared (cold: onnxruntime optimises every graph and the cache is written), the second finding it
// (warm). For each start: time to ready (load + warm-up, the engine's status), its warm-up part,
// the graph cache state, the steady per-frame time (median of --frames renders after warm-up,
// through the worker, JPEG encode included) and the process's peak RSS.
//
//   npm run bench:faststart -- --model <folder|preset> [--size 256] [--frames 12] [--threads n] [--keep-cache] [--json]
//
// Made for the real-size random-weight SD-Turbo folder that ../shared/tools/realsize/build.sh
// builds (outside the repository; its README says how); a tiny-* preset also works for a quick run.
// ENGINE_GRAPH_CACHE=0 in the environment measures two starts without the cache.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { GRAPH_CACHE_DIR } from '../lib/diffusion/optimizedGraphCache';
import { defaultModelsDir, resolveModelArg } from '../lib/diffusion/modelPaths';
import { EngineHost } from '../server/engine/EngineHost';
import { ensureTinyModels, isTinyModel } from '../models/tiny/ensure';

const program = new Command()
  .name('bench:faststart')
  .option('--model <folder|preset>', 'model folder (e.g. the real-size folder from ../shared/tools/realsize/build.sh) or preset')
  .option('--size <px>', 'warm-up and frame side', '256')
  .option('--frames <n>', 'timed frames after warm-up (median reported)', '12')
  .option('--threads <n>', 'onnxruntime intra-op threads (default: cores)')
  .option('--keep-cache', 'do not clear the cache before the first start')
  .option('--json', 'print one JSON line')
  .option('--child', 'internal: one start in this process, result as JSON on stdout')
  .parse();
const o = program.opts();

interface StartResult {
  readyMs: number;
  loadMs: number;
  warmupMs: number;
  graphCache: string;
  frameMsP50: number;
  inferenceMsP50: number;
  frameMs: number[];
  peakRssMB: number;
}

const p50 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** One worker start and its frames, in this process. */
async function oneStart(modelDir: string, size: number, frames: number): Promise<StartResult> {
  const host = new EngineHost({
    model: modelDir,
    modelsDir: defaultModelsDir(),
    executionProvider: 'cpu',
    threads: o.threads ? Number(o.threads) : 0,
    warmupSizes: [size],
    workers: 1,
    jpegQuality: 85,
  });
  try {
    const s = await host.start();
    if (s.state !== 'ready') throw new Error(`engine ${s.state}: ${s.message ?? ''}`);
    const frameMs: number[] = [];
    const inference: number[] = [];
    for (let i = 0; i < frames; i++) {
      const rgb = { data: sketch(size), width: size, height: size };
      const t0 = performance.now();
      const out = await host.render(rgb, { prompt: 'a watercolor house by a lake', strength: 0.5, steps: 1, guidance: 1, seed: i, width: size, height: size });
      frameMs.push(performance.now() - t0);
      inference.push(out.timings.totalMs);
    }
    return {
      readyMs: s.loadMs ?? NaN,
      loadMs: (s.loadMs ?? NaN) - (s.warmupMs ?? 0),
      warmupMs: s.warmupMs ?? NaN,
      graphCache: s.graphCache ?? 'unknown',
      frameMsP50: Math.round(p50(frameMs)),
      inferenceMsP50: Math.round(p50(inference)),
      frameMs: frameMs.map(Math.round),
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    };
  } finally {
    await host.stop();
  }
}

/** White paper with a few coloured shapes, as raw RGB. */
function sketch(side: number): Uint8Array {
  const data = new Uint8Array(side * side * 3).fill(255);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const i = (y * side + x) * 3;
      if (Math.hypot(x - side * 0.35, y - side * 0.4) < side * 0.18) data.set([232, 176, 74], i);
      else if (x > side * 0.5 && x < side * 0.85 && y > side * 0.55 && y < side * 0.85) data.set([74, 123, 232], i);
    }
  }
  return data;
}

let child: ChildProcess | undefined;
const stopChild = () => child?.kill('SIGKILL');
process.on('exit', stopChild);
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

/** One start in a fresh process (a new worker pays what a restart or scale-up pays). */
function startInChild(modelDir: string): Promise<StartResult> {
  const args = ['--import', 'tsx', 'bench/faststart.ts', '--child', '--model', modelDir, '--size', o.size, '--frames', o.frames, ...(o.threads ? ['--threads', o.threads] : [])];
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, args, { cwd: join(import.meta.dirname, '..'), stdio: ['ignore', 'pipe', 'inherit'] });
    child = c;
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    c.on('error', reject);
    c.on('exit', (code) => {
      child = undefined;
      const line = out.trim().split('\n').pop() ?? '';
      if (code === 0 && line.startsWith('{')) resolve(JSON.parse(line) as StartResult);
      else reject(new Error(`start exited with code ${code}: ${out.trim().slice(-500)}`));
    });
  });
}

if (!o.model) {
  process.stderr.write(
    'bench:faststart needs --model: the real-size folder that ../shared/tools/realsize/build.sh builds outside the repository\n' +
      '(see its README), e.g. npm run bench:faststart -- --model $SCRATCH/sd-turbo-realsize; or --model tiny-turbo for a quick run\n',
  );
  process.exit(2);
}
await ensureTinyModels(defaultModelsDir(), [o.model].filter(isTinyModel), () => undefined);
const modelDir = resolveModelArg(o.model);
if (o.child) {
  const r = await oneStart(modelDir, Number(o.size), Number(o.frames));
  process.stdout.write(`${JSON.stringify(r)}\n`);
  process.exit(0);
}
if (!existsSync(join(modelDir, 'model_index.json'))) {
  process.stderr.write(`${modelDir} is not a model folder (no model_index.json); build the real-size one with ../shared/tools/realsize/build.sh\n`);
  process.exit(2);
}
if (!o.keepCache) rmSync(join(modelDir, GRAPH_CACHE_DIR), { recursive: true, force: true });
const first = await startInChild(modelDir);
const second = await startInChild(modelDir);
const summary = {
  model: modelDir,
  size: Number(o.size),
  frames: Number(o.frames),
  cacheEnv: process.env.ENGINE_GRAPH_CACHE ?? '',
  first,
  second,
  readyRatio: Math.round((second.readyMs / first.readyMs) * 1000) / 1000,
  frameChangePct: Math.round(((second.frameMsP50 - first.frameMsP50) / first.frameMsP50) * 1000) / 10,
};
if (o.json) {
  console.log(JSON.stringify(summary));
} else {
  console.log(`fast start: ${modelDir}, ${o.size}², ${o.frames} frames per start`);
  for (const [name, r] of [['first', first], ['second', second]] as const) {
    console.log(
      `${name.padEnd(6)} ready ${String(r.readyMs).padStart(6)} ms (load ${r.loadMs}, warm-up ${r.warmupMs}), cache ${r.graphCache.padEnd(4)}  frame p50 ${r.frameMsP50} ms (engine ${r.inferenceMsP50} ms)  peak RSS ${r.peakRssMB} MB`,
    );
  }
  console.log(`second/first ready: ${summary.readyRatio}; frame time change ${summary.frameChangePct} %`);
}
