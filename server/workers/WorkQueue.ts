// The cluster-wide render queue in Redis, shared by web nodes (submit) and render workers (take,
// renew, finish): latest wins per frame, rooms served in turn, leases so a dead worker's job is
// rendered by another, a cluster-wide budget for the snapshot bytes it holds. The state
// transitions are Lua scripts (queueScripts.ts); this class names them.
//
// Keys (prefix `lc:rq:`): `job:<fk>` the waiting snapshot of frame <fk> (= room/frame), `bytes`,
// `model` (hashes by fk) its size and model; `running` (fk → "worker token"), `run:<fk>` its
// payload, `lease:<fk>` (expires unless renewed), `runmodel`, `runbytes`; `queued` (set of fks in
// line), `rooms:<model>` (rooms by when they were last served: `served:<room>`) and
// `frames:<model>:<room>` (the turn order), `wake:<model>` (a list a
// worker blocks on), `pending` (bytes), `expiry` (zset), `last:<fk>` (newest seq accepted),
// `worker:<id>` (a worker's advertisement, expiring).
import { randomBytes } from 'node:crypto';
import type Redis from 'ioredis';
import { DROP, FINISH, REAP, RENEW, SUBMIT, TAKE } from './queueScripts';
import { encodeFrame, frameKey, type JobHeader, type QueueMessage } from './jobCodec';

export const QUEUE_PREFIX = 'lc:rq:';
/** every web node listens here for renders and frame states */
export const RESULTS_CHANNEL = 'lc:rq:results';
/** a frame's model field empty: any worker renders it */
export const ANY_MODEL = '*';

export interface WorkerAdvert {
  id: string;
  models: string[];
  device: string;
  executionProvider: string;
  startedAt: number;
  loadMs?: number;
  warmupMs?: number;
  graphCache?: string;
  /** the frame it renders now, if any */
  current?: string;
  rendered: number;
}

export type SubmitOutcome = 'accepted' | 'replaced' | 'stale' | 'busy';

type Scripted = Redis & {
  lcSubmit(...args: (string | number | Buffer)[]): Promise<string>;
  lcTakeBuffer(...args: (string | number)[]): Promise<[Buffer, Buffer, Buffer] | null>;
  lcFinish(...args: (string | number | Buffer)[]): Promise<number>;
  lcRenew(...args: (string | number)[]): Promise<number>;
  lcReap(...args: (string | number)[]): Promise<number>;
  lcDrop(...args: string[]): Promise<number>;
};

export class WorkQueue {
  private readonly redis: Scripted;

  constructor(
    redis: Redis,
    readonly opts: { maxPendingBytes: number; jobTtlMs: number; leaseMs: number },
  ) {
    for (const [name, lua] of Object.entries({ lcSubmit: SUBMIT, lcTake: TAKE, lcFinish: FINISH, lcRenew: RENEW, lcReap: REAP, lcDrop: DROP })) {
      if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: 0, lua });
    }
    this.redis = redis as Scripted;
  }

  /** Offer a snapshot for frame `fk` (latest wins cluster-wide). */
  async submit(job: JobHeader, rgb: Uint8Array, model: string): Promise<SubmitOutcome> {
    const fk = frameKey(job.roomId, job.frameId);
    const status: QueueMessage = { t: 'state', fk, state: 'queued' };
    return (await this.redis.lcSubmit(
      QUEUE_PREFIX, fk, model || ANY_MODEL, job.seq, encodeFrame(job, rgb), rgb.byteLength,
      this.opts.maxPendingBytes, this.opts.jobTtlMs, Date.now(), RESULTS_CHANNEL, JSON.stringify(status),
    )) as SubmitOutcome;
  }

  /** The next job for one of `models` (fair order), or null. The caller holds it with `token`. */
  async take(workerId: string, token: string, models: string[]): Promise<{ fk: string; payload: Buffer; model: string } | null> {
    const r = await this.redis.lcTakeBuffer(QUEUE_PREFIX, workerId, token, this.opts.leaseMs, RESULTS_CHANNEL, ...models);
    return r ? { fk: r[0].toString(), payload: r[1], model: r[2].toString() } : null;
  }

  /** Wait (up to `timeoutS`) until a job for one of `models` may be there. Needs a connection of its own. */
  async waitForWork(blocking: Redis, models: string[], timeoutS: number): Promise<void> {
    await blocking.brpop(...models.map((m) => `${QUEUE_PREFIX}wake:${m}`), timeoutS);
  }

  /** Publish `message` (result or failure) if this worker still holds the job; false when it lost it. */
  async finish(workerId: string, token: string, fk: string, message: Buffer): Promise<boolean> {
    return (await this.redis.lcFinish(QUEUE_PREFIX, fk, workerId, token, RESULTS_CHANNEL, message)) === 1;
  }

  async renew(workerId: string, token: string, fks: string[]): Promise<void> {
    if (fks.length) await this.redis.lcRenew(QUEUE_PREFIX, workerId, token, this.opts.leaseMs, ...fks);
  }

  /** Put back jobs of workers that stopped renewing; expire old waiting jobs. Any node may run it. */
  async reap(): Promise<number> {
    return this.redis.lcReap(QUEUE_PREFIX, Date.now(), RESULTS_CHANNEL);
  }

  async drop(fks: string[]): Promise<void> {
    if (fks.length) await this.redis.lcDrop(QUEUE_PREFIX, ...fks);
  }

  /** Bytes of snapshots in Redis now (waiting and running). */
  async pendingBytes(): Promise<number> {
    return Number((await this.redis.get(`${QUEUE_PREFIX}pending`)) ?? 0);
  }

  /** Waiting jobs per model (for /healthz). */
  async depth(): Promise<Record<string, number>> {
    const models = await this.redis.hvals(`${QUEUE_PREFIX}model`);
    const out: Record<string, number> = {};
    for (const m of models) out[m] = (out[m] ?? 0) + 1;
    return out;
  }

  async advertise(advert: WorkerAdvert, ttlMs: number): Promise<void> {
    await this.redis.set(`${QUEUE_PREFIX}worker:${advert.id}`, JSON.stringify(advert), 'PX', ttlMs);
  }

  async retire(workerId: string): Promise<void> {
    await this.redis.del(`${QUEUE_PREFIX}worker:${workerId}`);
  }

  /** The workers alive now (their advertisement has not expired). */
  async workers(): Promise<WorkerAdvert[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', `${QUEUE_PREFIX}worker:*`, 'COUNT', 100);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    if (keys.length === 0) return [];
    const values = await this.redis.mget(...keys);
    return values.flatMap((v) => (v ? [JSON.parse(v) as WorkerAdvert] : []));
  }
}

export const newToken = () => randomBytes(9).toString('base64url');
