// Server configuration from environment variables and command-line flags, validated once at
// start so a typo fails with a message naming the variable instead of a crash later on.
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ADDRESS_LIMITS, BYTE_RATE_LIMIT, HSTS_MAX_AGE_S, MAX_RENDER_SIDE, MAX_ROOM_BYTES, MAX_SOCKET_BUFFER_BYTES, MAX_VIOLATIONS } from '../lib/protocol/limits';
import { MIN_RENDER_SIDE, OUTGOING_BYTE_RATE_LIMIT, RATE_LIMIT, RENDER_SIDE_MULTIPLE, SNAPSHOT_RATE_LIMIT, UPLOAD_LIMITS, VIOLATION_WINDOW_MS } from '../lib/protocol/limits';
import { MAX_ROOM_UPLOAD_BYTES } from '../lib/protocol/uploads';
import { normalizeOrigin } from './http/origins';
import { CLUSTER_ENV, clusterConfig, clusterProblem, type ClusterConfig } from './cluster/clusterConfig';

export type { ClusterConfig };
export type AddressLimits = { sockets: number; bytes: { perSecond: number; burst: number } };

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const intFrom = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce
    .number({ message: 'must be a number' })
    .int({ message: 'must be a whole number' })
    .min(min, { message: `must be at least ${min}` })
    .max(max, { message: `must be at most ${max}` });

const boolFlag = z
  .enum(['0', '1', 'true', 'false', 'yes', 'no'], { message: 'must be 0 or 1' })
  .transform((v) => v === '1' || v === 'true' || v === 'yes');

/** Comma-separated output sides, each a multiple of 64 within the render sizes. */
const renderSides = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean).map(Number))
  .pipe(
    z.array(
      z
        .number()
        .int()
        .min(MIN_RENDER_SIDE)
        .max(MAX_RENDER_SIDE)
        .refine((n) => n % RENDER_SIDE_MULTIPLE === 0, `must be a multiple of ${RENDER_SIDE_MULTIPLE}`),
    ),
  );

/** Comma-separated origins, each `scheme://host[:port]`, normalised as browsers send them. */
const originList = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean))
  .pipe(
    z.array(
      z.string().transform((o, ctx) => {
        const origin = normalizeOrigin(o);
        if (origin === null) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(o)} is not an origin like https://canvas.example.org` });
        return origin ?? '';
      }),
    ),
  );

const EnvSchema = z.object({
  PORT: intFrom(0, 65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATA_DIR: z.string().min(1).default('./data'),
  MODELS_DIR: z.string().min(1).default('./models/local'),
  /** preset name or model folder; '' = the render module picks its default / none */
  MODEL: z.string().default(''),
  /** several models on this machine, comma-separated (RENDER_CONCURRENCY workers each); replaces MODEL */
  MODELS: z.string().optional(),
  LOG_LEVEL: z.enum(LOG_LEVELS, { message: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  /** serve the Next.js app; 0 = only /healthz and sockets (integration tests, headless use) */
  LC_WEB: boolFlag.default(true),
  /** compact a room (snapshot + drop its update log) after this many stored updates… */
  COMPACT_EVERY: intFrom(1).default(500),
  /** …or when it has uncompacted updates older than this many seconds */
  COMPACT_INTERVAL_S: intFrom(1).default(60),
  /** SQLite `synchronous`: FULL also survives power loss; NORMAL survives a killed process only */
  SQLITE_SYNC: z.enum(['FULL', 'NORMAL'], { message: 'must be FULL or NORMAL' }).default('FULL'),
  RATE_PER_SECOND: intFrom(1).default(RATE_LIMIT.perSecond),
  RATE_BURST: intFrom(1).default(RATE_LIMIT.burst),
  RATE_BYTES_PER_SECOND: intFrom(1024).default(BYTE_RATE_LIMIT.perSecond),
  RATE_BYTES_BURST: intFrom(1024).default(BYTE_RATE_LIMIT.burst),
  /** per client address, all its sockets together: connections at once, and incoming bytes */
  MAX_SOCKETS_PER_ADDRESS: intFrom(1).default(ADDRESS_LIMITS.sockets),
  ADDRESS_BYTES_PER_SECOND: intFrom(1024).default(ADDRESS_LIMITS.bytes.perSecond),
  ADDRESS_BYTES_BURST: intFrom(1024).default(ADDRESS_LIMITS.bytes.burst),
  /** largest encoded document a room may grow to */
  MAX_ROOM_BYTES: intFrom(1024).default(MAX_ROOM_BYTES),
  /** Socket.IO heartbeat: a peer that vanished (network loss, frozen process) is dropped — and
   * its cursor removed — after at most PING_INTERVAL_MS + PING_TIMEOUT_MS */
  PING_INTERVAL_MS: intFrom(100).default(2_000),
  PING_TIMEOUT_MS: intFrom(100).default(2_000),
  MAX_VIOLATIONS: intFrom(1).default(MAX_VIOLATIONS),
  VIOLATION_WINDOW_MS: intFrom(1).default(VIOLATION_WINDOW_MS),
  /** per-socket budget over the bytes of replies to its own requests (sync step 2, presence on join) */
  RATE_OUT_BYTES_PER_SECOND: intFrom(1024).default(OUTGOING_BYTE_RATE_LIMIT.perSecond),
  RATE_OUT_BYTES_BURST: intFrom(1024).default(OUTGOING_BYTE_RATE_LIMIT.burst),
  /** unsent outgoing bytes past which a socket (that does not read) is disconnected */
  MAX_SOCKET_BUFFER_BYTES: intFrom(65536).default(MAX_SOCKET_BUFFER_BYTES),
  NODE_ENV: z.string().default('development'),
  // ───── storage integrity (docs/security.md "Storage") ─────
  /** start with an empty database although DATA_DIR held rooms before (its marker file says so) */
  ALLOW_EMPTY_DATA: boolFlag.default(false),
  /** run `PRAGMA quick_check` on the database at start (reported in /healthz) */
  SQLITE_QUICK_CHECK: boolFlag.default(true),
  /** keep writing into a database whose check failed (default: it is read-only until repaired) */
  ALLOW_DAMAGED_WRITES: boolFlag.default(false),
  /** the database's size (pages in use plus the WAL) past which additions are refused, in MB; 0 = no quota */
  STORE_MAX_MB: z.coerce.number().min(0).default(10240),
  /** delete rooms nobody has used for this many days (at start, then daily); 0 = keep them for ever */
  ROOM_TTL_DAYS: z.coerce.number().min(0).default(0),
  // ───── uploads (docs/security.md "Uploads") ─────
  /** uploads in progress at once, all clients together… */
  UPLOAD_CONCURRENCY: intFrom(1, 1024).default(UPLOAD_LIMITS.concurrency),
  /** …and from one client address */
  UPLOAD_CONCURRENCY_PER_CLIENT: intFrom(1, 1024).default(UPLOAD_LIMITS.concurrencyPerClient),
  /** a whole upload body must arrive within this many seconds… */
  UPLOAD_TIMEOUT_S: intFrom(1, 3600).default(UPLOAD_LIMITS.timeoutS),
  /** …and at least this fast on average once UPLOAD_LIMITS.rateGraceMs have passed (0 = no minimum) */
  UPLOAD_MIN_BYTES_PER_S: intFrom(0).default(UPLOAD_LIMITS.minBytesPerS),
  /** bytes of uploads one room may hold, in MB */
  UPLOAD_ROOM_MB: z.coerce.number().positive().default(MAX_ROOM_UPLOAD_BYTES / 1048576),
  /** MB of distinct uploaded files being sent to downloaders at once; more are refused (503) */
  UPLOAD_SERVE_MB: z.coerce.number().positive().default(UPLOAD_LIMITS.serveMB),
  // ───── headers and origins (docs/security.md "Headers and origins") ─────
  /** comma-separated origins (scheme://host[:port]) whose pages may open Socket.IO connections,
   * besides the server's own */
  ALLOWED_ORIGINS: originList.default([]),
  /** the server is behind a reverse proxy: client addresses come from X-Forwarded-For and the
   * host from X-Forwarded-Host */
  TRUST_PROXY: boolFlag.default(false),
  /** Strict-Transport-Security max-age on responses to HTTPS requests (0 = no HSTS header) */
  HSTS_MAX_AGE_S: intFrom(0).default(HSTS_MAX_AGE_S),
  // ───── the render loop and its engine ─────
  RENDER_CONCURRENCY: intFrom(1, 16).default(1),
  /** GPU indexes for the engine workers, comma-separated (worker i on ids[i mod n]); ENGINE_DEVICE_ID for one */
  ENGINE_DEVICE_IDS: z.string().regex(/^\d+(,\d+)*$/, { message: 'comma-separated GPU indexes, e.g. 0,1' }).optional(),
  ENGINE_DEVICE_ID: z.coerce.number().int().min(0).max(63).optional(),
  ENGINE_EP: z.string().min(1).default('cpu'),
  ENGINE_THREADS: intFrom(0, 256).optional(),
  ENGINE_VAE: z.string().default(''),
  ENGINE_WARMUP_SIZES: renderSides.default([256]),
  ENGINE_GRAPH_CACHE: boolFlag.default(true), // 0 = no optimised-graph cache; read in the engine worker (lib/diffusion/optimizedGraphCache.ts)
  RENDER_JPEG_QUALITY: intFrom(30, 100).default(85),
  RENDER_KEEP_CLOSED_ROOM_S: intFrom(0).default(600),
  RENDER_PENDING_MB: z.coerce.number().positive().default(24),
  RENDER_HISTORY_MB: z.coerce.number().positive().default(64),
  SNAPSHOT_RATE_PER_SECOND: z.coerce.number().positive().default(SNAPSHOT_RATE_LIMIT.perSecond),
  SNAPSHOT_RATE_BURST: intFrom(1).default(SNAPSHOT_RATE_LIMIT.burst),
  ENGINE_TEST_DELAY_MS: intFrom(0, 60_000).default(0),
  ENGINE_TEST_CRASH_PROMPT: z.string().default(''),
  // ───── access control (docs/security.md "Access control") ─────
  /** secret that signs room links (≥ 32 chars; the same on every node); default: generated once into DATA_DIR */
  AUTH_SECRET: z.string().min(32, { message: 'must be at least 32 characters' }).optional(),
  /** PEM public key (RS256 or ES256) of a service that mints room tokens for its users */
  AUTH_JWT_PUBLIC_KEY: z.string().optional(),
  /** rooms from before access control (never claimed) stay open to anyone with the id */
  OPEN_ROOMS: boolFlag.default(true),
  /** rooms one client address may create per hour */
  ROOMS_PER_HOUR: intFrom(1).default(20),
  ...CLUSTER_ENV,
});

/** Settings of the live render loop and its engine workers. */
export interface RenderConfig {
  /** RENDER_CONCURRENCY: renders in flight at once (one engine worker each); default 1 */
  concurrency: number;
  /** ENGINE_EP: onnxruntime execution provider; default cpu */
  executionProvider: string;
  deviceIds?: number[]; // ENGINE_DEVICE_IDS (or ENGINE_DEVICE_ID): GPUs of the engine workers
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
  keepClosedRoomMs: number;
  /** RENDER_PENDING_MB: decoded snapshots that may wait for the engine at once, all rooms
   * together; default 24 (8 waiting 1024² frames, 32 at 512², ~125 at 256²: a CPU renders about
   * one a second, a GPU drains them fast; more only holds memory an attacker chose — 48 let the
   * render-history attack grow RSS past 100 MB) */
  pendingBytes: number;
  /** RENDER_HISTORY_MB: JPEG bytes of kept renders (histories of every frame of every room, open or
   * recently closed) — past it the least recently used renders go first; default 64 */
  historyBytes: number;
  /** SNAPSHOT_RATE_PER_SECOND / SNAPSHOT_RATE_BURST: per-socket token bucket over frame:snapshot */
  snapshotRate: { perSecond: number; burst: number };
  /** ENGINE_TEST_DELAY_MS — tests only: every render blocks its engine worker's thread this long
   * (Atomics.wait, a real block like onnxruntime's run). Default 0; never set it in production. */
  testDelayMs: number;
  /** ENGINE_TEST_CRASH_PROMPT — for tests only: a render whose prompt is exactly this ends its
   * engine worker thread, as a native crash in onnxruntime would. Default '' (never). */
  testCrashPrompt: string;
}

/** Storage integrity: see server/store/RoomStore.ts and docs/security.md "Storage". */
export interface StorageConfig {
  /** ALLOW_EMPTY_DATA: start although DATA_DIR's marker says it held rooms and the database is gone */
  allowEmpty: boolean;
  /** SQLITE_QUICK_CHECK: check the database at start (default on) */
  quickCheck: boolean;
  /** ALLOW_DAMAGED_WRITES: keep writing into a database found damaged (default: read-only) */
  allowDamagedWrites: boolean;
  /** STORE_MAX_MB: server-wide store quota in bytes (default 10 GB); 0 = none */
  maxStoreBytes: number;
  /** ROOM_TTL_DAYS: abandoned rooms are deleted after this long, in ms (default 0 = never) */
  roomTtlMs: number;
}

/** Upload limits: see server/uploads/ and docs/security.md "Uploads". */
export interface UploadConfig {
  /** UPLOAD_CONCURRENCY: uploads in progress at once, server-wide */
  concurrency: number;
  /** UPLOAD_CONCURRENCY_PER_CLIENT: uploads in progress at once from one client address */
  concurrencyPerClient: number;
  /** UPLOAD_TIMEOUT_S: the whole body must arrive within this */
  timeoutMs: number;
  /** UPLOAD_MIN_BYTES_PER_S: average body rate required after the grace period (0 = none) */
  minBytesPerS: number;
  /** UPLOAD_ROOM_MB: bytes of uploads one room may hold */
  maxRoomBytes: number;
  /** UPLOAD_SERVE_MB: bytes of distinct files being downloaded at once */
  serveBytes: number;
}

/** Response headers and allowed origins: see server/http/ and docs/security.md. */
export interface HttpConfig {
  /** ALLOWED_ORIGINS: origins besides the server's own whose pages may open sockets */
  allowedOrigins: string[];
  /** TRUST_PROXY: X-Forwarded-For / X-Forwarded-Host come from a proxy we trust */
  trustProxy: boolean;
  /** HSTS_MAX_AGE_S: Strict-Transport-Security max-age for HTTPS requests; 0 = none */
  hstsMaxAgeS: number;
}

export interface ServerConfig {
  port: number;
  host: string;
  dataDir: string;
  modelsDir: string;
  model: string;
  /** MODELS, else [MODEL] */
  models: string[];
  logLevel: (typeof LOG_LEVELS)[number];
  /** serve the Next.js app from this process */
  web: boolean;
  /** Next.js dev mode (hot reload) */
  dev: boolean;
  /** project root: where Next finds `app/` and `.next/` */
  root: string;
  compactEvery: number;
  compactIntervalMs: number;
  sqliteSync: 'FULL' | 'NORMAL';
  rateLimit: { perSecond: number; burst: number };
  /** the same over the bytes of incoming events */
  byteRateLimit: { perSecond: number; burst: number };
  /** MAX_SOCKETS_PER_ADDRESS, ADDRESS_BYTES_*: per client address, over all its sockets (server/socket/AddressBudgets.ts) */
  addressLimits: AddressLimits;
  maxRoomBytes: number;
  ping: { intervalMs: number; timeoutMs: number };
  violations: { max: number; windowMs: number };
  /** RATE_OUT_BYTES_* and MAX_SOCKET_BUFFER_BYTES: what a socket can make the server send */
  outgoing: { rate: { perSecond: number; burst: number }; maxBufferBytes: number };
  render: RenderConfig;
  storage: StorageConfig;
  uploads: UploadConfig;
  http: HttpConfig;
  access: AccessConfig;
  cluster: ClusterConfig;
}

/** Access control: roles from signed room links (server/auth/). */
export interface AccessConfig {
  /** AUTH_SECRET; undefined = the one generated into DATA_DIR */
  secret?: string;
  /** AUTH_JWT_PUBLIC_KEY */
  publicKeyPem?: string;
  /** OPEN_ROOMS */
  openRooms: boolean;
  /** ROOMS_PER_HOUR */
  roomsPerHour: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const ROOT = resolve(import.meta.dirname, '..');

/** Flags win over environment variables. */
export function loadConfig(
  env: NodeJS.ProcessEnv = process.env,
  argv: string[] = process.argv.slice(2),
  role: 'web' | 'worker' = 'web', // a render worker needs Redis but no database or link secret
): ServerConfig {
  let flags;
  try {
    flags = parseArgs({
      args: argv,
      options: {
        dev: { type: 'boolean' },
        port: { type: 'string' },
        host: { type: 'string' },
        'data-dir': { type: 'string' },
        'models-dir': { type: 'string' },
        model: { type: 'string' },
        'log-level': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    throw new ConfigError(`${(e as Error).message} (flags: --dev --port --host --data-dir --models-dir --model --log-level)`);
  }
  const merged: Record<string, string | undefined> = {
    ...env,
    ...(flags.port !== undefined && { PORT: flags.port }),
    ...(flags.host !== undefined && { HOST: flags.host }),
    ...(flags['data-dir'] !== undefined && { DATA_DIR: flags['data-dir'] }),
    ...(flags['models-dir'] !== undefined && { MODELS_DIR: flags['models-dir'] }),
    ...(flags.model !== undefined && { MODEL: flags.model }),
    ...(flags['log-level'] !== undefined && { LOG_LEVEL: flags['log-level'] }),
  };
  // An empty variable (`PORT=`) means "not set", except MODEL where '' is meaningful.
  for (const [k, v] of Object.entries(merged)) if (v === '' && k !== 'MODEL') delete merged[k];

  const parsed = EnvSchema.safeParse(merged);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}=${JSON.stringify(merged[String(i.path[0])])} ${i.message}`);
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const e = parsed.data;
  const problem = clusterProblem(e, role);
  if (problem) throw new ConfigError(problem);
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: resolve(ROOT, e.DATA_DIR),
    modelsDir: resolve(ROOT, e.MODELS_DIR),
    model: e.MODELS ? e.MODELS.split(',')[0]!.trim() : e.MODEL,
    models: e.MODELS ? [...new Set(e.MODELS.split(',').map((m) => m.trim()).filter(Boolean))] : [e.MODEL],
    logLevel: e.LOG_LEVEL,
    web: e.LC_WEB,
    dev: flags.dev === true || e.NODE_ENV !== 'production',
    root: ROOT,
    compactEvery: e.COMPACT_EVERY,
    compactIntervalMs: e.COMPACT_INTERVAL_S * 1000,
    sqliteSync: e.SQLITE_SYNC,
    rateLimit: { perSecond: e.RATE_PER_SECOND, burst: e.RATE_BURST },
    byteRateLimit: { perSecond: e.RATE_BYTES_PER_SECOND, burst: e.RATE_BYTES_BURST },
    addressLimits: { sockets: e.MAX_SOCKETS_PER_ADDRESS, bytes: { perSecond: e.ADDRESS_BYTES_PER_SECOND, burst: e.ADDRESS_BYTES_BURST } },
    maxRoomBytes: e.MAX_ROOM_BYTES,
    ping: { intervalMs: e.PING_INTERVAL_MS, timeoutMs: e.PING_TIMEOUT_MS },
    violations: { max: e.MAX_VIOLATIONS, windowMs: e.VIOLATION_WINDOW_MS },
    outgoing: {
      rate: { perSecond: e.RATE_OUT_BYTES_PER_SECOND, burst: e.RATE_OUT_BYTES_BURST },
      maxBufferBytes: e.MAX_SOCKET_BUFFER_BYTES,
    },
    storage: { allowEmpty: e.ALLOW_EMPTY_DATA, quickCheck: e.SQLITE_QUICK_CHECK, allowDamagedWrites: e.ALLOW_DAMAGED_WRITES,
      maxStoreBytes: Math.round(e.STORE_MAX_MB * 1048576), roomTtlMs: Math.round(e.ROOM_TTL_DAYS * 86_400_000) },
    uploads: {
      concurrency: e.UPLOAD_CONCURRENCY,
      concurrencyPerClient: e.UPLOAD_CONCURRENCY_PER_CLIENT,
      timeoutMs: e.UPLOAD_TIMEOUT_S * 1000,
      minBytesPerS: e.UPLOAD_MIN_BYTES_PER_S,
      maxRoomBytes: Math.round(e.UPLOAD_ROOM_MB * 1048576),
      serveBytes: Math.round(e.UPLOAD_SERVE_MB * 1048576),
    },
    http: { allowedOrigins: e.ALLOWED_ORIGINS, trustProxy: e.TRUST_PROXY, hstsMaxAgeS: e.HSTS_MAX_AGE_S },
    render: {
      concurrency: e.RENDER_CONCURRENCY,
      executionProvider: e.ENGINE_EP,
      ...(e.ENGINE_DEVICE_IDS ? { deviceIds: e.ENGINE_DEVICE_IDS.split(',').map(Number) } : e.ENGINE_DEVICE_ID !== undefined ? { deviceIds: [e.ENGINE_DEVICE_ID] } : {}),
      threads: e.ENGINE_THREADS ?? Math.max(1, Math.floor(availableParallelism() / e.RENDER_CONCURRENCY)),
      vae: e.ENGINE_VAE,
      warmupSizes: e.ENGINE_WARMUP_SIZES,
      jpegQuality: e.RENDER_JPEG_QUALITY,
      keepClosedRoomMs: e.RENDER_KEEP_CLOSED_ROOM_S * 1000,
      pendingBytes: Math.round(e.RENDER_PENDING_MB * 1024 * 1024),
      historyBytes: Math.round(e.RENDER_HISTORY_MB * 1024 * 1024),
      snapshotRate: { perSecond: e.SNAPSHOT_RATE_PER_SECOND, burst: e.SNAPSHOT_RATE_BURST },
      testDelayMs: e.ENGINE_TEST_DELAY_MS,
      testCrashPrompt: e.ENGINE_TEST_CRASH_PROMPT,
    },
    cluster: clusterConfig(e),
    access: {
      secret: e.AUTH_SECRET,
      publicKeyPem: e.AUTH_JWT_PUBLIC_KEY,
      openRooms: e.OPEN_ROOMS,
      roomsPerHour: e.ROOMS_PER_HOUR,
    },
  };
}
