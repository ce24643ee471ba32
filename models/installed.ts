// Whether a preset is installed in a models folder, as `npm run models:download -- --list` reports
// it. A downloaded preset is installed when <dir>/<preset> carries the stamp the downloader writes
// only after every file was verified (.livecanvas-preset.json), for the manifest's repo and
// revision, and every stamped file is still there at its stamped size (sizes only: hashing
// gigabytes is what the download did). A generated tiny model is installed when
// `npm run models:tiny` wrote its model_index.json.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readPresetStamp, type PresetStamp } from '../lib/diffusion/presetStamp';
import type { HubPreset, Preset } from '../lib/diffusion/presets';

export type InstallState = 'yes' | 'no' | 'partial' | 'incomplete' | 'outdated' | 'unverified';

/** What each state other than yes/no means and what to do about it (the --list footnotes). */
export const INSTALL_STATE_NOTES: Record<Exclude<InstallState, 'yes' | 'no'>, string> = {
  partial: 'a download was interrupted; download the preset again to resume it',
  incomplete: 'files of the install are missing or changed size; download it again with --force',
  outdated: 'installed from another repo or revision (of the preset or of a repo it takes files from); download the preset again to replace it',
  unverified: "a folder without the downloader's stamp (copied by hand); download the preset to get a verified one",
};

const sizeOf = (path: string): number | null => {
  try {
    return statSync(path).size;
  } catch {
    return null;
  }
};

/** Whether a stamp records the preset's repo and revision, and those of every other source its
 * files come from (a ControlNet repo pinned anew makes the install outdated). */
export function stampMatches(stamp: PresetStamp, preset: HubPreset): boolean {
  if (stamp.preset !== preset.name || stamp.repo !== preset.repo || stamp.revision !== preset.revision) return false;
  const want = Object.entries(preset.sources ?? {});
  if (Object.keys(stamp.sources ?? {}).length !== want.length) return false;
  return want.every(([repo, s]) => stamp.sources?.[repo]?.revision === s.revision);
}

export function installState(preset: Preset, modelsDir: string): InstallState {
  const dir = join(modelsDir, preset.name);
  if (preset.source === 'generated') return existsSync(join(dir, 'model_index.json')) ? 'yes' : 'no';
  const stamp = readPresetStamp(dir);
  if (!stamp) {
    // the downloader renames <preset>.partial to <preset> only once every file is verified
    if (existsSync(`${dir}.partial`)) return 'partial';
    return existsSync(dir) ? 'unverified' : 'no';
  }
  if (!stampMatches(stamp, preset)) return 'outdated';
  return stamp.files.every((f) => sizeOf(join(dir, f.path)) === f.size) ? 'yes' : 'incomplete';
}
