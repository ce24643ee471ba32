// The ControlNets of a model folder, found and checked at load (controlNetContract.ts has the two
// layouts): the separate layout's controlnet/<kind>/model.onnx sessions, or the fused UNet's kind
// order from unet/controlnet.json. A ControlNet that does not fit the UNet refuses the load with
// one line; a render asking for a kind the model has none of is refused with what it has and how
// to get one (NO_CONTROLNET). The per-render work is in ControlRun (controlRun.ts).
import type * as ort from 'onnxruntime-node';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readControlNetContract, type ControlNetContract, type UnetControl } from './controlNetContract';
import { ControlRun, type ControlSizeBuffers } from './controlRun';
import { EngineError } from './errors';
import type { ExecutionProvider } from './executionProviders';
import type { ModelContract } from './ModelContract';
import type { ModelFolder } from './ModelFolder';
import { createCachedSession, type GraphCacheOptions } from './optimizedGraphCache';
import { listPresets } from './presets';
import { CONTROL_KINDS, type ControlKind, type RenderControl } from './renderParams';
import { firstLine, sessionOptions, type EngineLogger } from './sessions';
import { checkWeightsFile, LFS_MAGIC } from './weightsFile';

/** What a loaded pipeline can do with ControlNets (PipelineInfo.controlNet). */
export interface ControlNetInfo {
  layout: 'separate' | 'fused';
  /** the kinds a render may ask for (a separate-layout UNet may have none installed) */
  kinds: ControlKind[];
}

/** One separate ControlNet: its file, session and contract. */
export interface SeparateControlNet {
  kind: ControlKind;
  file: string;
  session: ort.InferenceSession;
  contract: ControlNetContract;
}

export interface ControlNetLoadOptions {
  executionProvider: ExecutionProvider;
  deviceId?: number;
  threads: number;
  logger?: EngineLogger;
  /** the optimised-graph cache, as for the other parts (entries under controlnet/.ort-cache/) */
  graphCache?: GraphCacheOptions;
}

/** Sizes whose control buffers are kept (as SizeBufferPool keeps latents). */
const MAX_SIZES = 4;

export class ControlNets {
  private readonly bySize = new Map<string, ControlSizeBuffers>();

  private constructor(
    readonly info: ControlNetInfo,
    readonly unet: UnetControl,
    /** separate layout: the sessions, by kind */
    readonly nets: ReadonlyMap<ControlKind, SeparateControlNet>,
    /** fused layout: the kind of each of the N slots, in the UNet's order */
    readonly slots: readonly string[],
  ) {}

  /** The folder's ControlNets, or undefined for a plain UNet with no controlnet/ folder. */
  static async load(folder: ModelFolder, contract: ModelContract, opts: ControlNetLoadOptions): Promise<ControlNets | undefined> {
    const unet = contract.unet.control;
    const installed = installedKinds(folder, opts.logger);
    if (!unet) {
      if (installed.length) {
        throw new EngineError(
          'MODEL_UNSUPPORTED',
          `${join(folder.dir, 'controlnet')} holds ControlNets (${installed.join(', ')}) but ${folder.partPath('unet')} has no ControlNet residual inputs (down_block_0..11_additional_residual, mid_block_additional_residual): use the UNet exported with them (${folder.repairHint}) or remove controlnet/`,
        );
      }
      return undefined;
    }
    if (unet.layout === 'fused') {
      const slots = fusedKinds(folder, unet);
      const kinds = CONTROL_KINDS.filter((k) => slots.includes(k));
      return new ControlNets({ layout: 'fused', kinds }, unet, new Map(), slots);
    }
    const nets = new Map<ControlKind, SeparateControlNet>();
    try {
      for (const kind of installed) nets.set(kind, await openControlNet(folder, contract, kind, opts));
    } catch (e) {
      await Promise.all([...nets.values()].map((n) => n.session.release().catch(() => undefined)));
      throw e;
    }
    return new ControlNets({ layout: 'separate', kinds: [...nets.keys()] }, unet, nets, []);
  }

  /** Refuses control kinds this model has no ControlNet for (NO_CONTROLNET). */
  static check(model: string, control: readonly RenderControl[] | undefined, nets: ControlNets | undefined): void {
    const missing = control?.find((c) => !nets?.info.kinds.includes(c.kind));
    if (!missing) return;
    const has = nets?.info.kinds.length ? `it has ${nets.info.kinds.join(' and ')}` : 'it has no ControlNet';
    throw new EngineError('NO_CONTROLNET', `${model} has no ${missing.kind} ControlNet (${has}); ${controlNetHint(missing.kind)}`);
  }

  /** The work of one render: which ControlNets run at which step, their control images and feeds. */
  begin(control: readonly RenderControl[] | undefined, steps: number, size: { width: number; height: number; latentWidth: number; latentHeight: number }): ControlRun {
    return new ControlRun(this, control ?? [], steps, this.buffers(size.width, size.height, size.latentWidth, size.latentHeight));
  }

  async release(): Promise<void> {
    this.bySize.clear();
    await Promise.all([...this.nets.values()].map((n) => n.session.release()));
  }

  private buffers(width: number, height: number, latentWidth: number, latentHeight: number): ControlSizeBuffers {
    const key = `${width}x${height}`;
    let b = this.bySize.get(key);
    if (b) this.bySize.delete(key);
    b ??= { width, height, latentWidth, latentHeight, cond: new Map(), sources: new Map(), masks: new Map() };
    this.bySize.set(key, b);
    if (this.bySize.size > MAX_SIZES) this.bySize.delete(this.bySize.keys().next().value!);
    return b;
  }
}

/** The kinds under controlnet/ (unknown folder names are skipped with a warning). */
function installedKinds(folder: ModelFolder, logger?: EngineLogger): ControlKind[] {
  const dir = join(folder.dir, 'controlnet');
  if (!existsSync(dir)) return [];
  const names = readdirSync(dir).filter((name) => !name.startsWith('.') && statSync(join(dir, name)).isDirectory());
  for (const name of names.filter((n) => !(CONTROL_KINDS as readonly string[]).includes(n)).sort()) {
    (logger?.warn.bind(logger) ?? console.warn)(`${join(dir, name)}: not a ControlNet kind the engine knows (${CONTROL_KINDS.join(', ')}); skipped`);
  }
  return CONTROL_KINDS.filter((k) => names.includes(k));
}

async function openControlNet(folder: ModelFolder, contract: ModelContract, kind: ControlKind, opts: ControlNetLoadOptions): Promise<SeparateControlNet> {
  const dir = join(folder.dir, 'controlnet', kind);
  const file = join(dir, 'model.onnx');
  if (!existsSync(file)) throw new EngineError('MODEL_MISSING', `${dir} has no model.onnx; ${folder.repairHint} or remove the folder`);
  for (const f of readdirSync(dir)) {
    if (f.endsWith('.onnx') || f.endsWith('.onnx_data') || f === 'weights.pb') checkWeightsFile(join(dir, f), `controlnet/${kind}/${f}`, folder.repairHint);
  }
  let session: ort.InferenceSession;
  try {
    const options = sessionOptions(opts.executionProvider, opts.threads, opts.deviceId);
    session = (await createCachedSession(file, options, `controlnet_${kind}`, { ...opts.graphCache, logger: opts.logger })).session;
  } catch (e) {
    throw new EngineError('MODEL_CORRUPT', `${file} is corrupt or incomplete (onnxruntime: ${firstLine(e).replace(/\s+/g, ' ')}); ${folder.repairHint}`);
  }
  const unet = contract.unet.control as Extract<UnetControl, { layout: 'separate' }>;
  const fail = (problem: string, fix: string) => new EngineError('MODEL_UNSUPPORTED', `${file} does not fit ${folder.partPath('unet')}: ${problem}; ${fix}`);
  try {
    return { kind, file, session, contract: readControlNetContract(session, { sample: contract.unet.sample, hidden: contract.unet.hidden, residuals: unet.residuals }, fail) };
  } catch (e) {
    await session.release().catch(() => undefined);
    throw e;
  }
}

/** unet/controlnet.json of a fused UNet: {"kinds": [...]}, one per controlnet_images slot. */
function fusedKinds(folder: ModelFolder, unet: Extract<UnetControl, { layout: 'fused' }>): string[] {
  const path = join(folder.dir, 'unet', 'controlnet.json');
  const what = `${folder.partPath('unet')} takes controlnet_images`;
  if (!existsSync(path)) throw new EngineError('MODEL_MISSING', `${what} but ${path} (the order of its ControlNets: {"kinds": [...]}) is missing; ${folder.repairHint}`);
  const text = readFileSync(path, 'utf8');
  if (text.startsWith(LFS_MAGIC)) throw new EngineError('MODEL_LFS_POINTER', `${path} is a Git-LFS pointer, not the file; ${folder.repairHint}`);
  let kinds: unknown;
  try {
    kinds = (JSON.parse(text) as { kinds?: unknown }).kinds;
  } catch (e) {
    throw new EngineError('MODEL_CORRUPT', `${path} is not valid JSON (${(e as Error).message}); ${folder.repairHint}`);
  }
  if (!Array.isArray(kinds) || !kinds.length || kinds.some((k) => typeof k !== 'string') || new Set(kinds).size !== kinds.length) {
    throw new EngineError('MODEL_CORRUPT', `${path} must be {"kinds": [...]} with distinct kind names (e.g. "scribble", "canny"); ${folder.repairHint}`);
  }
  if (unet.count !== undefined && unet.count !== kinds.length) {
    throw new EngineError('MODEL_UNSUPPORTED', `${path} lists ${kinds.length} ControlNets but ${folder.partPath('unet')} takes ${unet.count}; ${folder.repairHint}`);
  }
  return kinds as string[];
}

/** How to get a model with a `kind` ControlNet: the downloadable presets whose manifest entry
 * says they have one. */
function controlNetHint(kind: ControlKind): string {
  let names: string[] = [];
  try {
    names = listPresets()
      .filter((p) => p.source === 'hub' && p.controlnet?.kinds.includes(kind))
      .map((p) => p.name);
  } catch {
    // no manifest: the generic hint below
  }
  return names.length
    ? `get a model with one: ${names.map((n) => `\`npm run models:download -- ${n}\``).join(' or ')}`
    : 'get a model with one: `npm run models:download -- <preset>` (see `npm run models:download -- --list`)';
}
