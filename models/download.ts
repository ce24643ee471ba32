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
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { STAMP_FILE, type PresetStamp, type StampedFile } from '../lib/diffusion/presetStamp';
import { getPreset, loadManifest, type HubPreset, type Manifest, type Preset, type PresetFile } from '../lib/diffusion/presets';

export { STAMP_FILE, type PresetStamp };
export const DEFAULT_ENDPOINT = 'https://huggingface.co';
const VERIFIED_FILE = '.livecanvas-verified.json';

export type DownloadErrorCode =
  | 'unknown-preset'
  | 'generated'
  | 'execution-provider'
  | 'licence'
  | 'auth'
  | 'not-found'
  | 'http'
  | 'network'
  | 'size'
  | 'checksum'
  | 'revision-moved';

/** A failure a person can act on: the message says what happened and what to do. */
export class DownloadError extends Error {
  constructor(
    readonly code: DownloadErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

export interface DownloadProgress {
  /** Called once; totalBytes is null when some file sizes are unknown until requested. */
  start(info: { preset: string; files: number; totalBytes: number | null }): void;
  fileStart(info: { path: string; size: number | null; resumeFrom: number }): void;
  /** Newly received bytes of the current file (fileStart's resumeFrom counts as already there). */
  advance(bytes: number): void;
  fileDone(info: { path: string; size: number; skipped?: 'installed' | 'missing-optional' }): void;
  retry(info: { path: string; attempt: number; reason: string }): void;
  stop(): void;
}

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

export type InstalledFile = StampedFile;

export interface DownloadResult {
  dir: string;
  alreadyInstalled: boolean;
  files: InstalledFile[];
  skipped: string[];
  /** the commit the files came from, when the hub said (X-Repo-Commit) */
  commit?: string;
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

  const { licence } = hub;
  log(`${hub.name}: ${hub.repo}@${hub.revision} — licence ${licence.id}${licence.url ? ` (${licence.url})` : ''}${licence.nonCommercial ? ', NON-COMMERCIAL' : ''}`);
  if (licence.notes) log(`  ${licence.notes}`);
  if (licence.nonCommercial && !opts.yes) {
    const accepted = opts.confirmLicence ? await opts.confirmLicence(hub) : false;
    if (!accepted) {
      throw new DownloadError(
        'licence',
        opts.confirmLicence
          ? `${hub.name}: licence ${licence.id} not accepted; nothing was downloaded`
          : `${hub.name} is under a non-commercial licence (${licence.id}${licence.url ? `, ${licence.url}` : ''}) and there is no terminal to ask: re-run with --yes to accept it`,
      );
    }
  }

  const finalDir = join(opts.dir, hub.name);
  await recoverInterruptedReplace(opts.dir, hub.name);
  const stamp = await readStamp(finalDir);
  if (stamp && stamp.repo === hub.repo && stamp.revision === hub.revision && !opts.force) {
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

  const ctx: FileContext = {
    hub,
    endpoint,
    token,
    partialDir,
    progress,
    maxAttempts: opts.maxAttempts ?? 5,
    retryDelayMs: opts.retryDelayMs ?? 1000,
    commit: null,
    partialCommit: partial.commit,
    saveProgress: () =>
      writeFile(join(partialDir, VERIFIED_FILE), JSON.stringify({ repo: hub.repo, revision: hub.revision, commit: ctx.commit, files: [...verified.values()] }, null, 2)),
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
      const result = await downloadFile(ctx, file);
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
  const commit = ctx.commit ?? partial.commit ?? undefined;
  const newStamp: PresetStamp = {
    preset: hub.name,
    kind: hub.kind,
    repo: hub.repo,
    revision: hub.revision,
    ...(commit ? { commit } : {}),
    endpoint,
    licence: hub.licence.id,
    installedAt: new Date().toISOString(),
    ...(hub.vae ? { vae: hub.vae } : {}),
    executionProviders: [...hub.executionProviders],
    ...(hub.epRefusal ? { epRefusal: hub.epRefusal } : {}),
    files: installed,
  };
  await writeFile(join(partialDir, STAMP_FILE), JSON.stringify(newStamp, null, 2) + '\n');
  await rm(join(partialDir, VERIFIED_FILE), { force: true });
  await moveIntoPlace(partialDir, finalDir);
  return { dir: finalDir, alreadyInstalled: false, files: installed, skipped, ...(commit ? { commit } : {}) };
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

export async function readStamp(folder: string): Promise<PresetStamp | null> {
  try {
    return JSON.parse(await readFile(join(folder, STAMP_FILE), 'utf8')) as PresetStamp;
  } catch {
    return null;
  }
}

const REPLACED = '.replaced-';

/** Replaces finalDir with the complete partialDir using renames only: a reader sees the old
 * folder or the new one, never a mix. The old folder is renamed away first and deleted only once
 * the new one is in place; if the second rename fails the old one goes back. (Linux cannot swap
 * two directories in one rename, and Node has no renameat2(RENAME_EXCHANGE), so between the two
 * renames — microseconds — the name is briefly absent; a crash right there is undone by
 * recoverInterruptedReplace on the next run.) */
async function moveIntoPlace(partialDir: string, finalDir: string) {
  if (!existsSync(finalDir)) {
    await rename(partialDir, finalDir);
    return;
  }
  const old = `${finalDir}${REPLACED}${process.pid}`;
  await rm(old, { recursive: true, force: true });
  await rename(finalDir, old);
  try {
    await rename(partialDir, finalDir);
  } catch (err) {
    await rename(old, finalDir);
    throw err;
  }
  await rm(old, { recursive: true, force: true });
}

/** A run that died between moveIntoPlace's two renames left `<preset>.replaced-<pid>` and no
 * `<preset>`: put the old install back. */
async function recoverInterruptedReplace(dir: string, name: string) {
  const finalDir = join(dir, name);
  if (existsSync(finalDir)) return;
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  const left = entries.find((e) => e.startsWith(`${name}${REPLACED}`));
  if (left) await rename(join(dir, left), finalDir);
}

async function readVerified(partialDir: string, hub: HubPreset): Promise<{ files: Map<string, InstalledFile>; commit: string | null }> {
  try {
    const data = JSON.parse(await readFile(join(partialDir, VERIFIED_FILE), 'utf8'));
    // Files verified for another revision are not trusted.
    if (data.repo !== hub.repo || data.revision !== hub.revision) return { files: new Map(), commit: null };
    return { files: new Map((data.files as InstalledFile[]).map((f) => [f.path, f])), commit: typeof data.commit === 'string' ? data.commit : null };
  } catch {
    return { files: new Map(), commit: null };
  }
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
  } catch {
    return null;
  }
}

interface FileContext {
  hub: HubPreset;
  endpoint: string;
  token: string | undefined;
  partialDir: string;
  progress: DownloadProgress;
  maxAttempts: number;
  retryDelayMs: number;
  /** the commit this run downloads, from the hub's first X-Repo-Commit */
  commit: string | null;
  /** the commit the partial download on disk came from, when it recorded one */
  partialCommit: string | null;
  saveProgress: () => Promise<void>;
}

/** A failure worth another attempt (the next one resumes from the bytes on disk). */
class RetryableError extends Error {}

async function downloadFile(ctx: FileContext, file: PresetFile): Promise<InstalledFile | 'missing-optional'> {
  const target = join(ctx.partialDir, file.path);
  const part = `${target}.part`;
  await mkdir(dirname(target), { recursive: true });
  for (let attempt = 1; ; attempt++) {
    try {
      const result = await attemptFile(ctx, file, part);
      if (result === 'missing-optional') return result;
      await rename(part, target);
      return result;
    } catch (err) {
      if (!(err instanceof RetryableError) || attempt >= ctx.maxAttempts) {
        if (err instanceof RetryableError) {
          throw new DownloadError('network', `${file.path}: ${err.message}; gave up after ${attempt} attempts. Run the same command again to resume from the bytes already received.`);
        }
        throw err;
      }
      ctx.progress.retry({ path: file.path, attempt: attempt + 1, reason: err.message });
      await sleep(Math.min(ctx.retryDelayMs * 2 ** (attempt - 1), 10_000));
    }
  }
}

async function attemptFile(ctx: FileContext, file: PresetFile, part: string): Promise<InstalledFile | 'missing-optional'> {
  const { hub } = ctx;
  // once the hub has resolved a branch to a commit, fetch everything else at that commit
  const revision = ctx.commit ?? hub.revision;
  const url = `${ctx.endpoint}/${hub.repo}/resolve/${encodeURIComponent(revision)}/${file.path.split('/').map(encodeURIComponent).join('/')}`;
  let offset = (await sizeOf(part)) ?? 0;
  if (file.size !== null && offset > file.size) {
    await truncate(part, 0);
    offset = 0;
  }

  const { response, linkedSize, linkedEtag } = await request(url, offset, ctx);
  const status = response.status;
  if (status === 404) {
    await response.body?.cancel();
    if (file.optional) return 'missing-optional';
    throw new DownloadError('not-found', `${file.path} is not in ${hub.repo} at revision ${hub.revision} (HTTP 404 from ${ctx.endpoint}); the preset manifest may be out of date`);
  }
  if (status === 401 || status === 403) {
    await response.body?.cancel();
    throw new DownloadError(
      'auth',
      `${ctx.endpoint} refused ${hub.repo} (HTTP ${status}): ${ctx.token ? 'the token in HF_TOKEN has no access — accept the model terms on its page or use another token' : 'this repo needs a token — set HF_TOKEN to a Hugging Face access token'}`,
    );
  }
  if (status === 429 || status >= 500) {
    await response.body?.cancel();
    throw new RetryableError(`HTTP ${status} from ${new URL(response.url || url).host}`);
  }

  let expectedSize = file.size;
  const checkSize = (hubSize: number | null, what: string) => {
    if (hubSize === null) return;
    if (expectedSize !== null && hubSize !== expectedSize) {
      throw new DownloadError('size', `${file.path}: the manifest says ${expectedSize} bytes but ${what} says ${hubSize}; the file changed at revision ${hub.revision}, so nothing was installed. Update models/presets.json.`);
    }
    expectedSize = hubSize;
  };
  checkSize(linkedSize, 'the hub (X-Linked-Size)');

  if (status === 416) {
    // Nothing left to send: either the .part is already complete or it is garbage.
    await response.body?.cancel();
    const total = parseContentRangeTotal(response.headers.get('content-range'));
    checkSize(total, 'the hub (Content-Range)');
    if (expectedSize === null || offset !== expectedSize) {
      await rm(part, { force: true });
      throw new RetryableError(`the server rejected resuming at byte ${offset}; starting ${file.path} over`);
    }
  } else if (status === 206) {
    const range = parseContentRange(response.headers.get('content-range'));
    if (!range || range.start !== offset) {
      await response.body?.cancel();
      await rm(part, { force: true });
      throw new RetryableError(`the server answered a different range than asked (${response.headers.get('content-range')}); starting over`);
    }
    checkSize(range.total, 'the hub (Content-Range)');
  } else if (status === 200) {
    if (offset > 0) {
      // The server ignored Range: start the file over.
      await truncate(part, 0);
      offset = 0;
    }
    const length = response.headers.get('content-length');
    if (length !== null && !response.headers.get('content-encoding')) checkSize(Number(length), 'the hub (Content-Length)');
  } else {
    await response.body?.cancel();
    throw new DownloadError('http', `${file.path}: unexpected HTTP ${status} from ${response.url || url}`);
  }

  ctx.progress.fileStart({ path: file.path, size: expectedSize, resumeFrom: offset });

  // Hash what is already on disk, then the new bytes as they arrive.
  const hash = createHash('sha256');
  if (offset > 0) {
    for await (const chunk of createReadStream(part, { end: offset - 1 })) hash.update(chunk as Buffer);
  }
  let received = offset;
  if (status !== 416 && response.body) {
    const meter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        hash.update(chunk);
        received += chunk.length;
        ctx.progress.advance(chunk.length);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), meter, createWriteStream(part, { flags: offset > 0 ? 'a' : 'w' }));
    } catch (err) {
      throw new RetryableError(`connection lost after ${received} bytes (${(err as Error).message})`);
    }
  }

  if (expectedSize !== null && received < expectedSize) {
    throw new RetryableError(`transfer ended early at ${received} of ${expectedSize} bytes`);
  }
  if (expectedSize !== null && received > expectedSize) {
    await rm(part, { force: true });
    throw new DownloadError('size', `${file.path}: received ${received} bytes, expected ${expectedSize}; the bad download was deleted and nothing was installed`);
  }

  const digest = hash.digest('hex');
  const expectedSha = file.sha256 ?? linkedEtag;
  const source = file.sha256 ? 'manifest' : linkedEtag ? 'hub' : null;
  if (expectedSha && digest !== expectedSha) {
    await rm(part, { force: true });
    throw new DownloadError(
      'checksum',
      `${file.path}: sha256 mismatch — expected ${expectedSha} (${source === 'manifest' ? 'models/presets.json' : 'the hub'}), got ${digest}. The bad download was deleted and nothing was installed; run the command again to retry, and if it fails again the server (${ctx.endpoint}) is sending different bytes than expected.`,
    );
  }
  ctx.progress.fileDone({ path: file.path, size: received });
  return { path: file.path, size: received, sha256: digest, verifiedAgainst: expectedSha ? source : null };
}

/** GET with Range, following redirects by hand so that the hub's own response (which carries
 * X-Linked-Size / X-Linked-Etag) is seen and the token never leaves the hub's origin. */
async function request(url: string, offset: number, ctx: FileContext) {
  const hubOrigin = new URL(ctx.endpoint).origin;
  let current = url;
  let linkedSize: number | null = null;
  let linkedEtag: string | null = null;
  for (let hop = 0; hop < 10; hop++) {
    const headers: Record<string, string> = { 'user-agent': 'livecanvas-models/1', 'accept-encoding': 'identity' };
    if (offset > 0) headers.range = `bytes=${offset}-`;
    if (ctx.token && new URL(current).origin === hubOrigin) headers.authorization = `Bearer ${ctx.token}`;
    let response: Response;
    try {
      response = await fetch(current, { headers, redirect: 'manual' });
    } catch (err) {
      const cause = (err as { cause?: Error }).cause;
      throw new RetryableError(`cannot reach ${new URL(current).host}: ${cause?.message ?? (err as Error).message}`);
    }
    const size = response.headers.get('x-linked-size');
    if (size !== null && linkedSize === null) linkedSize = Number(size);
    const etag = normaliseEtag(response.headers.get('x-linked-etag'));
    if (etag && linkedEtag === null) linkedEtag = etag;
    // only the hub's own answer says which commit it serves (a CDN hop never does); checked
    // before following its redirect, so no byte of another commit is fetched
    const commit = response.headers.get('x-repo-commit')?.trim().toLowerCase();
    if (commit && /^[0-9a-f]{40}$/.test(commit)) {
      try {
        await noteCommit(ctx, commit);
      } catch (err) {
        await response.body?.cancel();
        throw err;
      }
    }
    if ([301, 302, 303, 307, 308].includes(response.status)) {
      const location = response.headers.get('location');
      await response.body?.cancel();
      if (!location) throw new DownloadError('http', `redirect without Location from ${current}`);
      current = new URL(location, current).toString();
      continue;
    }
    // A direct LFS answer carries the sha256 as its ETag.
    if (linkedEtag === null && response.ok) linkedEtag = normaliseEtag(response.headers.get('etag'));
    return { response, linkedSize, linkedEtag };
  }
  throw new DownloadError('http', `too many redirects for ${url}`);
}

/** Records the commit the hub serves; refuses to continue a partial download from another one. */
async function noteCommit(ctx: FileContext, commit: string): Promise<void> {
  if (ctx.commit === commit) return;
  const { hub } = ctx;
  const previous = ctx.commit ?? ctx.partialCommit;
  if (previous && previous !== commit) {
    throw new DownloadError(
      'revision-moved',
      `${hub.name}: ${hub.repo} at "${hub.revision}" is now commit ${commit}, but the partial download in ${ctx.partialDir} came from ${previous}; its files would mix two commits, so it was not resumed. Run again with --force to discard it and download ${commit}.`,
    );
  }
  ctx.commit = commit;
  await ctx.saveProgress();
}

/** The hub quotes ETags and, for LFS files, uses the sha256 of the content. */
function normaliseEtag(etag: string | null): string | null {
  if (!etag) return null;
  const v = etag.replace(/^W\//, '').replace(/"/g, '').toLowerCase();
  return /^[0-9a-f]{64}$/.test(v) ? v : null;
}

function parseContentRange(h: string | null): { start: number; end: number; total: number | null } | null {
  const m = h && /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(h.trim());
  if (!m) return null;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? null : Number(m[3]) };
}

function parseContentRangeTotal(h: string | null): number | null {
  const m = h && /\/(\d+)$/.exec(h.trim());
  return m ? Number(m[1]) : null;
}

function sleep(ms: number) {
  return new Promise((r) => setTimeout(r, ms));
}
