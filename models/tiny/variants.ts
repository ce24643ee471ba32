// The tiny presets, each mimicking one real I/O contract (see ../../../shared notes
// diffusion-facts.md §1a): what differs between them is exactly what the engine must adapt to.
import type { PipelineKind } from './configs';
import type { FloatStorage } from './onnx-graph';
import type { TimestepContract } from './unet';
import type { VaeKind } from './vae';

export interface TinyVariant {
  name: string;
  description: string;
  kind: PipelineKind;
  storage: FloatStorage;
  idsType: 'int32' | 'int64';
  timestep: TimestepContract;
  /** LCM guidance embedding width; null = no timestep_cond input. */
  timeCondProjDim: number | null;
  /** Text hidden size = UNet cross_attention_dim (768 in SD 1.x, 1024 in SD 2.x; tiny here). */
  hiddenSize: number;
  vae: VaeKind;
  padToken: '<|endoftext|>' | '!';
  /** Write the UNet weights to unet/model.onnx_data (ONNX external data), as Optimum does. */
  unetExternalData: boolean;
  /** ControlNet layout (controlnet.ts): a residual-input UNet + controlnet/{scribble,canny}/, or a
   * fused UNet taking controlnet_images/controlnet_scales with unet/controlnet.json. */
  controlnet?: 'separate' | 'fused';
}

/** The new Optimum (SD-Turbo) contract; tiny-taesd and tiny-turbo-fp16 differ from it in one field. */
const TURBO: TinyVariant = {
  name: 'tiny-turbo',
  description: 'SD-Turbo, new Optimum contract: int64 input_ids, float32 scalar timestep, latent_parameters [b,8,h,w]',
  kind: 'turbo',
  storage: 'float32',
  idsType: 'int64',
  timestep: 'float-scalar',
  timeCondProjDim: null,
  hiddenSize: 48,
  vae: 'kl-parameters',
  padToken: '!',
  unetExternalData: false,
};

const LCM: TinyVariant = {
  name: 'tiny-lcm',
  description: 'LCM, old Optimum contract: int32 input_ids, int64 [1] timestep, timestep_cond [b,256], latent_sample, UNet external data',
  kind: 'lcm',
  storage: 'float32',
  idsType: 'int32',
  timestep: 'int64-rank1',
  timeCondProjDim: 256,
  hiddenSize: 32,
  vae: 'kl-sample',
  padToken: '<|endoftext|>',
  unetExternalData: true,
};

export const TINY_VARIANTS: readonly TinyVariant[] = [
  LCM,
  TURBO,
  {
    ...TURBO,
    name: 'tiny-taesd',
    description: 'SD-Turbo UNet/text encoder (new contract) with a TAESD (AutoencoderTiny, scaling_factor 1.0) VAE',
    vae: 'taesd',
  },
  {
    ...TURBO,
    name: 'tiny-turbo-fp16',
    description: 'tiny-turbo with every float input, output and weight in float16 (input_ids stay int64)',
    storage: 'float16',
  },
  {
    ...LCM,
    name: 'tiny-lcm-controlnet',
    description:
      'tiny-lcm with a residual-input UNet (down_block_{0..11}_additional_residual, mid_block_additional_residual) and separate scribble (double [1] scale) and canny (float scale) ControlNets',
    controlnet: 'separate',
  },
  {
    ...LCM,
    name: 'tiny-lcm-controlnet-fused',
    description: 'tiny-lcm with a fused UNet+ControlNet graph (controlnet_images [2,b,3,H,W], controlnet_scales [2]; unet/controlnet.json: canny, scribble)',
    controlnet: 'fused',
  },
];

export function tinyVariant(name: string): TinyVariant {
  const v = TINY_VARIANTS.find((x) => x.name === name);
  if (!v) throw new Error(`unknown tiny model "${name}"; choose one of: ${TINY_VARIANTS.map((x) => x.name).join(', ')}`);
  return v;
}
