// `npm run img2img -- --model <folder|preset> --input in.png --prompt "…" --out out.png`
// One img2img render from the command line: prints a timing line per stage, and on bad input one
// error line and a non-zero exit.
import { Command, InvalidArgumentError } from 'commander';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { encodeJpeg, encodePng } from '../image';
import { DEFAULT_GUIDANCE } from '../protocol/limits';
import { EngineError } from './errors';
import { Img2ImgPipeline } from './Img2ImgPipeline';
import { resolveModelArg } from './modelPaths';
import { EXECUTION_PROVIDERS, type ExecutionProvider } from './executionProviders';

const number = (name: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
  return n;
};
const integer = (name: string) => (v: string) => {
  const n = number(name)(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer`);
  return n;
};


async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('img2img')
    .description('Render one image with a few-step img2img model (LCM / SD-Turbo ONNX folder)')
    .requiredOption('--model <folder|preset>', 'model folder, or a preset name under $MODELS_DIR (default ./models/local)')
    .option('--vae <folder|preset>', "use this folder's vae_encoder/ + vae_decoder/ (e.g. taesd, the tiny VAE for CPUs)")
    .requiredOption('--input <file>', 'input image (PNG, JPEG or WebP)')
    .requiredOption('--out <file>', 'output image (.png or .jpg)')
    .option('--prompt <text>', 'text prompt', '')
    .option('--strength <s>', 'how much of the input to replace, (0, 1]', number('--strength'), 0.65)
    .option('--steps <n>', 'sampler steps', integer('--steps'), 4)
    .option('--seed <n>', 'noise seed (same seed + input + settings = same image)', integer('--seed'), 42)
    .option('--guidance <g>', 'LCM guidance scale (ignored by Turbo models)', number('--guidance'), DEFAULT_GUIDANCE)
    .option('--size <px>', 'output side (multiple of 64, 128–1024); sets width and height', integer('--size'), 512)
    .option('--width <px>', 'output width (overrides --size)', integer('--width'))
    .option('--height <px>', 'output height (overrides --size)', integer('--height'))
    .option('--ep <provider>', `execution provider: ${EXECUTION_PROVIDERS.join(', ')}`, 'cpu')
    .option('--threads <n>', 'onnxruntime intra-op threads (default: number of cores)', integer('--threads'))
    .option('--quality <q>', 'JPEG quality for .jpg output', integer('--quality'), 90)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .parse(argv);
  const o = program.opts();

  const outExt = extname(o.out).toLowerCase();
  if (!['.png', '.jpg', '.jpeg'].includes(outExt)) throw new CliError(`--out must end in .png, .jpg or .jpeg (got ${o.out})`);
  if (!EXECUTION_PROVIDERS.includes(o.ep)) throw new CliError(`--ep must be one of ${EXECUTION_PROVIDERS.join(', ')} (got ${o.ep})`);
  if (!existsSync(o.input)) throw new CliError(`input image ${resolve(o.input)} does not exist`);
  const input = readFileSync(o.input);

  const modelDir = resolveModelArg(o.model);
  const tl = performance.now();
  const pipeline = await Img2ImgPipeline.load(modelDir, {
    executionProvider: o.ep as ExecutionProvider,
    threads: o.threads,
    vae: o.vae,
    logger: { warn: (m) => process.stderr.write(`warning: ${m}\n`) },
  });
  const loadMs = performance.now() - tl;
  try {
    const r = await pipeline.run(input, {
      prompt: o.prompt,
      strength: o.strength,
      steps: o.steps,
      seed: o.seed,
      guidance: o.guidance,
      width: o.width ?? o.size,
      height: o.height ?? o.size,
    });
    const te = performance.now();
    const bytes = outExt === '.png' ? await encodePng(r.image) : await encodeJpeg(r.image, o.quality);
    writeFileSync(o.out, bytes);
    const encodeMs = performance.now() - te;

    const t = r.timings;
    const ms = (v: number) => `${v.toFixed(1)} ms`;
    const info = pipeline.info;
    const vae = `${info.vaeKind} VAE${info.vae !== info.name ? ` from ${info.vae}` : ''}`;
    console.log(`model       ${info.name} (${info.kind}, ${info.scheduler}, ${vae}, ${info.executionProvider}, ${info.threads} threads) loaded in ${ms(loadMs)}`);
    console.log(`decode      ${ms(t.decodeMs)}`);
    console.log(`tokenize    ${ms(t.tokenizeMs)}`);
    console.log(`textEncoder ${ms(t.textEncoderMs)}`);
    console.log(`vaeEncode   ${ms(t.vaeEncodeMs)}`);
    t.unetStepsMs.forEach((v, i) => console.log(`unet[${i}]     ${ms(v)}  (t=${r.timesteps[i]})`));
    console.log(`vaeDecode   ${ms(t.vaeDecodeMs)}`);
    console.log(`encode      ${ms(encodeMs)}`);
    console.log(`total       ${ms(t.totalMs + encodeMs)}  (model ${ms(t.modelMs)}, codec ${ms(t.codecMs + encodeMs)}, overhead ${ms(t.overheadMs)})`);
    if (r.params.steps !== o.steps) console.log(`note        steps raised from ${o.steps} to ${r.params.steps} so strength ${o.strength} runs at least one step`);
    console.log(`wrote       ${resolve(o.out)} (${r.image.width}×${r.image.height}, seed ${o.seed})`);
  } finally {
    await pipeline.dispose();
  }
}

class CliError extends Error {}

main(process.argv).catch((err: unknown) => {
  const e = err as { code?: string; exitCode?: number; message?: string };
  // commander already printed its own usage errors (and --help/--version exit 0)
  if (typeof e.code === 'string' && e.code.startsWith('commander.')) process.exit(e.exitCode ?? 1);
  const msg = err instanceof EngineError || err instanceof CliError ? err.message : (e.message ?? String(err)).split('\n')[0];
  process.stderr.write(`error: ${msg}\n`);
  process.exit(1);
});
