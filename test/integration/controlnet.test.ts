// ControlNet in Img2ImgPipeline on the two tiny layouts (models/tiny/controlnet.ts): the separate
// one (residual-input UNet + controlnet/{scribble,canny}) and the fused one (controlnet_images /
// controlnet_scales, unet/controlnet.json). The tiny ControlNets' residuals are a known function of
// the control image, so the feeds each UNet step receives are checked number by number.
import type * as ort from 'onnxruntime-node';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineError } from '../../lib/diffusion/errors';
import { Img2ImgPipeline, type ControlParams, type Img2ImgParams } from '../../lib/diffusion/Img2ImgPipeline';
import { listPresets } from '../../lib/diffusion/presets';
import { checkControl, controlActiveAt } from '../../lib/diffusion/renderParams';
import type { RgbImage } from '../../lib/image';
import { controlImage } from '../../lib/image/controlImage';
import { CONTROL_RESIDUALS, FUSED_KINDS, residualWeights, type TinyControlKind } from '../../models/tiny/controlnet';
import { generateTinyModel } from '../../models/tiny/generate';
import { attr, DT, GraphBuilder } from '../../models/tiny/onnx-graph';
import { tinyVariant } from '../../models/tiny/variants';
import { runScript } from '../helpers/cli';

const ROOT = join(import.meta.dirname, '..', '..');
const MODELS = join(ROOT, 'models', 'local');
const SIZE = 128;

/** A sketch: white page, a dark ring and a stroke (so scribble and canny images both have content). */
function sketch(side: number): RgbImage {
  const data = new Uint8Array(side * side * 3).fill(255);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const r = Math.hypot(x - side * 0.45, y - side * 0.45);
      const ring = Math.abs(r - side * 0.25) < 3;
      const stroke = Math.abs(y - (side - 1 - x * 0.5)) < 2 && x > side * 0.3;
      if (ring || stroke) data.fill(20, (y * side + x) * 3, (y * side + x) * 3 + 3);
    }
  }
  return { data, width: side, height: side };
}

/** The tiny ControlNet's residual j for a control image (RGB 0..255), as models/tiny/controlnet.ts defines it. */
function expectedResidual(kind: TinyControlKind, j: number, control: RgbImage, scale: number): Float32Array {
  const { width: W, height: H, data } = control;
  const { channels, factor } = CONTROL_RESIDUALS[j];
  const k = 8 * factor;
  const [h, w] = [H / k, W / k];
  const pooled = new Float64Array(h * w);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const i = (y * W + x) * 3;
    pooled[Math.floor(y / k) * w + Math.floor(x / k)] += (data[i] + data[i + 1] + data[i + 2]) / 3 / 255 / (k * k);
  }
  const weights = residualWeights(kind, j);
  const out = new Float32Array(channels * h * w);
  for (let c = 0; c < channels; c++) for (let p = 0; p < h * w; p++) out[c * h * w + p] = scale * weights[c] * pooled[p];
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
  return s / a.length;
}

/** Records (copies of) the float feeds of every run of a session. */
function spy(session: ort.InferenceSession): Record<string, Float32Array | Float64Array>[] {
  const seen: Record<string, Float32Array | Float64Array>[] = [];
  const run = session.run.bind(session);
  session.run = ((feeds: Record<string, ort.Tensor>, ...rest: unknown[]) => {
    const copy: Record<string, Float32Array | Float64Array> = {};
    for (const [name, t] of Object.entries(feeds)) if (t.type === 'float32' || t.type === 'float64') copy[name] = (t.data as Float32Array).slice();
    seen.push(copy);
    return (run as (...a: unknown[]) => Promise<ort.InferenceSession.ReturnType>)(feeds, ...rest);
  }) as typeof session.run;
  return seen;
}

/** The pipeline's own sessions, for spying on their feeds. */
function sessionsOf(p: Img2ImgPipeline) {
  const inner = p as unknown as { sessions: Record<string, ort.InferenceSession>; control?: { nets: Map<string, { session: ort.InferenceSession }> } };
  return { unet: inner.sessions.unet, controlNet: (kind: string) => inner.control!.nets.get(kind)!.session };
}

const input = sketch(SIZE);
const base: Img2ImgParams = { prompt: 'a fox in the snow', strength: 0.6, steps: 4, seed: 7, guidance: 8, width: SIZE, height: SIZE };

describe('control params', () => {
  it('fills defaults, takes a list, and refuses out-of-range values and repeated kinds', () => {
    expect(checkControl(undefined)).toBeUndefined();
    expect(checkControl([])).toBeUndefined();
    expect(checkControl({ kind: 'scribble' })).toEqual([{ kind: 'scribble', scale: 1, start: 0, end: 1 }]);
    expect(checkControl([{ kind: 'canny', scale: 0.5, start: 0.25, end: 0.75 }, { kind: 'scribble', scale: 2 }])).toHaveLength(2);
    const bad = [{ kind: 'depth' }, { kind: 'scribble', scale: 2.5 }, { kind: 'scribble', start: -0.1 }, { kind: 'canny', end: 1.5 }, { kind: 'canny', start: 0.8, end: 0.2 }];
    for (const c of bad) expect(() => checkControl(c as ControlParams), JSON.stringify(c)).toThrow(expect.objectContaining({ code: 'INVALID_PARAMS' }));
    expect(() => checkControl([{ kind: 'canny' }, { kind: 'canny' }])).toThrow(/twice/);
  });

  it('a step runs the ControlNet when start ≤ i/n < end and the scale is not 0', () => {
    const c = { kind: 'scribble' as const, scale: 1, start: 0.5, end: 1 };
    expect([0, 1, 2, 3].filter((i) => controlActiveAt(c, i, 4))).toEqual([2, 3]);
    expect([0, 1, 2, 3].filter((i) => controlActiveAt({ ...c, start: 0, end: 0.5 }, i, 4))).toEqual([0, 1]);
    expect([0, 1, 2, 3].filter((i) => controlActiveAt({ ...c, scale: 0, start: 0 }, i, 4))).toEqual([]);
  });
});

describe.each([
  { model: 'tiny-lcm-controlnet', layout: 'separate' },
  { model: 'tiny-lcm-controlnet-fused', layout: 'fused' },
] as const)('ControlNet on $model ($layout)', ({ model, layout }) => {
  let p: Img2ImgPipeline;
  beforeAll(async () => {
    p = await Img2ImgPipeline.load(join(MODELS, model), { threads: 2 });
  });
  afterAll(async () => {
    await p?.dispose();
  });

  it('reports the layout and the kinds it has', () => {
    expect(p.info.controlNet).toEqual({ layout, kinds: ['scribble', 'canny'] });
    expect(p.info.contract).toContain(`controlnet ${layout}`);
  });

  it('scale 0 renders byte-identically to no ControlNet; scale > 0 differs; strength 1 works', async () => {
    for (const strength of [0.6, 1]) {
      const plain = await p.run(input, { ...base, strength });
      for (const kind of ['scribble', 'canny'] as const) {
        const zero = await p.run(input, { ...base, strength, control: { kind, scale: 0 } });
        expect(Buffer.from(zero.image.data).equals(Buffer.from(plain.image.data)), `${kind} at strength ${strength}`).toBe(true);
        const on = await p.run(input, { ...base, strength, control: { kind, scale: 1 } });
        expect(meanAbsDiff(on.image.data, plain.image.data), `${kind} at strength ${strength}`).toBeGreaterThan(0.5);
        expect(on.params.control).toEqual([{ kind, scale: 1, start: 0, end: 1 }]);
      }
    }
  });

  it('the known residuals reach each UNet input scaled as requested, only in the start/end window', async () => {
    const unetFeeds = spy(sessionsOf(p).unet);
    const control = [
      { kind: 'scribble' as const, scale: 0.5, start: 0, end: 1 },
      { kind: 'canny' as const, scale: 1.5, start: 0.5, end: 1 },
    ];
    const r = await p.run(input, { ...base, control });
    expect(unetFeeds).toHaveLength(4);
    const images = { scribble: controlImage('scribble', input), canny: controlImage('canny', input) };
    unetFeeds.forEach((feeds, i) => {
      const on = control.filter((c) => controlActiveAt(c, i, 4));
      expect(on.map((c) => c.kind)).toEqual(i < 2 ? ['scribble'] : ['scribble', 'canny']);
      if (layout === 'fused') {
        // slots in unet/controlnet.json order; the images in 0..1, the scales per step
        expect(Array.from(feeds.controlnet_scales)).toEqual(FUSED_KINDS.map((k) => on.find((c) => c.kind === k)?.scale ?? 0));
        FUSED_KINDS.forEach((kind, k) => {
          const slot = feeds.controlnet_images.subarray(k * 3 * SIZE * SIZE, (k + 1) * 3 * SIZE * SIZE);
          const img = images[kind].data;
          const planes = new Float32Array(3 * SIZE * SIZE).map((_, x) => img[(x % (SIZE * SIZE)) * 3 + Math.floor(x / (SIZE * SIZE))] / 255);
          expect(maxAbsDiff(slot, planes), kind).toBe(0);
          expect(planes.some((v) => v > 0)).toBe(true);
        });
        return;
      }
      CONTROL_RESIDUALS.forEach((slot, j) => {
        const want = new Float32Array(expectedResidual('scribble', j, images.scribble, 0).length);
        for (const c of on) expectedResidual(c.kind, j, images[c.kind], c.scale).forEach((v, x) => (want[x] += v));
        expect(maxAbsDiff(feeds[slot.name], want), `step ${i} ${slot.name}`).toBeLessThan(1e-5);
      });
    });
    expect(r.timesteps).toHaveLength(4);
  });

  it('start/end select the steps: 4 steps with start 0.5 run the ControlNet on steps 2 and 3 only', async () => {
    const unetFeeds = spy(sessionsOf(p).unet);
    const cnRuns = layout === 'separate' ? spy(sessionsOf(p).controlNet('scribble')) : [];
    await p.run(input, { ...base, control: { kind: 'scribble', scale: 1, start: 0.5, end: 1 } });
    const fed = unetFeeds.map((f) => (layout === 'fused' ? f.controlnet_scales[FUSED_KINDS.indexOf('scribble')] : f.mid_block_additional_residual.some((v) => v !== 0) ? 1 : 0));
    expect(fed).toEqual([0, 0, 1, 1]);
    if (layout === 'separate') {
      expect(cnRuns).toHaveLength(2);
      expect(Array.from(cnRuns[0].conditioning_scale)).toEqual([1]); // scribble takes a double [1]
    }
    unetFeeds.length = 0;
    await p.run(input, { ...base, control: { kind: 'scribble', scale: 1, start: 0, end: 0.5 } });
    expect(unetFeeds.map((f) => (layout === 'fused' ? f.controlnet_scales[FUSED_KINDS.indexOf('scribble')] : f.mid_block_additional_residual.some((v) => v !== 0) ? 1 : 0))).toEqual([1, 1, 0, 0]);
  });

  it('a changed frame gets its own control image; an unchanged one reuses the last', async () => {
    const other: RgbImage = { ...input, data: input.data.slice().reverse() }; // the sketch turned 180°
    const check = async (img: RgbImage) => {
      const unetFeeds = spy(sessionsOf(p).unet);
      const r = await p.run(img, { ...base, control: { kind: 'canny', scale: 1 } });
      const want = controlImage('canny', img);
      if (layout === 'fused') {
        const k = FUSED_KINDS.indexOf('canny');
        const slot = unetFeeds[0].controlnet_images.subarray(k * 3 * SIZE * SIZE, (k + 1) * 3 * SIZE * SIZE);
        expect(maxAbsDiff(slot, new Float32Array(3 * SIZE * SIZE).map((_, x) => want.data[(x % (SIZE * SIZE)) * 3 + Math.floor(x / (SIZE * SIZE))] / 255))).toBe(0);
      } else {
        expect(maxAbsDiff(unetFeeds[0][CONTROL_RESIDUALS[0].name], expectedResidual('canny', 0, want, 1))).toBeLessThan(1e-5);
      }
      return r.timings.controlImageMs;
    };
    await check(input);
    const reused = await check(input);
    const changed = await check(other);
    await check(input);
    expect(reused).toBeLessThan(changed);
  });

  it('warmup also runs each size once with every ControlNet', async () => {
    const unetFeeds = spy(sessionsOf(p).unet);
    const cnRuns = layout === 'separate' ? [spy(sessionsOf(p).controlNet('scribble')), spy(sessionsOf(p).controlNet('canny'))] : [];
    await p.warmup([128, 192]);
    expect(unetFeeds).toHaveLength(4); // per size: a plain frame and a controlled one, 1 step each
    for (const runs of cnRuns) expect(runs).toHaveLength(2);
    if (layout === 'fused') expect(unetFeeds.map((f) => Array.from(f.controlnet_scales))).toEqual([[0, 0], [1, 1], [0, 0], [1, 1]]);
  });

  it('times the ControlNet and the control image', async () => {
    const r = await p.run(input, { ...base, control: { kind: 'canny', scale: 1 } });
    expect(r.timings.controlImageMs).toBeGreaterThan(0);
    if (layout === 'separate') expect(r.timings.controlNetMs).toBeGreaterThan(0);
    else expect(r.timings.controlNetMs).toBe(0); // inside the fused UNet
  });
});

describe('both layouts compute the same picture', () => {
  it('fused and separate renders with the same control agree', async () => {
    const sep = await Img2ImgPipeline.load(join(MODELS, 'tiny-lcm-controlnet'), { threads: 2 });
    const fused = await Img2ImgPipeline.load(join(MODELS, 'tiny-lcm-controlnet-fused'), { threads: 2 });
    try {
      const params = { ...base, strength: 1, control: [{ kind: 'scribble' as const, scale: 1.2 }, { kind: 'canny' as const, scale: 0.7, start: 0.25 }] };
      const a = await sep.run(input, params);
      const b = await fused.run(input, params);
      expect(meanAbsDiff(a.image.data, b.image.data)).toBeLessThan(0.05);
    } finally {
      await sep.dispose();
      await fused.dispose();
    }
  });
});

describe('float16 exports (the downloadable preset is fp16): both layouts generated with float16 tensors', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'lc-controlnet-fp16-'));
    for (const name of ['tiny-lcm-controlnet', 'tiny-lcm-controlnet-fused']) await generateTinyModel({ ...tinyVariant(name), name: `${name}-fp16`, storage: 'float16' }, tmp);
  });
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it.each(['tiny-lcm-controlnet-fp16', 'tiny-lcm-controlnet-fused-fp16'])('%s: scale 0 = no control, two ControlNets summed, close to the float32 render', async (name) => {
    const p = await Img2ImgPipeline.load(join(tmp, name), { threads: 2 });
    const f32 = await Img2ImgPipeline.load(join(MODELS, name.replace('-fp16', '')), { threads: 2 });
    try {
      expect(p.info.dtypes.unet).toBe('float16');
      const plain = await p.run(input, base);
      const zero = await p.run(input, { ...base, control: [{ kind: 'scribble', scale: 0 }, { kind: 'canny', scale: 0 }] });
      expect(Buffer.from(zero.image.data).equals(Buffer.from(plain.image.data))).toBe(true);
      const control = [{ kind: 'scribble' as const, scale: 1.2 }, { kind: 'canny' as const, scale: 0.8, start: 0.5 }];
      const on = await p.run(input, { ...base, strength: 1, control });
      const ref = await f32.run(input, { ...base, strength: 1, control });
      expect(meanAbsDiff(on.image.data, (await p.run(input, { ...base, strength: 1 })).image.data)).toBeGreaterThan(0.5);
      expect(meanAbsDiff(on.image.data, ref.image.data)).toBeLessThan(0.5);
    } finally {
      await p.dispose();
      await f32.dispose();
    }
  });
});

describe('models without the ControlNet asked for', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'lc-controlnet-'));
  });
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('a model with no ControlNet refuses a control render with NO_CONTROLNET and how to get one', async () => {
    const p = await Img2ImgPipeline.load(join(MODELS, 'tiny-lcm'), { threads: 1 });
    try {
      expect(p.info.controlNet).toBeUndefined();
      const err = await p.run(input, { ...base, control: { kind: 'scribble' } }).catch((e) => e);
      expect(err).toBeInstanceOf(EngineError);
      expect(err.code).toBe('NO_CONTROLNET');
      expect(err.message).toMatch(/^tiny-lcm has no scribble ControlNet \(it has no ControlNet\); get a model with one: .*npm run models:download -- /);
      // the downloadable presets that have a scribble ControlNet, by their manifest entry
      const presets = listPresets().filter((q) => q.source === 'hub' && q.controlnet?.kinds.includes('scribble'));
      for (const q of presets) expect(err.message).toContain(`npm run models:download -- ${q.name}\``);
      expect(err.message.split('\n')).toHaveLength(1);
    } finally {
      await p.dispose();
    }
  });

  it('a separate-layout model names the kinds it has', async () => {
    const dir = join(tmp, 'only-scribble');
    cpSync(join(MODELS, 'tiny-lcm-controlnet'), dir, { recursive: true });
    rmSync(join(dir, 'controlnet', 'canny'), { recursive: true });
    const p = await Img2ImgPipeline.load(dir, { threads: 1 });
    try {
      expect(p.info.controlNet).toEqual({ layout: 'separate', kinds: ['scribble'] });
      const err = await p.run(input, { ...base, control: { kind: 'canny' } }).catch((e) => e);
      expect(err.code).toBe('NO_CONTROLNET');
      expect(err.message).toMatch(/^only-scribble has no canny ControlNet \(it has scribble\); /);
      // plain renders still run (zeros for the residuals)
      expect((await p.run(input, base)).image.width).toBe(SIZE);
    } finally {
      await p.dispose();
    }
  });
});

/** A ControlNet like the tiny one whose residual `j` has `channels` channels, or is named `rename`. */
function mismatchedControlNet(opts: { j: number; channels?: number; rename?: string }): Uint8Array {
  const g = new GraphBuilder('bad_controlnet', 'float32');
  g.input('sample', 'float', ['batch_size', 4, 'h', 'w']);
  g.input('timestep', 'int64', ['steps']);
  g.input('encoder_hidden_states', 'float', ['batch_size', 'sequence_length', 32]);
  const cond = g.input('controlnet_cond', 'float', ['batch_size', 3, 'height', 'width']);
  const scale = g.op('Cast', [g.input('conditioning_scale', 'double', [1])], { to: attr.int(DT.FLOAT) });
  const gray = g.op('ReduceMean', [cond], { axes: attr.ints([1]), keepdims: attr.int(1) });
  CONTROL_RESIDUALS.forEach((slot, j) => {
    const channels = j === opts.j && opts.channels ? opts.channels : slot.channels;
    const pooled = g.op('AveragePool', [gray], { kernel_shape: attr.ints([8 * slot.factor, 8 * slot.factor]), strides: attr.ints([8 * slot.factor, 8 * slot.factor]) });
    const r = g.op('Mul', [g.op('Mul', [pooled, scale]), g.weight(`w${j}`, new Float32Array(channels).fill(0.1), [1, channels, 1, 1])]);
    g.output(j === opts.j && opts.rename ? opts.rename : slot.name, r, ['batch_size', channels, `h${slot.factor}`, `w${slot.factor}`]);
  });
  return g.build().model;
}

describe('a ControlNet folder that does not fit the UNet is refused at load, in one line', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'lc-controlnet-bad-'));
  });
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  async function loadError(name: string, change: (dir: string) => void): Promise<EngineError> {
    const dir = join(tmp, name);
    cpSync(join(MODELS, 'tiny-lcm-controlnet'), dir, { recursive: true });
    change(dir);
    const err = await Img2ImgPipeline.load(dir, { threads: 1 }).then(
      (p) => p.dispose().then(() => new Error('loaded')),
      (e) => e,
    );
    expect(err).toBeInstanceOf(EngineError);
    expect(err.message.split('\n')).toHaveLength(1);
    return err;
  }

  it('wrong channel count of a residual', async () => {
    const err = await loadError('channels', (dir) => writeFileSync(join(dir, 'controlnet', 'canny', 'model.onnx'), mismatchedControlNet({ j: 4, channels: 48 })));
    expect(err.code).toBe('MODEL_UNSUPPORTED');
    expect(err.message).toContain(join(tmp, 'channels', 'controlnet', 'canny', 'model.onnx'));
    expect(err.message).toContain('down_block_4_additional_residual with 48 channels, the UNet\'s input takes 64');
  });

  it('a residual missing (another name)', async () => {
    const err = await loadError('names', (dir) => writeFileSync(join(dir, 'controlnet', 'scribble', 'model.onnx'), mismatchedControlNet({ j: 12, rename: 'mid_block_res_sample' })));
    expect(err.message).toContain(join(tmp, 'names', 'controlnet', 'scribble', 'model.onnx'));
    expect(err.message).toContain('has no output mid_block_additional_residual');
  });

  it('ControlNets next to a UNet without residual inputs', async () => {
    const err = await loadError('plain-unet', (dir) => {
      rmSync(join(dir, 'unet'), { recursive: true });
      cpSync(join(MODELS, 'tiny-lcm', 'unet'), join(dir, 'unet'), { recursive: true });
    });
    expect(err.message).toMatch(/controlnet holds ControlNets \(scribble, canny\) but .*unet\/model\.onnx has no ControlNet residual inputs/);
  });

  it('a fused UNet without unet/controlnet.json', async () => {
    const dir = join(tmp, 'fused-no-json');
    cpSync(join(MODELS, 'tiny-lcm-controlnet-fused'), dir, { recursive: true });
    rmSync(join(dir, 'unet', 'controlnet.json'));
    const err = await Img2ImgPipeline.load(dir, { threads: 1 }).catch((e) => e);
    expect(err.code).toBe('MODEL_MISSING');
    expect(err.message).toContain(join(dir, 'unet', 'controlnet.json'));
    expect(err.message.split('\n')).toHaveLength(1);
  });
});

describe('npm run img2img --control', () => {
  const cli = (args: string[]) => runScript('lib/diffusion/cli.ts', args, { MODELS_DIR: MODELS });
  let tmp: string;
  let png: string;
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'lc-controlnet-cli-'));
    png = join(tmp, 'in.png');
    await sharp(Buffer.from(input.data), { raw: { width: SIZE, height: SIZE, channels: 3 } }).png().toFile(png);
  });
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('renders with --control scribble --control-scale --control-start --control-end and says so', async () => {
    const out = join(tmp, 'out.png');
    const r = await cli(['--model', 'tiny-lcm-controlnet', '--input', png, '--out', out, '--size', '128', '--steps', '4', '--strength', '1', '--control', 'scribble', '--control-scale', '1.5', '--control-start', '0.25', '--control-end', '1']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^settings .*scribble control 1\.5 \(25–100 % of the schedule\)/m);
    expect(r.stdout).toMatch(/^controlNet\s+\d+\.\d ms/m);
    expect((await sharp(out).metadata()).width).toBe(128);
  });

  it('one error line for a model without that ControlNet, or --control-scale without --control', async () => {
    const out = join(tmp, 'x.png');
    const a = await cli(['--model', 'tiny-lcm', '--input', png, '--out', out, '--control', 'canny']);
    expect(a.code).toBe(1);
    expect(a.stderr).toMatch(/^error: tiny-lcm has no canny ControlNet .*npm run models:download/);
    expect(a.stderr.trim().split('\n')).toHaveLength(1);
    const b = await cli(['--model', 'tiny-lcm', '--input', png, '--out', out, '--control-scale', '1']);
    expect(b.code).toBe(1);
    expect(b.stderr.trim()).toBe('error: --control-scale needs --control scribble|canny');
  });
});
