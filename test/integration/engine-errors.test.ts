// Broken model folders and bad parameters: every refusal is an EngineError with a stable code and
// a one-line message that names the file and says what to do. Each case breaks a fresh copy of a
// tiny model in a temp folder.
import { cpSync, mkdtempSync, rmSync, truncateSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../lib/diffusion/errors';
import { Img2ImgPipeline, type Img2ImgParams } from '../../lib/diffusion/Img2ImgPipeline';
import { STAMP_FILE, type PresetStamp } from '../../lib/diffusion/presetStamp';
import onnxProto from 'onnx-proto';
import { GraphBuilder } from '../../models/tiny/onnx-graph';

const MODELS = join(import.meta.dirname, '..', '..', 'models', 'local');
const LFS_POINTER = 'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a2146e4a1c1b1a6f3e0b1c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4\nsize 3438167536\n';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'lc-engine-errors-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** A fresh copy of a tiny model, to break. Plain by default (a folder made by hand); with `preset`
 * it carries the stamp `npm run models:download` writes, as if downloaded as that preset. */
function copyModel(model: string, name: string, preset?: Partial<PresetStamp> & { preset: string }): string {
  const dir = join(tmp, name);
  cpSync(join(MODELS, model), dir, { recursive: true });
  if (preset) writeStamp(dir, preset);
  return dir;
}

function writeStamp(dir: string, stamp: Partial<PresetStamp> & { preset: string }) {
  const full: PresetStamp = { repo: 'acme/x', revision: 'main', endpoint: 'https://huggingface.co', licence: 'MIT', installedAt: new Date(0).toISOString(), files: [], ...stamp };
  writeFileSync(join(dir, STAMP_FILE), JSON.stringify(full));
}

/** What a folder made by hand is told instead of a download command. */
const PLAIN_HINT = 're-export or re-copy the model folder from where it came from';

async function loadError(dir: string): Promise<EngineError> {
  const err = await Img2ImgPipeline.load(dir, { threads: 1 }).then(
    async (p) => {
      await p.dispose();
      throw new Error('expected the load to fail');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(EngineError);
  const e = err as EngineError;
  expect(e.message.split('\n')).toHaveLength(1);
  return e;
}

describe('model folder errors', () => {
  it('missing folder: a preset name says how to download it, any other name does not', async () => {
    const e = await loadError(join(tmp, 'sd-turbo'));
    expect(e.code).toBe('MODEL_MISSING');
    expect(e.message).toContain(join(tmp, 'sd-turbo'));
    expect(e.message).toContain('npm run models:download -- sd-turbo');
    const plain = await loadError(join(tmp, 'my-export'));
    expect(plain.code).toBe('MODEL_MISSING');
    expect(plain.message).toMatch(/model folder .*my-export does not exist; pass a diffusers ONNX folder or an installed preset name/);
    expect(plain.message).not.toContain('models:download -- my-export');
    expect((await loadError(join(tmp, 'tiny-lcm'))).message).toContain('generate it with `npm run models:tiny`');
  });

  it('missing part: re-download for a downloaded preset, restore for a folder made by hand', async () => {
    const dir = copyModel('tiny-lcm', 'lcm-no-unet', { preset: 'lcm-dreamshaper-v7' });
    rmSync(join(dir, 'unet', 'model.onnx'));
    const e = await loadError(dir);
    expect(e.code).toBe('MODEL_MISSING');
    expect(e.message).toContain('unet/model.onnx');
    expect(e.message).toContain('npm run models:download -- lcm-dreamshaper-v7');
    const plain = copyModel('tiny-lcm', 'lcm-no-unet-plain');
    rmSync(join(plain, 'unet', 'model.onnx'));
    const p = await loadError(plain);
    expect(p.message).toContain(PLAIN_HINT);
    expect(p.message).not.toContain('models:download');
  });

  it('missing tokenizer or scheduler files', async () => {
    const dir = copyModel('tiny-turbo', 'turbo-no-merges');
    rmSync(join(dir, 'tokenizer', 'merges.txt'));
    const e = await loadError(dir);
    expect(e.code).toBe('MODEL_MISSING');
    expect(e.message).toContain('tokenizer/merges.txt');
    const dir2 = copyModel('tiny-turbo', 'turbo-no-scheduler');
    rmSync(join(dir2, 'scheduler', 'scheduler_config.json'));
    expect((await loadError(dir2)).message).toContain('scheduler/scheduler_config.json');
  });

  it('Git-LFS pointer instead of the external UNet weights', async () => {
    const dir = copyModel('tiny-lcm', 'lcm-lfs');
    writeFileSync(join(dir, 'unet', 'model.onnx_data'), LFS_POINTER);
    const e = await loadError(dir);
    expect(e.code).toBe('MODEL_LFS_POINTER');
    expect(e.message).toContain(join(dir, 'unet', 'model.onnx_data'));
    expect(e.message).toMatch(/Git-LFS pointer/);
    expect(e.message).toContain('git lfs pull');
    expect(e.message).toContain(PLAIN_HINT);
  });

  it('Git-LFS pointer instead of a model file', async () => {
    const dir = copyModel('tiny-turbo', 'turbo-lfs');
    writeFileSync(join(dir, 'vae_decoder', 'model.onnx'), LFS_POINTER);
    const e = await loadError(dir);
    expect(e.code).toBe('MODEL_LFS_POINTER');
    expect(e.message).toContain('vae_decoder/model.onnx');
  });

  it('corrupt ONNX file', async () => {
    const dir = copyModel('tiny-turbo', 'turbo-corrupt', { preset: 'sdxs-512' });
    const path = join(dir, 'vae_encoder', 'model.onnx');
    const bytes = readFileSync(path);
    bytes.fill(0x5a, 16, 400); // scribble over the protobuf
    writeFileSync(path, bytes);
    const e = await loadError(dir);
    expect(e.code).toBe('MODEL_CORRUPT');
    expect(e.message).toContain(path);
    expect(e.message).toMatch(/corrupt or incomplete/);
    expect(e.message).toContain('npm run models:download -- sdxs-512');
  });

  it('truncated external weights', async () => {
    const dir = copyModel('tiny-lcm', 'lcm-truncated');
    truncateSync(join(dir, 'unet', 'model.onnx_data'), 1000);
    const e = await loadError(dir);
    expect(e.code).toBe('MODEL_CORRUPT');
    expect(e.message).toMatch(/external weights of .*unet\/model\.onnx are truncated/);
    expect(e.message).toContain(PLAIN_HINT);
  });

  it('deleted external weights', async () => {
    const dir = copyModel('tiny-lcm', 'lcm-no-data');
    rmSync(join(dir, 'unet', 'model.onnx_data'));
    const e = await loadError(dir);
    expect(e.code).toBe('MODEL_MISSING');
    expect(e.message).toContain(`${join(dir, 'unet', 'model.onnx_data')} is missing`);
    expect(e.message).toContain(PLAIN_HINT);
  });

  it('broken JSON config', async () => {
    const dir = copyModel('tiny-lcm', 'lcm-bad-json');
    writeFileSync(join(dir, 'scheduler', 'scheduler_config.json'), '{"_class_name": "LCMSched');
    const e = await loadError(dir);
    expect(e.code).toBe('MODEL_CORRUPT');
    expect(e.message).toContain('scheduler/scheduler_config.json');
  });

  /** Replaces a model's UNet with a stand-in graph that has the given sample channels and extra inputs. */
  function writeUnet(dir: string, channels: number, extraInputs: string[] = []) {
    const g = new GraphBuilder('odd_unet', 'float32');
    const sample = g.input('sample', 'float', ['batch_size', channels, 'height', 'width']);
    g.input('timestep', 'float', []);
    g.input('encoder_hidden_states', 'float', ['batch_size', 'sequence_length', 32]);
    for (const name of extraInputs) g.input(name, 'float', ['batch_size', 6]);
    const out = g.op('Mul', [sample, g.scalar('half', 0.5)]);
    g.output('out_sample', out, ['batch_size', 4, 'height', 'width']);
    rmSync(join(dir, 'unet'), { recursive: true });
    cpSync(join(MODELS, 'tiny-turbo', 'unet'), join(dir, 'unet'), { recursive: true });
    writeFileSync(join(dir, 'unet', 'model.onnx'), g.build().model);
    rmSync(join(dir, 'unet', 'model.onnx_data'), { force: true });
  }

  it('unsupported UNet shape: 9-channel (inpainting) sample', async () => {
    const dir = copyModel('tiny-turbo', 'turbo-inpaint');
    writeUnet(dir, 9);
    const e = await loadError(dir);
    expect(e.code).toBe('MODEL_UNSUPPORTED');
    expect(e.message).toContain('unet/model.onnx');
    expect(e.message).toMatch(/9-channel 'sample', expected 4/);
  });

  it('unsupported UNet inputs: SDXL conditioning', async () => {
    const dir = copyModel('tiny-turbo', 'turbo-sdxl');
    writeUnet(dir, 4, ['text_embeds', 'time_ids']);
    const e = await loadError(dir);
    expect(e.code).toBe('MODEL_UNSUPPORTED');
    expect(e.message).toMatch(/unet\/model\.onnx needs extra inputs text_embeds.*\(an SDXL UNet\)/);
  });

  it('unsupported scheduler class or prediction type in scheduler_config.json', async () => {
    const edit = (name: string, patch: Record<string, unknown>) => {
      const dir = copyModel('tiny-turbo', name);
      const path = join(dir, 'scheduler', 'scheduler_config.json');
      writeFileSync(path, JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), ...patch }));
      return dir;
    };
    const cls = await loadError(edit('turbo-tcd', { _class_name: 'TCDScheduler' }));
    expect(cls.code).toBe('MODEL_UNSUPPORTED');
    expect(cls.message).toMatch(/scheduler\/scheduler_config\.json: scheduler class "TCDScheduler" is not supported/);
    const v = await loadError(edit('turbo-v', { prediction_type: 'v_prediction' }));
    expect(v.code).toBe('MODEL_UNSUPPORTED');
    expect(v.message).toMatch(/scheduler\/scheduler_config\.json: prediction_type "v_prediction" is not supported/);
  });

  it("a preset's execution providers are enforced at load, with the preset's refusal text", async () => {
    const epRefusal = 'turbo-gpu is fused for CUDA; use sdxs-512 on the CPU.';
    const dir = copyModel('tiny-turbo', 'turbo-gpu', { preset: 'turbo-gpu', executionProviders: ['cuda'], epRefusal });
    const warnings: string[] = [];
    const onCpu = await Img2ImgPipeline.load(dir, { threads: 1, logger: { warn: (m) => warnings.push(m) } }).catch((e) => e);
    expect(onCpu).toBeInstanceOf(EngineError);
    expect(onCpu.code).toBe('MODEL_UNSUPPORTED');
    expect(onCpu.message).toBe(`refusing to load turbo-gpu on the cpu execution provider: turbo-gpu runs on cuda only. ${epRefusal}`);
    // asked for cuda, which is not installed here: no silent fallback to a provider it cannot use
    const onCuda = await Img2ImgPipeline.load(dir, { threads: 1, executionProvider: 'cuda', logger: { warn: (m) => warnings.push(m) } }).catch((e) => e);
    expect(onCuda).toBeInstanceOf(EngineError);
    expect(onCuda.code).toBe('MODEL_UNSUPPORTED');
    expect(onCuda.message).toMatch(/^execution provider 'cuda' is unavailable here \(.+\) and turbo-gpu cannot fall back to cpu: turbo-gpu runs on cuda only\. turbo-gpu is fused for CUDA/);
    expect(onCuda.message.split('\n')).toHaveLength(1);
    expect(warnings).toEqual([]);
    // a stamp that allows cpu changes nothing for the CPU
    const ok = await Img2ImgPipeline.load(copyModel('tiny-turbo', 'turbo-any', { preset: 'turbo-any', executionProviders: ['cpu', 'cuda'] }), { threads: 1 });
    expect(ok.info.executionProvider).toBe('cpu');
    await ok.dispose();
  });

  it('an operator without a CPU kernel (CUDA-only contrib op) → MODEL_UNSUPPORTED naming the CUDA provider, not "corrupt"', async () => {
    const dir = copyModel('tiny-turbo', 'turbo-nhwc');
    // an ONNX Runtime-optimized build's fused com.microsoft.NhwcConv: valid model, no CPU kernel
    const f32 = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
    const model = onnxProto.onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
      graph: {
        name: 'fused_unet',
        node: [{ opType: 'NhwcConv', domain: 'com.microsoft', input: ['sample', 'w'], output: ['out_sample'] }],
        input: [f32('sample', [1, 4, 8, 8]), f32('w', [4, 4, 1, 1])],
        output: [{ name: 'out_sample', type: { tensorType: { elemType: 1 } } }],
      },
    });
    writeFileSync(join(dir, 'unet', 'model.onnx'), onnxProto.onnx.ModelProto.encode(model).finish());
    const e = await loadError(dir);
    expect(e.code).toBe('MODEL_UNSUPPORTED');
    expect(e.message).toMatch(/unet\/model\.onnx uses an operator the cpu execution provider has no kernel for \(Could not find an implementation for NhwcConv.*\): this model needs the CUDA execution provider/);
    expect(e.message).not.toMatch(/corrupt|re-download/);
  });

  it('unknown execution provider', async () => {
    const err = await Img2ImgPipeline.load(join(MODELS, 'tiny-turbo'), { executionProvider: 'tpu' as never }).catch((e) => e);
    expect(err.code).toBe('INVALID_PARAMS');
    expect(err.message).toMatch(/unknown execution provider 'tpu'; use one of cpu, cuda, coreml, dml, webgpu/);
  });
});

describe('parameter and input errors', () => {
  let p: Img2ImgPipeline;
  const input = { data: new Uint8Array(128 * 128 * 3).fill(128), width: 128, height: 128 };
  const base: Img2ImgParams = { prompt: 'x', strength: 0.5, steps: 2, seed: 1, width: 128, height: 128 };
  beforeAll(async () => {
    p = await Img2ImgPipeline.load(join(MODELS, 'tiny-lcm'), { threads: 1 });
  });
  afterAll(async () => {
    await p?.dispose();
  });

  const cases: [string, Partial<Img2ImgParams>, RegExp][] = [
    ['strength 0', { strength: 0 }, /strength must be greater than 0 and at most 1 \(got 0\)/],
    ['strength 1.5', { strength: 1.5 }, /strength must be greater than 0 and at most 1 \(got 1.5\)/],
    ['strength NaN', { strength: NaN }, /strength must be greater than 0/],
    ['steps 0', { steps: 0 }, /steps must be an integer from 1 to 50 \(got 0\)/],
    ['steps 2.5', { steps: 2.5 }, /steps must be an integer from 1 to 50 \(got 2.5\)/],
    ['steps 60', { steps: 60 }, /steps must be an integer from 1 to 50/],
    ['seed -1', { seed: -1 }, /seed must be a non-negative integer \(got -1\)/],
    ['guidance -1', { guidance: -1 }, /guidance must be a number from 0 to 50/],
    ['width 100', { width: 100 }, /width must be a multiple of 64 from 128 to 1024 \(got 100\)/],
    ['LCM steps beyond strength', { strength: 0.05, steps: 4 }, /allows at most 2 LCM steps/],
  ];
  it.each(cases)('%s', async (_name, patch, message) => {
    const err = await p.run(input, { ...base, ...patch }).catch((e) => e);
    expect(err).toBeInstanceOf(EngineError);
    expect(err.code).toBe('INVALID_PARAMS');
    expect(err.message).toMatch(message);
  });

  it('undecodable input bytes', async () => {
    const err = await p.run(new Uint8Array([1, 2, 3, 4, 5]), base).catch((e) => e);
    expect(err.code).toBe('INVALID_IMAGE');
    expect(err.message).toMatch(/cannot decode input image.*send a PNG, JPEG or WebP/);
  });

  it('raw RGB with the wrong byte count', async () => {
    const err = await p.run({ data: new Uint8Array(10), width: 128, height: 128 }, base).catch((e) => e);
    expect(err.code).toBe('INVALID_IMAGE');
    expect(err.message).toMatch(/raw RGB data has 10 bytes, expected 128×128×3/);
  });

  it('keeps working after a refused call', async () => {
    await p.run(input, { ...base, strength: 7 }).catch(() => undefined);
    const r = await p.run(input, base);
    expect(r.image.width).toBe(128);
  });
});
