// `npm run img2img` as a user runs it (node --import tsx lib/diffusion/cli.ts), on each tiny model:
// output file of the requested size, a new live frame's settings when none are given, each fact of
// the model line once, byte-identical for the same seed, different for another seed, and one error
// line + non-zero exit for bad input or a missing required option.
import { cpSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_OUTPUT_SIZE, DEFAULT_STEPS, defaultLiveFrameProps } from '../../lib/canvas/liveFrame';
import { runScript } from '../helpers/cli';

const ROOT = join(import.meta.dirname, '..', '..');
const MODELS = join(ROOT, 'models', 'local');

const cli = (args: string[], env: Record<string, string> = {}) => runScript('lib/diffusion/cli.ts', args, { MODELS_DIR: MODELS, ...env });

let tmp: string;
let inputPng: string;
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'lc-cli-'));
  inputPng = join(tmp, 'in.png');
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="320" height="240"><rect width="100%" height="100%" fill="#fff"/>
    <circle cx="160" cy="120" r="70" fill="#e33"/><rect x="20" y="150" width="120" height="60" fill="#35c"/></svg>`;
  await sharp(Buffer.from(svg)).png().toFile(inputPng);
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe.each(['tiny-lcm', 'tiny-turbo', 'tiny-taesd', 'tiny-turbo-fp16'])('img2img CLI on %s', (model) => {
  it('writes a PNG of the requested size and prints a timing line per stage', async () => {
    const out = join(tmp, `${model}.png`);
    const r = await cli(['--model', model, '--input', inputPng, '--prompt', 'a red balloon', '--strength', '0.65', '--steps', '4', '--seed', '42', '--size', '192', '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const meta = await sharp(out).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 192, 192]);
    for (const stage of ['decode', 'tokenize', 'textEncoder', 'vaeEncode', 'unet[0]', 'vaeDecode', 'encode', 'total']) {
      expect(r.stdout).toMatch(new RegExp(`^${stage.replace(/[[\]]/g, '\\$&')}\\s+\\d+\\.\\d ms`, 'm'));
    }
    // what was asked for, and the one setting that was not (guidance, for LCM only) named as a default
    expect(r.stdout).toMatch(/^settings {4}192×192 · \d+ steps · strength 0\.65 (· guidance 8 )?· seed 42( {2}\(guidance: a new live frame's defaults\))?$/m);
  });

  it("without --size, --steps or --strength renders with a new live frame's settings", async () => {
    const out = join(tmp, `${model}-live.png`);
    const r = await cli(['--model', model, '--input', inputPng, '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const frame = defaultLiveFrameProps();
    const meta = await sharp(out).metadata();
    expect([meta.width, meta.height]).toEqual([DEFAULT_OUTPUT_SIZE, DEFAULT_OUTPUT_SIZE]);
    const settings = r.stdout.split('\n').find((l) => l.startsWith('settings'));
    expect(settings).toContain(`${DEFAULT_OUTPUT_SIZE}×${DEFAULT_OUTPUT_SIZE} · `);
    expect(settings).toContain(` · strength ${frame.strength} · `);
    if (model === 'tiny-lcm') {
      expect(settings).toContain(` · ${DEFAULT_STEPS} step · strength ${frame.strength} · guidance ${frame.guidance} · `);
      expect(settings).toMatch(/\(size, steps, strength, guidance: a new live frame's defaults\)$/);
    } else {
      // Turbo ignores guidance; Euler raises one step at strength 0.5 to two, as it does for a frame
      expect(settings).not.toContain('guidance');
      expect(settings).toMatch(/\(size, steps, strength: a new live frame's defaults\)$/);
      expect(r.stdout).toContain(`note        steps raised from ${DEFAULT_STEPS} to 2 so strength ${frame.strength} runs at least one step`);
    }
  });

  it('names each fact of the model once', async () => {
    const r = await cli(['--model', model, '--input', inputPng, '--size', '128', '--out', join(tmp, `${model}-line.png`)]);
    expect(r.code).toBe(0);
    const line = r.stdout.split('\n')[0];
    const expected: Record<string, string> = {
      'tiny-lcm': 'lcm, cpu',
      'tiny-turbo': 'turbo, euler sampler, cpu',
      'tiny-taesd': 'turbo + taesd VAE, euler sampler, cpu',
      'tiny-turbo-fp16': 'turbo, euler sampler, cpu',
    };
    expect(line).toMatch(new RegExp(`^model {7}${model} \\(${expected[model].replace(/\+/g, '\\+')}, \\d+ threads?\\) loaded in \\d+\\.\\d ms$`));
    const words = line.slice(line.indexOf('(') + 1, line.indexOf(')')).split(/[ ,]+/);
    expect(words.filter((w, i) => words.indexOf(w) !== i)).toEqual([]);
  });
});

describe('img2img CLI options', () => {
  it('--help marks --model, --input and --out required, and says where the other defaults come from', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: img2img --model <folder\|preset> --input <file> --out <file> \[options\]$/m);
    const option = (name: string) => r.stdout.slice(r.stdout.indexOf(`  ${name} `)).split(/\n {2}--/)[0].replace(/\s+/g, ' ');
    for (const name of ['--model', '--input', '--out']) expect(option(name)).toMatch(/\(required\)$/);
    for (const name of ['--vae', '--prompt', '--strength', '--steps', '--size', '--seed']) expect(option(name)).not.toContain('(required)');
    const frame = defaultLiveFrameProps();
    expect(option('--strength')).toContain(`(default: ${frame.strength}, as a new live frame)`);
    expect(option('--size')).toContain(`(default: ${DEFAULT_OUTPUT_SIZE}, as a new live frame)`);
    expect(option('--steps')).toContain(`(default: as a new live frame, ${DEFAULT_STEPS} on a CPU;`);
  });

  it.each([
    ['--input', ['--model', 'tiny-lcm', '--out', 'never.png']],
    ['--out', ['--model', 'tiny-lcm', '--input', 'in.png']],
    ['--model', ['--input', 'in.png', '--out', 'never.png']],
  ])("a missing %s → commander's one-line message, exit 1, nothing rendered", async (name, args) => {
    const r = await cli(args);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`error: required option '${name} <${name === '--model' ? 'folder|preset' : 'file'}>' not specified\n`);
  });
});

describe('img2img CLI determinism and errors', () => {
  it('same seed → identical bytes, different seed → different image', async () => {
    const run = (seed: number, name: string) =>
      cli(['--model', 'tiny-lcm', '--input', inputPng, '--prompt', 'a cat', '--seed', String(seed), '--size', '128', '--out', join(tmp, name)]);
    const [a, b, c] = [await run(7, 'a.png'), await run(7, 'b.png'), await run(8, 'c.png')];
    expect([a.code, b.code, c.code]).toEqual([0, 0, 0]);
    const [pa, pb, pc] = ['a.png', 'b.png', 'c.png'].map((f) => readFileSync(join(tmp, f)));
    expect(pa.equals(pb)).toBe(true);
    expect(pa.equals(pc)).toBe(false);
  });

  it('accepts a folder path and writes JPEG for .jpg', async () => {
    const out = join(tmp, 'o.jpg');
    const r = await cli(['--model', join(MODELS, 'tiny-turbo'), '--input', inputPng, '--strength', '0.3', '--steps', '1', '--width', '256', '--height', '128', '--out', out]);
    expect(r.code).toBe(0);
    const meta = await sharp(out).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 256, 128]);
    expect(r.stdout).toMatch(/steps raised from 1 to 4/);
  });

  const errorCases: [string, string[], RegExp][] = [
    ['unknown model', ['--model', 'sd-nope'], /^error: model folder .*sd-nope does not exist; pass a diffusers ONNX folder or an installed preset name/],
    ['preset not downloaded', ['--model', 'lcm-dreamshaper-v7'], /^error: model folder .*lcm-dreamshaper-v7 does not exist; download it with `npm run models:download -- lcm-dreamshaper-v7`/],
    ['missing input file', ['--input', '/nonexistent/in.png'], /^error: input image \/nonexistent\/in\.png does not exist/],
    ['strength out of range', ['--strength', '1.5'], /^error: strength must be greater than 0 and at most 1 \(got 1\.5\)/],
    ['non-numeric steps', ['--steps', 'four'], /--steps must be a number/],
    ['LCM steps beyond strength', ['--strength', '0.05', '--steps', '4'], /^error: strength 0\.05 allows at most 2 LCM steps/],
    ['bad size', ['--size', '300'], /^error: width must be a multiple of 64/],
    ['bad output extension', ['--out', join('/tmp', 'x.gif')], /^error: --out must end in \.png, \.jpg or \.jpeg/],
    ['unknown execution provider', ['--ep', 'tpu'], /^error: --ep must be one of cpu, cuda, coreml, dml, webgpu/],
  ];
  it.each(errorCases)('%s → one error line, exit 1', async (_name, override, message) => {
    const args: Record<string, string> = { '--model': 'tiny-lcm', '--input': inputPng, '--out': join(tmp, 'err.png') };
    for (let i = 0; i < override.length; i += 2) args[override[i]] = override[i + 1];
    const r = await cli(Object.entries(args).flat());
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr.trim()).toMatch(message);
  });

  it('an unavailable execution provider → exactly one warning line on stderr, and the render', async () => {
    const out = join(tmp, 'cuda.png');
    const r = await cli(['--model', 'tiny-turbo', '--input', inputPng, '--ep', 'cuda', '--size', '128', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(/^warning: execution provider 'cuda' is unavailable here \(.*\); running on cpu instead\n$/);
    expect(r.stdout).toMatch(/^model {7}tiny-turbo \(turbo, euler sampler, cpu, /);
  });

  it('truncated external weights → exactly one error line on stderr', async () => {
    const dir = join(tmp, 'truncated-lcm');
    cpSync(join(MODELS, 'tiny-lcm'), dir, { recursive: true });
    truncateSync(join(dir, 'unet', 'model.onnx_data'), 1000);
    const r = await cli(['--model', dir, '--input', inputPng, '--size', '128', '--out', join(tmp, 'err.png')]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(/^error: the external weights of .*truncated-lcm\/unet\/model\.onnx are truncated or unreadable .*\n$/);
  });

  it('--vae takes the VAE halves from another folder: tiny-turbo + a downloaded-style taesd = tiny-taesd', async () => {
    // a MODELS_DIR holding only a taesd folder as the downloader leaves it: no config.json, a stamp
    const models = join(tmp, 'vae-models');
    for (const part of ['vae_encoder', 'vae_decoder']) cpSync(join(MODELS, 'tiny-taesd', part, 'model.onnx'), join(models, 'taesd', part, 'model.onnx'));
    writeFileSync(
      join(models, 'taesd', '.livecanvas-preset.json'),
      JSON.stringify({ preset: 'taesd', kind: 'vae', repo: 'deinferno/taesd-onnx', revision: 'main', endpoint: 'https://huggingface.co', licence: 'MIT', installedAt: '2026-01-01T00:00:00.000Z', vae: { class: 'AutoencoderTiny', scalingFactor: 1 }, files: [] }),
    );
    const args = ['--input', inputPng, '--prompt', 'a lighthouse', '--strength', '0.7', '--steps', '3', '--seed', '5', '--size', '128'];
    const combined = await cli(['--model', join(MODELS, 'tiny-turbo'), '--vae', 'taesd', ...args, '--out', join(tmp, 'combined.png')], { MODELS_DIR: models });
    expect(combined.stderr).toBe('');
    expect(combined.code).toBe(0);
    expect(combined.stdout).toMatch(/^model\s+tiny-turbo \(turbo \+ VAE from taesd, euler sampler, cpu, /m);
    const reference = await cli(['--model', 'tiny-taesd', ...args, '--out', join(tmp, 'reference.png')]);
    expect(reference.code).toBe(0);
    expect(readFileSync(join(tmp, 'combined.png')).equals(readFileSync(join(tmp, 'reference.png')))).toBe(true);

    const vaeAsModel = await cli(['--model', 'taesd', ...args, '--out', join(tmp, 'err.png')], { MODELS_DIR: models });
    expect(vaeAsModel.code).toBe(1);
    expect(vaeAsModel.stderr).toBe('error: taesd is a VAE only: use --vae taesd with a pipeline preset, e.g. --model sdxs-512 --vae taesd (server: MODEL=sdxs-512 ENGINE_VAE=taesd)\n');
  });

  it('undecodable input → error line naming the fix', async () => {
    const bad = join(tmp, 'bad.png');
    await import('node:fs').then((fs) => fs.writeFileSync(bad, 'not an image'));
    const r = await cli(['--model', 'tiny-lcm', '--input', bad, '--out', join(tmp, 'err.png')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: cannot decode input image .*send a PNG, JPEG or WebP/);
  });
});
