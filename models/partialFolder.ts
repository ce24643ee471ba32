// The partial folder of a download in progress (<dir>/<preset>.partial/) and how it becomes the
// installed folder: which files are verified already (so a rerun resumes, never re-fetches them),
// and the rename-only swap that makes a model folder either complete or absent.
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { StampedFile } from '../lib/diffusion/presetStamp';
import type { HubPreset } from '../lib/diffusion/presets';

export type InstalledFile = StampedFile;

const VERIFIED_FILE = '.livecanvas-verified.json';

export interface VerifiedFiles {
  files: Map<string, InstalledFile>;
  /** the commit the files of each repo came from (the preset's own repo and its sources), when the hub said */
  commits: Map<string, string>;
}

const nothing = (): VerifiedFiles => ({ files: new Map(), commits: new Map() });

/** Files already verified in `partialDir` for this preset's repos and revisions. A file whose repo
 * was recorded at another revision than the manifest's now is not trusted (nor is anything, when
 * the preset's own repo or revision changed). */
export async function readVerified(partialDir: string, hub: HubPreset): Promise<VerifiedFiles> {
  let data: { repo?: unknown; revision?: unknown; commit?: unknown; sources?: Record<string, { revision?: unknown; commit?: unknown }>; files?: InstalledFile[] };
  try {
    data = JSON.parse(await readFile(join(partialDir, VERIFIED_FILE), 'utf8'));
  } catch {
    return nothing();
  }
  if (data.repo !== hub.repo || data.revision !== hub.revision || !Array.isArray(data.files)) return nothing();
  const v = nothing();
  if (typeof data.commit === 'string') v.commits.set(hub.repo, data.commit);
  const sameRevision = new Set([hub.repo]);
  for (const [repo, source] of Object.entries(hub.sources ?? {})) {
    const recorded = data.sources?.[repo];
    if (recorded?.revision !== source.revision) continue;
    sameRevision.add(repo);
    if (typeof recorded.commit === 'string') v.commits.set(repo, recorded.commit);
  }
  for (const f of data.files) {
    const file = hub.files.find((x) => x.path === f.path);
    if (file && sameRevision.has(file.from?.repo ?? hub.repo)) v.files.set(f.path, f);
  }
  return v;
}

/** Records the verified files (and the commits they came from) so an interrupted run resumes. */
export async function saveVerified(partialDir: string, hub: HubPreset, v: VerifiedFiles): Promise<void> {
  const sources = Object.fromEntries(Object.entries(hub.sources ?? {}).map(([repo, s]) => [repo, { revision: s.revision, commit: v.commits.get(repo) ?? null }]));
  const record = { repo: hub.repo, revision: hub.revision, commit: v.commits.get(hub.repo) ?? null, ...(hub.sources ? { sources } : {}), files: [...v.files.values()] };
  await writeFile(join(partialDir, VERIFIED_FILE), JSON.stringify(record, null, 2));
}

/** The record of verified files goes once the folder is complete. */
export async function dropVerified(partialDir: string): Promise<void> {
  await rm(join(partialDir, VERIFIED_FILE), { force: true });
}

export async function sizeOf(path: string): Promise<number | null> {
  try {
    return (await stat(path)).size;
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
export async function moveIntoPlace(partialDir: string, finalDir: string) {
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
export async function recoverInterruptedReplace(dir: string, name: string) {
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
