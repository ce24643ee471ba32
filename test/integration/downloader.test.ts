// The preset downloader end to end against a local mock of the hub serving a generated tiny model:
// what lands on disk, what went over the wire, and what a person is told when it goes wrong.
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { downloadPreset, DownloadError, readStamp, STAMP_FILE, type DownloadOptions } from '../../models/download';
import { LineProgress } from '../../models/progress';
import { ManifestSchema, type Manifest } from '../../lib/diffusion/presets';
import { generateTinyModel } from '../../models/tiny/generate';
import { tinyVariant } from '../../models/tiny/variants';
import { MockHub, type MockHubOptions } from '../helpers/mock-hub';
import { runScript } from '../helpers/cli';

const root = join(import.meta.dirname, '..', '..');
/** the tiny models test/global-setup.ts generates */
const LOCAL_MODELS = join(root, 'models', 'local');
const REPO = 'acme/tiny-lcm-onnx';
const REVISION = '0123456789abcdef0123456789abcdef01234567';
const BIG = 'unet/model.onnx_data';

let work: string;
let served: string;
const hubs: MockHub[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'lc-download-'));
  served = join(work, 'served');
  await generateTinyModel(tinyVariant('tiny-lcm'), served);
  served = join(served, 'tiny-lcm');
});

afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.stop()));
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

async function startHub(opts: Partial<MockHubOptions> = {}) {
  const hub = new MockHub({ root: served, repo: REPO, revision: REVISION, ...opts });
  await hub.start();
  hubs.push(hub);
  return hub;
}

/** A manifest with one hub preset listing every served file (sizes and sha256 as published). */
function manifestFor(hub: MockHub, tweak: { withoutSha?: string[]; extra?: object[]; nonCommercial?: boolean; revision?: string; kind?: string; vae?: object } = {}): Manifest {
  return ManifestSchema.parse({
    version: 1,
    presets: {
      'tiny-remote': {
        description: 'tiny LCM served by the mock hub',
        kind: tweak.kind ?? 'lcm',
        source: 'hub',
        repo: REPO,
        revision: tweak.revision ?? REVISION,
        ...(tweak.vae ? { vae: tweak.vae } : {}),
        files: [
          ...hub.listing().map((f) => ({ path: f.path, size: f.size, sha256: tweak.withoutSha?.includes(f.path) ? null : f.sha256 })),
          ...(tweak.extra ?? []),
        ],
        licence: { id: tweak.nonCommercial ? 'test-nc' : 'MIT', url: null, nonCommercial: !!tweak.nonCommercial },
        executionProviders: ['cpu'],
      },
    },
  });
}

function freshDir() {
  return mkdtempSync(join(work, 'models-'));
}

function options(hub: MockHub, dir: string, extra: Partial<DownloadOptions> = {}): DownloadOptions {
  return { preset: 'tiny-remote', dir, ep: 'cpu', manifest: manifestFor(hub), endpoint: hub.url, token: '', retryDelayMs: 5, ...extra };
}

function expectIdentical(dir: string, hub: MockHub) {
  for (const f of hub.listing()) {
    expect(readFileSync(join(dir, f.path)).equals(readFileSync(join(served, f.path))), f.path).toBe(true);
  }
}

/** models/download-cli.ts with no Hugging Face token or endpoint of the user's own */
const runCli = (args: string[], env: Record<string, string>) => runScript('models/download-cli.ts', args, { HF_TOKEN: '', HF_ENDPOINT: '', ...env });

describe('downloading a preset from the hub', () => {
  it('downloads every file byte-identical through the CDN redirect and moves the folder into place', async () => {
    const hub = await startHub({ redirect: true });
    const dir = freshDir();
    const lines: string[] = [];
    const result = await downloadPreset(options(hub, dir, { progress: new LineProgress({ write: (s: string) => lines.push(s) }) }));

    expect(result.dir).toBe(join(dir, 'tiny-remote'));
    expectIdentical(result.dir, hub);
    expect(readdirSync(dir)).toEqual(['tiny-remote']); // no .partial left behind
    const stamp = await readStamp(result.dir);
    expect(stamp).toMatchObject({ preset: 'tiny-remote', kind: 'lcm', repo: REPO, revision: REVISION, commit: REVISION, endpoint: hub.url, executionProviders: ['cpu'] });
    expect(stamp!.files.map((f) => f.path).sort()).toEqual(hub.listing().map((f) => f.path).sort());
    expect(existsSync(join(result.dir, STAMP_FILE))).toBe(true);

    // LFS files went hub → 302 → CDN; small files came straight from the hub.
    const big = hub.requests.filter((r) => r.path.endsWith(BIG));
    expect(big.map((r) => r.status)).toEqual([302, 200]);
    expect(big[1].path).toMatch(/^\/cdn\/[0-9a-f]{64}\//);
    expect(hub.requests.find((r) => r.path.endsWith('model_index.json'))!.status).toBe(200);
    expect(lines.join('')).toContain(`${BIG}: done`);

    // The downloaded folder is a working model folder: ORT loads the UNet with its external data.
    const ort = await import('onnxruntime-node');
    const unet = await ort.InferenceSession.create(join(result.dir, 'unet', 'model.onnx'));
    expect(unet.inputNames).toContain('timestep_cond');

    // A second run finds the same revision installed and sends nothing.
    const before = hub.requests.length;
    const again = await downloadPreset(options(hub, dir));
    expect(again.alreadyInstalled).toBe(true);
    expect(hub.requests.length).toBe(before);
  });

  it('resumes an interrupted file with a Range request instead of starting over', async () => {
    const hub = await startHub({ redirect: true });
    const size = hub.listing().find((f) => f.path === BIG)!.size;
    const dir = freshDir();

    // Run 1: the connection drops after 20 000 bytes and no retry is allowed — the person is told to re-run.
    hub.cutOnce(BIG, 20_000);
    const failed = await downloadPreset(options(hub, dir, { maxAttempts: 1 })).catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(DownloadError);
    expect((failed as DownloadError).code).toBe('network');
    expect((failed as Error).message).toMatch(/unet\/model\.onnx_data: .*Run the same command again to resume/);
    expect(existsSync(join(dir, 'tiny-remote'))).toBe(false);
    expect(existsSync(join(dir, 'tiny-remote.partial', `${BIG}.part`))).toBe(true);

    // Run 2: the same command picks up where it stopped.
    const result = await downloadPreset(options(hub, dir));
    expectIdentical(result.dir, hub);
    const cdn = hub.requests.filter((r) => r.path.startsWith('/cdn/') && r.path.endsWith(BIG));
    expect(cdn).toHaveLength(2);
    expect(cdn[0].range).toBeNull();
    expect(cdn[1].range).toMatch(/^bytes=(\d+)-$/);
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(cdn[1].range!)![1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(20_000);
    expect(cdn[1].status).toBe(206);
    const transferred = cdn.reduce((s, r) => s + r.bytesSent, 0);
    expect(transferred).toBeLessThan(2 * size);
    expect(transferred).toBe(size + (20_000 - resumedAt)); // nothing but the unflushed tail is sent twice
    // Files finished in run 1 were not fetched again.
    expect(hub.requests.filter((r) => r.path.endsWith('model_index.json'))).toHaveLength(1);
  });

  it('retries a dropped connection within one run, resuming from the received bytes', async () => {
    const hub = await startHub();
    hub.cutOnce(BIG, 30_000);
    const dir = freshDir();
    const retries: string[] = [];
    const progress = new LineProgress({ write: (s: string) => retries.push(s) });
    const result = await downloadPreset(options(hub, dir, { progress }));
    expectIdentical(result.dir, hub);
    const reqs = hub.requests.filter((r) => r.path.endsWith(BIG));
    expect(reqs).toHaveLength(2);
    expect(reqs[1].range).toMatch(/^bytes=\d+-$/);
    expect(retries.join('')).toMatch(/unet\/model\.onnx_data: .*retrying \(attempt 2\)/);
  });

  it('rejects a checksum mismatch with a clear error, deletes the bad file and installs nothing', async () => {
    const hub = await startHub();
    hub.serveWrongBytes('text_encoder/model.onnx');
    const dir = freshDir();
    const err = await downloadPreset(options(hub, dir)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).code).toBe('checksum');
    expect((err as Error).message).toMatch(/^text_encoder\/model\.onnx: sha256 mismatch — expected [0-9a-f]{64} \(models\/presets\.json\), got [0-9a-f]{64}\. The bad download was deleted and nothing was installed/);
    expect(existsSync(join(dir, 'tiny-remote'))).toBe(false);
    expect(existsSync(join(dir, 'tiny-remote.partial', 'text_encoder', 'model.onnx.part'))).toBe(false);
    expect(existsSync(join(dir, 'tiny-remote.partial', 'text_encoder', 'model.onnx'))).toBe(false);
  });

  it('verifies against the hub X-Linked-Etag when the manifest has no sha256', async () => {
    const hub = await startHub({ redirect: true });
    hub.serveWrongBytes(BIG);
    const dir = freshDir();
    const err = await downloadPreset(options(hub, dir, { manifest: manifestFor(hub, { withoutSha: [BIG] }) })).catch((e: unknown) => e);
    expect((err as DownloadError).code).toBe('checksum');
    expect((err as Error).message).toContain('(the hub)');

    hub.serveWrongBytes(BIG, false);
    const ok = await downloadPreset(options(hub, dir, { manifest: manifestFor(hub, { withoutSha: [BIG] }) }));
    expect(ok.files.find((f) => f.path === BIG)!.verifiedAgainst).toBe('hub');
    expectIdentical(ok.dir, hub);
  });

  it('skips a missing optional file but fails clearly on a missing required one', async () => {
    const hub = await startHub();
    const dir = freshDir();
    const extra = [{ path: 'unet/extra_optional.bin', size: null, sha256: null, optional: true }];
    const result = await downloadPreset(options(hub, dir, { manifest: manifestFor(hub, { extra }) }));
    expect(result.skipped).toEqual(['unet/extra_optional.bin']);

    const required = [{ path: 'unet/required.bin', size: null, sha256: null }];
    const err = await downloadPreset(options(hub, freshDir(), { manifest: manifestFor(hub, { extra: required }) })).catch((e: unknown) => e);
    expect((err as DownloadError).code).toBe('not-found');
    expect((err as Error).message).toContain(`unet/required.bin is not in ${REPO} at revision ${REVISION} (HTTP 404`);
  });
});

describe('branch revisions, replacing an install, VAE presets', () => {
  const C1 = '1111111111111111111111111111111111111111';
  const C2 = '2222222222222222222222222222222222222222';

  it('resolves a branch once: the rest of the files come from the commit the hub named, which the stamp records', async () => {
    const hub = await startHub({ revision: 'main', commit: C1, redirect: true });
    const result = await downloadPreset(options(hub, freshDir(), { manifest: manifestFor(hub, { revision: 'main' }) }));
    expectIdentical(result.dir, hub);
    expect(result.commit).toBe(C1);
    expect(await readStamp(result.dir)).toMatchObject({ revision: 'main', commit: C1 });
    const hubPaths = hub.requests.filter((r) => !r.path.startsWith('/cdn/')).map((r) => r.path);
    expect(hubPaths[0]).toContain(`/${REPO}/resolve/main/`);
    expect(hubPaths.slice(1).every((p) => p.startsWith(`/${REPO}/resolve/${C1}/`))).toBe(true);
  });

  it('refuses to resume a partial download after its branch moved to another commit; --force starts over', async () => {
    const hub = await startHub({ revision: 'main', commit: C1, redirect: true });
    const dir = freshDir();
    const manifest = manifestFor(hub, { revision: 'main' });
    hub.cutOnce(BIG, 20_000);
    const failed = await downloadPreset(options(hub, dir, { manifest, maxAttempts: 1 })).catch((e: unknown) => e);
    expect((failed as DownloadError).code).toBe('network');

    hub.setCommit(C2); // someone pushed to main
    const before = hub.requests.length;
    const moved = await downloadPreset(options(hub, dir, { manifest })).catch((e: unknown) => e);
    expect(moved).toBeInstanceOf(DownloadError);
    expect((moved as DownloadError).code).toBe('revision-moved');
    expect((moved as Error).message).toBe(
      `tiny-remote: ${REPO} at "main" is now commit ${C2}, but the partial download in ${join(dir, 'tiny-remote.partial')} came from ${C1}; its files would mix two commits, so it was not resumed. Run again with --force to discard it and download ${C2}.`,
    );
    expect(hub.requests.slice(before).filter((r) => r.path.startsWith('/cdn/'))).toHaveLength(0); // no bytes fetched
    expect(existsSync(join(dir, 'tiny-remote'))).toBe(false);
    expect(existsSync(join(dir, 'tiny-remote.partial', `${BIG}.part`))).toBe(true);

    const fresh = await downloadPreset(options(hub, dir, { manifest, force: true }));
    expectIdentical(fresh.dir, hub);
    expect((await readStamp(fresh.dir))!.commit).toBe(C2);
  });

  it('replaces an existing install in place (--force) and puts back an install left renamed away by a crash', async () => {
    const hub = await startHub();
    const dir = freshDir();
    await downloadPreset(options(hub, dir));
    const first = (await readStamp(join(dir, 'tiny-remote')))!.installedAt;
    const again = await downloadPreset(options(hub, dir, { force: true }));
    expect(again.alreadyInstalled).toBe(false);
    expectIdentical(again.dir, hub);
    expect((await readStamp(again.dir))!.installedAt).not.toBe(first);
    expect(readdirSync(dir)).toEqual(['tiny-remote']); // the old copy is gone, nothing half-moved

    // a run killed between "old folder renamed away" and "new folder renamed in"
    renameSync(join(dir, 'tiny-remote'), join(dir, 'tiny-remote.replaced-4242'));
    const requests = hub.requests.length;
    const recovered = await downloadPreset(options(hub, dir));
    expect(recovered.alreadyInstalled).toBe(true);
    expect(hub.requests.length).toBe(requests);
    expect(readdirSync(dir)).toEqual(['tiny-remote']);
    expectIdentical(join(dir, 'tiny-remote'), hub);
  });

  it('a VAE-only preset gets config.json files from its manifest facts and works as the vae of a pipeline', async () => {
    // the taesd repo's layout: two model.onnx files and nothing else
    const servedVae = join(work, 'served-vae');
    for (const part of ['vae_encoder', 'vae_decoder']) cpSync(join(LOCAL_MODELS, 'tiny-taesd', part, 'model.onnx'), join(servedVae, part, 'model.onnx'));
    const hub = new MockHub({ root: servedVae, repo: REPO, revision: REVISION });
    await hub.start();
    hubs.push(hub);
    const manifest = manifestFor(hub, { kind: 'vae', vae: { class: 'AutoencoderTiny', scalingFactor: 1 } });
    const dir = freshDir();
    const result = await downloadPreset(options(hub, dir, { manifest }));
    for (const part of ['vae_encoder', 'vae_decoder']) {
      expect(JSON.parse(readFileSync(join(result.dir, part, 'config.json'), 'utf8'))).toMatchObject({ _class_name: 'AutoencoderTiny', scaling_factor: 1 });
    }
    expect(await readStamp(result.dir)).toMatchObject({ kind: 'vae', vae: { class: 'AutoencoderTiny', scalingFactor: 1 } });

    const { Img2ImgPipeline } = await import('../../lib/diffusion/Img2ImgPipeline');
    const input = { data: new Uint8Array(128 * 128 * 3).map((_, i) => (i * 7) & 255), width: 128, height: 128 };
    const params = { prompt: 'a boat', strength: 0.6, steps: 2, seed: 3, width: 128, height: 128 };
    const combined = await Img2ImgPipeline.load(join(LOCAL_MODELS, 'tiny-turbo'), { threads: 1, vae: 'tiny-remote', modelsDir: dir });
    const reference = await Img2ImgPipeline.load(join(LOCAL_MODELS, 'tiny-taesd'), { threads: 1 });
    try {
      expect(combined.info).toMatchObject({ vae: 'tiny-remote', vaeKind: 'taesd', latentScale: 1, vaeFactsFrom: 'config' });
      const a = await combined.run(input, params);
      const b = await reference.run(input, params);
      expect(Buffer.from(a.image.data).equals(Buffer.from(b.image.data))).toBe(true);
    } finally {
      await combined.dispose();
      await reference.dispose();
    }
    const asModel = await Img2ImgPipeline.load(result.dir).catch((e: Error) => e);
    expect((asModel as Error).message).toMatch(/^tiny-remote is a VAE only: use --vae tiny-remote with a pipeline preset/);
  });
});

describe('refusals and credentials', () => {
  it('refuses sd-turbo for the CPU before touching the network, explaining how to proceed', async () => {
    const err = await downloadPreset({ preset: 'sd-turbo', dir: freshDir(), ep: 'cpu', endpoint: 'http://127.0.0.1:9' }).catch((e: unknown) => e);
    expect((err as DownloadError).code).toBe('execution-provider');
    expect((err as Error).message).toMatch(/refusing to download sd-turbo for --ep cpu\..*CUDA.*--ep cuda/);

    const cli = await runCli(['sd-turbo'], {});
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/^models:download: refusing to download sd-turbo for --ep cpu/);
  });

  it('points generated presets at npm run models:tiny', async () => {
    const err = await downloadPreset({ preset: 'tiny-lcm', dir: freshDir(), ep: 'cpu' }).catch((e: unknown) => e);
    expect((err as DownloadError).code).toBe('generated');
    expect((err as Error).message).toContain('npm run models:tiny');
  });

  it('sends HF_TOKEN as a bearer token to the hub only, and says what to do without it', async () => {
    const hub = await startHub({ token: 'hf_test_secret', redirect: true });
    const noToken = await downloadPreset(options(hub, freshDir())).catch((e: unknown) => e);
    expect((noToken as DownloadError).code).toBe('auth');
    expect((noToken as Error).message).toMatch(/HTTP 401.*set HF_TOKEN/);

    // Through the CLI, so HF_ENDPOINT and HF_TOKEN come from the environment.
    const manifestPath = join(work, 'manifest-token.json');
    writeFileSync(manifestPath, JSON.stringify(manifestFor(hub)));
    const dir = freshDir();
    hub.requests.length = 0;
    const cli = await runCli(['tiny-remote', '--manifest', manifestPath, '--dir', dir], { HF_TOKEN: 'hf_test_secret', HF_ENDPOINT: hub.url });
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toContain(`tiny-remote: installed in ${join(dir, 'tiny-remote')}`);
    expectIdentical(join(dir, 'tiny-remote'), hub);
    const hubRequests = hub.requests.filter((r) => !r.path.startsWith('/cdn/'));
    const cdnRequests = hub.requests.filter((r) => r.path.startsWith('/cdn/'));
    expect(hubRequests.length).toBeGreaterThan(0);
    expect(hubRequests.every((r) => r.authorization === 'Bearer hf_test_secret')).toBe(true);
    expect(cdnRequests.length).toBeGreaterThan(0);
    expect(cdnRequests.every((r) => r.authorization === null)).toBe(true);
  });

  it('asks for --yes before downloading a non-commercial preset when there is no terminal', async () => {
    const hub = await startHub();
    const manifestPath = join(work, 'manifest-nc.json');
    writeFileSync(manifestPath, JSON.stringify(manifestFor(hub, { nonCommercial: true })));
    const dir = freshDir();
    const refused = await runCli(['tiny-remote', '--manifest', manifestPath, '--dir', dir], { HF_ENDPOINT: hub.url });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain('licence test-nc');
    expect(refused.stderr).toMatch(/non-commercial licence \(test-nc\).*re-run with --yes/);
    expect(hub.requests).toHaveLength(0);

    const accepted = await runCli(['tiny-remote', '--manifest', manifestPath, '--dir', dir, '--yes'], { HF_ENDPOINT: hub.url });
    expect(accepted.code).toBe(0);
    expectIdentical(join(dir, 'tiny-remote'), hub);
  });
});
