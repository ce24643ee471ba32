// Per-client limits that hold across the cluster (e.g. ROOMS_PER_HOUR per client address): one
// token bucket per key in Redis, taken atomically by a Lua script, so two nodes behind one load
// balancer do not each grant the full budget. While Redis is unreachable every node falls back to
// its own buckets: the limit then holds per node (bounded, never off).
import type Redis from 'ioredis';
import { TokenBucket } from '../socket/SocketGuard';

/** KEYS[1] bucket; ARGV: tokens per ms, burst, now (ms). Returns 1 when a token was taken. */
const TAKE = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 't', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local ok = 0
if tokens >= 1 then
  tokens = tokens - 1
  ok = 1
end
redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate) + 1000)
return ok
`;

/** A limit by key (a client address): `take` answers whether one more is allowed now. */
export interface KeyedLimit {
  take(key: string): Promise<boolean>;
}

/** Buckets of this process only, dropped once the map grows large (an address flood must not grow it). */
export class LocalBuckets implements KeyedLimit {
  private readonly buckets = new Map<string, TokenBucket>();
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {}
  async take(key: string): Promise<boolean> {
    if (this.buckets.size > 10_000) this.buckets.clear();
    let b = this.buckets.get(key);
    if (!b) this.buckets.set(key, (b = new TokenBucket(this.perSecond, this.burst)));
    return b.take();
  }
}

export class SharedBuckets implements KeyedLimit {
  private readonly fallback: LocalBuckets;
  constructor(
    private readonly redis: Redis,
    private readonly name: string,
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.fallback = new LocalBuckets(perSecond, burst);
  }
  async take(key: string): Promise<boolean> {
    try {
      const ok = await this.redis.eval(TAKE, 1, `lc:limit:${this.name}:${key}`, this.perSecond / 1000, this.burst, Date.now());
      return ok === 1;
    } catch {
      return this.fallback.take(key);
    }
  }
}
