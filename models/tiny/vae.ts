// Tiny VAE: the encoder is (almost) linear — 8×8 average pooling of RGB, then a 3×3 conv whose
// centre tap is a fixed 3→4 colour map M and whose other taps are a small random perturbation —
// and the decoder is the exact left inverse of M followed by an 8× bilinear upsample and a clamp.
// So decode(encode(x)) ≈ a blurred x, which keeps "lower strength → output closer to the input"
// true and lets tests reason about pixels.
//
// M is the pseudo-inverse of AUTOMATIC1111's "cheap approximation" latent→RGB matrix for SD
// latents (modules/sd_vae_approx.py), so the tiny latents' channels mean roughly what real SD
// latents mean and, in UNet space (after the scaling factor), have SD-like magnitudes (|z| ≲ 3).
import { attr, GraphBuilder, type FloatStorage } from './onnx-graph';
import { SeededRandom } from './rng';

/** latent (4) → RGB (3), SD-1.x latent space (rows: latent channel). */
const LATENT_TO_RGB = [
  [0.298, 0.207, 0.208],
  [0.187, 0.286, 0.173],
  [-0.158, 0.189, 0.264],
  [-0.184, -0.271, -0.473],
];

/** RGB → latent: M = C (CᵀC)⁻¹, so that Cᵀ M = I (the decoder inverts the encoder's colour map). */
export function rgbToLatentMatrix(): number[][] {
  const C = LATENT_TO_RGB;
  const ctc = [0, 1, 2].map((i) => [0, 1, 2].map((j) => C.reduce((s, row) => s + row[i] * row[j], 0)));
  const inv = invert3(ctc);
  return C.map((row) => [0, 1, 2].map((j) => row.reduce((s, c, k) => s + c * inv[k][j], 0)));
}

function invert3(m: number[][]): number[][] {
  const [[a, b, c], [d, e, f], [g, h, i]] = m;
  const A = e * i - f * h, B = -(d * i - f * g), Cc = d * h - e * g;
  const det = a * A + b * B + c * Cc;
  return [
    [A / det, -(b * i - c * h) / det, (b * f - c * e) / det],
    [B / det, (a * i - c * g) / det, -(a * f - c * d) / det],
    [Cc / det, -(a * h - b * g) / det, (a * e - b * d) / det],
  ];
}

export type VaeKind =
  /** AutoencoderKL, old Optimum contract: encoder → latent_sample [b,4,h,w]. */
  | 'kl-sample'
  /** AutoencoderKL, new Optimum contract: encoder → latent_parameters [b,8,h,w] = mean ‖ logvar. */
  | 'kl-parameters'
  /** AutoencoderTiny (TAESD): latents already in UNet space (scaling_factor 1.0). */
  | 'taesd';

export interface VaeSpec {
  kind: VaeKind;
  /** config scaling_factor: 0.18215 for AutoencoderKL, 1.0 for AutoencoderTiny. */
  scalingFactor: number;
  storage: FloatStorage;
  seed: number;
}

/** TAESD's decoder starts with tanh(x/3)·3, which bends |x| > 1.5; halving the tiny TAESD
 * latents keeps that clamp nearly linear so the round trip stays a blur, not a colour shift. */
const TAESD_LATENT_GAIN = 0.5;

/** UNet-space latent per unit of M·rgb: the factor between the shared colour map and this VAE. */
function latentGain(spec: VaeSpec): number {
  return spec.kind === 'taesd' ? TAESD_LATENT_GAIN : 1;
}

const IMAGE_DIMS = ['batch_size', 'num_channels', 'height', 'width'];
const LATENT_DIMS = ['batch_size', 'num_channels_latent', 'height_latent', 'width_latent'];

export function buildVaeEncoder(spec: VaeSpec): GraphBuilder {
  const rng = new SeededRandom(spec.seed);
  const g = new GraphBuilder('tiny_vae_encoder', spec.storage);
  const M = rgbToLatentMatrix();
  const sample = g.input('sample', 'float', IMAGE_DIMS);
  const pooled = g.op('AveragePool', [sample], { kernel_shape: attr.ints([8, 8]), strides: attr.ints([8, 8]) });

  // Encoder output is the *unscaled* latent: the pipeline multiplies it by scaling_factor.
  const w = new Float32Array(4 * 3 * 9);
  for (let o = 0; o < 4; o++) {
    for (let c = 0; c < 3; c++) {
      const m = (M[o][c] * latentGain(spec)) / spec.scalingFactor;
      for (let k = 0; k < 9; k++) w[(o * 3 + c) * 9 + k] = k === 4 ? m : rng.normal() * 0.01 * Math.abs(m);
    }
  }
  const mean = g.op('Conv', [pooled, g.weight('encoder.conv.weight', w, [4, 3, 3, 3]), g.weight('encoder.conv.bias', new Float32Array(4), [4])], {
    pads: attr.ints([1, 1, 1, 1]),
  });

  if (spec.kind === 'kl-parameters') {
    // logvar ≈ -6 (a confident posterior, as for real images) with a little image dependence.
    const lvW = rng.normals(4 * 3, 0.05);
    const logvar = g.op('Conv', [pooled, g.weight('encoder.logvar.weight', lvW, [4, 3, 1, 1]), g.weight('encoder.logvar.bias', Float32Array.from({ length: 4 }, () => -6), [4])]);
    g.output('latent_parameters', g.op('Concat', [mean, logvar], { axis: attr.int(1) }), ['batch_size', 8, 'height_latent', 'width_latent']);
  } else {
    // Real exports sample latent_dist inside the graph; the tiny model returns the mean so that
    // tests are deterministic.
    g.output('latent_sample', mean, LATENT_DIMS);
  }
  return g;
}

export function buildVaeDecoder(spec: VaeSpec): GraphBuilder {
  const g = new GraphBuilder('tiny_vae_decoder', spec.storage);
  let latent = g.input('latent_sample', 'float', LATENT_DIMS);
  if (spec.kind === 'taesd') {
    // TAESD's decoder starts with Clamp: tanh(x/3)·3.
    const three = g.scalar('three', 3);
    latent = g.op('Mul', [g.op('Tanh', [g.op('Div', [latent, three])]), three]);
  }
  // Decoder input is latent/scaling_factor; multiply back, then apply Cᵀ (the left inverse of M).
  const w = new Float32Array(3 * 4);
  for (let c = 0; c < 3; c++) for (let l = 0; l < 4; l++) w[c * 4 + l] = (LATENT_TO_RGB[l][c] * spec.scalingFactor) / latentGain(spec);
  const rgb = g.op('Conv', [latent, g.weight('decoder.conv.weight', w, [3, 4, 1, 1]), g.weight('decoder.conv.bias', new Float32Array(3), [3])]);
  // Clamp before upsampling: bilinear interpolation is a convex combination, so the result stays
  // in [-1, 1], and clamping 64× fewer values keeps the decoder at ~2.5 ms for 512² on 2 cores.
  const clamped = g.op('Clip', [rgb, g.scalar('minus_one', -1), g.scalar('plus_one', 1)]);
  const up = g.op('Resize', [clamped, '', g.floats('upsample_scales', [1, 1, 8, 8])], {
    mode: attr.str('linear'),
    coordinate_transformation_mode: attr.str('half_pixel'),
  });
  g.output('sample', up, IMAGE_DIMS);
  return g;
}
