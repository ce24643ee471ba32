// `npm run models:download -- --list` as a person runs it (node --import tsx models/download-cli.ts):
// the installed column for a real download from a mock hub and what can happen to it afterwards,
// and the kind and controlnet columns, which must say what the engine finds in the folder.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelFolder } from '../../lib/diffusion/ModelFolder';
import { kindLabel, listPresets, ManifestSchema, type Manifest } from '../../lib/diffusion/presets';
import { CONTROL_KINDS } from '../../lib/diffusion/renderParams';
import { downloadPreset, STAMP_FILE } from '../../models/download';
import { MockHub } from '../helpers/mock-hub';
import { runScript } from '../helpers/cli';

const root = join(import.meta.dirname, '..', '..');
/** the tiny models test/global-setup.ts generates */
const LOCAL_MODELS = join(root, 'models', 'local');
const REPO = 'acme/tiny-lcm-onnx';
const REVISION = '0123456789abcdef0123456789abcdef01234567';

let work: string;
let hub: MockHub;
beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'lc-list-'));
  hub = new MockHub({ root: join(LOCAL_MODELS, 'tiny-lcm'), repo: REPO, revision: REVISION });
  await hub.start();
});
afterAll(async () => {
  await hub.stop();
  rmSync(work, { recursive: true, force: true });
});

const runList = (args: string[]) => runScript('models/download-cli.ts', ['--list', ...args]);

/** The --list table as {preset: {column: cell}}; columns are separated by two or more spaces. */
async function listTable(args: string[]) {
  const r = await runList(args);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const [header, ...rows] = r.stdout.split('\n\n')[0].split('\n').map((l) => l.split(/ {2,}/));
  expect(header).toEqual(['preset', 'installed', 'kind', 'controlnet', 'size', 'licence', 'runs on', 'source']);
  const table: Record<string, Record<string, string>> = {};
  for (const row of rows) table[row[0]] = Object.fromEntries(header.map((h, i) => [h, row[i]]));
  return { table, footer: (r.stdout.split('\n\n')[1] ?? '').trimEnd() };
}

/** A manifest with the mock hub's tiny model as a hub preset and one generated preset, written to
 * `name` for the CLI's --manifest. */
function writeManifest(name: string, revision = REVISION): { path: string; manifest: Manifest } {
  const licence = { id: 'MIT', url: null, nonCommercial: false };
  const manifest = ManifestSchema.parse({
    version: 1,
    presets: {
      'tiny-remote': {
        description: 'tiny LCM served by the mock hub',
        kind: 'lcm',
        source: 'hub',
        repo: REPO,
        revision,
        files: hub.listing().map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })),
        licence,
        executionProviders: ['cpu'],
      },
      'tiny-made': { description: 'generated here', kind: 'turbo', source: 'generated', licence, executionProviders: ['cpu'] },
    },
  });
  const path = join(work, name);
  writeFileSync(path, JSON.stringify(manifest));
  return { path, manifest };
}

describe('models:download --list', () => {
  it('says whether <dir>/<preset> holds a complete, verified install, and what to do when it does not', async () => {
    const dir = join(work, 'models');
    mkdirSync(dir);
    const { path: manifestPath, manifest } = writeManifest('manifest.json');
    const installed = async (m = manifestPath) => {
      const { table, footer } = await listTable(['--manifest', m, '--dir', dir]);
      expect(footer).toContain(`installed: whether ${join(dir, '<preset>')} holds a complete, verified install`);
      return { remote: table['tiny-remote'].installed, made: table['tiny-made'].installed, footer };
    };
    expect(await installed()).toMatchObject({ remote: 'no', made: 'no' });

    mkdirSync(join(dir, 'tiny-remote.partial')); // what an interrupted download leaves
    mkdirSync(join(dir, 'tiny-made'));
    const partial = await installed();
    expect(partial).toMatchObject({ remote: 'partial', made: 'no' }); // a tiny model needs its model_index.json
    expect(partial.footer).toContain('partial: a download was interrupted; download the preset again to resume it');

    await downloadPreset({ preset: 'tiny-remote', dir, ep: 'cpu', manifest, endpoint: hub.url, token: '' });
    writeFileSync(join(dir, 'tiny-made', 'model_index.json'), '{}');
    const done = await installed();
    expect(done).toMatchObject({ remote: 'yes', made: 'yes' });
    expect(done.footer.split('\n')).toHaveLength(1); // no notes when everything is installed

    const moved = await installed(writeManifest('manifest-moved.json', 'f'.repeat(40)).path);
    expect(moved.remote).toBe('outdated');
    expect(moved.footer).toContain('outdated: installed from another repo or revision');

    truncateSync(join(dir, 'tiny-remote', 'unet', 'model.onnx_data'), 10);
    const damaged = await installed();
    expect(damaged.remote).toBe('incomplete');
    expect(damaged.footer).toContain('download it again with --force');

    rmSync(join(dir, 'tiny-remote', STAMP_FILE));
    const handMade = await installed();
    expect(handMade.remote).toBe('unverified');
    expect(handMade.footer).toContain("unverified: a folder without the downloader's stamp");
  });

  it('gives each preset the kind the engine finds in its folder: tiny-taesd is a Turbo pipeline with a taesd VAE', async () => {
    const { table } = await listTable(['--dir', LOCAL_MODELS]);
    expect(table['tiny-taesd'].kind).toBe('turbo + taesd VAE');
    expect(table['taesd'].kind).toBe('taesd VAE only');
    expect(table['tiny-lcm'].kind).toBe('lcm');
    expect(table['sd-turbo'].kind).toBe('turbo');
    for (const p of listPresets().filter((x) => x.source === 'generated')) {
      expect(table[p.name].installed, p.name).toBe('yes');
      const folder = ModelFolder.open(join(LOCAL_MODELS, p.name));
      expect(table[p.name].kind, p.name).toBe(kindLabel(folder.kind, folder.vaeKind));
    }
  });

  it('says which presets have ControlNets, in which layout, as their folders hold them', async () => {
    const { table, footer } = await listTable(['--dir', LOCAL_MODELS]);
    expect(table['lcm-dreamshaper-v7-controlnet']).toMatchObject({
      controlnet: 'separate: scribble, canny',
      licence: 'MIT + openrail',
      'runs on': 'cuda,dml',
      source: 'SimianLuo/LCM_Dreamshaper_v7 + 2 more',
    });
    for (const name of ['lcm-dreamshaper-v7', 'sdxs-512', 'taesd', 'sd-turbo']) expect(table[name].controlnet, name).toBe('-');
    expect(footer).toContain('controlnet: the ControlNets in the folder, by layout');
    // generated presets: the column against what npm run models:tiny wrote
    const onDisk = (name: string) => {
      const dir = join(LOCAL_MODELS, name);
      const fused = join(dir, 'unet', 'controlnet.json');
      if (existsSync(fused)) return `fused: ${(JSON.parse(readFileSync(fused, 'utf8')) as { kinds: string[] }).kinds.join(', ')}`;
      if (!existsSync(join(dir, 'controlnet'))) return '-';
      // in the engine's order of kinds (ControlNets.load lists them so)
      return `separate: ${CONTROL_KINDS.filter((k) => existsSync(join(dir, 'controlnet', k, 'model.onnx'))).join(', ')}`;
    };
    for (const p of listPresets().filter((x) => x.source === 'generated')) expect(table[p.name].controlnet, p.name).toBe(onDisk(p.name));
    expect(table['tiny-lcm-controlnet'].controlnet).toBe('separate: scribble, canny');
    expect(table['tiny-lcm-controlnet-fused'].controlnet).toBe('fused: canny, scribble');
  });

  it('gives an approximate total for presets whose file sizes are not all published', async () => {
    const { table } = await listTable([]);
    expect(table['sd-turbo'].size).toBe('≈ 2.58 GB');
    expect(table['sdxs-512'].size).toBe('≈ 3.01 GB');
    expect(table['taesd'].size).toBe('≈ 9.81 MB');
    expect(table['lcm-dreamshaper-v7'].size).toBe('≈ 4.27 GB');
    expect(table['lcm-dreamshaper-v7-controlnet'].size).toBe('≈ 4.02 GB');
    expect(Object.values(table).every((row) => !row.size.includes('unknown'))).toBe(true);
  });
});
