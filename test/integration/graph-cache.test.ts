// The optimised-graph cache (lib/diffusion/optimizedGraphCache.ts) on copies of the tiny models:
// the first load writes it, the next one loads from it and renders the same pixels, and nothing
// is ever served from a stale entry — a changed model file (even with its size and mtime kept), a
// changed option in the key, a truncated, corrupt or incomplete entry all lead to a rebuild.
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { ftruncateSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { graphCacheKey } from '../../lib/diffusion/graphCacheKey';
import { Img2ImgPipeline, type Img2ImgParams } from '../../lib/diffusion/Img2ImgPipeline';
import { createCachedSession, GRAPH_CACHE_DIR, type GraphCacheOptions } from '../../lib/diffusion/optimizedGraphCache';
import { sessionOptions } from '../../lib/diffusion/sessions';

const MODELS = join(import.meta.dirname, '..', '..', 'models', 'local');
const PARAMS: Img2ImgParams = { prompt: 'a lighthouse at dusk', strength: 0.6, steps: 2, seed: 7, guidance: 4, width: 128, height: 128 };

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'lc-graph-cache-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** A copy of a tiny model without whatever cache other tests left in models/local. */
function copyModel(model: string, name = model): string {
  const dir = join(tmp, name);
  cpSync(join(MODELS, model), dir, { recursive: true, filter: (src) => !src.includes(GRAPH_CACHE_DIR) });
  return dir;
}

function input(): { data: Uint8Array; width: number; height: number } {
  const w = 128;
  const data = new Uint8Array(w * w * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) % 251;
  return { data, width: w, height: w };
}

interface Loaded {
  state: string;
  pixels: Uint8Array;
  /** "<part> <state>" for each part, from the engine's log line */
  parts: string;
  warnings: string[];
}

async function loadAndRender(dir: string, graphCache: GraphCacheOptions = {}): Promise<Loaded> {
  const warnings: string[] = [];
  let parts = '';
  const logger = {
    warn: (m: string) => warnings.push(m),
    info: (m: string) => {
      const m2 = /^optimised graphs: \w+ \((.*)\)$/.exec(m);
      if (m2) parts = m2[1];
    },
  };
  const p = await Img2ImgPipeline.load(dir, { threads: 1, logger, graphCache });
  try {
    const r = await p.run(input(), PARAMS);
    return { state: p.info.graphCache, pixels: new Uint8Array(r.image.data), parts, warnings };
  } finally {
    await p.dispose();
  }
}

const entries = (dir: string, part = '') => readdirSync(join(dir, GRAPH_CACHE_DIR)).filter((n) => n.startsWith(part) && !n.startsWith('.'));

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.each(['tiny-lcm', 'tiny-turbo', 'tiny-taesd', 'tiny-turbo-fp16'])('graph cache on %s', (model) => {
  it('writes every part on the first load, loads them on the next and renders the same pixels as without it', async () => {
    const dir = copyModel(model);
    const uncached = await loadAndRender(dir, { enabled: false });
    expect(uncached.state).toBe('off');
    expect(existsSync(join(dir, GRAPH_CACHE_DIR))).toBe(false);
    const first = await loadAndRender(dir);
    expect(first.state).toBe('miss');
    expect(entries(dir).sort().map((n) => n.replace(/-[0-9a-f]+$/, ''))).toEqual(['text_encoder', 'unet', 'vae_decoder', 'vae_encoder']);
    for (const e of entries(dir)) expect(readdirSync(join(dir, GRAPH_CACHE_DIR, e))).toContain('manifest.json');
    const second = await loadAndRender(dir);
    expect(second.state).toBe('hit');
    expect(second.parts).toBe('text_encoder hit, vae_encoder hit, vae_decoder hit, unet hit');
    expect(second.warnings).toEqual([]);
    expect(maxDiff(second.pixels, first.pixels)).toBe(0);
    // the same graph optimised in memory or loaded optimised: within float rounding
    expect(maxDiff(second.pixels, uncached.pixels)).toBeLessThanOrEqual(1);
  });
});

describe('graph cache invalidation', () => {
  let dir: string;
  let reference: Loaded;
  beforeAll(async () => {
    dir = copyModel('tiny-lcm', 'lcm-invalidation');
    reference = await loadAndRender(dir);
    expect(reference.state).toBe('miss');
  });

  it('rebuilds the UNet entry when a weight in its file changes, even with size and mtime kept', async () => {
    const data = join(dir, 'unet', 'model.onnx_data');
    const before = statSync(data);
    const oldEntry = entries(dir, 'unet-')[0];
    changeWeights(join(dir, 'unet'));
    utimesSync(data, before.atime, before.mtime);
    expect(statSync(data).size).toBe(before.size);
    const changed = await loadAndRender(dir);
    expect(changed.state).toBe('miss');
    expect(changed.parts).toBe('text_encoder hit, vae_encoder hit, vae_decoder hit, unet miss');
    // the new weights are what rendered, and the entry of the old file is gone
    expect(maxDiff(changed.pixels, reference.pixels)).toBeGreaterThan(0);
    expect(entries(dir, 'unet-')).toHaveLength(1);
    expect(entries(dir, 'unet-')[0]).not.toBe(oldEntry);
    reference = changed;
    expect((await loadAndRender(dir)).state).toBe('hit');
  });

  it('rebuilds when a file is added next to the model (e.g. external data)', async () => {
    writeFileSync(join(dir, 'vae_decoder', 'notes.txt'), 'x');
    const r = await loadAndRender(dir);
    expect(r.parts).toBe('text_encoder hit, vae_encoder hit, vae_decoder miss, unet hit');
    expect(maxDiff(r.pixels, reference.pixels)).toBe(0);
  });

  it('deletes a truncated entry and rebuilds it, without failing the load', async () => {
    const entry = join(dir, GRAPH_CACHE_DIR, entries(dir, 'unet-')[0]);
    const data = join(entry, 'model.onnx_data');
    truncateSync(data, Math.floor(statSync(data).size / 2));
    const r = await loadAndRender(dir);
    expect(r.parts).toBe('text_encoder hit, vae_encoder hit, vae_decoder hit, unet miss');
    expect(r.warnings.join('\n')).toMatch(/truncated or altered model\.onnx_data.*deleting it/);
    expect(maxDiff(r.pixels, reference.pixels)).toBe(0);
    expect((await loadAndRender(dir)).state).toBe('hit');
  });

  it('deletes an entry whose graph onnxruntime cannot read (same size) and rebuilds it', async () => {
    const entry = join(dir, GRAPH_CACHE_DIR, entries(dir, 'unet-')[0]);
    const graph = join(entry, 'model.onnx');
    writeFileSync(graph, Buffer.alloc(statSync(graph).size, 0xff));
    const r = await loadAndRender(dir);
    expect(r.parts).toBe('text_encoder hit, vae_encoder hit, vae_decoder hit, unet miss');
    expect(r.warnings.join('\n')).toMatch(/does not load .*deleting it/);
    expect(maxDiff(r.pixels, reference.pixels)).toBe(0);
    expect((await loadAndRender(dir)).state).toBe('hit');
  });

  it('treats an entry without its manifest (a writer that died) as absent', async () => {
    const entry = join(dir, GRAPH_CACHE_DIR, entries(dir, 'text_encoder-')[0]);
    rmSync(join(entry, 'manifest.json'));
    const r = await loadAndRender(dir);
    expect(r.parts).toBe('text_encoder miss, vae_encoder hit, vae_decoder hit, unet hit');
    expect(maxDiff(r.pixels, reference.pixels)).toBe(0);
  });

  it('misses when an option in the key changes, and hits for a thread count (not in the key)', async () => {
    const unet = join(dir, 'unet', 'model.onnx');
    const base = sessionOptions('cpu', 1);
    const hit = await createCachedSession(unet, sessionOptions('cpu', 2), 'unet');
    expect(hit.cache).toBe('hit');
    await hit.session.release();
    const gelu = { ...base, extra: { ...base.extra, optimization: { enable_gelu_approximation: '1' } } };
    const other = await createCachedSession(unet, gelu, 'unet');
    expect(other.cache).toBe('miss');
    await other.session.release();
    // both configurations keep their entry
    expect(entries(dir, 'unet-')).toHaveLength(2);
    const again = await createCachedSession(unet, gelu, 'unet');
    expect(again.cache).toBe('hit');
    await again.session.release();
  });

  it('keys on the execution provider, the optimisation level and free dimension overrides', () => {
    const unet = join(dir, 'unet', 'model.onnx');
    const key = (o: Parameters<typeof graphCacheKey>[1]) => graphCacheKey(unet, o).key;
    const cpu = sessionOptions('cpu', 2);
    expect(key(sessionOptions('cpu', 1))).toBe(key(cpu));
    expect(key(sessionOptions('cuda', 2))).not.toBe(key(cpu));
    expect(key({ ...cpu, graphOptimizationLevel: 'extended' })).not.toBe(key(cpu));
    expect(key({ ...cpu, freeDimensionOverrides: { batch: 1 } })).not.toBe(key(cpu));
    expect(key({ ...cpu, enableMemPattern: false, logSeverityLevel: 0 })).toBe(key(cpu));
  });

  it('is off with enabled: false or ENGINE_GRAPH_CACHE=0, and for levels below all', async () => {
    expect((await loadAndRender(dir, { enabled: false })).state).toBe('off');
    process.env.ENGINE_GRAPH_CACHE = '0';
    try {
      expect((await loadAndRender(dir)).state).toBe('off');
    } finally {
      delete process.env.ENGINE_GRAPH_CACHE;
    }
    const s = await createCachedSession(join(dir, 'unet', 'model.onnx'), { ...sessionOptions('cpu', 1), graphOptimizationLevel: 'basic' }, 'unet');
    expect(s.cache).toBe('off');
    await s.session.release();
  });
});

describe('graph cache folders', () => {
  it('falls back to another folder when the model folder cannot hold the cache, and hits there next time', async () => {
    const dir = copyModel('tiny-turbo', 'turbo-readonly');
    writeFileSync(join(dir, GRAPH_CACHE_DIR), 'not a folder');
    const fallbackDir = join(tmp, 'fallback-cache');
    const first = await loadAndRender(dir, { fallbackDir });
    expect(first.state).toBe('miss');
    expect(readdirSync(fallbackDir).filter((n) => !n.startsWith('.'))).toHaveLength(4);
    const second = await loadAndRender(dir, { fallbackDir });
    expect(second.state).toBe('hit');
    expect(maxDiff(second.pixels, first.pixels)).toBe(0);
  });

  it('loads the model anyway when no cache folder can be written', async () => {
    const dir = copyModel('tiny-turbo', 'turbo-nowhere');
    writeFileSync(join(dir, GRAPH_CACHE_DIR), 'not a folder');
    const blocked = join(tmp, 'blocked');
    writeFileSync(blocked, 'not a folder either');
    const r = await loadAndRender(dir, { fallbackDir: join(blocked, 'cache') });
    expect(r.state).toBe('miss');
    expect(r.warnings.join('\n')).toMatch(/not cached: no writable cache folder/);
    expect(r.pixels.length).toBe(128 * 128 * 3);
  });

  it('leaves the writing to an engine already writing an entry, unless that writer is long gone', async () => {
    const dir = copyModel('tiny-turbo', 'turbo-writers');
    const unetEntry = `unet-${graphCacheKey(join(dir, 'unet', 'model.onnx'), sessionOptions('cpu', 1)).key.slice(0, 24)}`;
    const other = join(dir, GRAPH_CACHE_DIR, `.tmp-${unetEntry}-99999-1-abcd`);
    mkdirSync(other, { recursive: true });
    const r = await loadAndRender(dir);
    expect(r.parts).toBe('text_encoder miss, vae_encoder miss, vae_decoder miss, unet miss');
    expect(entries(dir, 'unet-')).toEqual([]);
    const longAgo = new Date(Date.now() - 11 * 60_000);
    utimesSync(other, longAgo, longAgo);
    const again = await loadAndRender(dir);
    expect(again.parts).toBe('text_encoder hit, vae_encoder hit, vae_decoder hit, unet miss');
    expect(entries(dir, 'unet-')).toEqual([unetEntry]);
    expect(existsSync(other)).toBe(false);
    expect(maxDiff(again.pixels, r.pixels)).toBe(0);
  });

  it('keys large files by size, mtime and inode instead of reading them', () => {
    const dir = join(tmp, 'big', 'unet');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'model.onnx'), 'graph');
    const data = join(dir, 'model.onnx_data');
    const fd = openSync(data, 'w');
    ftruncateSync(fd, 65 * 1024 * 1024); // sparse: nothing is written
    closeSync(fd);
    const key = () => graphCacheKey(join(dir, 'model.onnx'), sessionOptions('cpu', 1)).key;
    const k0 = key();
    utimesSync(data, new Date(), new Date(Date.now() + 5000));
    const k1 = key();
    expect(k1).not.toBe(k0);
    truncateSync(data, 65 * 1024 * 1024 + 1);
    expect(key()).not.toBe(k1);
  });
});

/** Adds 0.5 to every weight of the UNet's conv_out.weight, in its external data file (the tiny
 * UNet keeps its weights in unet/model.onnx_data), in place: same size. */
function changeWeights(unetDir: string): void {
  const model = onnxProto.onnx.ModelProto.decode(readFileSync(join(unetDir, 'model.onnx')));
  const init = (model.graph?.initializer ?? []).find((t) => t.name === 'conv_out.weight');
  const entry = (k: string) => init?.externalData?.find((e) => e.key === k)?.value;
  if (!entry('offset')) throw new Error('the tiny UNet has no external conv_out.weight');
  const file = join(unetDir, entry('location')!);
  const bytes = readFileSync(file);
  const start = Number(entry('offset'));
  for (let at = start; at < start + Number(entry('length')); at += 4) bytes.writeFloatLE(bytes.readFloatLE(at) + 0.5, at);
  writeFileSync(file, bytes);
}
