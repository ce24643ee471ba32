// npm run models:download -- <preset> [--ep cpu|cuda|coreml|dml|webgpu] [--dir models/local] [--yes]
// npm run models:download -- --list
import { Command } from 'commander';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { downloadPreset, DownloadError, nonCommercialLicences, type DownloadResult } from './download';
import { createProgress } from './progress';
import { EXECUTION_PROVIDERS } from '../lib/diffusion/executionProviders';
import { defaultModelsDir } from '../lib/diffusion/modelPaths';
import { DEFAULT_MANIFEST, listPresets, loadManifest, presetKind, type HubPreset, type Preset } from '../lib/diffusion/presets';
import { INSTALL_STATE_NOTES, installState, type InstallState } from './installed';
import { estimatedBytes, formatBytes } from './sizes';

function sizeLabel(p: Preset): string {
  if (p.source === 'generated') return 'generated';
  const { bytes, exact } = estimatedBytes(p);
  if (exact) return formatBytes(bytes);
  if (p.approxTotalBytes) return `≈ ${formatBytes(p.approxTotalBytes)}`;
  return `unknown (≥ ${formatBytes(bytes)})`;
}

/** The preset's ControlNets as --list shows them: 'separate: scribble, canny', or '-' for none. */
function controlNetLabel(p: Preset): string {
  return p.controlnet ? `${p.controlnet.layout}: ${p.controlnet.kinds.join(', ')}` : '-';
}

/** The preset's licence and, joined with '+', those of the other repos its files come from. */
function licenceLabel(p: Preset): string {
  const all = [p.licence, ...(p.source === 'hub' ? Object.values(p.sources ?? {}).map((s) => s.licence) : [])];
  const ids = [...new Set(all.map((l) => `${l.id}${l.nonCommercial ? ' (non-commercial)' : ''}`))];
  return ids.join(' + ');
}

function sourceLabel(p: Preset): string {
  if (p.source !== 'hub') return 'npm run models:tiny';
  const others = Object.keys(p.sources ?? {}).length;
  return others ? `${p.repo} + ${others} more` : p.repo;
}

function printList(presets: Preset[], modelsDir: string) {
  const states = presets.map((p) => installState(p, modelsDir));
  const rows = presets.map((p, i) => [
    p.name,
    states[i],
    presetKind(p),
    controlNetLabel(p),
    sizeLabel(p),
    licenceLabel(p),
    p.executionProviders.join(','),
    sourceLabel(p),
  ]);
  const header = ['preset', 'installed', 'kind', 'controlnet', 'size', 'licence', 'runs on', 'source'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  console.log(`\ninstalled: whether ${join(modelsDir, '<preset>')} holds a complete, verified install (--dir or MODELS_DIR to look elsewhere)`);
  if (presets.some((p) => p.controlnet)) {
    console.log('controlnet: the ControlNets in the folder, by layout (separate: a UNet with residual inputs + controlnet/<kind>/; fused: one UNet graph)');
  }
  for (const [state, note] of Object.entries(INSTALL_STATE_NOTES)) {
    if (states.includes(state as InstallState)) console.log(`  ${state}: ${note}`);
  }
}

async function askLicence(p: HubPreset): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const terms = nonCommercialLicences(p).map((l) => `${l.id} (non-commercial${l.url ? `, ${l.url}` : ''})`);
  try {
    const answer = await rl.question(`${p.name} is licensed ${terms.join(' and ')}. Accept and download? [y/N] `);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

// `--list | head` closes the pipe early; that is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

const program = new Command()
  .name('models:download')
  .description('Download a model preset from the Hugging Face hub into the models folder (resumable, verified)')
  .argument('[preset]', 'preset name (see --list)')
  .option('--ep <provider>', `execution provider the model will run on: ${EXECUTION_PROVIDERS.join(', ')}`, 'cpu')
  .option('--dir <dir>', 'models folder (one sub-folder per preset)', defaultModelsDir())
  .option('-y, --yes', 'accept a non-commercial licence without asking')
  .option('--force', 'download again even if the same revision is installed (discards a partial download)')
  .option('--list', 'list presets: installed in --dir or not, kind, size, licence')
  .option('--manifest <file>', 'preset manifest', DEFAULT_MANIFEST)
  .action(async (name: string | undefined, opts: { ep: string; dir: string; yes?: boolean; force?: boolean; list?: boolean; manifest: string }) => {
    const manifest = loadManifest(opts.manifest);
    if (opts.list) {
      printList(listPresets(manifest), resolve(opts.dir));
      return;
    }
    if (!name) throw new DownloadError('unknown-preset', `name a preset to download, e.g. \`npm run models:download -- lcm-dreamshaper-v7\`; see --list`);
    const started = Date.now();
    const result: DownloadResult = await downloadPreset({
      preset: name,
      dir: resolve(opts.dir),
      ep: opts.ep,
      manifest,
      yes: opts.yes,
      force: opts.force,
      confirmLicence: process.stdin.isTTY ? askLicence : undefined,
      log: (line) => console.log(line),
      progress: createProgress(process.stdout),
    });
    if (!result.alreadyInstalled) {
      const bytes = result.files.reduce((s, f) => s + f.size, 0);
      const unverified = result.files.filter((f) => f.verifiedAgainst === null).length;
      console.log(
        `${name}: installed in ${result.dir} (${formatBytes(bytes)}, ${((Date.now() - started) / 1000).toFixed(1)} s)` +
          (unverified ? `; ${unverified} small file(s) had no published checksum (size-checked only)` : ''),
      );
    }
  });

program.parseAsync().catch((err: Error) => {
  console.error(`models:download: ${err.message}`);
  process.exit(1);
});
