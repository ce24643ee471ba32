// The I/O contract of an exported SD model, read from the sessions' metadata instead of assumed:
// Optimum changed input_ids int32→int64, timestep int64[1]→float32 scalar and latent_sample →
// latent_parameters during 2024, other exporters differ again, and fp16 builds use float16
// everywhere (see diffusers' pipeline_onnx_stable_diffusion_img2img.py, which reads the timestep
// dtype the same way). Anything we cannot drive is refused here, at load, with one line.
import type * as ort from 'onnxruntime-node';
import { isControlInput, readUnetControl, type UnetControl } from './controlNetContract';
import { EngineError } from './errors';
import type { ModelFolder, ModelPart } from './ModelFolder';

export type FloatType = 'float32' | 'float16';
export type Dim = number | string;

export interface FloatSlot {
  name: string;
  type: FloatType;
  shape: readonly Dim[];
}

export interface ModelContract {
  textEncoder: {
    idsName: string;
    idsType: 'int32' | 'int64';
    /** token sequence length (77 for CLIP) */
    seqLen: number;
    output: FloatSlot;
  };
  unet: {
    sample: FloatSlot;
    timestep: { name: string; type: 'int64' | 'int32' | 'float32' | 'float16'; /** 0 = scalar [], 1 = [1] */ rank: 0 | 1 };
    hidden: FloatSlot;
    /** LCM's guidance embedding input, when the UNet has time_cond_proj_dim */
    timestepCond?: FloatSlot & { dim: number };
    output: FloatSlot;
    /** set when the export fixed the latent height/width instead of leaving them symbolic */
    fixedLatent?: { height: number; width: number };
    /** the ControlNet inputs of a UNet exported with them (controlNetContract.ts) */
    control?: UnetControl;
  };
  vaeEncoder: { input: FloatSlot; output: FloatSlot };
  vaeDecoder: { input: FloatSlot; output: FloatSlot };
}

type Sessions = Record<ModelPart, ort.InferenceSession>;
type Meta = ort.InferenceSession.TensorValueMetadata;

const SD_FIX = 'use an SD 1.x/2.x LCM or Turbo img2img export (diffusers/Optimum ONNX layout)';

export function readContract(folder: ModelFolder, sessions: Sessions): ModelContract {
  const r = new ContractReader(folder, sessions);
  const te = readTextEncoder(r);
  const u = readUnet(r, te.hiddenOut);
  const vae = readVae(r);
  return {
    textEncoder: { idsName: te.ids.name, idsType: te.ids.type as 'int32' | 'int64', seqLen: te.seqLen, output: r.floatSlot('text_encoder', te.hiddenOut) },
    unet: {
      sample: r.floatSlot('unet', u.sample),
      timestep: { name: u.timestep.name, type: u.timestep.type as ModelContract['unet']['timestep']['type'], rank: u.timestep.shape.length === 0 ? 0 : 1 },
      hidden: r.floatSlot('unet', u.hidden),
      timestepCond: u.timestepCond,
      output: r.floatSlot('unet', u.out),
      fixedLatent: u.fixedLatent,
      ...(u.control && { control: u.control }),
    },
    vaeEncoder: { input: r.floatSlot('vae_encoder', vae.veInput), output: r.floatSlot('vae_encoder', vae.veOutput) },
    vaeDecoder: { input: r.floatSlot('vae_decoder', vae.vdInput), output: r.floatSlot('vae_decoder', vae.vdOutput) },
  };
}

/** The sessions' metadata and the checks every part shares; each refusal names the part's file. */
class ContractReader {
  constructor(
    private readonly folder: ModelFolder,
    private readonly sessions: Sessions,
  ) {}

  get unetConfig(): Record<string, unknown> {
    return this.folder.unetConfig;
  }

  unsupported(part: ModelPart, problem: string, fix: string): EngineError {
    return new EngineError('MODEL_UNSUPPORTED', `${this.folder.partPath(part)} ${problem}; ${fix}`);
  }

  inputs(part: ModelPart): Meta[] {
    return tensorMeta(this.sessions[part].inputMetadata);
  }

  outputs(part: ModelPart): Meta[] {
    return tensorMeta(this.sessions[part].outputMetadata);
  }

  floatSlot(part: ModelPart, m: Meta): FloatSlot {
    if (m.type !== 'float32' && m.type !== 'float16') {
      throw this.unsupported(part, `has ${m.type} tensor '${m.name}'`, 'only float32 and float16 models are supported');
    }
    return { name: m.name, type: m.type, shape: m.shape };
  }

  checkBatch(part: ModelPart, m: Meta): void {
    if (typeof m.shape[0] === 'number' && m.shape[0] !== 1) {
      throw this.unsupported(part, `was exported with a fixed batch of ${m.shape[0]} for '${m.name}'`, 're-export it with a dynamic or 1 batch dimension');
    }
  }

  checkChannels(part: ModelPart, m: Meta, want: number, what: string): void {
    if (m.shape.length !== 4) throw this.unsupported(part, `takes a rank-${m.shape.length} '${m.name}', expected [batch,${want},h,w]`, SD_FIX);
    if (typeof m.shape[1] === 'number' && m.shape[1] !== want) {
      throw this.unsupported(part, `takes a ${m.shape[1]}-channel '${m.name}', expected ${want} (${what})`, SD_FIX);
    }
    this.checkBatch(part, m);
  }
}

const pick = (list: Meta[], names: string[]) => names.map((n) => list.find((m) => m.name === n)).find((m) => m !== undefined);

/** text encoder: input_ids → last_hidden_state */
function readTextEncoder(r: ContractReader): { ids: Meta; hiddenOut: Meta; seqLen: number } {
  const teIn = r.inputs('text_encoder');
  const ids = pick(teIn, ['input_ids']) ?? teIn[0];
  if (!ids || (ids.type !== 'int32' && ids.type !== 'int64')) {
    throw r.unsupported('text_encoder', `has no int32/int64 input_ids (found ${describe(teIn)})`, SD_FIX);
  }
  const extraTe = teIn.filter((m) => m !== ids);
  if (extraTe.length) throw r.unsupported('text_encoder', `needs extra inputs ${describe(extraTe)}`, SD_FIX);
  r.checkBatch('text_encoder', ids);
  const teOut = r.outputs('text_encoder');
  const hiddenOut = pick(teOut, ['last_hidden_state', 'text_embeddings']) ?? teOut.find((m) => m.shape.length === 3);
  if (!hiddenOut) throw r.unsupported('text_encoder', `has no last_hidden_state output (found ${describe(teOut)})`, SD_FIX);
  const seqLen = typeof ids.shape[1] === 'number' ? ids.shape[1] : 77;
  return { ids, hiddenOut, seqLen };
}

/** UNet: sample, timestep, encoder_hidden_states (+ timestep_cond) → out_sample */
function readUnet(r: ContractReader, teHiddenOut: Meta) {
  const unIn = r.inputs('unet');
  const sample = pick(unIn, ['sample']);
  const timestep = pick(unIn, ['timestep']);
  const hidden = pick(unIn, ['encoder_hidden_states']);
  if (!sample || !timestep || !hidden) {
    throw r.unsupported('unet', `lacks sample/timestep/encoder_hidden_states inputs (found ${describe(unIn)})`, SD_FIX);
  }
  r.checkChannels('unet', sample, 4, 'inpainting and depth UNets are not supported');
  const tCond = pick(unIn, ['timestep_cond']);
  const control = readUnetControl(unIn, r.unetConfig, (problem, fix) => r.unsupported('unet', problem, fix));
  const extraUnet = unIn.filter((m) => m !== sample && m !== timestep && m !== hidden && m !== tCond && !isControlInput(m.name));
  if (extraUnet.length) {
    const sdxl = extraUnet.some((m) => m.name === 'text_embeds' || m.name === 'time_ids');
    throw r.unsupported('unet', `needs extra inputs ${describe(extraUnet)}${sdxl ? ' (an SDXL UNet)' : ''}`, SD_FIX);
  }
  if (!['int64', 'int32', 'float32', 'float16'].includes(timestep.type)) {
    throw r.unsupported('unet', `takes a ${timestep.type} timestep`, SD_FIX);
  }
  if (timestep.shape.length > 1) throw r.unsupported('unet', `takes a rank-${timestep.shape.length} timestep`, SD_FIX);
  const teHidden = teHiddenOut.shape[2];
  const unetHidden = hidden.shape[2];
  if (typeof teHidden === 'number' && typeof unetHidden === 'number' && teHidden !== unetHidden) {
    throw r.unsupported('unet', `expects ${unetHidden}-d text embeddings but text_encoder/model.onnx gives ${teHidden}-d`, 'the parts come from different models; re-download the folder');
  }
  let timestepCond: ModelContract['unet']['timestepCond'];
  if (tCond) {
    const dimMeta = tCond.shape[1];
    const dimCfg = r.unetConfig.time_cond_proj_dim;
    const dim = typeof dimMeta === 'number' ? dimMeta : typeof dimCfg === 'number' ? dimCfg : 256;
    timestepCond = { ...r.floatSlot('unet', tCond), dim };
  }
  const unOut = r.outputs('unet');
  const out = pick(unOut, ['out_sample', 'latent']) ?? unOut[0];
  const [, , fixedH, fixedW] = sample.shape;
  const fixedLatent = typeof fixedH === 'number' && typeof fixedW === 'number' ? { height: fixedH, width: fixedW } : undefined;
  return { sample, timestep, hidden, timestepCond, out, fixedLatent, control };
}

/** VAE halves: image → latent (4 channels, or 8 = mean‖logvar) → image */
function readVae(r: ContractReader): { veInput: Meta; veOutput: Meta; vdInput: Meta; vdOutput: Meta } {
  const veIn = r.inputs('vae_encoder');
  const veInput = pick(veIn, ['sample']) ?? veIn[0];
  if (!veInput) throw r.unsupported('vae_encoder', 'has no inputs', SD_FIX);
  r.checkChannels('vae_encoder', veInput, 3, 'an RGB image');
  const veOut = r.outputs('vae_encoder');
  const veOutput = pick(veOut, ['latent_sample', 'latent_parameters', 'latent']) ?? veOut[0];
  if (typeof veOutput.shape[1] === 'number' && veOutput.shape[1] !== 4 && veOutput.shape[1] !== 8) {
    throw r.unsupported('vae_encoder', `outputs a ${veOutput.shape[1]}-channel latent, expected 4 (or 8 = mean‖logvar)`, SD_FIX);
  }
  const vdIn = r.inputs('vae_decoder');
  const vdInput = pick(vdIn, ['latent_sample', 'latent']) ?? vdIn[0];
  if (!vdInput) throw r.unsupported('vae_decoder', 'has no inputs', SD_FIX);
  r.checkChannels('vae_decoder', vdInput, 4, 'an SD latent');
  const vdOut = r.outputs('vae_decoder');
  const vdOutput = pick(vdOut, ['sample', 'images']) ?? vdOut[0];
  return { veInput, veOutput, vdInput, vdOutput };
}

function tensorMeta(list: readonly ort.InferenceSession.ValueMetadata[]): Meta[] {
  return list.filter((m): m is Meta => m.isTensor);
}

function describe(list: readonly Meta[]): string {
  return list.length ? list.map((m) => `${m.name}:${m.type}[${m.shape.join(',')}]`).join(', ') : 'none';
}

/** A short human summary, for logs and `info`. */
export function summarizeContract(c: ModelContract): string {
  const ts = `${c.unet.timestep.type}${c.unet.timestep.rank === 0 ? '[]' : '[1]'}`;
  return [
    `input_ids ${c.textEncoder.idsType}`,
    `timestep ${ts}`,
    c.unet.timestepCond ? `timestep_cond [1,${c.unet.timestepCond.dim}]` : 'no timestep_cond',
    `vae_encoder → ${c.vaeEncoder.output.name}`,
    `unet ${c.unet.sample.type}`,
    ...(c.unet.control ? [`controlnet ${c.unet.control.layout}`] : []),
  ].join(', ');
}
