// Per-socket abuse limits: a token bucket over all incoming events, and a sliding window of
// rejected messages after which the socket is disconnected.

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

  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
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
