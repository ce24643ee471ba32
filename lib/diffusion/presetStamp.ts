// The `.livecanvas-preset.json` stamp that `npm run models:download` writes into every folder it
// installs: where the files came from and the preset facts the files themselves do not carry
// (the taesd repo ships no config.json, sd-turbo's fused graphs only run on CUDA). The engine reads
// it at load; a folder without a stamp (exported or copied by hand) is judged by its files alone.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const STAMP_FILE = '.livecanvas-preset.json';

export interface StampedFile {
  path: string;
  size: number;
  sha256: string;
  /** where the expected checksum came from, or null when nothing could be verified */
  verifiedAgainst: 'manifest' | 'hub' | null;
}

export interface PresetStamp {
  preset: string;
  /** 'vae' = a VAE only (taesd), not a pipeline; absent in stamps written before it existed */
  kind?: 'lcm' | 'turbo' | 'vae';
  repo: string;
  /** the revision the manifest asked for: a commit sha or a branch such as "main" */
  revision: string;
  /** the commit the hub resolved it to (X-Repo-Commit), when the hub said */
  commit?: string;
  endpoint: string;
  licence: string;
  /** the other repos files came from (a preset's `sources`): revision asked for, commit served, licence */
  sources?: Record<string, { revision: string; commit?: string; licence: string }>;
  installedAt: string;
  vae?: { class: 'AutoencoderKL' | 'AutoencoderTiny'; scalingFactor: number };
  /** execution providers the preset runs on; the engine refuses others */
  executionProviders?: string[];
  /** why it cannot run elsewhere and what to do instead (shown with the refusal) */
  epRefusal?: string;
  files: StampedFile[];
}

/** The stamp of `folder`, or null when there is none or it is unreadable (then the folder is
 * treated like any hand-made one). */
export function readPresetStamp(folder: string): PresetStamp | null {
  let text: string;
  try {
    text = readFileSync(join(folder, STAMP_FILE), 'utf8');
  } catch {
    return null;
  }
  try {
    const v = JSON.parse(text);
    return v && typeof v === 'object' && typeof v.preset === 'string' ? (v as PresetStamp) : null;
  } catch {
    return null;
  }
}
