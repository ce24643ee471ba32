// Tiny UNet: an epsilon predictor built from a toy but principled denoiser, so few-step sampling
// with the real LCM / Euler math gives sensible pictures instead of noise.
//
//   a       = alphas_cumprod[round(t)]               SD's scaled_linear schedule, table lookup
//   x0_hat  = (1−β(t))·k(t)·blur5x5(sample)          Wiener-style shrinkage of the spatially smoothed
//             + β(t)·target                          noisy latent, k(t) = √a·σ²/(a·σ² + (1−a)·ν),
//                                                    ν = the blur's noise gain; β(t) = 0.3·(1−a)
//   target  = 1.5·tanh(Lx(prompt) + Lc(timestep_cond) + 0.3·Lt(sincos(t)))   a flat latent colour
//   eps     = (sample − √a·x0_hat) / √(1−a)          the ε that makes the scheduler land on x0_hat
//
// Every input really matters: the prompt (mean of encoder_hidden_states, centred and scaled with
// statistics measured on random prompts at generation time) and, for LCM, the guidance embedding
// pick the colour the picture drifts to; the timestep sets how much it drifts and how much noise is
// removed. Blending towards the target (instead of adding a bias) keeps the drift bounded however
// many steps run, and small t (low strength) keeps the output close to the input.
import { addResiduals, fusedControl, residualInputs, type TinyControlKind } from './controlnet';
import { attr, DT, GraphBuilder, type FloatStorage } from './onnx-graph';
import { SeededRandom } from './rng';

export const TRAIN_TIMESTEPS = 1000;
const BETA_START = 0.00085;
const BETA_END = 0.012;

/** SD's scaled_linear alphas_cumprod (float64). */
export function alphasCumprod(): Float64Array {
  const out = new Float64Array(TRAIN_TIMESTEPS);
  const s0 = Math.sqrt(BETA_START);
  const s1 = Math.sqrt(BETA_END);
  let acc = 1;
  for (let i = 0; i < TRAIN_TIMESTEPS; i++) {
    const beta = (s0 + ((s1 - s0) * i) / (TRAIN_TIMESTEPS - 1)) ** 2;
    acc *= 1 - beta;
    out[i] = acc;
  }
  return out;
}

export type TimestepContract =
  /** Old Optimum: int64 [steps] (rank 1). */
  | 'int64-rank1'
  /** New Optimum: float scalar [] (float16 in an fp16 export). */
  | 'float-scalar';

export interface UnetSpec {
  crossAttentionDim: number;
  timestep: TimestepContract;
  /** LCM's guidance embedding width (time_cond_proj_dim), or null when there is no timestep_cond. */
  timeCondProjDim: number | null;
  storage: FloatStorage;
  seed: number;
  /** Mean and RMS spread (over prompts) of mean_seq(last_hidden_state), see meanHiddenState(). */
  textCalibration: { mean: ArrayLike<number>; spread: number };
  /** ControlNet inputs (controlnet.ts): the 13 residuals of a separate ControlNet, or the fused
   * layout's images and scales for these kinds; ε then follows the control image. */
  control?: { layout: 'separate' } | { layout: 'fused'; kinds: readonly TinyControlKind[] };
}

const LATENT_CHANNELS = 4;
const TIME_FREQS = 16;
/** Assumed per-element variance of UNet-space latents (the denoiser's prior). */
const PRIOR_VARIANCE = 4;
/** Largest |latent| of the prompt colour (UNet space; white paper is ≈ (1.6, 1.6, −0.3, −1)). */
const TARGET_SCALE = 1.5;
/** Pull towards the prompt colour per step at pure noise (a → 0). */
const TARGET_PULL = 0.3;

export function buildUnet(spec: UnetSpec): GraphBuilder {
  const rng = new SeededRandom(spec.seed);
  const g = new GraphBuilder('tiny_unet', spec.storage);
  const C = LATENT_CHANNELS;
  const D = spec.crossAttentionDim;

  const sample = g.input('sample', 'float', ['batch_size', 'num_channels', 'height', 'width']);
  const timestep =
    spec.timestep === 'int64-rank1' ? g.input('timestep', 'int64', ['steps']) : g.input('timestep', 'float', []);
  const hidden = g.input('encoder_hidden_states', 'float', ['batch_size', 'sequence_length', D]);
  const cond = spec.timeCondProjDim ? g.input('timestep_cond', 'float', ['batch_size', spec.timeCondProjDim]) : null;
  const residuals = !spec.control ? null : spec.control.layout === 'separate' ? residualInputs(g) : fusedControl(g, spec.control.kinds);

  // t as float [n,1] (n = 1 for a scalar) and as a clamped integer index into the tables.
  const tFloat = spec.timestep === 'int64-rank1' ? g.op('Cast', [timestep], { to: attr.int(DT.FLOAT) }) : timestep;
  const t = g.op('Reshape', [tFloat, g.int64('shape_n1', [-1, 1])]);
  const tIndex = g.op('Cast', [g.op('Clip', [g.op('Round', [t]), g.scalar('t_min', 0), g.scalar('t_max', TRAIN_TIMESTEPS - 1)])], {
    to: attr.int(DT.INT64),
  });

  // Blur: two 3×3 passes (0.5 centre, 0.1 edge, 0.025 corner, sums to 1), i.e. a 5×5 kernel;
  // the first pass also mixes channels a little. A wider blur removes more noise per step, which
  // matters at LCM's last, least noisy step where real models leave no grain at all.
  const kernel = [0.025, 0.1, 0.025, 0.1, 0.5, 0.1, 0.025, 0.1, 0.025];
  const blurNoiseGain = noiseGainOfTwoPasses(kernel);
  const convW = new Float32Array(C * C * 9);
  for (let o = 0; o < C; o++) for (let i = 0; i < C; i++) for (let k = 0; k < 9; k++) {
    convW[(o * C + i) * 9 + k] = (o === i ? kernel[k] : 0) + rng.normal() * 0.004;
  }
  const depthwise = new Float32Array(C * 9);
  for (let o = 0; o < C; o++) depthwise.set(kernel, o * 9);
  const pads = attr.ints([1, 1, 1, 1]);
  const blurred = g.op(
    'Conv',
    [
      g.op('Conv', [sample, g.weight('conv_in.weight', convW, [C, C, 3, 3]), g.weight('conv_in.bias', new Float32Array(C), [C])], { pads }),
      g.weight('conv_out.weight', depthwise, [C, 1, 3, 3]),
    ],
    { pads, group: attr.int(C) },
  );

  const acp = alphasCumprod();
  const keep = new Float32Array(TRAIN_TIMESTEPS);
  const pull = new Float32Array(TRAIN_TIMESTEPS);
  const invSigma = new Float32Array(TRAIN_TIMESTEPS);
  const alphaOverSigma = new Float32Array(TRAIN_TIMESTEPS);
  for (let i = 0; i < TRAIN_TIMESTEPS; i++) {
    const a = acp[i];
    pull[i] = TARGET_PULL * (1 - a);
    keep[i] = ((1 - pull[i]) * Math.sqrt(a) * PRIOR_VARIANCE) / (a * PRIOR_VARIANCE + (1 - a) * blurNoiseGain);
    invSigma[i] = 1 / Math.sqrt(1 - a);
    alphaOverSigma[i] = Math.sqrt(a) / Math.sqrt(1 - a);
  }
  const perSample = g.int64('shape_n111', [-1, 1, 1, 1]);
  const lookup = (name: string, table: Float32Array) =>
    g.op('Reshape', [g.op('Gather', [g.weight(name, table, [TRAIN_TIMESTEPS]), tIndex], { axis: attr.int(0) }), perSample]);

  // Prompt: (mean_seq(h) − μ)/spread · W with W ~ N(0, 1/D): about N(0, 1) per channel across prompts.
  const { mean: mu, spread } = spec.textCalibration;
  const textW = rng.normals(D * C, 1 / Math.sqrt(D)).map((v) => v / spread);
  const textB = new Float32Array(C);
  for (let c = 0; c < C; c++) for (let j = 0; j < D; j++) textB[c] -= mu[j] * textW[j * C + c];
  const text = g.op('ReduceMean', [hidden], { axes: attr.ints([1]), keepdims: attr.int(0) }); // [b,D]
  let logits = g.op('Add', [
    g.op('MatMul', [text, g.weight('text_projection.weight', textW, [D, C])]),
    g.weight('text_projection.bias', textB, [C]),
  ]); // [b,C]

  // Timestep embedding: sin/cos(t · f_j) with f_j = 10000^(-j/F), as in diffusers' Timesteps.
  const freqs = Float32Array.from({ length: TIME_FREQS }, (_, j) => Math.exp((-Math.log(10000) * j) / TIME_FREQS));
  const tf = g.op('Mul', [t, g.floats('time_freqs', [...freqs])]); // [n,F]
  const temb = g.op('Concat', [g.op('Sin', [tf]), g.op('Cos', [tf])], { axis: attr.int(1) }); // [n,2F]
  const timeW = rng.normals(2 * TIME_FREQS * C, 0.3 / Math.sqrt(TIME_FREQS));
  logits = g.op('Add', [logits, g.op('MatMul', [temb, g.weight('time_embedding.linear.weight', timeW, [2 * TIME_FREQS, C])])]);

  if (cond && spec.timeCondProjDim) {
    // LCM's w_emb is sin/cos of w·1000·freqs: entries ≈ ±0.7, so W ~ N(0, 1/P) gives ≈ N(0, 0.5).
    const P = spec.timeCondProjDim;
    const condW = rng.normals(P * C, 1 / Math.sqrt(P));
    logits = g.op('Add', [logits, g.op('MatMul', [cond, g.weight('time_embedding.cond_proj.weight', condW, [P, C])])]);
  }
  const target = g.op('Reshape', [g.op('Mul', [g.op('Tanh', [logits]), g.scalar('target_scale', TARGET_SCALE)]), g.int64('shape_nc11', [-1, C, 1, 1])]);

  const x0 = g.op('Add', [g.op('Mul', [lookup('schedule.keep', keep), blurred]), g.op('Mul', [lookup('schedule.pull', pull), target])]);
  const scaledSample = g.op('Mul', [lookup('schedule.inv_sigma', invSigma), sample]);
  const aOverS = lookup('schedule.alpha_over_sigma', alphaOverSigma);
  const eps = g.op('Sub', [scaledSample, g.op('Mul', [aOverS, x0])]);
  g.output('out_sample', residuals ? addResiduals(g, eps, residuals, aOverS) : eps, ['batch_size', 'num_channels', 'height', 'width']);
  return g;
}

/** Σ w² of the kernel convolved with itself: how much white noise variance survives the blur. */
function noiseGainOfTwoPasses(k: number[]): number {
  const full = new Float64Array(25);
  for (let a = 0; a < 9; a++) for (let b = 0; b < 9; b++) {
    full[(Math.floor(a / 3) + Math.floor(b / 3)) * 5 + (a % 3) + (b % 3)] += k[a] * k[b];
  }
  return full.reduce((s, v) => s + v * v, 0);
}
