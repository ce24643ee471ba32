// Settings of the live render loop, from environment variables (validated once at start).
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { MAX_RENDER_SIDE, MIN_RENDER_SIDE, SNAPSHOT_RATE_LIMIT } from '../../lib/protocol/limits';

export interface RenderConfig {
  /** RENDER_CONCURRENCY: renders in flight at once (one engine worker each); default 1 */
  concurrency: number;
  /** ENGINE_EP: onnxruntime execution provider; default cpu */
  executionProvider: string;
  /** ENGINE_THREADS: onnxruntime intra-op threads per worker. Default: the cores shared out among
   * the RENDER_CONCURRENCY workers (all cores for one worker). Measured on 2 cores with the tiny
   * model: 1 and 2 threads render equally fast since lib/diffusion turned off onnxruntime's thread
   * spinning (before, 2 threads cost twice the time), and real UNets gain from the second core
   * (docs/BENCHMARKS.md "Live loop"). */
  threads: number;
  /** ENGINE_VAE: a VAE-only preset or folder (e.g. `taesd`) that replaces the model's own VAE;
   * '' = the model's VAE. On a CPU the tiny VAE is what keeps a frame near a second. */
  vae: string;
  /** ENGINE_WARMUP_SIZES: comma-separated output sides rendered once at start; default 256 */
  warmupSizes: number[];
  /** RENDER_JPEG_QUALITY: quality of broadcast renders; default 85 */
  jpegQuality: number;
  /** RENDER_KEEP_CLOSED_ROOM_S: how long the renders of a room nobody is in are kept; default 600 */
  keepClosedRoomS: number;
  /** RENDER_PENDING_MB: decoded snapshots that may wait for the engine at once, all rooms
   * together; default 256 */
  pendingBytes: number;
  /** SNAPSHOT_RATE_PER_SECOND / SNAPSHOT_RATE_BURST: per-socket token bucket over frame:snapshot;
   * defaults SNAPSHOT_RATE_LIMIT of lib/protocol/limits.ts */
  snapshotRate: { perSecond: number; burst: number };
  /** ENGINE_TEST_DELAY_MS — for tests only: every render blocks its engine worker's thread for this
   * long (Atomics.wait, a real block like onnxruntime's run), so a test can prove that a slow render
   * never stalls sync and presence. Default 0; never set it in production. */
  testDelayMs: number;
}

const sizes = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean).map(Number))
  .pipe(
    z.array(
      z
        .number()
        .int()
        .min(MIN_RENDER_SIDE)
        .max(MAX_RENDER_SIDE)
        .refine((n) => n % 64 === 0, 'must be a multiple of 64'),
    ),
  );

const Env = z.object({
  RENDER_CONCURRENCY: z.coerce.number().int().min(1).max(16).default(1),
  ENGINE_EP: z.string().min(1).default('cpu'),
  ENGINE_THREADS: z.coerce.number().int().min(0).max(256).optional(),
  ENGINE_VAE: z.string().default(''),
  ENGINE_WARMUP_SIZES: sizes.default([256]),
  RENDER_JPEG_QUALITY: z.coerce.number().int().min(30).max(100).default(85),
  RENDER_KEEP_CLOSED_ROOM_S: z.coerce.number().int().min(0).default(600),
  RENDER_PENDING_MB: z.coerce.number().positive().default(256),
  SNAPSHOT_RATE_PER_SECOND: z.coerce.number().positive().default(SNAPSHOT_RATE_LIMIT.perSecond),
  SNAPSHOT_RATE_BURST: z.coerce.number().int().min(1).default(SNAPSHOT_RATE_LIMIT.burst),
  ENGINE_TEST_DELAY_MS: z.coerce.number().int().min(0).max(60_000).default(0),
});

export function loadRenderConfig(env: NodeJS.ProcessEnv = process.env): RenderConfig {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));
  const r = Env.safeParse(cleaned);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${String(i.path[0])}=${JSON.stringify(env[String(i.path[0])])} ${i.message}`);
    throw new Error(`invalid render configuration: ${problems.join('; ')}`);
  }
  const e = r.data;
  return {
    concurrency: e.RENDER_CONCURRENCY,
    executionProvider: e.ENGINE_EP,
    threads: e.ENGINE_THREADS ?? Math.max(1, Math.floor(availableParallelism() / e.RENDER_CONCURRENCY)),
    vae: e.ENGINE_VAE,
    warmupSizes: e.ENGINE_WARMUP_SIZES,
    jpegQuality: e.RENDER_JPEG_QUALITY,
    keepClosedRoomS: e.RENDER_KEEP_CLOSED_ROOM_S,
    pendingBytes: Math.round(e.RENDER_PENDING_MB * 1024 * 1024),
    snapshotRate: { perSecond: e.SNAPSHOT_RATE_PER_SECOND, burst: e.SNAPSHOT_RATE_BURST },
    testDelayMs: e.ENGINE_TEST_DELAY_MS,
  };
}
