// Per-socket abuse limits: token buckets (over incoming events, and over their bytes), and a
// sliding window of rejected messages after which the socket is disconnected.

export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Take `n` tokens if there are enough. A cost larger than the bucket is allowed from a full
   * bucket and leaves it in debt, so a single big message is never refused forever. */
  take(n = 1): boolean {
    this.refill();
    if (this.tokens < Math.min(n, this.burst)) return false;
    this.tokens -= n;
    return true;
  }

  /** Tokens available now (0 while in debt). */
  available(): number {
    this.refill();
    return Math.max(0, this.tokens);
  }

  /** Milliseconds until `n` tokens (at most a full bucket) are available. */
  waitMs(n = 1): number {
    this.refill();
    const missing = Math.min(n, this.burst) - this.tokens;
    return missing <= 0 ? 0 : Math.ceil((missing / this.perSecond) * 1000);
  }

  private refill(): void {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
  }
}

export class ViolationWindow {
  private readonly times: number[] = [];

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Record one violation; true when the limit is reached. */
  record(): boolean {
    const t = this.now();
    this.times.push(t);
    while (this.times.length > 0 && this.times[0]! <= t - this.windowMs) this.times.shift();
    return this.times.length >= this.max;
  }
}

/** What an event's arguments weigh for the byte budget: binary lengths plus string lengths and a
 * little per value, over the whole (already parsed) structure. Engine.io has already capped the
 * message at maxHttpBufferSize, so this walk is bounded. */
export function payloadBytes(args: readonly unknown[]): number {
  let total = 0;
  const stack: unknown[] = [...args];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') total += v.length;
    else if (v instanceof Uint8Array || v instanceof ArrayBuffer) total += v.byteLength;
    else if (Array.isArray(v)) {
      total += 1;
      for (const item of v) stack.push(item);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) {
        total += k.length;
        stack.push(item);
      }
    } else total += 8; // number, boolean, null, function (an ack)
  }
  return total;
}
