// ONNX Runtime's top optimisation level ('all': constant folding, fusions, the CPU's blocked
// NCHWc layout) costs ~25 s on a real SD UNet at every session start. This keeps the optimised
// graph ONNX Runtime writes (`optimizedModelFilePath`, its initializers as external data so a graph
// over protobuf's 2 GB limit can be written) in `<model folder>/.ort-cache/` — or in a fallback
// folder when the model folder is not writable — and loads that with optimisation off next time.
//
// An entry is a folder `<part>-<key>` holding model.onnx, model.onnx_data and manifest.json. It is
// written as a temporary folder that is renamed into place after its files are flushed and the
// manifest is written, so a reader sees a complete entry or none. The key (graphCacheKey.ts) covers
// the model files, ONNX Runtime's version, this CPU, the execution provider and every session
// option that shapes the graph: anything that changes gives a new key and a miss, never a stale
// graph. An entry that does not match its manifest or does not load is deleted and rebuilt; a cache
// that cannot be written (full disk, read-only folders) costs a log line, never the load.
import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, statSync } from 'node:fs';
import { open, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { graphCacheKey, ortVersion, type GraphCacheKey } from './graphCacheKey';
import type { EngineLogger } from './sessions';

export type GraphCacheState = 'hit' | 'miss' | 'off';

export interface GraphCacheOptions {
  /** default: on, unless the environment says ENGINE_GRAPH_CACHE=0 (or false/no) */
  enabled?: boolean;
  /** where entries go when the model folder is not writable; default <os tmpdir>/livecanvas-ort-cache */
  fallbackDir?: string;
}

export const GRAPH_CACHE_DIR = '.ort-cache';
const MODEL_FILE = 'model.onnx';
const DATA_FILE = 'model.onnx_data';
const MANIFEST_FILE = 'manifest.json';
/** execution providers whose optimised graph is cached: the CPU's, measured (docs/BENCHMARKS.md
 * "Fast start"). CoreML, DirectML and WebGPU compile nodes, which onnxruntime refuses to write
 * into an optimised model; CUDA's could be cached but has not been tried on a GPU yet. */
const CACHEABLE_EPS = new Set(['cpu']);
/** a writer's temporary folder older than this is a leftover of one that died (optimising a real
 * SD UNet takes under a minute on 2 cores), and is removed */
const ABANDONED_MS = 10 * 60_000;

interface Manifest {
  key: string;
  source: string;
  sourceDigest: string;
  ort: string;
  platform: string;
  createdAt: string;
  /** bytes of each file written, checked before an entry is loaded */
  files: Record<string, number>;
}

export interface CachedSession {
  session: ort.InferenceSession;
  cache: GraphCacheState;
  /** the cache folder used, when the cache was on */
  dir?: string;
}

interface Ctx {
  modelPath: string;
  options: ort.InferenceSession.SessionOptions;
  part: string;
  logger?: EngineLogger;
}

export function graphCacheEnabledByEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return !['0', 'false', 'no'].includes((env.ENGINE_GRAPH_CACHE ?? '').trim().toLowerCase());
}

/** Whether sessions with these options can use the cache at all. */
export function graphCacheApplies(options: ort.InferenceSession.SessionOptions, cfg: GraphCacheOptions = {}): boolean {
  if (!(cfg.enabled ?? graphCacheEnabledByEnv())) return false;
  if (options.graphOptimizationLevel !== 'all' || options.optimizedModelFilePath) return false;
  const eps = options.executionProviders ?? ['cpu'];
  return eps.length > 0 && eps.every((ep) => CACHEABLE_EPS.has(typeof ep === 'string' ? ep : ep.name));
}

/**
 * Creates the session of `part` from the cached optimised graph when there is a complete entry for
 * the key, otherwise from `modelPath` while writing the entry. Errors of the model itself are
 * thrown as onnxruntime gave them (the caller words them).
 */
export async function createCachedSession(
  modelPath: string,
  options: ort.InferenceSession.SessionOptions,
  part: string,
  cfg: GraphCacheOptions & { logger?: EngineLogger } = {},
): Promise<CachedSession> {
  if (!graphCacheApplies(options, cfg)) return { session: await ort.InferenceSession.create(modelPath, options), cache: 'off' };
  const ctx: Ctx = { modelPath, options, part, logger: cfg.logger };
  let key: GraphCacheKey;
  try {
    key = graphCacheKey(modelPath, options);
  } catch (e) {
    warn(ctx, `optimised-graph cache off for ${modelPath}: cannot read its files (${message(e)})`);
    return { session: await ort.InferenceSession.create(modelPath, options), cache: 'off' };
  }
  const entryName = `${part}-${key.key.slice(0, 24)}`;
  const primary = join(dirname(dirname(modelPath)), GRAPH_CACHE_DIR);
  const fallback = cfg.fallbackDir ?? join(tmpdir(), 'livecanvas-ort-cache');
  for (const dir of [primary, fallback]) {
    const hit = await loadEntry(ctx, join(dir, entryName), key);
    if (hit) return { session: hit, cache: 'hit', dir };
  }
  const dir = writableDir(ctx, primary, fallback);
  if (!dir) return { session: await ort.InferenceSession.create(modelPath, options), cache: 'miss' };
  return { session: await buildEntry(ctx, dir, entryName, key), cache: 'miss', dir };
}

/** The session from a complete entry, or undefined (a broken entry is deleted on the way). */
async function loadEntry(ctx: Ctx, entry: string, key: GraphCacheKey): Promise<ort.InferenceSession | undefined> {
  if (!existsSync(entry)) return undefined;
  const problem = checkEntry(entry, key);
  if (problem) {
    warn(ctx, `the cached optimised ${ctx.part} graph in ${entry} ${problem}; deleting it and optimising ${ctx.modelPath} again`);
    await rm(entry, { recursive: true, force: true }).catch(() => undefined);
    return undefined;
  }
  const { optimizedModelFilePath: _, ...options } = ctx.options;
  try {
    return await ort.InferenceSession.create(join(entry, MODEL_FILE), { ...options, graphOptimizationLevel: 'disabled' });
  } catch (e) {
    warn(ctx, `the cached optimised ${ctx.part} graph in ${entry} does not load (${message(e)}); deleting it and optimising ${ctx.modelPath} again`);
    await rm(entry, { recursive: true, force: true }).catch(() => undefined);
    return undefined;
  }
}

/** Why an entry cannot be used, or undefined when its manifest and files are as written. */
function checkEntry(entry: string, key: GraphCacheKey): string | undefined {
  let m: Manifest;
  try {
    m = JSON.parse(readFileSync(join(entry, MANIFEST_FILE), 'utf8')) as Manifest;
  } catch {
    return 'has no readable manifest';
  }
  if (m.key !== key.key) return 'was written for other model files or options';
  for (const [name, size] of Object.entries(m.files ?? {})) {
    const p = join(entry, name);
    if (!existsSync(p)) return `has lost ${name}`;
    if (statSync(p).size !== size) return `has a truncated or altered ${name} (${statSync(p).size} bytes, ${size} written)`;
  }
  if (!m.files?.[MODEL_FILE]) return `has no ${MODEL_FILE}`;
  return undefined;
}

/** The primary cache folder when it can be written, else the fallback (said once), else none. */
function writableDir(ctx: Ctx, primary: string, fallback: string): string | undefined {
  const problems: string[] = [];
  for (const dir of [primary, fallback]) {
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
      if (dir === fallback) info(ctx, `the model folder cannot hold the optimised-graph cache (${problems[0]}); caching in ${fallback}`);
      return dir;
    } catch (e) {
      problems.push(`${dir}: ${message(e)}`);
    }
  }
  warn(ctx, `optimised graphs are not cached: no writable cache folder (${problems.join('; ')})`);
  return undefined;
}

/** Creates the session from the original model, writing its optimised graph into a new entry. */
async function buildEntry(ctx: Ctx, dir: string, entryName: string, key: GraphCacheKey): Promise<ort.InferenceSession> {
  const need = key.sourceBytes * 1.1 + 64 * 1024 * 1024;
  const free = freeBytes(dir);
  if (free !== undefined && free < need) {
    warn(ctx, `not caching the optimised ${ctx.part} graph: ${dir} has ${mb(free)} MB free, the entry needs about ${mb(need)} MB`);
    return ort.InferenceSession.create(ctx.modelPath, ctx.options);
  }
  pruneAbandoned(dir);
  // workers starting together all optimise; one writes (a writer that died is not waited for
  // longer than ABANDONED_MS)
  if (safeReaddir(dir).some((n) => n.startsWith(`.tmp-${entryName}-`))) {
    info(ctx, `another engine is writing the optimised ${ctx.part} graph to ${dir}; loading without writing it`);
    return ort.InferenceSession.create(ctx.modelPath, ctx.options);
  }
  const tmp = join(dir, `.tmp-${entryName}-${process.pid}-${threadId}-${randomBytes(4).toString('hex')}`);
  const session = await createWriting(ctx, tmp);
  if (!session.wrote) return session.session;
  try {
    await finishEntry(tmp, join(dir, entryName), key, ctx.modelPath);
    info(ctx, `cached the optimised ${ctx.part} graph in ${join(dir, entryName)}`);
    pruneStale(dir, ctx.part, entryName, key, ctx.modelPath);
  } catch (e) {
    warn(ctx, `could not cache the optimised ${ctx.part} graph in ${dir} (${message(e)}); the model loaded anyway`);
  } finally {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
  return session.session;
}

/** The session, created with onnxruntime writing its optimised graph into `tmp`. A failure that
 * comes from the writing (disk full, a graph onnxruntime cannot serialise) is retried without it;
 * any other failure is the model's or the provider's and is thrown as it came. */
async function createWriting(ctx: Ctx, tmp: string): Promise<{ session: ort.InferenceSession; wrote: boolean }> {
  const session = (ctx.options.extra as { session?: Record<string, unknown> } | undefined)?.session ?? {};
  const options: ort.InferenceSession.SessionOptions = {
    ...ctx.options,
    optimizedModelFilePath: join(tmp, MODEL_FILE),
    extra: {
      ...ctx.options.extra,
      session: {
        ...session,
        // every initializer of 1 KB or more in one external file: no 2 GB protobuf limit
        optimized_model_external_initializers_file_name: DATA_FILE,
        optimized_model_external_initializers_min_size_in_bytes: '1024',
      },
    },
  };
  try {
    mkdirSync(tmp, { recursive: true });
    return { session: await ort.InferenceSession.create(ctx.modelPath, options), wrote: true };
  } catch (e) {
    const writing = existsSync(join(tmp, MODEL_FILE)) || /serializ|save|writ|space|optimized model|open file/i.test(message(e));
    rmSync(tmp, { recursive: true, force: true });
    if (!writing) throw e;
    const plain = await ort.InferenceSession.create(ctx.modelPath, ctx.options);
    warn(ctx, `onnxruntime could not write the optimised ${ctx.part} graph (${message(e)}); loaded without the cache`);
    return { session: plain, wrote: false };
  }
}

/** Flushes the written files, adds the manifest (last) and renames the folder into place. Another
 * writer that got there first wins; its entry has the same key, so it is as good. */
async function finishEntry(tmp: string, entry: string, key: GraphCacheKey, source: string): Promise<void> {
  const files: Record<string, number> = {};
  for (const name of readdirSync(tmp)) {
    files[name] = statSync(join(tmp, name)).size;
    await fsync(join(tmp, name));
  }
  const manifest: Manifest = {
    key: key.key,
    source,
    sourceDigest: key.sourceDigest,
    ort: ortVersion(),
    platform: key.platform,
    createdAt: new Date().toISOString(),
    files,
  };
  await writeFile(join(tmp, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
  await fsync(join(tmp, MANIFEST_FILE));
  if (existsSync(entry)) return;
  try {
    await rename(tmp, entry);
  } catch (e) {
    if (!existsSync(join(entry, MANIFEST_FILE))) throw e;
  }
}

async function fsync(path: string): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Deletes this part's entries for the same model file that can never be used again: written from
 * other file contents, by another onnxruntime or on another CPU. Entries for other providers or
 * options stay (another configuration may be using them). */
function pruneStale(dir: string, part: string, keep: string, key: GraphCacheKey, source: string): void {
  for (const name of safeReaddir(dir)) {
    if (name === keep || !name.startsWith(`${part}-`)) continue;
    try {
      const m = JSON.parse(readFileSync(join(dir, name, MANIFEST_FILE), 'utf8')) as Manifest;
      if (m.source === source && (m.sourceDigest !== key.sourceDigest || m.ort !== ortVersion() || m.platform !== key.platform)) {
        rmSync(join(dir, name), { recursive: true, force: true });
      }
    } catch {
      // no manifest: a broken entry, deleted when its key comes up
    }
  }
}

function pruneAbandoned(dir: string): void {
  for (const name of safeReaddir(dir)) {
    if (!name.startsWith('.tmp-')) continue;
    try {
      if (Date.now() - statSync(join(dir, name)).mtimeMs > ABANDONED_MS) rmSync(join(dir, name), { recursive: true, force: true });
    } catch {
      // another process removed it
    }
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function freeBytes(dir: string): number | undefined {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return undefined;
  }
}

const mb = (bytes: number) => Math.round(bytes / 1048576);
const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0].trim();
const warn = (ctx: Ctx, msg: string) => (ctx.logger?.warn.bind(ctx.logger) ?? console.warn)(msg);
const info = (ctx: Ctx, msg: string) => ctx.logger?.info?.(msg);
