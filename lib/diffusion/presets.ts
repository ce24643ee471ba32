// models/presets.json, read and validated in one place: which model folders exist, where they come
// from and under which licence. The downloader (models/), the engine's messages about missing or
// broken folders (modelPaths) and the server's choice of model (server/engine/resolveModel) all
// read it through this module. Unknown facts are `null` in the manifest, never guessed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { MAX_RENDER_SIDE, MIN_RENDER_SIDE, RENDER_SIDE_MULTIPLE } from '../protocol/limits';
import { EXECUTION_PROVIDERS } from './executionProviders';
import { CONTROL_KINDS, type ControlKind } from './renderParams';
import type { VaeKind } from './VaeFolder';

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits');
const repoName = z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'repo must be "owner/name"');
const relativePath = z
  .string()
  .min(1)
  .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'path must be relative and stay inside the folder');

export const PresetFileSchema = z.object({
  /** Path inside the installed folder, '/'-separated; also the path inside the repo unless `from` says otherwise. */
  path: relativePath,
  /** The file comes from another repo (one of the preset's `sources`), at this path there: e.g. a
   * ControlNet installed as controlnet/scribble/model.onnx from a repo that keeps it elsewhere. */
  from: z.object({ repo: repoName, path: relativePath }).optional(),
  /** Exact byte size, or null when not published. */
  size: z.number().int().nonnegative().nullable(),
  sha256: sha256.nullable(),
  /** Human size as the hub displays it, for --list when the exact size is unknown. */
  approxSize: z.string().optional(),
  /** Skip quietly when the hub answers 404 (the file list was not fully known). */
  optional: z.boolean().optional(),
});

export const LicenceSchema = z.object({
  id: z.string(),
  url: z.string().url().nullable(),
  nonCommercial: z.boolean(),
  notes: z.string().optional(),
});

const VaeFactsSchema = z.object({ class: z.enum(['AutoencoderKL', 'AutoencoderTiny']), scalingFactor: z.number().positive() });

/** The ControlNets a preset's folder has, in the engine's two layouts: `separate` = a UNet with
 * residual inputs and controlnet/<kind>/model.onnx per kind; `fused` = a UNet taking
 * controlnet_images/controlnet_scales, its kinds in this order in unet/controlnet.json. */
const ControlNetFactsSchema = z.object({
  layout: z.enum(['separate', 'fused']),
  kinds: z.array(z.enum(CONTROL_KINDS as [ControlKind, ...ControlKind[]])).min(1),
});

/** Another repo some of a hub preset's files come from (`from.repo`), with its own pin and licence. */
export const PresetSourceSchema = z.object({
  /** What the preset takes from it. */
  description: z.string(),
  /** Commit sha (preferred) or branch name. */
  revision: z.string().min(1),
  revisionNote: z.string().optional(),
  licence: LicenceSchema,
  notes: z.array(z.string()).default([]),
});

const common = {
  description: z.string(),
  kind: z.enum(['lcm', 'turbo', 'vae']),
  licence: LicenceSchema,
  /** Execution providers the model runs on; the downloader refuses others. */
  executionProviders: z.array(z.enum(EXECUTION_PROVIDERS)).min(1),
  /** Why the model cannot run on other providers and what to do instead. */
  epRefusal: z.string().optional(),
  /** Settings the model's authors suggest, for people reading the manifest. No code reads them:
   * live frames and `npm run img2img` both start from lib/canvas/liveFrame.ts's defaults. */
  defaults: z
    .object({
      size: z.number().int().min(MIN_RENDER_SIDE).max(MAX_RENDER_SIDE).multipleOf(RENDER_SIDE_MULTIPLE),
      steps: z.number().int().min(1).max(8),
      strength: z.number().min(0).max(1),
      guidance: z.number().min(0).max(20),
    })
    .optional(),
  vae: VaeFactsSchema.optional(),
  controlnet: ControlNetFactsSchema.optional(),
  combine: z.string().optional(),
  notes: z.array(z.string()).default([]),
};

export const HubPresetSchema = z.object({
  ...common,
  source: z.literal('hub'),
  repo: repoName,
  /** Commit sha (preferred) or branch name. */
  revision: z.string().min(1),
  revisionNote: z.string().optional(),
  /** Approximate total download in bytes, for --list when per-file sizes are incomplete (from the
   * hub's listing or the notes; shown with "≈"). */
  approxTotalBytes: z.number().int().positive().optional(),
  files: z.array(PresetFileSchema).min(1),
  /** Other repos that files come from (`from.repo`), keyed by repo. */
  sources: z.record(repoName, PresetSourceSchema).optional(),
});

export const GeneratedPresetSchema = z.object({ ...common, source: z.literal('generated') });

export const PresetSchema = z.discriminatedUnion('source', [HubPresetSchema, GeneratedPresetSchema]);

export const ManifestSchema = z
  .object({
    version: z.literal(1),
    presets: z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'preset names are lowercase words with - . _'), PresetSchema),
  })
  .superRefine((m, ctx) => {
    for (const [name, p] of Object.entries(m.presets)) {
      const issue = (message: string, ...path: (string | number)[]) => ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['presets', name, ...path], message });
      if (p.source !== 'hub') continue;
      const paths = new Set<string>();
      p.files.forEach((f, i) => {
        if (paths.has(f.path)) issue(`${f.path} is listed twice`, 'files', i, 'path');
        paths.add(f.path);
        if (f.from && !p.sources?.[f.from.repo]) issue(`${f.from.repo} is not one of the preset's sources`, 'files', i, 'from', 'repo');
      });
      for (const repo of Object.keys(p.sources ?? {})) {
        if (repo === p.repo) issue('the preset\'s own repo is not another source', 'sources', repo);
        else if (!p.files.some((f) => f.from?.repo === repo)) issue('no file comes from this source', 'sources', repo);
      }
      if (p.controlnet?.layout === 'separate') {
        for (const kind of p.controlnet.kinds) {
          if (!paths.has(`controlnet/${kind}/model.onnx`)) issue(`the separate layout needs controlnet/${kind}/model.onnx in files`, 'controlnet', 'kinds');
        }
      } else if (p.controlnet?.layout === 'fused' && !paths.has('unet/controlnet.json')) {
        issue('the fused layout needs unet/controlnet.json in files', 'controlnet', 'layout');
      }
    }
  });

export type PresetFile = z.infer<typeof PresetFileSchema>;
export type PresetSource = z.infer<typeof PresetSourceSchema>;
export type HubPreset = z.infer<typeof HubPresetSchema> & { name: string };
export type GeneratedPreset = z.infer<typeof GeneratedPresetSchema> & { name: string };
export type Preset = HubPreset | GeneratedPreset;
export type Manifest = z.infer<typeof ManifestSchema>;

/** models/presets.json: data next to the code (lib/ reads it, it does not import models/). */
export const DEFAULT_MANIFEST = join(import.meta.dirname, '..', '..', 'models', 'presets.json');

/** Reads and validates a manifest; errors name the file and the offending key. */
export function loadManifest(path = DEFAULT_MANIFEST): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read preset manifest ${path}: ${(err as Error).message}`);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid preset manifest ${path}: ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data;
}

export function listPresets(manifest: Manifest = loadManifest()): Preset[] {
  return Object.entries(manifest.presets).map(([name, p]) => ({ ...p, name }) as Preset);
}

export function getPreset(name: string, manifest: Manifest = loadManifest()): Preset {
  const p = manifest.presets[name];
  if (!p) throw new Error(`unknown preset "${name}"; known presets: ${Object.keys(manifest.presets).join(', ')}`);
  return { ...p, name } as Preset;
}

let shipped: Manifest | null | undefined;

/** The shipped manifest, read once. Null when it is missing or invalid: then the engine and the
 * server treat every folder as a plain folder (their messages only lose a download hint), and the
 * downloader, which reads it with loadManifest, reports the problem. */
function shippedManifest(): Manifest | null {
  if (shipped === undefined) {
    try {
      shipped = loadManifest();
    } catch {
      shipped = null;
    }
  }
  return shipped;
}

/** 'hub' for a downloadable preset, 'generated' for a tiny test model, undefined for any other name. */
export function presetSource(name: string): 'hub' | 'generated' | undefined {
  return shippedManifest()?.presets[name]?.source;
}

/** A preset's VAE in the engine's words (VaeFolder's VaeKind): 'taesd' for an AutoencoderTiny,
 * 'kl' for SD's AutoencoderKL, which is also what a preset without `vae` facts has. */
export function presetVaeKind(p: Pick<Preset, 'vae'>): VaeKind {
  return p.vae?.class === 'AutoencoderTiny' ? 'taesd' : 'kl';
}

/** What a model folder is, from its two facts: the pipeline kind ('lcm' | 'turbo', or 'vae' for a
 * folder holding only a VAE) and the VAE. SD's own VAE goes unsaid; any other is named:
 * 'turbo + taesd VAE' is a Turbo pipeline whose VAE is an AutoencoderTiny, 'taesd VAE only' a VAE
 * to combine with a pipeline. The engine's reading of a folder (ModelFolder.kind, .vaeKind) gives
 * the same words for the same folder. */
export function kindLabel(kind: Preset['kind'], vae: VaeKind): string {
  if (kind === 'vae') return `${vae} VAE only`;
  return vae === 'kl' ? kind : `${kind} + ${vae} VAE`;
}

/** kindLabel of a preset, from its manifest facts (`kind` and `vae`). */
export function presetKind(p: Pick<Preset, 'kind' | 'vae'>): string {
  return kindLabel(p.kind, presetVaeKind(p));
}
