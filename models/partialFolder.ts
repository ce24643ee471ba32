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
  /** the commit the files came from, when the hub said */
  commit: string | null;
}

/** Files already verified in `partialDir` for this preset's repo and revision (none otherwise). */
export async function readVerified(partialDir: string, hub: HubPreset): Promise<VerifiedFiles> {
  try {
    const data = JSON.parse(await readFile(join(partialDir, VERIFIED_FILE), 'utf8'));
    // Files verified for another revision are not trusted.
    if (data.repo !== hub.repo || data.revision !== hub.revision) return { files: new Map(), commit: null };
    return { files: new Map((data.files as InstalledFile[]).map((f) => [f.path, f])), commit: typeof data.commit === 'string' ? data.commit : null };
  } catch {
    return { files: new Map(), commit: null };
  }
}

/** Records the verified files (and the commit they came from) so an interrupted run resumes. */
export async function saveVerified(partialDir: string, hub: HubPreset, v: VerifiedFiles): Promise<void> {
  await writeFile(join(partialDir, VERIFIED_FILE), JSON.stringify({ repo: hub.repo, revision: hub.revision, commit: v.commit, files: [...v.files.values()] }, null, 2));
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
