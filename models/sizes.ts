// Byte counts as the downloader shows them: the hub's human sizes ("3.44 GB") parsed, a preset's
// total estimated from what the manifest knows, and bytes formatted in decimal units.
import type { HubPreset } from '../lib/diffusion/presets';

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
