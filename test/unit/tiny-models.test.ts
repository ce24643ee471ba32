// The tiny-model generator writes folders that onnxruntime-node loads and runs with exactly the
// I/O contracts of the real exports they stand in for, and whose numbers behave (prompts matter,
// VAE round trip ≈ blur, fp16 ≈ fp32). The models are generated fresh into a temp folder so the
// test checks the generator's current output, not whatever sits in models/local.
import * as ort from 'onnxruntime-node';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { float16ToFloat32, float32ToFloat16 } from '../../lib/diffusion/fp16';
import { CONTROL_DIRECTION, CONTROL_RESIDUALS, FUSED_KINDS, RESIDUAL_GAIN, residualWeights } from '../../models/tiny/controlnet';
import { generateTinyModel } from '../../models/tiny/generate';
import { TINY_VARIANTS, tinyVariant } from '../../models/tiny/variants';

type Meta = { name: string; type: string; shape: (number | string)[] };

let root: string;
const sessions = new Map<string, ort.InferenceSession>();

async function session(model: string, part: string): Promise<ort.InferenceSession> {
  const key = `${model}/${part}`;
  if (!sessions.has(key)) sessions.set(key, await ort.InferenceSession.create(join(root, model, part, 'model.onnx')));
  return sessions.get(key)!;
}

function meta(list: readonly ort.InferenceSession.ValueMetadata[]): Meta[] {
  return list.map((m) => {
    if (!m.isTensor) throw new Error(`${m.name} is not a tensor`);
    return { name: m.name, type: m.type, shape: [...m.shape] };
  });
}

function readJson(...path: string[]) {
  return JSON.parse(readFileSync(join(root, ...path), 'utf8'));
}

function floats(t: ort.Tensor): Float32Array {
  return t.type === 'float16' ? float16ToFloat32(t.data as Uint16Array) : (t.data as Float32Array);
}

function floatTensor(fp16: boolean, data: Float32Array, dims: number[]): ort.Tensor {
  return fp16 ? new ort.Tensor('float16', float32ToFloat16(data), dims) : new ort.Tensor('float32', data, dims);
}

function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

const V = 914; // 256 bytes + 256 "</w>" + 400 merges + 2 specials
const BOS = V - 2;
const EOS = V - 1;

/** [bos, …tokens, eos, pad…] as the variant's tokenizer would produce (77 long). */
function promptIds(model: string, tokens: number[]): number[] {
  const pad = tinyVariant(model).padToken === '!' ? 0 : EOS;
  const ids = [BOS, ...tokens, EOS];
  while (ids.length < 77) ids.push(pad);
  return ids;
}

function idsTensor(model: string, ids: number[]): ort.Tensor {
  return tinyVariant(model).idsType === 'int32'
    ? new ort.Tensor('int32', Int32Array.from(ids), [1, ids.length])
    : new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
}

async function encodeText(model: string, tokens: number[]) {
  const out = await (await session(model, 'text_encoder')).run({ input_ids: idsTensor(model, promptIds(model, tokens)) });
  return { last: out.last_hidden_state, pooled: out.pooler_output };
}

function timestepTensor(model: string, t: number): ort.Tensor {
  const v = tinyVariant(model);
  if (v.timestep === 'int64-rank1') return new ort.Tensor('int64', BigInt64Array.of(BigInt(t)), [1]);
  return floatTensor(v.storage === 'float16', Float32Array.of(t), []);
}

/** LCM guidance embedding w_emb for guidance scale g (diffusers get_guidance_scale_embedding). */
function guidanceEmbedding(g: number): Float32Array {
  const out = new Float32Array(256);
  for (let j = 0; j < 128; j++) {
    const e = (g - 1) * 1000 * Math.exp((-j * Math.log(10000)) / 127);
    out[j] = Math.sin(e);
    out[128 + j] = Math.cos(e);
  }
  return out;
}

async function runUnet(model: string, sample: Float32Array, h: number, w: number, t: number, hidden: ort.Tensor, guidance = 8, control: Record<string, ort.Tensor> = {}) {
  const v = tinyVariant(model);
  const fp16 = v.storage === 'float16';
  const feeds: Record<string, ort.Tensor> = {
    sample: floatTensor(fp16, sample, [1, 4, h, w]),
    timestep: timestepTensor(model, t),
    encoder_hidden_states: hidden,
  };
  if (v.timeCondProjDim) feeds.timestep_cond = new ort.Tensor('float32', guidanceEmbedding(guidance), [1, 256]);
  Object.assign(feeds, controlFeeds(model, h, w), control);
  return (await (await session(model, 'unet')).run(feeds)).out_sample;
}

/** The ControlNet inputs of a control variant's UNet, all zeros (no control). */
function controlFeeds(model: string, h: number, w: number): Record<string, ort.Tensor> {
  const v = tinyVariant(model);
  if (v.controlnet === 'separate') {
    return Object.fromEntries(
      CONTROL_RESIDUALS.map((r) => [r.name, new ort.Tensor('float32', new Float32Array(r.channels * (h / r.factor) * (w / r.factor)), [1, r.channels, h / r.factor, w / r.factor])]),
    );
  }
  if (v.controlnet === 'fused') {
    const n = FUSED_KINDS.length;
    return {
      controlnet_images: new ort.Tensor('float32', new Float32Array(n * 3 * 64 * h * w), [n, 1, 3, 8 * h, 8 * w]),
      controlnet_scales: new ort.Tensor('float32', new Float32Array(n), [n]),
    };
  }
  return {};
}

/** A smooth test picture in [-1,1]: colour gradients, so an 8× blur barely changes it. */
function smoothImage(h: number, w: number): Float32Array {
  const img = new Float32Array(3 * h * w);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    img[y * w + x] = Math.sin((x / w) * Math.PI) * 0.8;
    img[h * w + y * w + x] = (y / h) * 1.6 - 0.8;
    img[2 * h * w + y * w + x] = Math.cos(((x + y) / (w + h)) * Math.PI) * 0.7;
  }
  return img;
}

function noise(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'lc-tiny-'));
  for (const v of TINY_VARIANTS) await generateTinyModel(v, root);
});

afterAll(() => {
  sessions.clear();
  rmSync(root, { recursive: true, force: true });
});

const IMAGE = ['batch_size', 'num_channels', 'height', 'width'];
const LATENT_IN = ['batch_size', 'num_channels_latent', 'height_latent', 'width_latent'];

describe('folder layout and side files', () => {
  it.each(TINY_VARIANTS.map((v) => v.name))('%s has the diffusers/Optimum files', (model) => {
    const v = tinyVariant(model);
    const files = new Set<string>();
    const walk = (dir: string) => {
      for (const e of readdirSync(dir)) {
        const p = join(dir, e);
        if (statSync(p).isDirectory()) walk(p);
        else files.add(relative(join(root, model), p));
      }
    };
    walk(join(root, model));
    const expected = [
      'model_index.json',
      'scheduler/scheduler_config.json',
      'tokenizer/vocab.json',
      'tokenizer/merges.txt',
      'tokenizer/special_tokens_map.json',
      'tokenizer/tokenizer_config.json',
      ...['text_encoder', 'unet', 'vae_encoder', 'vae_decoder'].flatMap((p) => [`${p}/model.onnx`, `${p}/config.json`]),
      ...(v.unetExternalData ? ['unet/model.onnx_data'] : []),
      ...(v.controlnet === 'separate' ? ['scribble', 'canny'].flatMap((k) => [`controlnet/${k}/model.onnx`, `controlnet/${k}/config.json`]) : []),
      ...(v.controlnet === 'fused' ? ['unet/controlnet.json'] : []),
    ];
    expect([...files].sort()).toEqual(expected.sort());

    const index = readJson(model, 'model_index.json');
    expect(index._class_name).toBe(v.kind === 'lcm' ? 'ORTLatentConsistencyModelPipeline' : 'ORTStableDiffusionPipeline');
    expect(index.vae).toEqual(['diffusers', v.vae === 'taesd' ? 'AutoencoderTiny' : 'AutoencoderKL']);

    const sched = readJson(model, 'scheduler', 'scheduler_config.json');
    expect(sched).toMatchObject({ num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, beta_schedule: 'scaled_linear', prediction_type: 'epsilon' });
    if (v.kind === 'lcm') expect(sched).toMatchObject({ _class_name: 'LCMScheduler', original_inference_steps: 50, timestep_spacing: 'leading' });
    else expect(sched).toMatchObject({ _class_name: 'EulerDiscreteScheduler', timestep_spacing: 'trailing' });

    const unet = readJson(model, 'unet', 'config.json');
    expect(unet).toMatchObject({ in_channels: 4, sample_size: 64, cross_attention_dim: v.hiddenSize, time_cond_proj_dim: v.timeCondProjDim });
    const vae = readJson(model, 'vae_decoder', 'config.json');
    expect(vae).toMatchObject(v.vae === 'taesd' ? { _class_name: 'AutoencoderTiny', scaling_factor: 1.0 } : { _class_name: 'AutoencoderKL', scaling_factor: 0.18215 });
    expect(readJson(model, 'vae_encoder', 'config.json')).toEqual(vae);
  });

  it('tokenizer is a CLIP-format byte-level BPE vocab with the specials last', () => {
    const vocab: Record<string, number> = readJson('tiny-lcm', 'tokenizer', 'vocab.json');
    const merges = readFileSync(join(root, 'tiny-lcm', 'tokenizer', 'merges.txt'), 'utf8').trimEnd().split('\n');
    expect(merges[0]).toBe('#version: 0.2');
    expect(merges.length - 1).toBe(400);
    expect(Object.keys(vocab).length).toBe(V);
    expect(new Set(Object.values(vocab)).size).toBe(V);
    expect(vocab['!']).toBe(0);
    expect(vocab['a']).toBe(64);
    expect(vocab['a</w>']).toBe(256 + 64);
    expect(vocab['<|startoftext|>']).toBe(BOS);
    expect(vocab['<|endoftext|>']).toBe(EOS);
    // Merge k (1-based) creates token id 511 + k, as in CLIP's vocab.
    merges.slice(1).forEach((m, k) => expect(vocab[m.replace(' ', '')]).toBe(512 + k));
    // Common words are whole tokens.
    for (const w of ['the</w>', 'photo</w>', 'cat</w>', 'painting</w>']) expect(vocab[w], w).toBeGreaterThan(511);

    expect(readJson('tiny-lcm', 'tokenizer', 'tokenizer_config.json')).toMatchObject({ model_max_length: 77, tokenizer_class: 'CLIPTokenizer' });
    expect(readJson('tiny-lcm', 'tokenizer', 'special_tokens_map.json').pad_token.content).toBe('<|endoftext|>');
    expect(readJson('tiny-turbo', 'tokenizer', 'special_tokens_map.json').pad_token).toBe('!');
    expect(readJson('tiny-turbo', 'tokenizer', 'tokenizer_config.json').pad_token).toBe('!');
  });

  it('LCM UNet weights live in unet/model.onnx_data (ONNX external data)', () => {
    const modelBytes = statSync(join(root, 'tiny-lcm', 'unet', 'model.onnx')).size;
    const dataBytes = statSync(join(root, 'tiny-lcm', 'unet', 'model.onnx_data')).size;
    expect(dataBytes).toBeGreaterThan(modelBytes * 4);
    expect(readFileSync(join(root, 'tiny-lcm', 'unet', 'model.onnx')).includes('model.onnx_data')).toBe(true);
  });

  it('generation is deterministic (byte-identical on a second run)', async () => {
    const again = mkdtempSync(join(tmpdir(), 'lc-tiny-again-'));
    try {
      await generateTinyModel(tinyVariant('tiny-lcm'), again);
      const hash = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
      for (const f of ['unet/model.onnx', 'unet/model.onnx_data', 'text_encoder/model.onnx', 'tokenizer/vocab.json', 'vae_decoder/model.onnx']) {
        expect(hash(join(again, 'tiny-lcm', f)), f).toBe(hash(join(root, 'tiny-lcm', f)));
      }
    } finally {
      rmSync(again, { recursive: true, force: true });
    }
  });
});

describe('I/O contracts as onnxruntime-node reports them', () => {
  it.each(TINY_VARIANTS.map((v) => v.name))('%s', async (model) => {
    const v = tinyVariant(model);
    const f = v.storage; // float dtype on the wire
    const D = v.hiddenSize;

    const te = await session(model, 'text_encoder');
    expect(meta(te.inputMetadata)).toEqual([{ name: 'input_ids', type: v.idsType, shape: ['batch_size', 'sequence_length'] }]);
    expect(meta(te.outputMetadata)).toEqual([
      { name: 'last_hidden_state', type: f, shape: ['batch_size', 'sequence_length', D] },
      { name: 'pooler_output', type: f, shape: ['batch_size', D] },
    ]);

    const unet = await session(model, 'unet');
    expect(meta(unet.inputMetadata)).toEqual([
      { name: 'sample', type: f, shape: IMAGE },
      v.timestep === 'int64-rank1' ? { name: 'timestep', type: 'int64', shape: ['steps'] } : { name: 'timestep', type: f, shape: [] },
      { name: 'encoder_hidden_states', type: f, shape: ['batch_size', 'sequence_length', D] },
      ...(v.timeCondProjDim ? [{ name: 'timestep_cond', type: f, shape: ['batch_size', 256] }] : []),
      ...(v.controlnet === 'separate' ? CONTROL_RESIDUALS.map((r) => ({ name: r.name, type: f, shape: ['batch_size', r.channels, `height_${r.factor}`, `width_${r.factor}`] })) : []),
      ...(v.controlnet === 'fused'
        ? [
            { name: 'controlnet_images', type: f, shape: [2, 'batch_size', 3, 'height', 'width'] },
            { name: 'controlnet_scales', type: f, shape: [2] },
          ]
        : []),
    ]);
    expect(meta(unet.outputMetadata).map((m) => [m.name, m.type])).toEqual([['out_sample', f]]);

    const enc = await session(model, 'vae_encoder');
    expect(meta(enc.inputMetadata)).toEqual([{ name: 'sample', type: f, shape: IMAGE }]);
    const encOut = meta(enc.outputMetadata);
    expect(encOut.map((m) => [m.name, m.type])).toEqual([[v.vae === 'kl-parameters' ? 'latent_parameters' : 'latent_sample', f]]);
    if (v.vae === 'kl-parameters') expect(encOut[0].shape).toEqual(['batch_size', 8, 'height_latent', 'width_latent']);

    const dec = await session(model, 'vae_decoder');
    expect(meta(dec.inputMetadata)).toEqual([{ name: 'latent_sample', type: f, shape: LATENT_IN }]);
    expect(meta(dec.outputMetadata).map((m) => [m.name, m.type])).toEqual([['sample', f]]);
  });
});

describe('running the parts', () => {
  it.each(TINY_VARIANTS.map((v) => v.name))('%s: text encoder output shapes; prompts differ; pooler = eos state', async (model) => {
    const v = tinyVariant(model);
    const a = await encodeText(model, [600, 700, 800]);
    const b = await encodeText(model, [601, 700, 800]);
    expect(a.last.dims).toEqual([1, 77, v.hiddenSize]);
    expect(a.last.type).toBe(v.storage);
    expect(a.pooled.dims).toEqual([1, v.hiddenSize]);
    const la = floats(a.last);
    const lb = floats(b.last);
    expect(la.every(Number.isFinite)).toBe(true);
    expect(meanAbsDiff(la, lb)).toBeGreaterThan(0.01);
    // One changed token changes the padding positions too (causal mixing, as in CLIP).
    const D = v.hiddenSize;
    expect(meanAbsDiff(la.subarray(70 * D), lb.subarray(70 * D))).toBeGreaterThan(0.001);
    // pooler_output is the hidden state at the first <|endoftext|> (position 4 here).
    expect([...floats(a.pooled)]).toEqual([...la.subarray(4 * D, 5 * D)]);
  });

  it.each(TINY_VARIANTS.map((v) => v.name))('%s: VAE round trip at 512² is a mild blur of the input', async (model) => {
    const v = tinyVariant(model);
    const fp16 = v.storage === 'float16';
    const S = 512;
    const img = smoothImage(S, S);
    const encOut = await (await session(model, 'vae_encoder')).run({ sample: floatTensor(fp16, img, [1, 3, S, S]) });
    const params = encOut[v.vae === 'kl-parameters' ? 'latent_parameters' : 'latent_sample'];
    expect(params.dims).toEqual([1, v.vae === 'kl-parameters' ? 8 : 4, S / 8, S / 8]);
    const lat = floats(params).slice(0, 4 * (S / 8) ** 2);
    const scaling = v.vae === 'taesd' ? 1 : 0.18215;
    // In UNet space (× scaling factor) latents have SD-like magnitudes.
    const unetSpace = lat.map((x) => x * scaling);
    const rms = Math.sqrt(unetSpace.reduce((s, x) => s + x * x, 0) / unetSpace.length);
    expect(rms).toBeGreaterThan(0.3);
    expect(rms).toBeLessThan(4);
    if (v.vae === 'kl-parameters') {
      const logvar = floats(params).subarray(4 * (S / 8) ** 2);
      expect(logvar.reduce((m, x) => Math.max(m, x), -Infinity)).toBeLessThan(-4);
    }
    const decOut = await (await session(model, 'vae_decoder')).run({ latent_sample: floatTensor(fp16, lat, [1, 4, S / 8, S / 8]) });
    expect(decOut.sample.dims).toEqual([1, 3, S, S]);
    expect(decOut.sample.type).toBe(v.storage);
    const rec = floats(decOut.sample);
    expect(rec.reduce((m, x) => Math.max(m, x), -Infinity)).toBeLessThanOrEqual(1);
    expect(rec.reduce((m, x) => Math.min(m, x), Infinity)).toBeGreaterThanOrEqual(-1);
    expect(meanAbsDiff(rec, img)).toBeLessThan(0.05);
  });

  it('dynamic sizes: VAE and UNet accept 128², 640×384 and 1024²', async () => {
    for (const [h, w] of [[128, 128], [384, 640], [1024, 1024]]) {
      const enc = await (await session('tiny-turbo', 'vae_encoder')).run({ sample: new ort.Tensor('float32', smoothImage(h, w), [1, 3, h, w]) });
      expect(enc.latent_parameters.dims).toEqual([1, 8, h / 8, w / 8]);
      const { last } = await encodeText('tiny-turbo', [5]);
      const eps = await runUnet('tiny-turbo', noise(4 * (h / 8) * (w / 8), 1), h / 8, w / 8, 999, last);
      expect(eps.dims).toEqual([1, 4, h / 8, w / 8]);
      const dec = await (await session('tiny-turbo', 'vae_decoder')).run({ latent_sample: new ort.Tensor('float32', new Float32Array(4 * (h / 8) * (w / 8)), [1, 4, h / 8, w / 8]) });
      expect(dec.sample.dims).toEqual([1, 3, h, w]);
    }
  });

  it.each(TINY_VARIANTS.map((v) => v.name))('%s: UNet ε depends on sample, timestep and prompt (and guidance for LCM)', async (model) => {
    const v = tinyVariant(model);
    const h = 64;
    const x = noise(4 * h * h, 7);
    const p1 = (await encodeText(model, [100, 200, 300])).last;
    const p2 = (await encodeText(model, [650, 20])).last;
    const base = await runUnet(model, x, h, h, 499, p1);
    expect(base.dims).toEqual([1, 4, h, h]);
    expect(base.type).toBe(v.storage);
    const e = floats(base);
    expect(e.every(Number.isFinite)).toBe(true);
    // Pure noise in → ε close to that noise (the model believes the sample is mostly noise).
    const pure = floats(await runUnet(model, x, h, h, 999, p1));
    const corr = pure.reduce((s, y, i) => s + y * x[i], 0) / Math.sqrt(pure.reduce((s, y) => s + y * y, 0) * x.reduce((s, y) => s + y * y, 0));
    expect(corr).toBeGreaterThan(0.9);

    expect(meanAbsDiff(e, floats(await runUnet(model, x, h, h, 259, p1)))).toBeGreaterThan(0.01);
    expect(meanAbsDiff(e, floats(await runUnet(model, x, h, h, 499, p2)))).toBeGreaterThan(0.001);
    expect(meanAbsDiff(e, floats(await runUnet(model, noise(4 * h * h, 8), h, h, 499, p1)))).toBeGreaterThan(0.1);
    if (v.timeCondProjDim) expect(meanAbsDiff(e, floats(await runUnet(model, x, h, h, 499, p1, 2)))).toBeGreaterThan(0.001);
  });

  it('tiny-turbo-fp16 computes what tiny-turbo computes, up to float16 rounding', async () => {
    const a = await encodeText('tiny-turbo', [30, 40]);
    const b = await encodeText('tiny-turbo-fp16', [30, 40]);
    expect(meanAbsDiff(floats(a.last), floats(b.last))).toBeLessThan(0.01);
    const h = 32;
    const x = noise(4 * h * h, 3);
    const e32 = floats(await runUnet('tiny-turbo', x, h, h, 749, a.last));
    const e16 = floats(await runUnet('tiny-turbo-fp16', x, h, h, 749, b.last));
    expect(meanAbsDiff(e32, e16)).toBeLessThan(0.01);
  });
});

describe('the tiny ControlNets (models/tiny/controlnet.ts)', () => {
  /** A control image in 0..1: a bright square on black, [1,3,H,W]. */
  function condImage(side: number): Float32Array {
    const img = new Float32Array(3 * side * side);
    for (let c = 0; c < 3; c++) for (let y = side / 4; y < side / 2; y++) for (let x = side / 8; x < (side * 3) / 4; x++) img[c * side * side + y * side + x] = 0.25 * (c + 1);
    return img;
  }

  /** avgpool_k of the channel mean of `cond` ([1,3,S,S]). */
  function pooledGray(cond: Float32Array, side: number, k: number): Float64Array {
    const n = side / k;
    const out = new Float64Array(n * n);
    for (let c = 0; c < 3; c++) for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) out[Math.floor(y / k) * n + Math.floor(x / k)] += cond[c * side * side + y * side + x] / 3 / (k * k);
    return out;
  }

  it('separate: the contract OnnxStack exports have (scribble takes a double [1] scale, canny a float scalar)', async () => {
    for (const kind of ['scribble', 'canny']) {
      const cn = await session('tiny-lcm-controlnet', `controlnet/${kind}`);
      expect(meta(cn.inputMetadata).map((m) => [m.name, m.type, m.shape.length])).toEqual([
        ['sample', 'float32', 4],
        ['timestep', 'int64', 1],
        ['encoder_hidden_states', 'float32', 3],
        ['controlnet_cond', 'float32', 4],
        ['conditioning_scale', kind === 'scribble' ? 'float64' : 'float32', kind === 'scribble' ? 1 : 0],
      ]);
      expect(meta(cn.outputMetadata).map((m) => m.name)).toEqual(CONTROL_RESIDUALS.map((r) => r.name));
    }
    expect(readJson('tiny-lcm-controlnet-fused', 'unet', 'controlnet.json')).toEqual({ kinds: [...FUSED_KINDS] });
    expect(readJson('tiny-lcm-controlnet', 'unet', 'config.json')).toMatchObject({ layers_per_block: 2, block_out_channels: [32, 64, 64, 64] });
  });

  it('residual j = scale · weights_j[c] · avgpool_{8·f_j}(mean RGB of the control image)', async () => {
    const side = 256;
    const cond = condImage(side);
    const { last } = await encodeText('tiny-lcm-controlnet', [10]);
    const out = await (await session('tiny-lcm-controlnet', 'controlnet/canny')).run({
      sample: new ort.Tensor('float32', new Float32Array(4 * 32 * 32), [1, 4, 32, 32]),
      timestep: new ort.Tensor('int64', BigInt64Array.of(499n), [1]),
      encoder_hidden_states: last,
      controlnet_cond: new ort.Tensor('float32', cond, [1, 3, side, side]),
      conditioning_scale: new ort.Tensor('float32', Float32Array.of(1.5), []),
    });
    CONTROL_RESIDUALS.forEach((r, j) => {
      const pooled = pooledGray(cond, side, 8 * r.factor);
      const w = residualWeights('canny', j);
      const got = out[r.name].data as Float32Array;
      expect(out[r.name].dims).toEqual([1, r.channels, side / 8 / r.factor, side / 8 / r.factor]);
      let worst = 0;
      for (let c = 0; c < r.channels; c++) for (let p = 0; p < pooled.length; p++) worst = Math.max(worst, Math.abs(got[c * pooled.length + p] - 1.5 * w[c] * pooled[p]));
      expect(worst, r.name).toBeLessThan(1e-6);
    });
  });

  it('with zero control the control UNets compute what tiny-lcm computes; the residuals move x̂₀ along CONTROL_DIRECTION', async () => {
    const h = 16;
    const x = noise(4 * h * h, 11);
    const { last } = await encodeText('tiny-lcm', [100, 200]);
    const plain = floats(await runUnet('tiny-lcm', x, h, h, 499, last));
    for (const model of ['tiny-lcm-controlnet', 'tiny-lcm-controlnet-fused']) {
      expect(meanAbsDiff(plain, floats(await runUnet(model, x, h, h, 499, last)))).toBeLessThan(1e-6);
    }
    // one residual (down_block_0, factor 1) of 1 everywhere: m = mean over channels = 1, so
    // ε moves by −√ā/√(1−ā)·GAIN·direction in every pixel
    const feeds = controlFeeds('tiny-lcm-controlnet', h, h);
    const r0 = CONTROL_RESIDUALS[0];
    feeds[r0.name] = new ort.Tensor('float32', new Float32Array(r0.channels * h * h).fill(1), [1, r0.channels, h, h]);
    const moved = floats(await runUnet('tiny-lcm-controlnet', x, h, h, 499, last, 8, feeds));
    const a = 0.27767; // ā at t = 499 (notes/diffusion-facts.md §2)
    for (let c = 0; c < 4; c++) {
      const want = -Math.sqrt(a / (1 - a)) * RESIDUAL_GAIN * CONTROL_DIRECTION[c];
      expect(moved[c * h * h + 5] - plain[c * h * h + 5]).toBeCloseTo(want, 3);
    }
  });
});
