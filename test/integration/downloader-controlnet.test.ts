// A ControlNet preset downloaded from a mock hub: the preset's own repo (text encoder, VAE,
// tokenizer), a second repo whose controlnet/model.onnx is the UNet exported with residual inputs
// (TensorStack's layout, pinned to a branch) and a third whose controlnet/<kind>.onnx are the
// ControlNets (axodox's layout, pinned to a commit). The files must land in the engine's separate
// layout (unet/model.onnx, controlnet/<kind>/model.onnx), each repo resolved and recorded on its
// own, with the same resume and verification as any file.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Img2ImgPipeline } from '../../lib/diffusion/Img2ImgPipeline';
import { getPreset, ManifestSchema, type HubPreset, type Manifest } from '../../lib/diffusion/presets';
import { downloadPreset, DownloadError, readStamp, type DownloadOptions } from '../../models/download';
import { installState } from '../../models/installed';
import { MockHub } from '../helpers/mock-hub';

const LOCAL_MODELS = join(import.meta.dirname, '..', '..', 'models', 'local');
/** what the generated tiny-lcm-controlnet holds; the three repos below split it up */
const TINY = join(LOCAL_MODELS, 'tiny-lcm-controlnet');
const BASE_REPO = 'acme/lcm-onnx';
const BASE_REV = '0123456789abcdef0123456789abcdef01234567';
const UNET_REPO = 'acme/lcm-controlnet-unet';
const UNET_COMMIT = '1111111111111111111111111111111111111111';
const CN_REPO = 'acme/controlnet-onnx';
const CN_REV = 'abcdefabcdefabcdefabcdefabcdefabcdefabcd';
const CN_REV2 = 'fedcbafedcbafedcbafedcbafedcbafedcbafedc';
const KINDS = ['scribble', 'canny'] as const;

let work: string;
const hubs: MockHub[] = [];

/** Copies `from` (a file of the tiny model) to `to` under `root`. */
function put(root: string, from: string, to: string) {
  mkdirSync(dirname(join(root, to)), { recursive: true });
  cpSync(join(TINY, from), join(root, to));
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'lc-download-cn-'));
  const walk = (rel: string): string[] =>
    readdirSync(join(TINY, rel), { withFileTypes: true }).flatMap((e) =>
      e.name.startsWith('.') ? [] : e.isDirectory() ? walk(join(rel, e.name)) : [join(rel, e.name).split('\\').join('/')],
    );
  // the base repo: everything but the ControlNets and the UNet graph (as SimianLuo's repo, whose
  // own UNet has no residual inputs and is not downloaded)
  for (const f of walk('')) if (!f.startsWith('controlnet/') && !/^unet\/model\.onnx/.test(f)) put(join(work, 'base'), f, f);
  // the UNet repo keeps the residual-input UNet under controlnet/ and a plain one under unet/
  put(join(work, 'unet'), 'unet/model.onnx', 'controlnet/model.onnx');
  put(join(work, 'unet'), 'unet/model.onnx_data', 'controlnet/model.onnx_data');
  cpSync(join(LOCAL_MODELS, 'tiny-lcm', 'unet'), join(work, 'unet', 'unet'), { recursive: true, filter: (src) => !src.includes('.ort-cache') });
  for (const kind of KINDS) put(join(work, 'cn'), `controlnet/${kind}/model.onnx`, `controlnet/${kind}.onnx`);
});

afterEach(async () => {
  await Promise.all(hubs.splice(0).map((h) => h.stop()));
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

async function startHub(redirect = true) {
  const hub = new MockHub({
    root: join(work, 'base'),
    repo: BASE_REPO,
    revision: BASE_REV,
    redirect,
    lfsThreshold: 1000, // the tiny graphs are a few kB: serve them as LFS files, as the real ones are
    otherRepos: [
      { root: join(work, 'unet'), repo: UNET_REPO, revision: 'main', commit: UNET_COMMIT },
      { root: join(work, 'cn'), repo: CN_REPO, revision: CN_REV },
    ],
  });
  await hub.start();
  hubs.push(hub);
  return hub;
}

const licence = (id: string) => ({ id, url: null, nonCommercial: false });

/** The preset as models/presets.json would list it: sha256 for the ControlNets (published as LFS
 * pointers), none for the UNet (verified against the hub's X-Linked-Etag). */
function manifestFor(hub: MockHub, cnRevision = CN_REV, tweak: (p: Record<string, unknown>) => void = () => {}): Manifest {
  const cn = new Map(hub.listing(CN_REPO).map((f) => [f.path, f]));
  const preset: Record<string, unknown> = {
    description: 'tiny LCM with ControlNets from three repos',
    kind: 'lcm',
    source: 'hub',
    repo: BASE_REPO,
    revision: BASE_REV,
    controlnet: { layout: 'separate', kinds: [...KINDS] },
    sources: {
      [UNET_REPO]: { description: 'the residual-input UNet', revision: 'main', licence: licence('MIT') },
      [CN_REPO]: { description: 'the ControlNets', revision: cnRevision, licence: licence('openrail') },
    },
    files: [
      ...hub.listing().map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })),
      { path: 'unet/model.onnx', from: { repo: UNET_REPO, path: 'controlnet/model.onnx' }, size: null, sha256: null },
      { path: 'unet/model.onnx_data', from: { repo: UNET_REPO, path: 'controlnet/model.onnx_data' }, size: null, sha256: null },
      { path: 'controlnet/scribble/model.onnx', from: { repo: CN_REPO, path: 'controlnet/scribble.onnx' }, size: null, sha256: cn.get('controlnet/scribble.onnx')!.sha256 },
      { path: 'controlnet/canny/model.onnx', from: { repo: CN_REPO, path: 'controlnet/canny.onnx' }, size: cn.get('controlnet/canny.onnx')!.size, sha256: cn.get('controlnet/canny.onnx')!.sha256 },
    ],
    licence: licence('MIT'),
    executionProviders: ['cpu'],
  };
  tweak(preset);
  return ManifestSchema.parse({ version: 1, presets: { 'tiny-cn': preset } });
}

function options(hub: MockHub, dir: string, extra: Partial<DownloadOptions> = {}): DownloadOptions {
  return { preset: 'tiny-cn', dir, ep: 'cpu', manifest: manifestFor(hub), endpoint: hub.url, token: '', retryDelayMs: 5, ...extra };
}

const same = (a: string, b: string) => readFileSync(a).equals(readFileSync(b));

describe('downloading a ControlNet preset', () => {
  it('puts the ControlNets and the residual-input UNet from their own repos into the separate layout, which the engine loads', async () => {
    const hub = await startHub();
    const dir = mkdtempSync(join(work, 'models-'));
    const lines: string[] = [];
    const result = await downloadPreset(options(hub, dir, { log: (l) => lines.push(l) }));

    for (const kind of KINDS) expect(same(join(result.dir, 'controlnet', kind, 'model.onnx'), join(TINY, 'controlnet', kind, 'model.onnx')), kind).toBe(true);
    expect(same(join(result.dir, 'unet', 'model.onnx'), join(TINY, 'unet', 'model.onnx'))).toBe(true); // not the plain unet/ of that repo
    expect(same(join(result.dir, 'unet', 'model.onnx_data'), join(TINY, 'unet', 'model.onnx_data'))).toBe(true);
    expect(readdirSync(join(result.dir, 'controlnet')).sort()).toEqual(['canny', 'scribble']);
    expect(existsSync(join(result.dir, 'controlnet', 'model.onnx'))).toBe(false);

    // each repo at its own revision; the branch resolved once, the pinned commit as given
    const hubPaths = hub.requests.filter((r) => !r.path.startsWith('/cdn/')).map((r) => r.path);
    const unetPaths = hubPaths.filter((p) => p.startsWith(`/${UNET_REPO}/`));
    expect(unetPaths).toEqual([`/${UNET_REPO}/resolve/main/controlnet/model.onnx`, `/${UNET_REPO}/resolve/${UNET_COMMIT}/controlnet/model.onnx_data`]);
    expect(hubPaths.filter((p) => p.startsWith(`/${CN_REPO}/`)).sort()).toEqual(KINDS.map((k) => `/${CN_REPO}/resolve/${CN_REV}/controlnet/${k}.onnx`).sort());
    expect(result.sourceCommits).toEqual({ [UNET_REPO]: UNET_COMMIT, [CN_REPO]: CN_REV });

    const stamp = (await readStamp(result.dir))!;
    expect(stamp).toMatchObject({
      repo: BASE_REPO,
      commit: BASE_REV,
      sources: { [UNET_REPO]: { revision: 'main', commit: UNET_COMMIT, licence: 'MIT' }, [CN_REPO]: { revision: CN_REV, commit: CN_REV, licence: 'openrail' } },
    });
    const verified = Object.fromEntries(stamp.files.map((f) => [f.path, f.verifiedAgainst]));
    expect(verified).toMatchObject({ 'controlnet/scribble/model.onnx': 'manifest', 'controlnet/canny/model.onnx': 'manifest', 'unet/model.onnx': 'hub', 'unet/model.onnx_data': 'hub' });
    expect(lines.join('\n')).toContain(`+ ${CN_REPO}@${CN_REV} (the ControlNets) — licence openrail`);
    expect(installState(getPreset('tiny-cn', manifestFor(hub)), dir)).toBe('yes');

    const p = await Img2ImgPipeline.load(result.dir, { threads: 1 });
    const reference = await Img2ImgPipeline.load(TINY, { threads: 1 });
    try {
      expect(p.info.controlNet).toEqual({ layout: 'separate', kinds: ['scribble', 'canny'] });
      const input = { data: new Uint8Array(128 * 128 * 3).map((_, i) => ((i >> 5) & 1 ? 255 : 20)), width: 128, height: 128 };
      const params = { prompt: 'a fox', strength: 0.8, steps: 2, seed: 5, width: 128, height: 128, control: { kind: 'scribble' as const, scale: 1 } };
      expect(Buffer.from((await p.run(input, params)).image.data).equals(Buffer.from((await reference.run(input, params)).image.data))).toBe(true);
    } finally {
      await p.dispose();
      await reference.dispose();
    }

    const before = hub.requests.length;
    expect((await downloadPreset(options(hub, dir))).alreadyInstalled).toBe(true);
    expect(hub.requests.length).toBe(before);
  });

  it("checks a ControlNet against the manifest's sha256: a mismatch names the file and its repo, and nothing is installed", async () => {
    const hub = await startHub(false);
    hub.serveWrongBytes('controlnet/canny.onnx', true, CN_REPO);
    const dir = mkdtempSync(join(work, 'models-'));
    const err = await downloadPreset(options(hub, dir)).catch((e: unknown) => e);
    expect((err as DownloadError).code).toBe('checksum');
    expect((err as Error).message).toMatch(
      /^controlnet\/canny\/model\.onnx \(controlnet\/canny\.onnx in acme\/controlnet-onnx\): sha256 mismatch — expected [0-9a-f]{64} \(models\/presets\.json\)/,
    );
    expect(existsSync(join(dir, 'tiny-cn'))).toBe(false);
    expect(existsSync(join(dir, 'tiny-cn.partial', 'controlnet', 'canny', 'model.onnx.part'))).toBe(false);
  });

  it("resumes a ControlNet cut mid-transfer; pinning its repo anew makes an install outdated and a partial download's files from the old pin untrusted", async () => {
    const hub = await startHub();
    const dir = mkdtempSync(join(work, 'models-'));
    hub.cutOnce('controlnet/scribble.onnx', 3000, CN_REPO);
    const failed = await downloadPreset(options(hub, dir, { maxAttempts: 1 })).catch((e: unknown) => e);
    expect((failed as DownloadError).code).toBe('network');
    expect((failed as Error).message).toMatch(/^controlnet\/scribble\/model\.onnx: .*Run the same command again to resume/);

    const before = hub.requests.length;
    const result = await downloadPreset(options(hub, dir));
    const again = hub.requests.slice(before);
    const resumed = again.filter((r) => r.path.startsWith('/cdn/') && r.path.endsWith(`${CN_REPO}/controlnet/scribble.onnx`));
    expect(resumed).toHaveLength(1);
    expect(resumed[0]).toMatchObject({ status: 206, range: expect.stringMatching(/^bytes=[1-9]\d*-$/) });
    expect(again.some((r) => r.path.endsWith('text_encoder/model.onnx') || r.path.endsWith('controlnet/model.onnx'))).toBe(false); // verified in run 1
    expect(same(join(result.dir, 'controlnet', 'scribble', 'model.onnx'), join(TINY, 'controlnet', 'scribble', 'model.onnx'))).toBe(true);

    hub.setCommit(CN_REV2, CN_REPO); // the same files, now also at another commit
    const repinned = manifestFor(hub, CN_REV2);
    expect(installState(getPreset('tiny-cn', repinned), dir)).toBe('outdated');
    const updated = await downloadPreset(options(hub, dir, { manifest: repinned }));
    expect(updated.alreadyInstalled).toBe(false);
    expect((await readStamp(updated.dir))!.sources![CN_REPO]).toMatchObject({ revision: CN_REV2, commit: CN_REV2 });
    expect(installState(getPreset('tiny-cn', repinned), dir)).toBe('yes');

    // a partial download whose scribble was verified at CN_REV, continued with CN_REV2 pinned:
    // the scribble is fetched again at the new pin, the other repos' files are kept
    const dir2 = mkdtempSync(join(work, 'models-'));
    hub.cutOnce('controlnet/canny.onnx', 3000, CN_REPO);
    expect(((await downloadPreset(options(hub, dir2, { maxAttempts: 1 })).catch((e: unknown) => e)) as DownloadError).code).toBe('network');
    const mark = hub.requests.length;
    await downloadPreset(options(hub, dir2, { manifest: repinned }));
    const hubPaths = hub.requests.slice(mark).filter((r) => !r.path.startsWith('/cdn/')).map((r) => r.path);
    expect(hubPaths.sort()).toEqual(KINDS.map((k) => `/${CN_REPO}/resolve/${CN_REV2}/controlnet/${k}.onnx`).sort());
  });
});

describe('the manifest format for files from other repos', () => {
  const issue = (m: unknown) => {
    const r = ManifestSchema.safeParse(m);
    return r.success ? null : `${r.error.issues[0].path.join('.')}: ${r.error.issues[0].message}`;
  };

  it('refuses a file from an undeclared repo, an unused source and a ControlNet kind without its model', async () => {
    const hub = await startHub();
    const valid = manifestFor(hub);
    const preset = () => structuredClone(valid.presets['tiny-cn']) as HubPreset;
    const withPreset = (p: HubPreset) => ({ version: 1, presets: { 'tiny-cn': p } });
    expect(issue(valid)).toBeNull();

    const undeclared = preset();
    delete undeclared.sources![UNET_REPO];
    expect(issue(withPreset(undeclared))).toMatch(/^presets\.tiny-cn\.files\.\d+\.from\.repo: acme\/lcm-controlnet-unet is not one of the preset's sources$/);

    const unused = preset();
    unused.sources!['acme/unused'] = { description: 'nothing', revision: 'main', licence: licence('MIT'), notes: [] };
    expect(issue(withPreset(unused))).toBe('presets.tiny-cn.sources.acme/unused: no file comes from this source');

    const noCanny = preset();
    noCanny.files = noCanny.files.filter((f) => f.path !== 'controlnet/canny/model.onnx');
    expect(issue(withPreset(noCanny))).toBe('presets.tiny-cn.controlnet.kinds: the separate layout needs controlnet/canny/model.onnx in files');
  });

  it('the shipped ControlNet preset is refused for the CPU before any request, saying where it runs', async () => {
    const err = await downloadPreset({ preset: 'lcm-dreamshaper-v7-controlnet', dir: mkdtempSync(join(work, 'models-')), ep: 'cpu', endpoint: 'http://127.0.0.1:9' }).catch((e: unknown) => e);
    expect((err as DownloadError).code).toBe('execution-provider');
    expect((err as Error).message).toMatch(/^refusing to download lcm-dreamshaper-v7-controlnet for --ep cpu\. .*--ep cuda.*--ep dml/);
    const shipped = getPreset('lcm-dreamshaper-v7-controlnet') as HubPreset;
    for (const kind of KINDS) expect(shipped.files.find((f) => f.path === `controlnet/${kind}/model.onnx`)?.sha256, kind).toMatch(/^[0-9a-f]{64}$/);
  });
});
