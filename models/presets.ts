// Typed, validated access to models/presets.json: which model folders exist, where they come
// from and under which licence. Unknown facts are `null` in the manifest, never guessed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'webgpu', 'dml', 'coreml'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'sha256 must be 64 lowercase hex digits');

export const PresetFileSchema = z.object({
  /** Path inside the repo, '/'-separated; also the path inside the installed folder. */
  path: z
    .string()
    .min(1)
    .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'path must be relative and stay inside the folder'),
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

const common = {
  description: z.string(),
  kind: z.enum(['lcm', 'turbo', 'vae']),
  licence: LicenceSchema,
  /** Execution providers the model runs on; the downloader refuses others. */
  executionProviders: z.array(z.enum(EXECUTION_PROVIDERS)).min(1),
  /** Why the model cannot run on other providers and what to do instead. */
  epRefusal: z.string().optional(),
  defaults: z
    .object({
      size: z.number().int().min(128).max(1024).multipleOf(64),
      steps: z.number().int().min(1).max(8),
      strength: z.number().min(0).max(1),
      guidance: z.number().min(0).max(20),
    })
    .optional(),
  vae: VaeFactsSchema.optional(),
  combine: z.string().optional(),
  notes: z.array(z.string()).default([]),
};

export const HubPresetSchema = z.object({
  ...common,
  source: z.literal('hub'),
  repo: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'repo must be "owner/name"'),
  /** Commit sha (preferred) or branch name. */
  revision: z.string().min(1),
  revisionNote: z.string().optional(),
  /** Approximate total download in bytes, for --list when per-file sizes are incomplete (from the
   * hub's listing or the notes; shown with "≈"). */
  approxTotalBytes: z.number().int().positive().optional(),
  files: z.array(PresetFileSchema).min(1),
});

export const GeneratedPresetSchema = z.object({ ...common, source: z.literal('generated') });

export const PresetSchema = z.discriminatedUnion('source', [HubPresetSchema, GeneratedPresetSchema]);

export const ManifestSchema = z.object({
  version: z.literal(1),
  presets: z.record(z.string().regex(/^[a-z0-9][a-z0-9._-]*$/, 'preset names are lowercase words with - . _'), PresetSchema),
});

export type PresetFile = z.infer<typeof PresetFileSchema>;
export type HubPreset = z.infer<typeof HubPresetSchema> & { name: string };
export type GeneratedPreset = z.infer<typeof GeneratedPresetSchema> & { name: string };
export type Preset = HubPreset | GeneratedPreset;
export type Manifest = z.infer<typeof ManifestSchema>;

export const DEFAULT_MANIFEST = join(import.meta.dirname, 'presets.json');

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

/** Sum of exact sizes, plus parsed approximate sizes where the exact one is unknown. */
export function estimatedBytes(preset: HubPreset): { bytes: number; exact: boolean } {
  let bytes = 0;
  let exact = true;
  for (const f of preset.files) {
    if (f.size !== null) bytes += f.size;
    else {
      exact = false;
      if (f.approxSize) bytes += parseHumanSize(f.approxSize);
    }
  }
  return { bytes, exact };
}

const UNITS: Record<string, number> = { b: 1, bytes: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12 };

/** "3.44 GB" → 3.44e9 (the hub uses decimal units). */
export function parseHumanSize(s: string): number {
  const m = /^\s*([\d.]+)\s*([a-z]+)\s*$/i.exec(s);
  const unit = m && UNITS[m[2].toLowerCase()];
  if (!m || !unit) throw new Error(`cannot parse size "${s}"`);
  return Math.round(parseFloat(m[1]) * unit);
}

export function formatBytes(n: number): string {
  if (n < 1e3) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : v < 100 ? 1 : 0)} ${units[i]}`;
}
