// Downloads a hub preset into <dir>/<preset>/, resumably and verifiably.
//
// Plain fetch (Node's undici) rather than @huggingface/hub: its downloadFile() returns a Blob with
// no way to append to a partial file from an offset, and it hides the first (redirect) response,
// whose X-Linked-Size / X-Linked-Etag headers are the only size and sha256 the hub publishes for
// LFS files we have no manifest checksum for. Doing the few HTTP steps ourselves gives us Range
// resume, those headers, and Authorization only towards the hub itself (never to the CDN).
//
// Layout while downloading:  <dir>/<preset>.partial/<path>.part   bytes received so far
//                            <dir>/<preset>.partial/<path>        verified files
//                            <dir>/<preset>.partial/.livecanvas-verified.json
// When every file is verified the stamp is written and the whole folder is renamed to
// <dir>/<preset>, so a model folder is either complete or absent.
//
// A preset pinned to a branch ("main") is resolved to a commit by the hub's first answer
// (X-Repo-Commit); the rest of the files are fetched at that commit, the commit is recorded in
// the partial folder and the stamp, and a partial download whose branch has since moved is not
// resumed (its files would mix two commits).
//
// A preset may take some files from other repos (`sources`, each file's `from`): e.g. a UNet
// exported with ControlNet residual inputs and the ControlNets themselves, installed as
// unet/model.onnx and controlnet/<kind>/model.onnx. Each repo is pinned, resolved and recorded
// on its own, with its licence shown before anything is fetched; the files go through the same
// resume, retry and verification as the preset's own.
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readPresetStamp, STAMP_FILE, type PresetStamp } from '../lib/diffusion/presetStamp';
import { getPreset, loadManifest, type HubPreset, type Manifest, type Preset } from '../lib/diffusion/presets';
import { downloadFile, type FileContext, type SourceState } from './downloadFile';
import { DownloadError, type DownloadProgress } from './downloadTypes';
import { stampMatches } from './installed';
import { dropVerified, moveIntoPlace, readVerified, recoverInterruptedReplace, saveVerified, sizeOf, type InstalledFile } from './partialFolder';

export { STAMP_FILE, type PresetStamp };
export { DownloadError, type DownloadErrorCode, type DownloadProgress } from './downloadTypes';
export type { InstalledFile } from './partialFolder';
export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface DownloadOptions {
  preset: string;
  /** Parent folder of the installed preset folders (MODELS_DIR). */
  dir: string;
  /** Execution provider the model will run on; presets that cannot run there are refused. */
  ep: string;
  manifest?: Manifest;
  /** Hub base URL; defaults to $HF_ENDPOINT or https://huggingface.co. */
  endpoint?: string;
  /** Bearer token; defaults to $HF_TOKEN. */
  token?: string;
  /** Accept a non-commercial licence without asking. */
  yes?: boolean;
  /** Asked for non-commercial licences when `yes` is not set; absent = cannot ask (no TTY). */
  confirmLicence?: (preset: HubPreset) => Promise<boolean>;
  /** Lines for the person (licence text, skips); defaults to nothing. */
  log?: (line: string) => void;
  progress?: DownloadProgress;
  /** Re-download even when the same revision is installed, discarding any partial download. */
  force?: boolean;
  /** Attempts per file for network failures, truncation and 5xx/429 (default 5). */
  maxAttempts?: number;
  /** First retry delay; doubles per attempt, capped at 10 s (default 1000 ms). */
  retryDelayMs?: number;
}


export interface DownloadResult {
  dir: string;
  alreadyInstalled: boolean;
  files: InstalledFile[];
  skipped: string[];
  /** the commit the files came from, when the hub said (X-Repo-Commit) */
  commit?: string;
  /** the commit each other source's files came from, when the hub said */
  sourceCommits?: Record<string, string>;
}

/** The non-commercial licences among a preset's and its sources'. */
export function nonCommercialLicences(hub: HubPreset): HubPreset['licence'][] {
  return [hub.licence, ...Object.values(hub.sources ?? {}).map((s) => s.licence)].filter((l) => l.nonCommercial);
}

const noProgress: DownloadProgress = { start() {}, fileStart() {}, advance() {}, fileDone() {}, retry() {}, stop() {} };

/** Refuses presets that must not or cannot be downloaded here; returns the hub preset otherwise. */
export function checkDownloadable(preset: Preset, ep: string): HubPreset {
  if (preset.source === 'generated') {
    throw new DownloadError(
      'generated',
      `${preset.name} is generated locally, not downloaded: run \`npm run models:tiny\` (it writes models/local/${preset.name})`,
    );
  }
  if (!(preset.executionProviders as string[]).includes(ep)) {
    const why = preset.epRefusal ?? `it runs on: ${preset.executionProviders.join(', ')}`;
    throw new DownloadError('execution-provider', `refusing to download ${preset.name} for --ep ${ep}. ${why}`);
  }
  return preset;
}

export async function downloadPreset(opts: DownloadOptions): Promise<DownloadResult> {
  const manifest = opts.manifest ?? loadManifest();
  let preset: Preset;
  try {
    preset = getPreset(opts.preset, manifest);
  } catch (err) {
    throw new DownloadError('unknown-preset', (err as Error).message);
  }
  const hub = checkDownloadable(preset, opts.ep);
  const log = opts.log ?? (() => {});
  const endpoint = (opts.endpoint ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  const token = opts.token ?? process.env.HF_TOKEN ?? undefined;

  const licenceLine = (l: HubPreset['licence']) => `licence ${l.id}${l.url ? ` (${l.url})` : ''}${l.nonCommercial ? ', NON-COMMERCIAL' : ''}`;
  log(`${hub.name}: ${hub.repo}@${hub.revision} — ${licenceLine(hub.licence)}`);
  if (hub.licence.notes) log(`  ${hub.licence.notes}`);
  for (const [repo, source] of Object.entries(hub.sources ?? {})) {
    log(`  + ${repo}@${source.revision} (${source.description}) — ${licenceLine(source.licence)}`);
    if (source.licence.notes) log(`    ${source.licence.notes}`);
  }
  const nc = nonCommercialLicences(hub)[0];
  if (nc && !opts.yes) {
    const accepted = opts.confirmLicence ? await opts.confirmLicence(hub) : false;
    if (!accepted) {
      throw new DownloadError(
        'licence',
        opts.confirmLicence
          ? `${hub.name}: licence ${nc.id} not accepted; nothing was downloaded`
          : `${hub.name} is under a non-commercial licence (${nc.id}${nc.url ? `, ${nc.url}` : ''}) and there is no terminal to ask: re-run with --yes to accept it`,
      );
    }
  }

  const finalDir = join(opts.dir, hub.name);
  await recoverInterruptedReplace(opts.dir, hub.name);
  const stamp = await readStamp(finalDir);
  if (stamp && stampMatches(stamp, hub) && !opts.force) {
    log(`${hub.name} is already installed at ${finalDir} (revision ${hub.revision}); use --force to download it again`);
    return { dir: finalDir, alreadyInstalled: true, files: stamp.files, skipped: [] };
  }

  const partialDir = join(opts.dir, `${hub.name}.partial`);
  if (opts.force) await rm(partialDir, { recursive: true, force: true });
  await mkdir(partialDir, { recursive: true });
  const partial = await readVerified(partialDir, hub);
  const verified = partial.files;
  const progress = opts.progress ?? noProgress;
  const total = hub.files.every((f) => f.size !== null) ? hub.files.reduce((s, f) => s + (f.size ?? 0), 0) : null;
  progress.start({ preset: hub.name, files: hub.files.length, totalBytes: total });

  // the preset's own repo and its other sources, each resolved to a commit on its own
  const sources = new Map<string, SourceState>();
  for (const [repo, revision] of [[hub.repo, hub.revision], ...Object.entries(hub.sources ?? {}).map(([r, s]) => [r, s.revision])]) {
    sources.set(repo, { repo, revision, commit: null, partialCommit: partial.commits.get(repo) ?? null });
  }
  /** the commit each repo's files came from, as far as the hub has said (this run or the partial one) */
  const commits = () => {
    const known = new Map<string, string>();
    for (const [repo, s] of sources) {
      const commit = s.commit ?? s.partialCommit;
      if (commit) known.set(repo, commit);
    }
    return known;
  };
  const ctx: FileContext = {
    preset: hub.name,
    endpoint,
    token,
    partialDir,
    progress,
    maxAttempts: opts.maxAttempts ?? 5,
    retryDelayMs: opts.retryDelayMs ?? 1000,
    saveProgress: () => saveVerified(partialDir, hub, { files: verified, commits: commits() }),
  };
  const installed: InstalledFile[] = [];
  const skipped: string[] = [];
  try {
    for (const file of hub.files) {
      const done = verified.get(file.path);
      if (done && (await sizeOf(join(partialDir, file.path))) === done.size) {
        installed.push(done);
        progress.fileDone({ path: file.path, size: done.size, skipped: 'installed' });
        continue;
      }
      const result = await downloadFile(ctx, sources.get(file.from?.repo ?? hub.repo)!, file);
      if (result === 'missing-optional') {
        skipped.push(file.path);
        log(`  ${file.path}: not in the repo (optional), skipped`);
        progress.fileDone({ path: file.path, size: 0, skipped: 'missing-optional' });
        continue;
      }
      installed.push(result);
      verified.set(file.path, result);
      await ctx.saveProgress();
    }
  } finally {
    progress.stop();
  }

  await writeVaeConfigs(partialDir, hub);
  const resolved = commits();
  const commit = resolved.get(hub.repo);
  const sourceCommits = Object.fromEntries([...resolved].filter(([repo]) => repo !== hub.repo));
  const stampSources = Object.entries(hub.sources ?? {}).map(([repo, s]) => [repo, { revision: s.revision, ...(sourceCommits[repo] ? { commit: sourceCommits[repo] } : {}), licence: s.licence.id }]);
  const newStamp: PresetStamp = {
    preset: hub.name,
    kind: hub.kind,
    repo: hub.repo,
    revision: hub.revision,
    ...(commit ? { commit } : {}),
    endpoint,
    licence: hub.licence.id,
    ...(hub.sources ? { sources: Object.fromEntries(stampSources) } : {}),
    installedAt: new Date().toISOString(),
    ...(hub.vae ? { vae: hub.vae } : {}),
    executionProviders: [...hub.executionProviders],
    ...(hub.epRefusal ? { epRefusal: hub.epRefusal } : {}),
    files: installed,
  };
  await writeFile(join(partialDir, STAMP_FILE), JSON.stringify(newStamp, null, 2) + '\n');
  await dropVerified(partialDir);
  await moveIntoPlace(partialDir, finalDir);
  return { dir: finalDir, alreadyInstalled: false, files: installed, skipped, ...(commit ? { commit } : {}), ...(hub.sources ? { sourceCommits } : {}) };
}

/** Repos that ship no config.json for their VAE halves (taesd, sd-turbo) get one written from the
 * manifest's `vae` facts: the engine reads class and scaling factor from there, and the facts then
 * travel with the folders if someone copies them into another model. */
async function writeVaeConfigs(partialDir: string, hub: HubPreset): Promise<void> {
  if (!hub.vae) return;
  for (const part of ['vae_encoder', 'vae_decoder']) {
    const listed = (rel: string) => hub.files.some((f) => f.path === `${part}/${rel}`);
    if (!listed('model.onnx') || listed('config.json')) continue;
    const config = {
      _class_name: hub.vae.class,
      scaling_factor: hub.vae.scalingFactor,
      _livecanvas_note: `written by npm run models:download from models/presets.json (${hub.repo} ships no ${part}/config.json)`,
    };
    await writeFile(join(partialDir, part, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  }
}

/** The stamp of an installed folder, or null (read the way the engine reads it). */
export async function readStamp(folder: string): Promise<PresetStamp | null> {
  return readPresetStamp(folder);
}
