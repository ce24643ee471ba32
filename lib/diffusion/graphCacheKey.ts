// The key of a cached optimised graph (optimizedGraphCache.ts): sha256 over everything that decides
// what onnxruntime's optimiser makes of a model file, so that any change is a miss.
//   - the model: every file in the model file's folder (the graph, its external data, the
//     deterministic encoder rewrite), by path. Files up to 64 MB by content hash: a small graph
//     can be edited in place keeping size and mtime (cp -p, a restore). Larger files (external
//     weights, 3.5 GB for an SD UNet) by size, mtime (ns) and inode: hashing them would cost
//     seconds per start, which is what the cache exists to save; a rewritten or replaced weights
//     file changes at least one of the three.
//   - onnxruntime-node's version, the OS/architecture and this CPU (model name and feature flags):
//     the 'all' level lays convolutions out in NCHWc blocks sized for the CPU's vector width, so a
//     graph optimised on one CPU may be wrong or slow on another sharing the folder.
//   - the session options, minus those that only steer the run (thread counts and spinning,
//     execution mode, memory arena and pattern, logging): the optimiser does not read them, and
//     the thread count changes with RENDER_CONCURRENCY without changing the graph. The execution
//     providers with their options, the optimisation level and every other option (`extra`
//     config entries, free dimension overrides) are in.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';

/** bump when the entry layout or what the key covers changes */
const KEY_FORMAT = 1;
const HASHED_FILE_LIMIT = 64 * 1024 * 1024;

export interface GraphCacheKey {
  /** sha256 hex over all of the below */
  key: string;
  /** sha256 hex over the model files alone (to recognise entries of an older version of them) */
  sourceDigest: string;
  platform: string;
  /** bytes of the model files (the entry takes about as much) */
  sourceBytes: number;
}

const RUNTIME_ONLY = new Set([
  'intraOpNumThreads',
  'interOpNumThreads',
  'executionMode',
  'enableCpuMemArena',
  'enableMemPattern',
  'logId',
  'logSeverityLevel',
  'logVerbosityLevel',
  'enableProfiling',
  'profileFilePrefix',
  'optimizedModelFilePath',
]);
/** `extra.session` entries that configure thread pools, not the graph */
const RUNTIME_ONLY_SESSION_ENTRIES = new Set(['intra_op', 'inter_op', 'intra_op_thread_affinities']);

export function ortVersion(): string {
  return ort.env.versions?.node ?? ort.env.versions?.common ?? 'unknown';
}

export function graphCacheKey(modelPath: string, options: ort.InferenceSession.SessionOptions): GraphCacheKey {
  const files = modelFiles(modelPath);
  const sourceDigest = sha256(JSON.stringify(files.list));
  const platform = platformTag();
  const key = sha256(JSON.stringify({ format: KEY_FORMAT, modelPath, sourceDigest, ort: ortVersion(), platform, options: keyOptions(options) }));
  return { key, sourceDigest, platform, sourceBytes: files.bytes };
}

/** The session options that shape the optimised graph, in a stable order. */
export function keyOptions(options: ort.InferenceSession.SessionOptions): unknown {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) {
    if (RUNTIME_ONLY.has(k) || v === undefined) continue;
    if (k === 'extra' && v && typeof v === 'object') {
      const { session, ...rest } = v as { session?: Record<string, unknown> };
      const kept = Object.fromEntries(Object.entries(session ?? {}).filter(([name]) => !RUNTIME_ONLY_SESSION_ENTRIES.has(name)));
      out[k] = { ...rest, session: kept };
    } else {
      out[k] = v;
    }
  }
  return sortKeys(out);
}

function modelFiles(modelPath: string): { list: unknown[]; bytes: number } {
  const dir = dirname(modelPath);
  const list: unknown[] = [];
  let bytes = 0;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = statSync(p, { bigint: true });
    if (!st.isFile()) continue;
    const size = Number(st.size);
    bytes += size;
    if (size <= HASHED_FILE_LIMIT) list.push([p, size, sha256(readFileSync(p))]);
    else list.push([p, size, st.mtimeNs.toString(), st.ino.toString()]);
  }
  return { list, bytes };
}

let platformMemo: string | undefined;

/** OS, architecture, CPU model and (on Linux) the CPU's feature flags. */
export function platformTag(): string {
  if (platformMemo) return platformMemo;
  let flags = '';
  try {
    flags = /^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? '';
  } catch {
    // not Linux: the model name stands for the features
  }
  platformMemo = `${process.platform}-${process.arch} ${cpus()[0]?.model ?? 'unknown cpu'} ${flags ? sha256(flags).slice(0, 12) : ''}`.trim();
  return platformMemo;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, sortKeys(x)]));
  }
  return v;
}

function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
