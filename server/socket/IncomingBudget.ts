// What one socket may send: a token bucket over its events and one over their bytes, and the byte
// budget of its client address, shared with every other socket from there (AddressBudgets).
import type { AddressBudgets } from './AddressBudgets';
import { TokenBucket } from './SocketGuard';

type Rate = { perSecond: number; burst: number };

export class IncomingBudget {
  private readonly events: TokenBucket;
  private readonly bytes: TokenBucket;

  constructor(
    private readonly rates: { events: Rate; bytes: Rate },
    private readonly address?: { budgets: AddressBudgets; address: string },
  ) {
    this.events = new TokenBucket(rates.events.perSecond, rates.events.burst);
    this.bytes = new TokenBucket(rates.bytes.perSecond, rates.bytes.burst);
  }

  /** Charges one event of `size` bytes; why it is refused, or null. `bytes` tells a byte budget
   * from the event count (a refused stream event over a byte budget is no violation). */
  take(event: string, size: number): { message: string; bytes: boolean } | null {
    if (!this.events.take()) {
      const { perSecond, burst } = this.rates.events;
      return { message: `${event}: too many messages (limit ${perSecond}/s, burst ${burst}); slow down`, bytes: false };
    }
    if (!this.bytes.take(size)) {
      const { perSecond, burst } = this.rates.bytes;
      return { message: `${event}: too much data (${kib(size)} now; limit ${kib(perSecond)}/s, burst ${kib(burst)}); retry in ${this.bytes.waitMs(size)} ms`, bytes: true };
    }
    const a = this.address;
    if (a && !a.budgets.takeBytes(a.address, size)) {
      const { perSecond, burst } = a.budgets.limits.bytes;
      const retry = a.budgets.waitMs(a.address, size);
      return {
        message: `${event}: too much data from your address, all its connections together (limit ${kib(perSecond)}/s, burst ${kib(burst)}, ADDRESS_BYTES_*); retry in ${retry} ms`,
        bytes: true,
      };
    }
    return null;
  }
}

const kib = (n: number) => (n >= 1048576 ? `${(n / 1048576).toFixed(1)} MB` : `${Math.ceil(n / 1024)} KB`);
