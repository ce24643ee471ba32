// `npm run img2img -- --model <folder|preset> --input in.png --prompt "…" --out out.png`
// One img2img render from the command line: prints a timing line per stage, and on bad input one
// error line and a non-zero exit. Settings not given are those a new live frame renders with on the
// same model (liveDefaults.ts), so a CLI render and a live frame's first render agree.
import { Command, Help, InvalidArgumentError, type Option } from 'commander';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { encodeJpeg, encodePng } from '../image';
import { printReport } from './cliReport';
import { EngineError } from './errors';
import { Img2ImgPipeline } from './Img2ImgPipeline';
import { liveFrameDefaults } from './liveDefaults';
import { resolveModelArg } from './modelPaths';
import type { PipelineInfo } from './pipelineLoad';
import { CONTROL_KINDS, MAX_CONTROL_SCALE, type ControlKind, type Img2ImgParams } from './renderParams';
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

const live = liveFrameDefaults('', 'cpu');
const liveDefault = (what: string) => `(default: ${what}, as a new live frame)`;

function parseArgs(argv: string[]) {
  return new Command()
    .name('img2img')
    .description(
      "Render one image with a few-step img2img model (LCM / SD-Turbo ONNX folder). Size, steps, strength and guidance default to a new live frame's on the same model.",
    )
    .usage('--model <folder|preset> --input <file> --out <file> [options]')
    .requiredOption('--model <folder|preset>', 'model folder, or the name of a preset installed in $MODELS_DIR, ./models/local by default')
    .option('--vae <folder|preset>', "use this folder's vae_encoder/ + vae_decoder/ (e.g. taesd, the tiny VAE for CPUs)")
    .requiredOption('--input <file>', 'input image (PNG, JPEG or WebP)')
    .requiredOption('--out <file>', 'output image (.png or .jpg)')
    .option('--prompt <text>', 'text prompt', '')
    .option('--strength <s>', `how much of the input to replace, (0, 1] ${liveDefault(String(live.strength))}`, number('--strength'))
    .option('--steps <n>', `sampler steps (default: as a new live frame, ${live.steps} on a CPU; on a GPU the steps its panel suggests for the model)`, integer('--steps'))
    .option('--seed <n>', 'noise seed (same seed + input + settings = same image)', integer('--seed'), 42)
    .option('--guidance <g>', `LCM guidance scale, ignored by Turbo models ${liveDefault(String(live.guidance))}`, number('--guidance'))
    .option('--size <px>', `output side (multiple of 64, 128–1024); sets width and height ${liveDefault(String(live.size))}`, integer('--size'))
    .option('--width <px>', 'output width (overrides --size)', integer('--width'))
    .option('--height <px>', 'output height (overrides --size)', integer('--height'))
    .option('--ep <provider>', `execution provider: ${EXECUTION_PROVIDERS.join(', ')}`, 'cpu')
    .option('--threads <n>', 'onnxruntime intra-op threads (default: number of cores)', integer('--threads'))
    .option('--quality <q>', 'JPEG quality for .jpg output', integer('--quality'), 90)
    .option('--control <kind>', `ControlNet guiding the render: ${CONTROL_KINDS.join(' or ')} (the control image is made from the input; the model needs that ControlNet)`)
    .option('--control-scale <s>', `how strongly the control image holds the shape, 0–${MAX_CONTROL_SCALE} (default: 1)`, number('--control-scale'))
    .option('--control-start <f>', 'fraction of the schedule where the ControlNet starts, 0–1 (default: 0)', number('--control-start'))
    .option('--control-end <f>', 'fraction of the schedule where it stops, 0–1 (default: 1)', number('--control-end'))
    .configureHelp({
      optionDescription(this: Help, option: Option) {
        const text = Help.prototype.optionDescription.call(this, option);
        return option.mandatory ? `${text} (required)` : text;
      },
    })
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .parse(argv)
    .opts<CliOptions>();
}

interface CliOptions {
  model: string;
  vae?: string;
  input: string;
  out: string;
  prompt: string;
  strength?: number;
  steps?: number;
  seed: number;
  guidance?: number;
  size?: number;
  width?: number;
  height?: number;
  ep: string;
  threads?: number;
  quality: number;
  control?: string;
  controlScale?: number;
  controlStart?: number;
  controlEnd?: number;
}

/** The run's parameters: what was asked for, and a live frame's defaults (for this model on the
 * provider it loaded on) for the rest. `defaulted` names the options that took a default. */
function renderSettings(o: CliOptions, info: PipelineInfo) {
  const d = liveFrameDefaults(info.name, info.executionProvider);
  const params: Img2ImgParams = {
    prompt: o.prompt,
    strength: o.strength ?? d.strength,
    steps: o.steps ?? d.steps,
    seed: o.seed,
    guidance: o.guidance ?? d.guidance,
    width: o.width ?? o.size ?? d.size,
    height: o.height ?? o.size ?? d.size,
    ...(o.control && { control: { kind: o.control as ControlKind, scale: o.controlScale ?? 1, start: o.controlStart ?? 0, end: o.controlEnd ?? 1 } }),
  };
  const unset = {
    size: o.size === undefined && (o.width === undefined || o.height === undefined),
    steps: o.steps === undefined,
    strength: o.strength === undefined,
    guidance: o.guidance === undefined && info.kind === 'lcm', // Turbo models ignore guidance
  };
  const defaulted = Object.entries(unset)
    .filter(([, v]) => v)
    .map(([k]) => k);
  return { params, defaulted };
}

async function main(argv: string[]): Promise<void> {
  const o = parseArgs(argv);
  const outExt = extname(o.out).toLowerCase();
  if (!['.png', '.jpg', '.jpeg'].includes(outExt)) throw new CliError(`--out must end in .png, .jpg or .jpeg (got ${o.out})`);
  if (!(EXECUTION_PROVIDERS as readonly string[]).includes(o.ep)) throw new CliError(`--ep must be one of ${EXECUTION_PROVIDERS.join(', ')} (got ${o.ep})`);
  if (!existsSync(o.input)) throw new CliError(`input image ${resolve(o.input)} does not exist`);
  checkControlOptions(o);
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
    const { params, defaulted } = renderSettings(o, pipeline.info);
    const r = await pipeline.run(input, params);
    const te = performance.now();
    const bytes = outExt === '.png' ? await encodePng(r.image) : await encodeJpeg(r.image, o.quality);
    writeFileSync(o.out, bytes);
    printReport({ info: pipeline.info, loadMs, encodeMs: performance.now() - te, result: r, asked: params, defaulted, out: o.out });
  } finally {
    await pipeline.dispose();
  }
}

/** --control-* without --control, or an unknown kind: refused before the model loads. */
function checkControlOptions(o: CliOptions): void {
  if (o.control === undefined) {
    const stray = (['controlScale', 'controlStart', 'controlEnd'] as const).find((k) => o[k] !== undefined);
    if (stray) throw new CliError(`--${stray.replace(/[A-Z]/, (c) => `-${c.toLowerCase()}`)} needs --control ${CONTROL_KINDS.join('|')}`);
  } else if (!(CONTROL_KINDS as readonly string[]).includes(o.control)) {
    throw new CliError(`--control must be one of ${CONTROL_KINDS.join(', ')} (got ${o.control})`);
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
