// Tiny ControlNets in the two real layouts (see ../../../shared notes scale-gpu-models.md §3):
//
//   separate: controlnet/<kind>/model.onnx  (sample, timestep, encoder_hidden_states,
//             controlnet_cond [b,3,H,W] in 0..1, conditioning_scale) → down_block_{0..11}_additional_residual,
//             mid_block_additional_residual; the UNet takes those 13 tensors as extra inputs
//   fused:    the UNet itself takes controlnet_images [N,b,3,H,W] and controlnet_scales [N]
//             (ONNX Runtime's own SD demo), the N kinds listed in order in unet/controlnet.json
//
// The residuals are a KNOWN function of the control image, so tests can check numerically that
// each one reaches the right UNet input with the right scale:
//
//   g            = mean over RGB of controlnet_cond                     [b,1,H,W]
//   residual_j   = conditioning_scale · residualWeights(kind, j)[c] · avgpool_{8·f_j}(g)
//
// with the SD 1.x block layout: f_j = 1,1,1,2,2,2,4,4,4,8,8,8 (latent pixels per residual pixel)
// and 8 for the mid block, channels from the tiny UNet's block_out_channels [32,64,64,64]. The
// UNet turns Σ_j upsample_{f_j}(mean over channels of residual_j) into a shift of its clean-latent
// estimate (addResiduals), the same in both layouts, so a fused render equals a separate one with
// the same kind and scale.
import { attr, DT, GraphBuilder, type FloatStorage } from './onnx-graph';

export type TinyControlKind = 'scribble' | 'canny';
export const TINY_CONTROL_KINDS: readonly TinyControlKind[] = ['scribble', 'canny'];
/** The order of the fused UNet's N ControlNets (unet/controlnet.json): not alphabetical on
 * purpose, so a consumer that ignores the file feeds the wrong slot. */
export const FUSED_KINDS: readonly TinyControlKind[] = ['canny', 'scribble'];

export interface ResidualSlot {
  name: string;
  channels: number;
  /** latent pixels per residual pixel */
  factor: 1 | 2 | 4 | 8;
}

const BLOCK_OUT_CHANNELS = [32, 64, 64, 64] as const;
/** The SD 1.x UNet's 12 down-block residuals (conv_in, 2 resnets per block, 3 downsamplers) + mid. */
export const CONTROL_RESIDUALS: readonly ResidualSlot[] = [
  ...([0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3] as const).map((level, j) => ({
    name: `down_block_${j}_additional_residual`,
    // a downsampler (j = 3, 6, 9) keeps the channels of the block before it
    channels: BLOCK_OUT_CHANNELS[j % 3 === 0 && j > 0 ? level - 1 : level],
    factor: (2 ** level) as 1 | 2 | 4 | 8,
  })),
  { name: 'mid_block_additional_residual', channels: BLOCK_OUT_CHANNELS[3], factor: 8 },
];
export const CONTROL_LAYERS_PER_BLOCK = 2;
export const CONTROL_BLOCK_OUT_CHANNELS = [...BLOCK_OUT_CHANNELS];

/** How far (in latent units, per unit of m) the tiny UNet's clean-latent estimate follows the
 * residuals, and in which latent direction: towards dark ink (white paper is ≈ (1.6, 1.6, −0.3, −1)). */
export const RESIDUAL_GAIN = 0.6;
export const CONTROL_DIRECTION = [-1, -1, 0.2, 0.6] as const;
const KIND_GAIN: Record<TinyControlKind, number> = { scribble: 1, canny: -0.5 };

/** The per-channel constant of residual j of a `kind` ControlNet. */
export function residualWeights(kind: TinyControlKind, j: number): Float32Array {
  const { channels } = CONTROL_RESIDUALS[j];
  return Float32Array.from({ length: channels }, (_, c) => KIND_GAIN[kind] * ((j + 1) / CONTROL_RESIDUALS.length) * (0.5 + c / channels));
}

/** How the ControlNet takes conditioning_scale: OnnxStack feeds a double [1]; others a float. */
export type ScaleInput = 'double-rank1' | 'float-scalar';

/** The 13 residuals of a `kind` ControlNet for control image `cond` (float32 [b,3,H,W]) and scale
 * `scale` (float32, broadcastable). Returns the value names, in CONTROL_RESIDUALS order. */
export function controlResiduals(g: GraphBuilder, cond: string, scale: string, kind: TinyControlKind, prefix: string): string[] {
  const gray = g.op('ReduceMean', [cond], { axes: attr.ints([1]), keepdims: attr.int(1) }); // [b,1,H,W]
  const pool = (x: string, k: number) => g.op('AveragePool', [x], { kernel_shape: attr.ints([k, k]), strides: attr.ints([k, k]) });
  const levels = new Map<number, string>([[1, pool(gray, 8)]]);
  for (const f of [2, 4, 8]) levels.set(f, pool(levels.get(f / 2)!, 2));
  const scaled = new Map([...levels].map(([f, v]) => [f, g.op('Mul', [v, scale])]));
  return CONTROL_RESIDUALS.map((slot, j) =>
    g.op('Mul', [scaled.get(slot.factor)!, g.weight(`${prefix}.residual_${j}.weight`, residualWeights(kind, j), [1, slot.channels, 1, 1])]),
  );
}

/** What the tiny UNet does with the residuals: its clean-latent estimate x̂₀ moves by
 * RESIDUAL_GAIN · m · CONTROL_DIRECTION, m = Σ_j upsample_{f_j}(mean over channels of residual_j),
 * i.e. ε − √ā/√(1−ā) · that (`alphaOverSigma` = √ā/√(1−ā) at the step's t, [n,1,1,1]). The shift is
 * the same at every timestep, so the control image's lines darken the picture even from pure
 * noise (strength 1), as a scribble ControlNet holds a sketch's shape. */
export function addResiduals(g: GraphBuilder, eps: string, residuals: string[], alphaOverSigma: string): string {
  const byFactor = new Map<number, string>();
  CONTROL_RESIDUALS.forEach((slot, j) => {
    const m = g.op('ReduceMean', [residuals[j]], { axes: attr.ints([1]), keepdims: attr.int(1) });
    const prev = byFactor.get(slot.factor);
    byFactor.set(slot.factor, prev ? g.op('Add', [prev, m]) : m);
  });
  let sum: string | undefined;
  for (const [f, v] of byFactor) {
    const up = f === 1 ? v : g.op('Resize', [v, '', g.inlineFloats(`control_upsample_${f}`, [1, 1, f, f])], { mode: attr.str('nearest') });
    sum = sum ? g.op('Add', [sum, up]) : up;
  }
  const direction = g.weight('control_direction', Float32Array.from(CONTROL_DIRECTION, (v) => v * RESIDUAL_GAIN), [1, 4, 1, 1]);
  return g.op('Sub', [eps, g.op('Mul', [g.op('Mul', [sum!, direction]), alphaOverSigma])]);
}

/** The residual-input UNet's 13 extra inputs (declared after its usual ones, as exporters do). */
export function residualInputs(g: GraphBuilder): string[] {
  return CONTROL_RESIDUALS.map((slot) => g.input(slot.name, 'float', ['batch_size', slot.channels, `height_${slot.factor}`, `width_${slot.factor}`]));
}

/** The fused UNet's control inputs: N images and N scales, the residuals of all N summed. */
export function fusedControl(g: GraphBuilder, kinds: readonly TinyControlKind[]): string[] {
  const images = g.input('controlnet_images', 'float', [kinds.length, 'batch_size', 3, 'height', 'width']);
  const scales = g.input('controlnet_scales', 'float', [kinds.length]);
  let sum: string[] | undefined;
  kinds.forEach((kind, k) => {
    const index = g.int64(`controlnet_${k}_index`, [k], []);
    const image = g.op('Gather', [images, index], { axis: attr.int(0) });
    const scale = g.op('Gather', [scales, index], { axis: attr.int(0) });
    const r = controlResiduals(g, image, scale, kind, `controlnet_${k}`);
    sum = sum ? sum.map((s, j) => g.op('Add', [s, r[j]])) : r;
  });
  return sum!;
}

/** A separate ControlNet of `kind`: the SD ControlNet's inputs, the 13 residuals as outputs. */
export function buildControlNet(spec: { kind: TinyControlKind; crossAttentionDim: number; scale: ScaleInput; storage: FloatStorage }): GraphBuilder {
  const g = new GraphBuilder(`tiny_controlnet_${spec.kind}`, spec.storage);
  // sample, timestep and the prompt are taken (a real ControlNet uses them) but do not change
  // the residuals: that keeps them a known function of the control image alone
  g.input('sample', 'float', ['batch_size', 4, 'height_latent', 'width_latent']);
  g.input('timestep', 'int64', ['steps']);
  g.input('encoder_hidden_states', 'float', ['batch_size', 'sequence_length', spec.crossAttentionDim]);
  const cond = g.input('controlnet_cond', 'float', ['batch_size', 3, 'height', 'width']);
  const scale =
    spec.scale === 'double-rank1'
      ? g.op('Cast', [g.input('conditioning_scale', 'double', [1])], { to: attr.int(DT.FLOAT) })
      : g.input('conditioning_scale', 'float', []);
  const residuals = controlResiduals(g, cond, scale, spec.kind, 'controlnet');
  CONTROL_RESIDUALS.forEach((slot, j) => g.output(slot.name, residuals[j], ['batch_size', slot.channels, `height_${slot.factor}`, `width_${slot.factor}`]));
  return g;
}
