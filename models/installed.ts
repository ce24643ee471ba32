// Whether a preset is installed in a models folder, as `npm run models:download -- --list` reports
// it. A downloaded preset is installed when <dir>/<preset> carries the stamp the downloader writes
// only after every file was verified (.livecanvas-preset.json), for the manifest's repo and
// revision, and every stamped file is still there at its stamped size (sizes only: hashing
// gigabytes is what the download did). A generated tiny model is installed when
// `npm run models:tiny` wrote its model_index.json.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readPresetStamp } from '../lib/diffusion/presetStamp';
import type { Preset } from '../lib/diffusion/presets';

export type InstallState = 'yes' | 'no' | 'partial' | 'incomplete' | 'outdated' | 'unverified';

/** What each state other than yes/no means and what to do about it (the --list footnotes). */
export const INSTALL_STATE_NOTES: Record<Exclude<InstallState, 'yes' | 'no'>, string> = {
  partial: 'a download was interrupted; download the preset again to resume it',
  incomplete: 'files of the install are missing or changed size; download it again with --force',
  outdated: 'installed from another repo or revision; download the preset again to replace it',
  unverified: "a folder without the downloader's stamp (copied by hand); download the preset to get a verified one",
};

const sizeOf = (path: string): number | null => {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
};

export function installState(preset: Preset, modelsDir: string): InstallState {
  const dir = join(modelsDir, preset.name);
  if (preset.source === 'generated') return existsSync(join(dir, 'model_index.json')) ? 'yes' : 'no';
  const stamp = readPresetStamp(dir);
  if (!stamp) {
    // the downloader renames <preset>.partial to <preset> only once every file is verified
    if (existsSync(`${dir}.partial`)) return 'partial';
    return existsSync(dir) ? 'unverified' : 'no';
  }
  if (stamp.preset !== preset.name || stamp.repo !== preset.repo || stamp.revision !== preset.revision) return 'outdated';
  return stamp.files.every((f) => sizeOf(join(dir, f.path)) === f.size) ? 'yes' : 'incomplete';
}
