// The I/O contract of ControlNet-capable UNets and of separate ControlNets, read from the sessions'
// metadata (../../../shared notes scale-gpu-models.md §3). Two real layouts:
//
//   separate: the UNet takes down_block_{0..11}_additional_residual + mid_block_additional_residual
//             (OnnxStack / diffusers-export layout); each controlnet/<kind>/model.onnx takes sample,
//             timestep, encoder_hidden_states, controlnet_cond [B,3,H,W] in 0..1 and
//             conditioning_scale (float or double) and outputs those 13 residuals
//   fused:    the UNet takes controlnet_images [N,B,3,H,W] and controlnet_scales [N] (ONNX
//             Runtime's SD demo); unet/controlnet.json {"kinds": [...]} gives the order of the N
//
// A ControlNet that does not fit its UNet is refused at load with one line naming its file and
// the first mismatch.
import type * as ort from 'onnxruntime-node';
import { EngineError } from './errors';
import type { Dim, FloatSlot, FloatType } from './ModelContract';

type Meta = ort.InferenceSession.TensorValueMetadata;

/** One residual input of a separate-layout UNet, with its shape at a given latent size. */
export interface ResidualSlot extends FloatSlot {
  /** channels: the metadata's, or from unet/config.json when the export left them symbolic */
  channels: number;
  /** latent pixels per residual pixel (1, 2, 4 or 8 in SD 1.x/2.x) */
  factor: number;
}

export type ScaleType = 'float32' | 'float16' | 'float64';

export type UnetControl =
  | { layout: 'separate'; residuals: ResidualSlot[] }
  | { layout: 'fused'; images: FloatSlot; scales: { name: string; type: ScaleType }; /** N when the export fixed it */ count?: number };

export interface ControlNetContract {
  sample: FloatSlot;
  timestep: { name: string; type: 'int64' | 'int32' | 'float32' | 'float16'; rank: 0 | 1 };
  hidden: FloatSlot;
  cond: FloatSlot;
  scale: { name: string; type: ScaleType; rank: 0 | 1 };
}

/** SD 1.x/2.x: conv_in, then per block two resnets (+ a downsampler but for the last block). */
export const RESIDUAL_NAMES: readonly string[] = [...Array.from({ length: 12 }, (_, j) => `down_block_${j}_additional_residual`), 'mid_block_additional_residual'];
const RESIDUAL_FACTORS = [1, 1, 1, 2, 2, 2, 4, 4, 4, 8, 8, 8, 8];
/** the block whose channels residual j has (a downsampler keeps its block's channels) */
const RESIDUAL_BLOCKS = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3];
const FUSED_NAMES = ['controlnet_images', 'controlnet_scales'];

/** Is this UNet input one of the ControlNet inputs of either layout? */
export const isControlInput = (name: string) => RESIDUAL_NAMES.includes(name) || FUSED_NAMES.includes(name);

type Fail = (problem: string, fix: string) => EngineError;
const FIX_UNET = 'use a UNet exported with all 13 SD ControlNet residual inputs (or controlnet_images + controlnet_scales), or the plain UNet';

/** The UNet's ControlNet inputs, or undefined for a plain UNet. */
export function readUnetControl(inputs: readonly Meta[], unetConfig: Record<string, unknown>, fail: Fail): UnetControl | undefined {
  const residualIn = inputs.filter((m) => RESIDUAL_NAMES.includes(m.name));
  const fusedIn = inputs.filter((m) => FUSED_NAMES.includes(m.name));
  if (residualIn.length && fusedIn.length) throw fail('takes both ControlNet residuals and controlnet_images', FIX_UNET);
  if (residualIn.length) {
    const missing = RESIDUAL_NAMES.filter((n) => !residualIn.some((m) => m.name === n));
    if (missing.length) throw fail(`takes ${residualIn.length} of the 13 ControlNet residual inputs (missing ${missing.join(', ')})`, FIX_UNET);
    return { layout: 'separate', residuals: RESIDUAL_NAMES.map((n, j) => residualSlot(residualIn.find((m) => m.name === n)!, j, unetConfig, fail)) };
  }
  if (!fusedIn.length) return undefined;
  const images = fusedIn.find((m) => m.name === 'controlnet_images');
  const scales = fusedIn.find((m) => m.name === 'controlnet_scales');
  if (!images || !scales) throw fail(`takes ${fusedIn[0].name} without ${images ? 'controlnet_scales' : 'controlnet_images'}`, FIX_UNET);
  if ((images.type !== 'float32' && images.type !== 'float16') || images.shape.length !== 5 || (typeof images.shape[2] === 'number' && images.shape[2] !== 3)) {
    throw fail(`takes controlnet_images ${describeMeta(images)}, expected float [N,batch,3,height,width]`, FIX_UNET);
  }
  if (!isScaleType(scales.type) || scales.shape.length !== 1) throw fail(`takes controlnet_scales ${describeMeta(scales)}, expected float [N]`, FIX_UNET);
  const n = [images.shape[0], scales.shape[0]].find((d): d is number => typeof d === 'number');
  return { layout: 'fused', images: { name: images.name, type: images.type, shape: images.shape }, scales: { name: scales.name, type: scales.type }, ...(n !== undefined && { count: n }) };
}

function residualSlot(m: Meta, j: number, unetConfig: Record<string, unknown>, fail: Fail): ResidualSlot {
  if ((m.type !== 'float32' && m.type !== 'float16') || m.shape.length !== 4) {
    throw fail(`takes ${m.name} as ${describeMeta(m)}, expected float [batch,channels,h,w]`, FIX_UNET);
  }
  const blocks = unetConfig.block_out_channels;
  const fromConfig = Array.isArray(blocks) && blocks.length === 4 ? Number(blocks[RESIDUAL_BLOCKS[j]]) : undefined;
  const channels = typeof m.shape[1] === 'number' ? m.shape[1] : fromConfig;
  if (!channels) throw fail(`leaves the channels of ${m.name} unnamed and unet/config.json has no block_out_channels`, 'add the config.json the model was exported with');
  return { name: m.name, type: m.type, shape: m.shape, channels, factor: RESIDUAL_FACTORS[j] };
}

/**
 * A separate ControlNet's contract, checked against the UNet it feeds: every residual input of the
 * UNet must be one of its outputs with the same dtype, rank and (where both are fixed) sizes.
 * `fail` builds the one-line refusal naming the ControlNet's file.
 */
export function readControlNetContract(session: ort.InferenceSession, unet: { sample: FloatSlot; hidden: FloatSlot; residuals: ResidualSlot[] }, fail: Fail): ControlNetContract {
  const FIX = 'use a ControlNet for the same base model as the UNet (SD 1.x ControlNets for SD 1.x UNets), exported with its 13 residual outputs, or remove its folder';
  const inputs = session.inputMetadata.filter((m): m is Meta => m.isTensor);
  const get = (name: string) => inputs.find((m) => m.name === name);
  const [sample, timestep, hidden, cond, scale] = ['sample', 'timestep', 'encoder_hidden_states', 'controlnet_cond', 'conditioning_scale'].map(get);
  if (!sample || !timestep || !hidden || !cond || !scale) {
    throw fail(`lacks the ControlNet inputs sample, timestep, encoder_hidden_states, controlnet_cond, conditioning_scale (found ${inputs.map(describeMeta).join(', ') || 'none'})`, FIX);
  }
  const extra = inputs.filter((m) => ![sample, timestep, hidden, cond, scale].includes(m));
  if (extra.length) throw fail(`needs extra inputs ${extra.map(describeMeta).join(', ')}`, FIX);
  if (sample.type !== unet.sample.type) throw fail(`takes a ${sample.type} sample but the UNet's is ${unet.sample.type}`, FIX);
  if (cond.type !== 'float32' && cond.type !== 'float16') throw fail(`takes a ${cond.type} controlnet_cond`, FIX);
  if (cond.shape.length !== 4 || (typeof cond.shape[1] === 'number' && cond.shape[1] !== 3)) throw fail(`takes controlnet_cond ${describeMeta(cond)}, expected [batch,3,height,width]`, FIX);
  if (hidden.type !== 'float32' && hidden.type !== 'float16') throw fail(`takes a ${hidden.type} encoder_hidden_states`, FIX);
  const [dim, unetDim] = [hidden.shape[2], unet.hidden.shape[2]];
  if (typeof dim === 'number' && typeof unetDim === 'number' && dim !== unetDim) throw fail(`takes ${dim}-d text embeddings but the UNet takes ${unetDim}-d`, FIX);
  if (!['int64', 'int32', 'float32', 'float16'].includes(timestep.type) || timestep.shape.length > 1) throw fail(`takes a timestep ${describeMeta(timestep)}`, FIX);
  if (!isScaleType(scale.type) || scale.shape.length > 1) throw fail(`takes conditioning_scale ${describeMeta(scale)}, expected a float or double scalar or [1]`, FIX);
  checkResidualOutputs(session, unet.residuals, (p) => fail(p, FIX));
  return {
    sample: { name: sample.name, type: sample.type as FloatType, shape: sample.shape },
    timestep: { name: timestep.name, type: timestep.type as ControlNetContract['timestep']['type'], rank: timestep.shape.length === 0 ? 0 : 1 },
    hidden: { name: hidden.name, type: hidden.type, shape: hidden.shape },
    cond: { name: cond.name, type: cond.type, shape: cond.shape },
    scale: { name: scale.name, type: scale.type, rank: scale.shape.length === 0 ? 0 : 1 },
  };
}

function checkResidualOutputs(session: ort.InferenceSession, residuals: ResidualSlot[], fail: (problem: string) => EngineError): void {
  const outputs = session.outputMetadata.filter((m): m is Meta => m.isTensor);
  for (const r of residuals) {
    const out = outputs.find((m) => m.name === r.name);
    const want = `the UNet's ${r.name} is ${describeMeta(r)}`;
    if (!out) throw fail(`has no output ${r.name} (outputs: ${outputs.map((m) => m.name).join(', ') || 'none'})`);
    if (out.type !== r.type) throw fail(`outputs ${r.name} as ${out.type}, ${want}`);
    if (out.shape.length !== r.shape.length) throw fail(`outputs a rank-${out.shape.length} ${r.name} ${describeMeta(out)}, ${want}`);
    const channels = typeof out.shape[1] === 'number' ? out.shape[1] : undefined;
    if (channels !== undefined && channels !== r.channels) throw fail(`outputs ${r.name} with ${channels} channels, the UNet's input takes ${r.channels}`);
    for (const axis of [2, 3]) {
      const [a, b] = [out.shape[axis], r.shape[axis]];
      if (typeof a === 'number' && typeof b === 'number' && a !== b) throw fail(`outputs ${r.name} ${describeMeta(out)}, ${want}`);
    }
  }
}

const isScaleType = (t: string): t is ScaleType => t === 'float32' || t === 'float16' || t === 'float64';

export function describeMeta(m: { name: string; type: string; shape: readonly Dim[] }): string {
  return `${m.name}:${m.type}[${m.shape.join(',')}]`;
}
