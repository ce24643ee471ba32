// EngineHost with the real tiny models in worker threads: load + warm-up, renders as JPEG with the
// parameters actually used, raw RGB input, bad input as INVALID_IMAGE, and a main thread that
// stays free while a worker is blocked.
import { cpSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import type { Worker } from 'node:worker_threads';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineHost, EngineRenderError, inferenceMs, type EngineConfig } from '../../server/engine/EngineHost';
import { resolveModel } from '../../server/engine/resolveModel';
import { TINY_MODELS_DIR } from '../helpers/server';

const config = (model: string, extra: Partial<EngineConfig> = {}): EngineConfig => ({
  model,
  modelsDir: TINY_MODELS_DIR,
  executionProvider: 'cpu',
  threads: 1,
  warmupSizes: [128],
  workers: 1,
  jpegQuality: 85,
  ...extra,
});

const sketch = (side: number) =>
  sharp({ create: { width: side, height: side, channels: 3, background: '#ffffff' } })
    .composite([{ input: Buffer.from(`<svg width="${side}" height="${side}"><circle cx="50%" cy="50%" r="30%" stroke="black" stroke-width="5" fill="none"/></svg>`) }])
    .png()
    .toBuffer();

const hosts: EngineHost[] = [];
afterAll(async () => {
  await Promise.all(hosts.map((h) => h.stop()));
});

describe('EngineHost', () => {
  it('loads tiny-lcm in a worker, reports ready with load time, and renders JPEG', async () => {
    const host = new EngineHost(config('tiny-lcm'));
    hosts.push(host);
    const seen: string[] = [];
    host.onStatus((s) => seen.push(s.state));
    const status = await host.start();
    expect(status).toMatchObject({ state: 'ready', model: 'tiny-lcm', executionProvider: 'cpu', sizes: [128] });
    expect(status.loadMs).toBeGreaterThan(0);
    expect(status.warmupMs).toBeGreaterThan(0);
    expect(status.warmupMs).toBeLessThanOrEqual(status.loadMs!);
    expect(seen).toEqual(['loading', 'ready']);
    const out = await host.render(new Uint8Array(await sketch(200)), {
      prompt: 'a cat',
      strength: 0.5,
      steps: 2,
      seed: 7,
      guidance: 8,
      width: 192,
      height: 128,
    });
    expect(out).toMatchObject({ width: 192, height: 128, params: { seed: 7, steps: 2 } });
    const meta = await sharp(Buffer.from(out.jpeg)).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 192, height: 128 });
    // the pipeline's own timings, passed through: two UNet steps, the JPEG encode, no test delay
    expect(out.timings).toMatchObject({ testDelayMs: 0, unetStepsMs: [expect.any(Number), expect.any(Number)] });
    expect(out.timings.encodeMs).toBeGreaterThan(0);
    expect(inferenceMs(out.timings)).toBeGreaterThan(0);
    expect(inferenceMs(out.timings)).toBeLessThanOrEqual(out.timings.totalMs);
  });

  it('keeps the main thread free while a render blocks its worker (ENGINE_TEST_DELAY_MS)', async () => {
    // every render blocks the worker's thread for 600 ms, as a slow onnxruntime run would: were
    // that on the main thread, the 5 ms ticker below would stall for 600 ms
    const host = new EngineHost(config('tiny-turbo', { warmupSizes: [256], testDelayMs: 600 }));
    hosts.push(host);
    expect((await host.start()).state).toBe('ready');
    const img = new Uint8Array(await sketch(256));
    let last = performance.now();
    let worstGap = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 5);
    const inference: number[] = [];
    for (let i = 0; i < 2; i++) {
      const out = await host.render(img, { prompt: 'x', strength: 0.6, steps: 2, seed: i, guidance: 0, width: 256, height: 256 });
      expect(out.timings.testDelayMs).toBeGreaterThan(590); // Atomics.wait timing, give or take a clock tick
      inference.push(inferenceMs(out.timings));
    }
    clearInterval(ticker);
    for (const ms of inference) expect(ms).toBeGreaterThan(600);
    expect(worstGap).toBeLessThan(150);
  });

  it('renders raw RGB (decoded by the caller) and takes its buffer without copying', async () => {
    const host = hosts[0];
    const { data, info } = await sharp(await sketch(128)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const params = { prompt: 'a cat', strength: 0.5, steps: 2, seed: 7, guidance: 8, width: 128, height: 128 };
    const rgb = new Uint8Array(data); // a buffer of its own, as snapshot validation makes
    const fromRgb = await host.render({ data: rgb, width: info.width, height: info.height }, params);
    expect(rgb.byteLength).toBe(0); // transferred to the worker, detached here
    expect(fromRgb.timings.decodeMs).toBe(0); // already at the render size: nothing to decode
    // the same pixels as encoded PNG: the same picture
    const fromPng = await host.render(new Uint8Array(await sketch(128)), params);
    expect(Buffer.from(fromRgb.jpeg)).toEqual(Buffer.from(fromPng.jpeg));
  });

  // a timing check on a shared 2-core machine: another process may steal a few ms from any one render
  it('warms up on its sizes: reports them and warmupMs, and the first render there is not the slowest', { retry: 2 }, async () => {
    const host = new EngineHost(config('tiny-lcm', { warmupSizes: [512, 256], threads: 2 }));
    hosts.push(host);
    const status = await host.start();
    // the sizes the worker says it actually rendered during warm-up
    expect(status).toMatchObject({ state: 'ready', sizes: [512, 256] });
    expect(status.warmupMs).toBeGreaterThan(0);
    const img = new Uint8Array(await sketch(512));
    const inference: number[] = [];
    for (let i = 0; i < 8; i++) {
      // a new prompt each time, so every render pays the text encoder alike
      const out = await host.render(img, { prompt: `a cat ${i}`, strength: 0.5, steps: 1, seed: i, guidance: 8, width: 512, height: 512 });
      inference.push(inferenceMs(out.timings));
    }
    const rest = inference.slice(1).sort((a, b) => a - b);
    const median = rest[Math.floor(rest.length / 2)];
    // generous: without warm-up the first render here is 2–5× the median (see engineWorker.ts)
    expect(inference[0], `inference ms: ${inference.map((x) => x.toFixed(1)).join(' ')}`).toBeLessThan(3 * median);
  });

  it('renders on several workers at once with RENDER_CONCURRENCY > 1, and refuses more than that at once', async () => {
    const host = new EngineHost(config('tiny-lcm', { workers: 2 }));
    hosts.push(host);
    expect((await host.start()).state).toBe('ready');
    const img = new Uint8Array(await sketch(256));
    const params = (seed: number) => ({ prompt: 'a boat', strength: 0.5, steps: 1, seed, guidance: 8, width: 256, height: 256 });
    const outs = [...(await Promise.all([1, 2].map((seed) => host.render(img, params(seed))))), ...(await Promise.all([3, 4].map((seed) => host.render(img, params(seed)))))];
    expect(outs.map((o) => o.params.seed)).toEqual([1, 2, 3, 4]);
    // same input and seed on either worker: the same picture
    const both = [host.render(img, params(1)), host.render(img, params(1))];
    // a third render while both workers are busy: refused at once, not queued (the render queue
    // in front of the engine never starts more than RENDER_CONCURRENCY)
    const third = await host.render(img, params(5)).catch((e) => e);
    expect(third).toBeInstanceOf(EngineRenderError);
    expect(third.code).toBe('ENGINE_BUSY');
    const again = await Promise.all(both);
    expect(Buffer.from(again[0].jpeg)).toEqual(Buffer.from(outs[0].jpeg));
    expect(Buffer.from(again[1].jpeg)).toEqual(Buffer.from(outs[0].jpeg));
    // and a worker is free again once its render is back
    expect((await host.render(img, params(5))).params.seed).toBe(5);
  });

  it('reloads the model in a new worker when a worker dies, and renders again', async () => {
    const host = new EngineHost(config('tiny-lcm'));
    hosts.push(host);
    expect((await host.start()).state).toBe('ready');
    const states: string[] = [];
    host.onStatus((s) => states.push(s.state));
    // kill the worker thread from outside, as a fatal error inside it would
    const slots = (host as unknown as { slots: { worker: { terminate(): Promise<number> } }[] }).slots;
    await slots[0].worker.terminate();
    const deadline = Date.now() + 30_000;
    while (host.status.state !== 'ready' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(states).toEqual(['loading', 'ready']);
    const out = await host.render(new Uint8Array(await sketch(128)), {
      prompt: '',
      strength: 0.5,
      steps: 1,
      seed: 1,
      guidance: 8,
      width: 128,
      height: 128,
    });
    expect(out.width).toBe(128);
  });

  it('ends the replacement worker when the reload after a crash fails (no thread left behind)', async () => {
    const models = mkdtempSync(join(tmpdir(), 'lc-crash-models-'));
    cpSync(join(TINY_MODELS_DIR, 'tiny-lcm'), join(models, 'tiny-copy'), { recursive: true });
    const host = new EngineHost(config('tiny-copy', { modelsDir: models }));
    hosts.push(host);
    expect((await host.start()).state).toBe('ready');
    const internals = host as unknown as { slots: { worker: Worker }[] };
    const first = internals.slots[0].worker;
    renameSync(join(models, 'tiny-copy'), join(models, 'gone')); // the reload will not find it
    await first.terminate();
    const deadline = Date.now() + 30_000;
    while (host.status.state !== 'error' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(host.status).toMatchObject({ state: 'error', message: expect.stringContaining('could not reload') });
    expect(internals.slots).toHaveLength(0);
  });

  it('answers an undecodable image with INVALID_IMAGE and keeps working', async () => {
    const host = hosts[0];
    const params = { prompt: '', strength: 0.5, steps: 1, seed: 1, guidance: 8, width: 128, height: 128 };
    const err = await host.render(new TextEncoder().encode('definitely not a picture'), params).catch((e) => e);
    expect(err).toBeInstanceOf(EngineRenderError);
    expect((err as EngineRenderError).code).toBe('INVALID_IMAGE');
    const ok = await host.render(new Uint8Array(await sketch(128)), params);
    expect(ok.width).toBe(128);
  });

  // the fitting rules themselves are tested with the schedulers (test/unit/schedulers.test.ts)
  it('renders any live-frame setting: strength 0 on a real LCM model is fitted, and the output says so', async () => {
    const out = await hosts[0].render(new Uint8Array(await sketch(128)), {
      prompt: '',
      strength: 0,
      steps: 4,
      seed: 3,
      guidance: 8,
      width: 128,
      height: 128,
    });
    expect(out.params).toMatchObject({ strength: 0.02, steps: 1 });
  });

  it('ENGINE_VAE swaps in a VAE-only folder: tiny-turbo + tiny-taesd VAE renders exactly like tiny-taesd', async () => {
    const swapped = new EngineHost(config('tiny-turbo', { vae: 'tiny-taesd' }));
    const reference = new EngineHost(config('tiny-taesd'));
    hosts.push(swapped, reference);
    expect(await swapped.start()).toMatchObject({ state: 'ready', model: 'tiny-turbo' });
    expect(await reference.start()).toMatchObject({ state: 'ready' });
    expect(swapped.engineInfo?.vaeKind).toBe('taesd');
    const input = new Uint8Array(await sketch(256));
    const params = { prompt: 'a cat', strength: 0.5, steps: 2, seed: 11, guidance: 0, width: 256, height: 256 };
    const a = await swapped.render(input.slice(), params);
    const b = await reference.render(input.slice(), params);
    expect(Buffer.from(a.jpeg).equals(Buffer.from(b.jpeg))).toBe(true);
    // and it really is a different VAE from tiny-turbo's own
    const own = new EngineHost(config('tiny-turbo'));
    hosts.push(own);
    await own.start();
    expect(own.engineInfo?.vaeKind).toBe('kl');
    const c = await own.render(input.slice(), params);
    expect(Buffer.from(c.jpeg).equals(Buffer.from(a.jpeg))).toBe(false);
  });

  it('reports no-model with the download command when nothing is installed', async () => {
    const host = new EngineHost(config('', { modelsDir: '/nonexistent-models' }));
    const s = await host.start();
    expect(s.state).toBe('no-model');
    expect(s.message).toBe('no model installed — run `npm run models:download -- sdxs-512`');
    // a preset that is not downloaded: the download command; an unknown name: the preset list
    expect(resolveModel('lcm-dreamshaper-v7', TINY_MODELS_DIR)).toMatchObject({
      ok: false,
      message: expect.stringContaining('npm run models:download -- lcm-dreamshaper-v7'),
    });
    // a tiny test model is generated, not downloaded
    expect(resolveModel('tiny-lcm', '/nonexistent-models')).toMatchObject({
      ok: false,
      message: "model 'tiny-lcm' is not installed in /nonexistent-models — run `npm run models:tiny`",
    });
    expect(resolveModel('not-a-preset', TINY_MODELS_DIR)).toMatchObject({
      ok: false,
      message: expect.stringContaining('npm run models:download -- --list'),
    });
    // a VAE-only folder (like the taesd preset) is refused as MODEL with the way to use it
    const vaeOnly = mkdtempSync(join(tmpdir(), 'lc-vae-only-'));
    symlinkSync(join(TINY_MODELS_DIR, 'tiny-taesd', 'vae_decoder'), join(vaeOnly, 'vae_decoder'));
    expect(resolveModel(vaeOnly, TINY_MODELS_DIR)).toMatchObject({
      ok: false,
      message: expect.stringContaining('ENGINE_VAE='),
    });
    expect(resolveModel('tiny-taesd', TINY_MODELS_DIR)).toMatchObject({ ok: true, name: 'tiny-taesd' });
    await expect(host.render(new Uint8Array(4), { prompt: '', strength: 1, steps: 1, seed: 0, guidance: 0, width: 128, height: 128 })).rejects.toThrow(/no model installed/);
  });

  it('picks the best installed preset when MODEL is not set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lc-models-'));
    expect(resolveModel('', dir)).toMatchObject({ ok: false });
    symlinkSync(join(TINY_MODELS_DIR, 'tiny-lcm'), join(dir, 'lcm-dreamshaper-v7'));
    expect(resolveModel('', dir)).toMatchObject({ ok: true, name: 'lcm-dreamshaper-v7' });
    symlinkSync(join(TINY_MODELS_DIR, 'tiny-taesd'), join(dir, 'sdxs-512'));
    expect(resolveModel('', dir, 'cpu')).toMatchObject({ ok: true, name: 'sdxs-512' });
    expect(resolveModel('', dir, 'cuda')).toMatchObject({ ok: true, name: 'lcm-dreamshaper-v7' });
    // a random-weight test model is never chosen by itself
    expect(resolveModel('', TINY_MODELS_DIR)).toMatchObject({ ok: false });
  });

  it('reports a path that is not a model folder as no-model, and a broken model as error', async () => {
    const notModel = await new EngineHost(config(TINY_MODELS_DIR)).start(); // a folder of models
    expect(notModel.state).toBe('no-model');
    expect(notModel.message).toMatch(/has no model_index.json/);
    const broken = mkdtempSync(join(tmpdir(), 'lc-broken-model-'));
    writeFileSync(join(broken, 'model_index.json'), '{"_class_name": "LatentConsistencyModelImg2ImgPipeline"}');
    const host = new EngineHost(config(broken));
    const s = await host.start();
    expect(s.state).toBe('error');
    expect(s.message).toMatch(/^model '.+' failed to load: /);
    await host.stop();
  });
});
